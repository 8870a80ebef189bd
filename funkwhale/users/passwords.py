"""Password hashing with argon2 (argon2-cffi). Sync functions: callers run them in a thread."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so both cases take as long; hashed on the first sign-in
    attempt (a hash costs ~150 ms: not at every process's start, nor in commands that sign nobody in)."""
    return _hasher.hash("funkwhale-no-such-account")


def hash_password(password: str) -> str:
    """An argon2id hash of `password` with the current parameters."""
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> tuple[bool, str | None]:
    """(matches, new hash when the stored one used older parameters). `stored` None: no such account,
    still spends the time of a verification."""
    if stored is None:
        _check(_dummy_hash(), password)
        return False, None
    if not _check(stored, password):
        return False, None
    return True, (_hasher.hash(password) if _hasher.check_needs_rehash(stored) else None)


def _check(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
