"""HTTP signatures: draft-cavage (what Funkwhale, Mastodon, GoToSocial send) and RFC 9421 (Mastodon 4.5).

Pure functions, no I/O. Signing produces the headers to add to an outgoing request. Verifying is two steps so
the caller owns key lookup: `parse(request, now)` checks everything that needs no key (format, covered
components, Digest / Content-Digest against the body, the time window) and returns a `ParsedSignature` naming
the keyId; `ParsedSignature.verify(public_key_pem)` checks the signature itself. `verify_request` wires both to
an async key-lookup callable and retries once with a refetched key, for keys that were rotated.
Every failure raises `SignatureError` with a reason fit for a 401 body and the logs.
"""

from __future__ import annotations

import base64
import email.utils
import functools
import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# How far a signature's Date / created may lie from our clock (federation.md §2.2: 5 min, like bovine and apsig).
MAX_AGE = 300
MAX_FUTURE = 300

CAVAGE_ALGORITHMS = ("rsa-sha256", "hs2019")
RFC9421_ALGORITHM = "rsa-v1_5-sha256"
_BODY_METHODS = ("POST", "PUT", "PATCH")


class SignatureError(Exception):
    """A request's signature is missing, malformed, stale or wrong; `str(e)` says why."""


@dataclass(frozen=True)
class IncomingRequest:
    """What a verifier needs of a received request.

    `target` is the raw request URI as received (path and query); `headers` maps lower-case names to values
    (repeated headers joined with ", "); `scheme` completes RFC 9421's `@target-uri`.
    """

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes = b""
    scheme: str = "https"

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


# -- digests ------------------------------------------------------------------------------------------------


def digest_header(body: bytes) -> str:
    """The draft-cavage `Digest` value of `body`: `SHA-256=<base64>`."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def content_digest_header(body: bytes) -> str:
    """The RFC 9530 `Content-Digest` value of `body`: `sha-256=:<base64>:`."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


_HASHES = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


def _check_digest(value: str, body: bytes) -> None:
    """Digest: `SHA-256=<b64>` (comma-separated list allowed, algorithm case-insensitive)."""
    found = False
    for part in value.split(","):
        name, sep, encoded = part.strip().partition("=")
        hasher = _HASHES.get(name.strip().lower())
        if not sep or hasher is None:
            continue
        found = True
        if not _b64_equal(encoded.strip(), hasher(body).digest()):
            raise SignatureError(f"Digest {name.strip()} does not match the body")
    if not found:
        raise SignatureError("Digest has no SHA-256 or SHA-512 value")


def _check_content_digest(value: str, body: bytes) -> None:
    """Content-Digest: `sha-256=:<b64>:` (a structured dictionary of byte sequences)."""
    found = False
    for name, raw in _sf_dictionary(value):
        hasher = _HASHES.get(name.lower())
        if hasher is None:
            continue
        if not (raw.startswith(":") and raw.endswith(":") and len(raw) >= 2):
            raise SignatureError(f"Content-Digest {name} is not a byte sequence")
        found = True
        if not _b64_equal(raw[1:-1], hasher(body).digest()):
            raise SignatureError(f"Content-Digest {name} does not match the body")
    if not found:
        raise SignatureError("Content-Digest has no sha-256 or sha-512 value")


def _b64_equal(encoded: str, expected: bytes) -> bool:
    try:
        return base64.b64decode(encoded, validate=True) == expected
    except ValueError:
        return False


# -- keys ---------------------------------------------------------------------------------------------------


def _public_key(pem: str | bytes) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    except (ValueError, TypeError):
        raise SignatureError("the signer's public key is not a valid PEM key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("the signer's key is not an RSA key")
    return key


@functools.lru_cache(maxsize=1024)
def _private_key(pem: str | bytes) -> rsa.RSAPrivateKey:
    """A local actor's private key, parsed once: loading checks the RSA key (about 30 ms for 2048 bits, a
    hundred times the signature itself), which every signed request would otherwise pay on the reactor."""
    key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("only RSA keys can sign")
    return key


def _rsa_sign(private_key_pem: str | bytes, data: bytes) -> str:
    raw = _private_key(private_key_pem).sign(data, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode("ascii")


def _rsa_verify(public_key_pem: str | bytes, signature: bytes, candidates: list[bytes]) -> None:
    key = _public_key(public_key_pem)
    for data in candidates:
        try:
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            return
        except InvalidSignature:
            continue
    raise BadSignature("the signature does not match the request and the signer's key")


class BadSignature(SignatureError):
    """The request is well-formed but the signature does not verify with the given key (a refetch may help)."""


# -- time ---------------------------------------------------------------------------------------------------


def http_date(now: float) -> str:
    """`now` (a POSIX time) as an HTTP Date header value."""
    return email.utils.formatdate(now, usegmt=True)


def _check_time(created: float, now: float, what: str) -> None:
    if created > now + MAX_FUTURE:
        raise SignatureError(f"{what} is in the future")
    if created < now - MAX_AGE:
        raise SignatureError(f"{what} is too old")


def _parse_http_date(value: str) -> float:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise SignatureError("Date is not a valid HTTP date")
    return parsed.timestamp()


# -- signing ------------------------------------------------------------------------------------------------


def _target(url: str) -> tuple[str, str]:
    """(host[:port] as the Host header carries it, path?query) of an absolute URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    path = parts.path or "/"
    return parts.netloc.rpartition("@")[2].lower(), path + (f"?{parts.query}" if parts.query else "")


def sign_request(
    method: str,
    url: str,
    *,
    key_id: str,
    private_key_pem: str | bytes,
    now: float,
    body: bytes | None = None,
    accept: str | None = None,
    content_type: str | None = None,
) -> dict[str, str]:
    """The headers that sign an outgoing request draft-cavage style, as Funkwhale and Mastodon do.

    GET signs `(request-target) host date` (and `accept` when given); a request with a body signs
    `(request-target) host date digest` (and `content-type` when given) with `Digest: SHA-256=<b64>`.
    Returns Host, Date, Digest (with a body), Accept / Content-Type (when given) and Signature.
    """
    host, path = _target(url)
    headers = {"Host": host, "Date": http_date(now)}
    covered = ["(request-target)", "host", "date"]
    if body is not None:
        headers["Digest"] = digest_header(body)
        covered.append("digest")
    if content_type is not None:
        headers["Content-Type"] = content_type
        covered.append("content-type")
    if accept is not None:
        headers["Accept"] = accept
        covered.append("accept")
    lower = {k.lower(): v for k, v in headers.items()}
    lines = [
        f"(request-target): {method.lower()} {path}" if name == "(request-target)" else f"{name}: {lower[name]}"
        for name in covered
    ]
    signature = _rsa_sign(private_key_pem, "\n".join(lines).encode("utf-8"))
    headers["Signature"] = (
        f'keyId="{key_id}",algorithm="rsa-sha256",headers="{" ".join(covered)}",signature="{signature}"'
    )
    return headers


def sign_request_rfc9421(
    method: str,
    url: str,
    *,
    key_id: str,
    private_key_pem: str | bytes,
    now: float,
    body: bytes | None = None,
) -> dict[str, str]:
    """The headers that sign a request per RFC 9421 in Mastodon 4.5's profile.

    Covers `@method @target-uri` (and `content-digest` with a body), `created` and `keyid`; returns
    Content-Digest (with a body), Signature-Input and Signature.
    """
    _target(url)
    headers: dict[str, str] = {}
    components = [("@method", method.upper()), ("@target-uri", url)]
    if body is not None:
        headers["Content-Digest"] = content_digest_header(body)
        components.append(("content-digest", headers["Content-Digest"]))
    params = "(" + " ".join(f'"{name}"' for name, _ in components) + f');created={int(now)};keyid="{key_id}"'
    base = _signature_base(components, params)
    headers["Signature-Input"] = f"sig1={params}"
    headers["Signature"] = f"sig1=:{_rsa_sign(private_key_pem, base)}:"
    return headers


def _signature_base(components: list[tuple[str, str]], params: str) -> bytes:
    lines = [f'"{name}": {value}' for name, value in components]
    lines.append(f'"@signature-params": {params}')
    return "\n".join(lines).encode("utf-8")


# -- verifying ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedSignature:
    """A request's signature, checked for everything but the key: verify it with `verify(public_key_pem)`."""

    key_id: str
    scheme: str  # "cavage" or "rfc9421"
    signature: bytes
    candidates: tuple[bytes, ...]  # what may have been signed (cavage: with, then without the query)

    def verify(self, public_key_pem: str | bytes) -> None:
        """Raise BadSignature unless the signature verifies with this RSA public key."""
        _rsa_verify(public_key_pem, self.signature, list(self.candidates))


def parse(request: IncomingRequest, now: float) -> ParsedSignature:
    """Check a request's signature apart from the key (RFC 9421 when `Signature-Input` is present)."""
    if request.header("signature-input") is not None:
        return _parse_rfc9421(request, now)
    return _parse_cavage(request, now)


KeyLookup = Callable[[str, bool], Awaitable["str | None"]]


async def verify_request(request: IncomingRequest, lookup: KeyLookup, now: float) -> ParsedSignature:
    """Verify a request, keys coming from `await lookup(key_id, refresh)`.

    `lookup(key_id, False)` may answer from a cache; when the signature fails with that key it is called once
    more with `refresh=True` (the caller refetches, rate-limited as it sees fit) and the check is repeated.
    A lookup answering None means the key cannot be found.
    """
    parsed = parse(request, now)
    key = await lookup(parsed.key_id, False)
    try:
        if key is None:
            raise BadSignature(f"no public key found for {parsed.key_id}")
        parsed.verify(key)
    except BadSignature:
        fresh = await lookup(parsed.key_id, True)
        if fresh is None or fresh == key:
            raise
        parsed.verify(fresh)
    return parsed


def _require_body_digest(request: IncomingRequest) -> bool:
    return bool(request.body) or request.method.upper() in _BODY_METHODS


_CAVAGE_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"([^"]*)"|([0-9.]+))\s*(?:,|$)')


def _cavage_params(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    pos = 0
    while pos < len(value):
        match = _CAVAGE_PARAM.match(value, pos)
        if match is None or match.end() == pos:
            raise SignatureError("Signature header is malformed")
        name = match.group(1)
        if name in params:
            raise SignatureError(f"Signature parameter {name} is repeated")
        params[name] = match.group(2) if match.group(2) is not None else match.group(3)
        pos = match.end()
    return params


def _parse_cavage(request: IncomingRequest, now: float) -> ParsedSignature:
    raw = request.header("signature")
    if raw is None:
        authorization = request.header("authorization") or ""
        if authorization[:10].lower() == "signature ":
            raw = authorization[10:]
    if raw is None:
        raise SignatureError("the request is not signed (no Signature header)")
    params = _cavage_params(raw)
    key_id = params.get("keyId")
    encoded = params.get("signature")
    if not key_id or not encoded:
        raise SignatureError("Signature needs keyId and signature")
    algorithm = params.get("algorithm", "hs2019").lower()
    if algorithm not in CAVAGE_ALGORITHMS:
        raise SignatureError(f"unsupported signature algorithm {algorithm!r}")
    try:
        signature = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise SignatureError("signature is not valid base64") from None
    covered = params.get("headers", "date").lower().split()
    required = ["(request-target)", "host"]
    if _require_body_digest(request):
        required.append("digest")
    missing = [name for name in required if name not in covered]
    if "date" not in covered and "(created)" not in covered:
        missing.append("date")
    if missing:
        raise SignatureError(f"the signature must cover {', '.join(missing)}")
    if "date" in covered or request.header("date") is not None:
        date = request.header("date")
        if date is None:
            raise SignatureError("Date header is missing")
        _check_time(_parse_http_date(date), now, "Date")
    if "(created)" in covered:
        _check_time(_number(params.get("created"), "created"), now, "created")
    if "expires" in params and _number(params["expires"], "expires") < now:
        raise SignatureError("the signature has expired")
    digest = request.header("digest")
    if digest is not None:
        _check_digest(digest, request.body)
    elif "digest" in covered:
        raise SignatureError("Digest header is missing")
    full = request.target or "/"
    targets = [full] if "?" not in full else [full, full.split("?", 1)[0]]
    candidates = []
    for target in targets:
        lines = []
        for name in covered:
            if name == "(request-target)":
                lines.append(f"(request-target): {request.method.lower()} {target}")
            elif name in ("(created)", "(expires)"):
                value = params.get(name[1:-1])
                if value is None:
                    raise SignatureError(f"{name} is covered but the {name[1:-1]} parameter is missing")
                lines.append(f"{name}: {value}")
            else:
                value = request.header(name)
                if value is None:
                    raise SignatureError(f"the signed header {name} is missing")
                lines.append(f"{name}: {value.strip()}")
        candidates.append("\n".join(lines).encode("utf-8"))
    return ParsedSignature(key_id=key_id, scheme="cavage", signature=signature, candidates=tuple(candidates))


def _number(value: str | None, name: str) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SignatureError(f"{name} is not a number") from None


# RFC 8941 structured fields, as much as signatures use: a dictionary whose members are an inner list of strings
# with parameters (Signature-Input) or a byte sequence (Signature, Content-Digest).
_SF_KEY = re.compile(r"[a-z*][a-z0-9_.*-]*")
_SF_TOKEN = re.compile(r"[A-Za-z*][A-Za-z0-9!#$%&'*+.^_`|~:/-]*")
_SF_STRING = re.compile(r'"((?:[^"\\]|\\["\\])*)"')
_SF_INTEGER = re.compile(r"-?[0-9]{1,15}")
_SF_BYTES = re.compile(r":[A-Za-z0-9+/=]*:")


def _sf_dictionary(value: str) -> list[tuple[str, str]]:
    """(key, raw member text) for each member of a structured dictionary, in order."""
    members: list[tuple[str, str]] = []
    pos, text = 0, value.strip()
    while pos < len(text):
        key = _SF_KEY.match(text, pos)
        if key is None:
            raise SignatureError("malformed structured header")
        pos = key.end()
        start = pos
        if text.startswith("=", pos):
            pos += 1
            start = pos
            if text.startswith("(", pos):
                pos = _skip_inner_list(text, pos)
            else:
                pos = _skip_item(text, pos)
        pos = _skip_params(text, pos)
        members.append((key.group(0), text[start:pos]))
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text):
            if text[pos] != ",":
                raise SignatureError("malformed structured header")
            pos += 1
            while pos < len(text) and text[pos] in " \t":
                pos += 1
    return members


def _skip_item(text: str, pos: int) -> int:
    for pattern in (_SF_STRING, _SF_BYTES, _SF_INTEGER, _SF_TOKEN):
        match = pattern.match(text, pos)
        if match:
            return match.end()
    raise SignatureError("malformed structured header")


def _skip_params(text: str, pos: int) -> int:
    while text.startswith(";", pos):
        key = _SF_KEY.match(text, pos + 1)
        if key is None:
            raise SignatureError("malformed structured header parameter")
        pos = key.end()
        if text.startswith("=", pos):
            pos = _skip_item(text, pos + 1)
    return pos


def _skip_inner_list(text: str, pos: int) -> int:
    pos += 1
    while True:
        while pos < len(text) and text[pos] == " ":
            pos += 1
        if text.startswith(")", pos):
            return pos + 1
        if pos >= len(text):
            raise SignatureError("malformed structured header list")
        pos = _skip_params(text, _skip_item(text, pos))


def _inner_list(raw: str) -> tuple[list[str], dict[str, str]]:
    """The component names and the parameters of a Signature-Input member."""
    if not raw.startswith("("):
        raise SignatureError("Signature-Input member is not a list")
    end = _skip_inner_list(raw, 0)
    names = []
    for item in re.finditer(r'"((?:[^"\\]|\\["\\])*)"(;[^ )]*)?', raw[1 : end - 1]):
        if item.group(2):
            raise SignatureError(f"component parameters are not supported ({item.group(0)})")
        names.append(item.group(1))
    params: dict[str, str] = {}
    for param in re.finditer(r';([a-z*][a-z0-9_.*-]*)(?:=("(?:[^"\\]|\\["\\])*"|[^;]*))?', raw[end:]):
        value = param.group(2) or ""
        params[param.group(1)] = value[1:-1].replace('\\"', '"').replace("\\\\", "\\") if value[:1] == '"' else value
    return names, params


def _parse_rfc9421(request: IncomingRequest, now: float) -> ParsedSignature:
    inputs = _sf_dictionary(request.header("signature-input") or "")
    signatures = dict(_sf_dictionary(request.header("signature") or ""))
    if not inputs:
        raise SignatureError("Signature-Input is empty")
    label, raw_params = inputs[0]
    raw_signature = signatures.get(label)
    if raw_signature is None:
        raise SignatureError(f"no Signature for label {label}")
    if not _SF_BYTES.fullmatch(raw_signature):
        raise SignatureError("Signature is not a byte sequence")
    try:
        signature = base64.b64decode(raw_signature[1:-1], validate=True)
    except ValueError:
        raise SignatureError("Signature is not valid base64") from None
    names, params = _inner_list(raw_params)
    key_id = params.get("keyid")
    if not key_id:
        raise SignatureError("Signature-Input needs keyid")
    algorithm = params.get("alg")
    if algorithm is not None and algorithm != RFC9421_ALGORITHM:
        raise SignatureError(f"unsupported signature algorithm {algorithm!r}")
    if "created" not in params:
        raise SignatureError("Signature-Input needs created")
    _check_time(_number(params["created"], "created"), now, "created")
    if "expires" in params and _number(params["expires"], "expires") < now:
        raise SignatureError("the signature has expired")
    required = ["@method", "@target-uri"]
    if _require_body_digest(request):
        required.append("content-digest")
    missing = [name for name in required if name not in names]
    if missing:
        raise SignatureError(f"the signature must cover {', '.join(missing)}")
    digest = request.header("content-digest")
    if digest is not None:
        _check_content_digest(digest, request.body)
    components = [(name, _component(request, name)) for name in names]
    base = _signature_base(components, raw_params)
    return ParsedSignature(key_id=key_id, scheme="rfc9421", signature=signature, candidates=(base,))


def _component(request: IncomingRequest, name: str) -> str:
    authority = (request.header("host") or "").lower()
    path, _, query = (request.target or "/").partition("?")
    derived = {
        "@method": request.method.upper(),
        "@authority": authority,
        "@scheme": request.scheme.lower(),
        "@target-uri": f"{request.scheme.lower()}://{authority}{request.target or '/'}",
        "@request-target": request.target or "/",
        "@path": path,
        "@query": f"?{query}",
    }
    if name.startswith("@"):
        if name not in derived:
            raise SignatureError(f"unsupported derived component {name}")
        if name == "@authority" or name == "@target-uri":
            if not authority:
                raise SignatureError("Host header is missing")
        return derived[name]
    value = request.header(name)
    if value is None:
        raise SignatureError(f"the signed header {name} is missing")
    return value.strip()
