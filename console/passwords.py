"""Password hashing (argon2id, parameters from config) and the password policy."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from console.config import SecuritySettings
from console.errors import ValidationError


@functools.lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib,
                          parallelism=parallelism, type=Type.ID)


def hasher(sec: SecuritySettings) -> PasswordHasher:
    return _hasher(sec.argon2_time_cost, sec.argon2_memory_kib, sec.argon2_parallelism)


def hash_password(sec: SecuritySettings, password: str) -> str:
    return hasher(sec).hash(password)


@functools.lru_cache(maxsize=8)
def _dummy_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    return _hasher(time_cost, memory_kib, parallelism).hash("flowpro-dummy-password")


def verify_password(sec: SecuritySettings, stored: str | None, password: str) -> bool:
    """True when `password` matches. With no stored hash (unknown user, no password set)
    a dummy hash is verified instead, so every failure costs the same time."""
    ph = hasher(sec)
    target = stored or _dummy_hash(sec.argon2_time_cost, sec.argon2_memory_kib,
                                   sec.argon2_parallelism)
    try:
        ok = ph.verify(target, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    return ok and stored is not None


def needs_rehash(sec: SecuritySettings, stored: str) -> bool:
    try:
        return hasher(sec).check_needs_rehash(stored)
    except (InvalidHashError, ValueError):
        return True


def check_policy(sec: SecuritySettings, password: str, *, username: str,
                 user_inputs: tuple[str, ...] = ()) -> None:
    """Raise ValidationError('password', which rule failed and how to do better)."""
    if len(password) < sec.password_min_length:
        raise ValidationError("password", f"must be at least {sec.password_min_length} "
                              f"characters (has {len(password)})")
    if username and username.lower() in password.lower():
        raise ValidationError("password", "must not contain the username")
    if sec.password_min_score > 0:
        from zxcvbn import zxcvbn  # imported here: its word lists take a moment to load

        result = zxcvbn(password[:100], user_inputs=[username, *user_inputs])
        if result["score"] < sec.password_min_score:
            feedback = result.get("feedback") or {}
            hints = [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
            hint = " ".join(h for h in hints if h) or "Use a longer passphrase of unusual words."
            raise ValidationError(
                "password", f"too easy to guess (strength {result['score']} of 4, needs "
                f"{sec.password_min_score}): {hint}")
