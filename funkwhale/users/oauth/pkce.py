"""Proof Key for Code Exchange (RFC 7636): challenges the client commits to at authorization time."""

from __future__ import annotations

import base64
import hashlib
import re

from funkwhale.users.tokens import same

METHODS = ("S256", "plain")
# code_verifier and code_challenge alike: 43 to 128 unreserved characters (RFC 7636 §4.1, §4.2).
_SHAPE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def well_formed(value: str) -> bool:
    return _SHAPE.fullmatch(value) is not None


def challenge_for(verifier: str, method: str) -> str:
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier


def verify(challenge: str, method: str, verifier: str) -> bool:
    """Whether `verifier` answers the stored `challenge` made with `method`."""
    return well_formed(verifier) and same(challenge_for(verifier, method), challenge)
