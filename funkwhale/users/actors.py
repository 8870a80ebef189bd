"""Local actors: the ActivityPub identity every account gets (URLs as Funkwhale builds them, RSA keys)."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from funkwhale.config import Settings

KEY_SIZE = 2048


@dataclass(frozen=True)
class NewActor:
    """The values of the actor row to insert for a local account."""

    fid: str
    url: str
    preferred_username: str
    domain: str
    name: str
    inbox_url: str
    outbox_url: str
    shared_inbox_url: str
    followers_url: str
    following_url: str
    public_key: str
    private_key: str


def key_pair(size: int = KEY_SIZE) -> tuple[str, str]:
    """(private PEM PKCS#8, public PEM SubjectPublicKeyInfo). CPU-bound: call it from a thread."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=size)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private.decode("ascii"), public.decode("ascii")


def actor_fid(settings: Settings, username: str) -> str:
    return f"{settings.base_url}/federation/actors/{username}"


def local_actor(settings: Settings, username: str, private_key: str, public_key: str) -> NewActor:
    """The actor of local account `username`, with the given keys."""
    fid = actor_fid(settings, username)
    return NewActor(
        fid=fid,
        url=f"{settings.base_url}/@{username}",
        preferred_username=username,
        domain=settings.domain,
        name=username,
        inbox_url=f"{fid}/inbox",
        outbox_url=f"{fid}/outbox",
        shared_inbox_url=f"{settings.base_url}/federation/shared/inbox",
        followers_url=f"{fid}/followers",
        following_url=f"{fid}/following",
        public_key=public_key,
        private_key=private_key,
    )


def build_local_actor(settings: Settings, username: str) -> NewActor:
    """A local actor with a fresh key pair (blocking: RSA key generation, run it in a thread)."""
    private_key, public_key = key_pair()
    return local_actor(settings, username, private_key, public_key)
