"""The outgoing federation client against real local HTTP(S) peers: SSRF refusals (every hop, resolved
addresses, no DNS rebinding), TLS trust, caps, timeouts, signed GETs our verifier accepts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.ssl import PrivateCertificate
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site

from funkwhale.activitypub import actors, signatures
from funkwhale.activitypub.fetch import (
    BlockedAddress,
    Fetcher,
    FetchError,
    ResponseTooLarge,
    Signer,
    address_allowed,
)
from funkwhale.activitypub.http import incoming_request
from funkwhale.users.actors import key_pair

from .test_accounts import SIGNUP, signup_form
from .tls_helpers import make_pki

AP = "application/activity+json"


class Peer(Resource):
    """A remote instance as the client meets it; every route answers by path."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.public_keys: dict[str, str] = {}  # keyId -> PEM, for /signed
        self.seen: list[str] = []  # the paths it was asked for

    def render(self, request):
        path = request.path.decode()
        self.seen.append(path)
        host = request.getHeader(b"host").decode()
        scheme = "https" if request.isSecure() else "http"
        if path == "/actor":
            return self._json(request, {"id": f"{scheme}://{host}/actor", "type": "Person"}, AP)
        if path == "/wrong-id":
            return self._json(request, {"id": "https://elsewhere.example/actor", "type": "Person"}, AP)
        if path == "/not-ap":
            return self._json(request, {"id": f"{scheme}://{host}/not-ap"}, "text/html")
        if path == "/dup":
            request.setHeader(b"Content-Type", b"application/json")
            return b'{"id": "a", "id": "b"}'
        if path == "/big":
            request.setHeader(b"Content-Type", b"application/json")
            return b"[" + b"0," * (1024 * 1024) + b"0]"
        if path == "/big-stream":
            request.setHeader(b"Content-Type", b"application/json")
            for _ in range(64):
                request.write(b" " * 32768)  # chunked, no Content-Length
            request.finish()
            return NOT_DONE_YET
        if path == "/redirect":
            request.redirect(request.args[b"to"][0])
            return b""
        if path == "/hang":
            return NOT_DONE_YET
        if path == "/signed":
            try:
                parsed = signatures.parse(incoming_request(request, b""), time.time())
                parsed.verify(self.public_keys[parsed.key_id])
            except (signatures.SignatureError, KeyError) as e:
                request.setResponseCode(401)
                return self._json(request, {"error": str(e)}, "application/json")
            return self._json(
                request,
                {"key_id": parsed.key_id, "signature": request.getHeader(b"signature").decode()},
                "application/json",
            )
        request.setResponseCode(404)
        return b""

    @staticmethod
    def _json(request, body, content_type):
        request.setHeader(b"Content-Type", content_type.encode())
        return json.dumps(body).encode()


@pytest.fixture
def peer():
    resource = Peer()
    port = reactor.listenTCP(0, Site(resource), interface="127.0.0.1")
    resource.base = f"http://127.0.0.1:{port.getHost().port}"
    resource.port = port.getHost().port
    yield resource
    port.stopListening()


@pytest.fixture
def other_peer():
    """A second peer on another loopback address (127.0.0.2)."""
    resource = Peer()
    port = reactor.listenTCP(0, Site(resource), interface="127.0.0.2")
    resource.port = port.getHost().port
    yield resource
    port.stopListening()


def names(mapping: dict[str, list[str]], calls: list[str] | None = None):
    """A resolver answering from `mapping`, recording each name asked."""

    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in mapping:
            raise OSError(f"unknown host {host}")
        return mapping[host].pop(0) if isinstance(mapping[host][0], list) else mapping[host]

    return resolve


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "198.18.0.1",
        "::",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::1",
        "not-an-ip",
    ],
)
def test_private_and_special_addresses_are_refused(address):
    assert not address_allowed(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "::ffff:1.1.1.1"])
def test_public_addresses_are_allowed(address):
    assert address_allowed(address)


@pytest_twisted.ensureDeferred
async def test_fetches_an_activitypub_document_when_private_networks_are_allowed(peer):
    doc = await Fetcher(allow_private=True).get_object(f"{peer.base}/actor")
    assert doc == {"id": f"{peer.base}/actor", "type": "Person"}


@pytest_twisted.ensureDeferred
async def test_loopback_is_refused_by_default(peer):
    with pytest.raises(BlockedAddress, match="127.0.0.1, which is not a public address"):
        await Fetcher().get_object(f"{peer.base}/actor")
    resolver = names({"music.example": ["127.0.0.1"]})
    with pytest.raises(BlockedAddress):
        await Fetcher(resolver=resolver).get_object(f"http://music.example:{peer.port}/actor")
    assert peer.seen == []  # never connected


@pytest_twisted.ensureDeferred
async def test_a_name_with_any_private_address_is_refused():
    resolver = names({"mixed.example": ["93.184.215.14", "10.0.0.1"]})
    with pytest.raises(BlockedAddress, match="10.0.0.1"):
        await Fetcher(resolver=resolver).get_object("http://mixed.example/actor")


@pytest_twisted.ensureDeferred
async def test_a_redirect_from_an_allowed_hop_to_loopback_is_refused(peer, other_peer):
    """music.example (allowed, served on 127.0.0.2) redirects to 127.0.0.1, by address and by a name."""
    fetcher = Fetcher(
        resolver=names({"music.example": ["127.0.0.2"], "evil.example": ["127.0.0.1"]}),
        allowed_addresses=frozenset({"127.0.0.2"}),
    )
    start = f"http://music.example:{other_peer.port}"
    assert (await fetcher.get_object(f"{start}/actor"))["id"] == f"{start}/actor"  # the first hop is fine
    for target in (f"{peer.base}/actor", f"http://evil.example:{peer.port}/actor"):
        with pytest.raises(BlockedAddress):
            await fetcher.get_object(f"{start}/redirect?to={target}")
    assert peer.seen == []


@pytest_twisted.ensureDeferred
async def test_connects_to_the_checked_address_without_resolving_again(other_peer):
    """DNS rebinding: the second answer (127.0.0.1) is never asked for nor used."""
    calls: list[str] = []
    fetcher = Fetcher(
        resolver=names({"music.example": [["127.0.0.2"], ["127.0.0.1"]]}, calls),
        allowed_addresses=frozenset({"127.0.0.2"}),
    )
    doc = await fetcher.get_object(f"http://music.example:{other_peer.port}/actor")
    assert doc["id"] == f"http://music.example:{other_peer.port}/actor"
    assert calls == ["music.example"] and other_peer.seen == ["/actor"]


@pytest_twisted.ensureDeferred
async def test_redirects_are_followed_up_to_a_cap(peer):
    fetcher = Fetcher(allow_private=True)
    doc = await fetcher.get_object(f"{peer.base}/redirect?to=/redirect%3Fto%3D/actor")
    assert doc["id"] == f"{peer.base}/actor"
    url = f"{peer.base}/actor"
    for _ in range(4):
        url = f"{peer.base}/redirect?to={url.replace('?', '%3F').replace('=', '%3D').replace('&', '%26')}"
    with pytest.raises(FetchError, match="more than 3 redirects"):
        await fetcher.get_object(url)
    with pytest.raises(FetchError, match="only http"):
        await fetcher.get_object(f"{peer.base}/redirect?to=file:///etc/passwd")


@pytest_twisted.ensureDeferred
async def test_bodies_past_the_cap_are_abandoned(peer):
    fetcher = Fetcher(allow_private=True)
    with pytest.raises(ResponseTooLarge):
        await fetcher.get_json(f"{peer.base}/big")  # Content-Length says 2 MB
    with pytest.raises(ResponseTooLarge):
        await fetcher.get_json(f"{peer.base}/big-stream")  # chunked: counted as it streams
    response = await fetcher.request("GET", f"{peer.base}/big-stream", max_body=4 * 1024 * 1024)
    assert len(response.body) == 64 * 32768


@pytest_twisted.ensureDeferred
async def test_a_peer_that_never_answers_hits_the_deadline(peer):
    with pytest.raises(FetchError, match="no complete answer"):
        await Fetcher(allow_private=True, total_timeout=0.5).get_json(f"{peer.base}/hang")


@pytest_twisted.ensureDeferred
async def test_documents_must_be_activitypub_json_with_their_own_id_and_one_reading(peer):
    fetcher = Fetcher(allow_private=True)
    with pytest.raises(FetchError, match="id does not match"):
        await fetcher.get_object(f"{peer.base}/wrong-id")
    with pytest.raises(FetchError, match="not an ActivityPub document"):
        await fetcher.get_object(f"{peer.base}/not-ap")
    with pytest.raises(FetchError, match="repeats the key 'id'"):
        await fetcher.get_json(f"{peer.base}/dup")
    with pytest.raises(FetchError, match="answered 404"):
        await fetcher.get_json(f"{peer.base}/nothing")


@pytest_twisted.ensureDeferred
async def test_signed_get_is_accepted_by_our_verifier(peer):
    private, public = key_pair(1024)
    signer = Signer.for_actor("https://a.example/federation/actors/alice", private)
    peer.public_keys[signer.key_id] = public
    response = await Fetcher(allow_private=True).request(
        "GET", f"{peer.base}/signed?page=2", headers={"Accept": AP}, signer=signer
    )
    assert response.status == 200, response.body
    answer = json.loads(response.body)
    assert answer["key_id"] == signer.key_id
    assert 'headers="(request-target) host date accept"' in answer["signature"]
    peer.public_keys[signer.key_id] = key_pair(1024)[1]  # the peer knows another key for this actor
    refused = await Fetcher(allow_private=True).request("GET", f"{peer.base}/signed", signer=signer)
    assert refused.status == 401


@pytest_twisted.ensureDeferred
async def test_the_service_actor_signs_with_the_key_it_publishes(server, peer):
    """Our instance's fetch client signs with the service actor's key from the database; a peer checks it
    against the public key our actor document publishes."""
    published = (await server.client().get("/federation/actors/service", headers={"Accept": AP})).json
    signer = await actors.signer(server.ctx)
    assert signer.key_id == published["publicKey"]["id"]
    peer.public_keys[signer.key_id] = published["publicKey"]["publicKeyPem"]
    fetcher = Fetcher.from_settings(server.ctx.settings)
    with pytest.raises(BlockedAddress):  # FUNKWHALE_EXTERNAL_REQUESTS_ALLOW_PRIVATE_NETWORKS is off by default
        await fetcher.request("GET", f"{peer.base}/signed", signer=signer)
    response = await Fetcher(allow_private=True).request("GET", f"{peer.base}/signed", signer=signer)
    assert response.status == 200, response.body

    client = server.client()  # a user's key, for requests made on a listener's behalf
    assert (await client.post(SIGNUP, json_body=signup_form("alice"))).code in (200, 201, 204)
    alice = (await client.get("/federation/actors/alice", headers={"Accept": AP})).json
    user_signer = await actors.signer(server.ctx, alice["id"])
    assert user_signer.key_id == alice["publicKey"]["id"]
    peer.public_keys[user_signer.key_id] = alice["publicKey"]["publicKeyPem"]
    response = await Fetcher(allow_private=True).request("GET", f"{peer.base}/signed", signer=user_signer)
    assert response.status == 200 and json.loads(response.body)["key_id"] == user_signer.key_id


# -- TLS ----------------------------------------------------------------------------------------------------


@pytest.fixture
def tls_peer(tmp_path):
    pki = make_pki(tmp_path / "pki", ips=("127.0.0.1",), names=("music.example",))
    resource = Peer()
    cert = PrivateCertificate.loadPEM(pki.key.read_bytes() + pki.cert.read_bytes())
    port = reactor.listenSSL(0, Site(resource), cert.options(), interface="127.0.0.1")
    resource.port = port.getHost().port
    resource.pki = pki
    yield resource
    port.stopListening()


def bundle(path: Path, *certs: Path) -> str:
    path.write_bytes(b"".join(c.read_bytes() for c in certs))
    return str(path)


@pytest_twisted.ensureDeferred
async def test_tls_is_verified_against_ssl_cert_file(tls_peer, tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", bundle(tmp_path / "trusted.pem", tls_peer.pki.ca))
    resolver = names({"music.example": ["127.0.0.1"], "other.example": ["127.0.0.1"]})
    fetcher = Fetcher(allow_private=True, resolver=resolver)
    for base in (f"https://127.0.0.1:{tls_peer.port}", f"https://music.example:{tls_peer.port}"):
        assert (await fetcher.get_object(f"{base}/actor"))["id"] == f"{base}/actor"
    with pytest.raises(FetchError, match="other.example"):  # the certificate does not name it
        await fetcher.get_object(f"https://other.example:{tls_peer.port}/actor")


@pytest_twisted.ensureDeferred
async def test_an_untrusted_certificate_is_refused_unless_verification_is_off(tls_peer, tmp_path, monkeypatch):
    stranger = make_pki(tmp_path / "stranger")
    monkeypatch.setenv("SSL_CERT_FILE", bundle(tmp_path / "other.pem", stranger.ca))
    url = f"https://127.0.0.1:{tls_peer.port}/actor"
    with pytest.raises(FetchError, match="certificate verify failed"):
        await Fetcher(allow_private=True).get_object(url)
    assert tls_peer.seen == []
    assert (await Fetcher(allow_private=True, verify_tls=False).get_object(url))["id"] == url


@pytest_twisted.ensureDeferred
async def test_an_unreadable_ssl_cert_file_is_a_fetch_error(tls_peer, tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(FetchError, match="cannot read SSL_CERT_FILE"):
        await Fetcher(allow_private=True).get_object(f"https://127.0.0.1:{tls_peer.port}/actor")
