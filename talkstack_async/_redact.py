"""Keeping secrets out of logs, reprs and error messages.

Two nets: values under secret-looking keys are masked wherever a body is shown, and the exact
secret strings a client holds are scrubbed from any text the SDK produces from server output.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from typing import Any

__all__ = ["PERSONAL", "REDACTED", "for_debug_log", "redact", "scrub"]

REDACTED = "[REDACTED]"
PERSONAL = "[PERSONAL]"

# Phone numbers and the values that fill an agent's prompt (names, appointments, ...) are
# personal data: masked in debug logs unless TALKSTACK_LOG_PERSONAL_DATA=1 says otherwise.
_PERSONAL_KEYS = frozenset(
    {"number", "to", "from", "phonenumber", "e164", "dynamicvariables", "callernumber"}
)

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
    return isinstance(key, str) and _normal(key) in _SECRET_KEYS


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


def for_debug_log(value: Any) -> Any:
    """``value`` (already redacted) as a debug log may show it: personal data masked, unless
    the user opted in with ``TALKSTACK_LOG_PERSONAL_DATA=1``."""
    if os.environ.get("TALKSTACK_LOG_PERSONAL_DATA", "").strip().lower() in ("1", "true", "yes"):
        return value
    return _mask_personal(value)


def _mask_personal(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            k: PERSONAL if _normal(k) in _PERSONAL_KEYS else _mask_personal(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_mask_personal(v) for v in value]
    return value


def _normal(key: object) -> object:
    return key.lower().replace("_", "").replace("-", "") if isinstance(key, str) else key


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of the given secret strings masked."""
    for secret in secrets:
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text
