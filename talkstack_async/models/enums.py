"""Enumerations. Each accepts unknown values, so a new server value never breaks parsing."""

from __future__ import annotations

import enum
from typing import Any

__all__ = [
    "CallStatus",
    "EmailVerificationStatus",
    "LoginStatus",
    "QuestionType",
    "SignupStatus",
]


# Unknown values' pseudo-members, one per class and value, so that they are singletons like
# real members (``is`` works, and they pickle to themselves).
_PSEUDO: dict[tuple[type, object], Any] = {}


class _OpenStrEnum(str, enum.Enum):
    """A string enum that turns an unknown value into a pseudo-member instead of raising.

    Values are matched case-insensitively: the API writes statuses in lower case and question
    types capitalised, and ``"COMPLETED"`` or ``"boolean"`` mean the same member (its ``value``
    stays the API's spelling). A value that matches no member becomes a pseudo-member that
    keeps the spelling it came with, is not ``is_known``, and is the same object every time.
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        folded = value.casefold()
        for known in cls:
            if known.value.casefold() == folded:
                return known
        key = (cls, value)
        pseudo = _PSEUDO.get(key)
        if pseudo is None:
            pseudo = str.__new__(cls, value)
            pseudo._name_ = value.upper().replace("-", "_")
            pseudo._value_ = value
            pseudo = _PSEUDO.setdefault(key, pseudo)
        return pseudo

    def __reduce_ex__(self, protocol: object) -> Any:
        return type(self), (self._value_,)

    def __str__(self) -> str:
        return str(self.value)

    @property
    def is_known(self) -> bool:
        """False for a value this version of the SDK has not heard of."""
        return self._name_ in type(self).__members__


class _OpenIntEnum(enum.IntEnum):
    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        key = (cls, value)
        member = _PSEUDO.get(key)
        if member is None:
            member = int.__new__(cls, value)
            member._name_ = f"UNKNOWN_{value}"
            member._value_ = value
            member = _PSEUDO.setdefault(key, member)
        return member

    def __reduce_ex__(self, protocol: object) -> Any:
        return type(self), (self._value_,)


class CallStatus(_OpenStrEnum):
    """A call's status. ``queued``, ``initiated``, ``ringing`` and ``in-progress`` are temporary;
    the rest are final (``busy``, ``voicemail`` and ``silence`` are what the docs call permanent:
    the platform closes the call). Unknown statuses are kept and treated as not final."""

    QUEUED = "queued"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    BUSY = "busy"
    FAILED = "failed"
    NO_ANSWER = "no-answer"
    VOICEMAIL = "voicemail"
    SILENCE = "silence"

    @property
    def is_final(self) -> bool:
        """True once the call can no longer change status."""
        return self.value in _FINAL_CALL_STATUSES


_FINAL_CALL_STATUSES = frozenset(
    {"completed", "busy", "failed", "no-answer", "voicemail", "silence"}
)


class QuestionType(_OpenStrEnum):
    """The answer type of a post-call analysis question."""

    BOOLEAN = "Boolean"
    TEXT = "Text"
    NUMBER = "Number"
    SELECTOR = "Selector"


class SignupStatus(_OpenIntEnum):
    CREDENTIALS_MISSING = 0
    ACCOUNT_ALREADY_EXISTS = 1
    EMAIL_NOT_VERIFIED = 2
    SUCCESS = 3
    SIGNUP_FAILED = 4
    INVALID_EMAIL = 5
    EMAIL_NOT_SENT = 6


class LoginStatus(_OpenIntEnum):
    CREDENTIALS_MISSING = 0
    ACCOUNT_ALREADY_EXISTS = 1
    ACCOUNT_NOT_VERIFIED = 2
    USER_NOT_FOUND = 3
    INVALID_PASSWORD = 4
    HUBSPOT_INTEGRATION_FAILED = 5
    HUBSPOT_INTEGRATION_SUCCESS = 6
    SUCCESS = 7
    LOGIN_FAILED = 8
    INVALID_EMAIL = 9


class EmailVerificationStatus(_OpenIntEnum):
    CREDENTIALS_MISSING = 0
    INVALID_CODE = 1
    SUCCESS = 2
    RESEND_INVITE = 3
    ACCOUNT_EXISTS = 4
    ACCOUNT_NOT_FOUND = 5
