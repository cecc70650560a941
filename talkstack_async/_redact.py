"""Keeping secrets out of logs, reprs and error messages.

Two nets: values under secret-looking keys are masked wherever a body is shown, and the exact
secret strings a client holds are scrubbed from any text the SDK produces from server output.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

__all__ = ["REDACTED", "redact", "scrub"]

REDACTED = "[REDACTED]"

# Compared case-insensitively with "-" and "_" removed, so "refresh_token", "refreshToken" and
# the API's typo "resfreshToken" all match.
_SECRET_KEYS = frozenset(
    {
        "password",
        "oldpassword",
        "newpassword",
        "token",
        "accesstoken",
        "refreshtoken",
        "resfreshtoken",
        "apikey",
        "xapikey",
        "authorization",
        "code",
        "secret",
    }
)


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and key.lower().replace("_", "").replace("-", "") in _SECRET_KEYS


def redact(value: Any, secrets: Collection[str] = ()) -> Any:
    """A copy of a decoded JSON value with every secret-keyed value masked, and every known
    secret string scrubbed from the other strings."""
    if isinstance(value, Mapping):
        return {k: REDACTED if _is_secret_key(k) else redact(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, secrets) for v in value]
    if isinstance(value, str) and secrets:
        return scrub(value, secrets)
    return value


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of the given secret strings masked."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text
