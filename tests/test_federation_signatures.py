"""HTTP signatures cross-checked with independent implementations: Funkwhale 1.4's own draft-cavage library
(requests-http-message-signatures) and an RFC 9421 one (http-message-signatures), both ways, plus every refusal."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import re
import time
from urllib.parse import urlsplit

import http_message_signatures as hms
import pytest
import pytest_twisted
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from requests_http_message_signatures import HTTPSignatureHeaderAuth

from funkwhale.activitypub import signatures as sig
from funkwhale.users.actors import key_pair

URL = "https://b.example/federation/actors/bob/inbox?x=1"
KEY_ID = "https://a.example/federation/actors/alice#main-key"
BODY = b'{"type":"Follow","actor":"https://a.example/federation/actors/alice"}'


@pytest.fixture(scope="module")
def keys():
    return key_pair(1024)


@pytest.fixture(scope="module")
def other_keys():
    return key_pair(1024)


def incoming(prepared: requests.PreparedRequest, body: bytes | None = None) -> sig.IncomingRequest:
    """What our server would see of a request a `requests` client prepared."""
    parts = urlsplit(prepared.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    headers.setdefault("host", parts.netloc)
    raw = body if body is not None else (prepared.body or b"")
    return sig.IncomingRequest(prepared.method, target, headers, raw if isinstance(raw, bytes) else raw.encode())


def funkwhale_signed(private_pem: str, method: str = "POST", body: bytes | None = BODY, url: str = URL):
    """A request signed as Funkwhale 1.4 signs (federation/signing.py get_auth)."""
    headers = {"User-Agent": "funkwhale/1.4", "Host": urlsplit(url).netloc, "Content-Type": "application/activity+json"}
    req = requests.Request(method, url, data=body, headers=headers).prepare()
    auth = HTTPSignatureHeaderAuth(
        key=private_pem,
        key_id=KEY_ID,
        algorithm="rsa-sha256",
        headers=["(request-target)", "user-agent", "host", "date"],
    )
    return auth(req)


def ours(private_pem: str, method: str = "POST", body: bytes | None = BODY, url: str = URL, now: float | None = None):
    headers = sig.sign_request(
        method,
        url,
        key_id=KEY_ID,
        private_key_pem=private_pem,
        now=now or time.time(),
        body=body,
        accept="application/activity+json" if body is None else None,
    )
    return sig.IncomingRequest(
        method, url.split(urlsplit(url).netloc, 1)[1], {k.lower(): v for k, v in headers.items()}, body or b""
    )


def test_funkwhale_signed_post_verifies(keys):
    private, public = keys
    parsed = sig.parse(incoming(funkwhale_signed(private)), time.time())
    assert parsed.key_id == KEY_ID and parsed.scheme == "cavage"
    parsed.verify(public)


def test_our_post_verifies_with_funkwhale_library(keys):
    private, public = keys
    headers = sig.sign_request("POST", URL, key_id=KEY_ID, private_key_pem=private, now=time.time(), body=BODY)
    assert headers["Digest"] == "SHA-256=" + base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    assert 'headers="(request-target) host date digest"' in headers["Signature"]
    req = requests.Request("POST", URL, data=BODY, headers=headers).prepare()
    HTTPSignatureHeaderAuth.verify(req, key_resolver=lambda key_id, algorithm: public.encode())


def test_our_get_verifies_with_funkwhale_library_and_ours(keys):
    private, public = keys
    headers = sig.sign_request(
        "GET", URL, key_id=KEY_ID, private_key_pem=private, now=time.time(), accept="application/activity+json"
    )
    assert 'headers="(request-target) host date accept"' in headers["Signature"] and "Digest" not in headers
    req = requests.Request("GET", URL, headers=headers).prepare()
    HTTPSignatureHeaderAuth.verify(req, key_resolver=lambda key_id, algorithm: public.encode())
    sig.parse(incoming(req), time.time()).verify(public)


def test_hs2019_and_query_less_target_accepted(keys):
    """GoToSocial says hs2019; old Mastodon signs the path without its query."""
    private, public = keys
    date = email.utils.formatdate(usegmt=True)
    signed = f"(request-target): get /federation/actors/bob\nhost: b.example\ndate: {date}"
    raw = private_sign(private, signed)
    req = sig.IncomingRequest(
        "GET",
        "/federation/actors/bob?page=1",
        {
            "host": "b.example",
            "date": date,
            "signature": f'keyId="{KEY_ID}",algorithm="hs2019",headers="(request-target) host date",signature="{raw}"',
        },
    )
    sig.parse(req, time.time()).verify(public)


def private_sign(private_pem: str, text: str) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rfc9421_signer(private: str, public: str):
    resolver = hms.MappingKeyResolver(public_keys={KEY_ID: public.encode()}, private_keys={KEY_ID: private.encode()})
    return (
        hms.HTTPMessageSigner(signature_algorithm=hms.algorithms.RSA_V1_5_SHA256, key_resolver=resolver),
        hms.HTTPMessageVerifier(signature_algorithm=hms.algorithms.RSA_V1_5_SHA256, key_resolver=resolver),
    )


def test_rfc9421_from_independent_signer_verifies(keys):
    private, public = keys
    signer, _ = rfc9421_signer(private, public)
    req = requests.Request("POST", URL, data=BODY, headers={"Content-Type": "application/activity+json"}).prepare()
    signer.sign(
        req, key_id=KEY_ID, covered_component_ids=("@method", "@target-uri", "@authority"), body=BODY, include_alg=False
    )
    assert req.headers["Content-Digest"].startswith("sha-256=:")
    parsed = sig.parse(incoming(req), time.time())
    assert parsed.scheme == "rfc9421" and parsed.key_id == KEY_ID
    parsed.verify(public)


def test_our_rfc9421_verifies_with_independent_verifier(keys):
    private, public = keys
    _, verifier = rfc9421_signer(private, public)
    headers = sig.sign_request_rfc9421("POST", URL, key_id=KEY_ID, private_key_pem=private, now=time.time(), body=BODY)
    req = requests.Request("POST", URL, data=BODY, headers=headers).prepare()
    results = verifier.verify(req, body=BODY)
    assert [r.parameters["keyid"] for r in results] == [KEY_ID]
    sig.parse(incoming(req), time.time()).verify(public)


@pytest_twisted.ensureDeferred
async def test_verify_request_refetches_a_rotated_key_once(keys, other_keys):
    private, public = keys
    calls = []

    async def lookup(key_id, refresh):
        calls.append(refresh)
        return public if refresh else other_keys[1]  # the cache holds the old key; the origin has the new one

    parsed = await sig.verify_request(incoming(funkwhale_signed(private)), lookup, time.time())
    assert parsed.key_id == KEY_ID and calls == [False, True]

    async def stale(key_id, refresh):
        calls.append(refresh)
        return other_keys[1]

    calls.clear()
    with pytest.raises(sig.BadSignature):
        await sig.verify_request(incoming(funkwhale_signed(private)), stale, time.time())
    assert calls == [False, True]


# -- refusals ----------------------------------------------------------------------------------------------


def test_tampered_body_refused(keys):
    private, public = keys
    req = incoming(funkwhale_signed(private), body=BODY.replace(b"Follow", b"Delete"))
    with pytest.raises(sig.SignatureError, match="Digest .* does not match the body"):
        sig.parse(req, time.time())


def test_tampered_body_refused_rfc9421(keys):
    private, public = keys
    headers = sig.sign_request_rfc9421("POST", URL, key_id=KEY_ID, private_key_pem=private, now=time.time(), body=BODY)
    req = sig.IncomingRequest(
        "POST",
        "/federation/actors/bob/inbox?x=1",
        {"host": "b.example", **{k.lower(): v for k, v in headers.items()}},
        b"{}",
    )
    with pytest.raises(sig.SignatureError, match="Content-Digest sha-256 does not match"):
        sig.parse(req, time.time())


def test_digest_header_swapped_with_body_refused(keys):
    """A body and a Digest that agree with each other but not with what was signed."""
    private, public = keys
    req = incoming(funkwhale_signed(private))
    forged = b'{"type":"Delete"}'
    headers = dict(req.headers, digest=sig.digest_header(forged))
    with pytest.raises(sig.BadSignature):
        sig.parse(sig.IncomingRequest("POST", req.target, headers, forged), time.time()).verify(public)


@pytest.mark.parametrize("offset, reason", [(-3600, "too old"), (+3600, "in the future")])
def test_stale_or_future_date_refused(keys, offset, reason):
    private, _ = keys
    req = ours(private, now=time.time() + offset)
    with pytest.raises(sig.SignatureError, match=f"Date is {reason}"):
        sig.parse(req, time.time())


def test_stale_rfc9421_created_refused(keys):
    private, _ = keys
    headers = sig.sign_request_rfc9421("GET", URL, key_id=KEY_ID, private_key_pem=private, now=time.time() - 3600)
    req = sig.IncomingRequest(
        "GET", "/federation/actors/bob/inbox?x=1", {"host": "b.example", **{k.lower(): v for k, v in headers.items()}}
    )
    with pytest.raises(sig.SignatureError, match="created is too old"):
        sig.parse(req, time.time())


def test_wrong_key_refused(keys, other_keys):
    private, _ = keys
    with pytest.raises(sig.BadSignature):
        sig.parse(ours(private), time.time()).verify(other_keys[1])


def test_other_path_refused(keys):
    """A captured signature replayed on another path fails: (request-target) is covered."""
    private, public = keys
    req = ours(private)
    moved = sig.IncomingRequest(req.method, "/federation/shared/inbox", req.headers, req.body)
    with pytest.raises(sig.BadSignature):
        sig.parse(moved, time.time()).verify(public)


@pytest.mark.parametrize(
    "covered, missing",
    [
        ("host date digest", "(request-target)"),
        ("(request-target) date digest", "host"),
        ("(request-target) host digest", "date"),
        ("(request-target) host date", "digest"),
    ],
)
def test_missing_covered_header_refused(keys, covered, missing):
    private, _ = keys
    req = ours(private)
    header = req.headers["signature"].replace('headers="(request-target) host date digest"', f'headers="{covered}"')
    with pytest.raises(sig.SignatureError, match=f"must cover {re.escape(missing)}"):
        sig.parse(sig.IncomingRequest("POST", req.target, dict(req.headers, signature=header), req.body), time.time())


def test_funkwhale_default_date_only_signature_refused(keys):
    """Funkwhale 1.4 verifies a signature over `date` alone; we do not."""
    private, _ = keys
    req = requests.Request("POST", URL, data=BODY).prepare()
    HTTPSignatureHeaderAuth(key=private, key_id=KEY_ID, algorithm="rsa-sha256")(req)
    with pytest.raises(sig.SignatureError, match="must cover"):
        sig.parse(incoming(req), time.time())


def test_missing_digest_header_refused(keys):
    private, _ = keys
    req = ours(private)
    headers = {k: v for k, v in req.headers.items() if k != "digest"}
    with pytest.raises(sig.SignatureError, match="Digest header is missing"):
        sig.parse(sig.IncomingRequest("POST", req.target, headers, req.body), time.time())


def test_missing_signed_header_value_refused(keys):
    private, _ = keys
    req = ours(private, method="GET", body=None)
    headers = {k: v for k, v in req.headers.items() if k != "accept"}
    with pytest.raises(sig.SignatureError, match="signed header accept is missing"):
        sig.parse(sig.IncomingRequest("GET", req.target, headers), time.time())


def test_unsigned_and_unsupported_algorithm_refused(keys):
    private, _ = keys
    with pytest.raises(sig.SignatureError, match="not signed"):
        sig.parse(sig.IncomingRequest("GET", "/", {"host": "b.example"}), time.time())
    req = ours(private)
    header = req.headers["signature"].replace('algorithm="rsa-sha256"', 'algorithm="hmac-sha256"')
    with pytest.raises(sig.SignatureError, match="unsupported signature algorithm"):
        sig.parse(sig.IncomingRequest("POST", req.target, dict(req.headers, signature=header), req.body), time.time())
    with pytest.raises(sig.SignatureError, match="malformed"):
        sig.parse(sig.IncomingRequest("GET", "/", {"signature": "keyId=nonsense"}), time.time())


def test_rfc9421_must_cover_method_target_and_digest(keys):
    private, public = keys
    signer, _ = rfc9421_signer(private, public)
    req = requests.Request("POST", URL, data=BODY).prepare()
    signer.sign(req, key_id=KEY_ID, covered_component_ids=("@method", "@authority"), include_alg=False)
    with pytest.raises(sig.SignatureError, match="must cover @target-uri, content-digest"):
        sig.parse(incoming(req), time.time())
