"""The emulator's in-memory records, and how each one looks on the wire.

Wire shapes follow ``shared/talkstack-api.md``, typos and mixed naming included; the SDK must
absorb them, so the emulator must not tidy them up.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any

import attrs

__all__ = [
    "FINAL_STATUSES",
    "AgentRecord",
    "CallRecord",
    "NumberRecord",
    "ProjectRecord",
    "UserRecord",
    "call_sid",
    "iso",
    "new_id",
    "rfc2822",
]

FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "voicemail", "silence"})

# How an emulated call ends, by the last digit of the number dialled: tests can pick an outcome
# by choosing the number. 0-5 answer and complete; the rest cover the other final statuses.
_OUTCOME_BY_LAST_DIGIT = {
    "6": ("queued", "initiated", "ringing", "busy"),
    "7": ("queued", "initiated", "ringing", "no-answer"),
    "8": ("queued", "initiated", "ringing", "in-progress", "voicemail"),
    "9": ("queued", "initiated", "failed"),
}
_ANSWERED = ("queued", "initiated", "ringing", "in-progress", "completed")


def new_id() -> str:
    """A 24-hex-digit id, shaped like the API's (MongoDB ObjectIds)."""
    return secrets.token_hex(12)


def iso(moment: float | None) -> str | None:
    """ISO 8601 with milliseconds and ``Z``, as the API writes timestamps."""
    if moment is None:
        return None
    text = datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def rfc2822(moment: float) -> str:
    """``Tue, 30 Jan 2024 13:39:53 +0000``: call data's date format."""
    return format_datetime(datetime.fromtimestamp(int(moment), timezone.utc))


@attrs.define
class UserRecord:
    id: str
    email: str
    name: str
    password: str = attrs.field(repr=False)
    created_at: float
    verified: bool = False
    verification_code: str | None = attrs.field(default=None, repr=False)
    api_key: str | None = attrs.field(default=None, repr=False)
    active_project: str | None = None
    updated_at: float | None = None

    def public(self) -> dict[str, Any]:
        """``user`` in signup and login answers."""
        return {
            "email": self.email,
            "name": self.name,
            "active_project": self.active_project,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "company_name": None,
        }

    def user_data(self) -> dict[str, Any]:
        """``userData`` in set-active-project answers."""
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "verified": self.verified,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "active_project": self.active_project,
        }


@attrs.define
class ProjectRecord:
    id: str
    user_id: str
    name: str
    description: str
    created_at: float
    webhook: str | None = None
    active_agent: str | None = None
    updated_at: float | None = None

    def wire(self, *, with_is_deleted: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "user_id": self.user_id,
            "status": "ACTIVE",
            "description": self.description,
            "call_status_webhook": self.webhook,
            "id": self.id,
            "active_agent": self.active_agent,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }
        if with_is_deleted:  # create's documented example lacks it
            body["is_deleted"] = False
        return body

    def project_data(self) -> dict[str, Any]:
        """``projectData`` in the user endpoints' answers."""
        return {
            "name": self.name,
            "user_id": self.user_id,
            "status": "ACTIVE",
            "description": self.description,
            "call_status_webhook": self.webhook,
            "id": self.id,
        }

    def after_set_active_agent(self) -> dict[str, Any]:
        """Set-active-agent's ``project``: documented without an ``id``."""
        return {
            "name": self.name,
            "description": self.description,
            "active_agent": self.active_agent,
            "created_at": iso(self.created_at),
            "call_status_webhook": self.webhook,
            "user_id": self.user_id,
        }


@attrs.define
class AgentRecord:
    id: str
    project_id: str
    name: str
    system_instruction: str
    phone_number: str
    voice_id: str | None = None

    def wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "projectId": self.project_id,
            "systemInstruction": self.system_instruction,
            "id": self.id,
            "voice_id": self.voice_id,
            "phoneNumber": self.phone_number,
        }

    def after_update(self) -> dict[str, Any]:
        """Update's success example: the id is called ``agentId`` there."""
        return {
            "systemInstruction": self.system_instruction,
            "name": self.name,
            "projectId": self.project_id,
            "agentId": self.id,
            "voice_id": self.voice_id,
        }


@attrs.define
class NumberRecord:
    id: str
    e164: str
    project_id: str
    agent_id: str | None

    def wire(self) -> dict[str, Any]:
        return {
            "e164": self.e164,
            "id": self.id,
            "status": "AVAILABLE",
            "projectId": self.project_id,
            "agentId": self.agent_id,
        }


@attrs.define
class CallRecord:
    """A call placed through the emulator; its status advances with time (see ``status_at``)."""

    sid: str
    project_id: str
    agent_id: str
    to: str
    from_: str
    variables: Mapping[str, Any]
    placed_at: float  # wall clock, for dates
    placed_mono: float  # monotonic clock, for the status progression
    path: tuple[str, ...]

    @classmethod
    def outcome_path(cls, number: str) -> tuple[str, ...]:
        return _OUTCOME_BY_LAST_DIGIT.get(number[-1:], _ANSWERED)

    @classmethod
    def path_ending(cls, status: str) -> tuple[str, ...]:
        """The statuses of a call that ends ``status`` (one of ``FINAL_STATUSES``)."""
        if status == "completed":
            return _ANSWERED
        if status == "silence":
            return ("queued", "initiated", "ringing", "in-progress", "silence")
        return next(p for p in _OUTCOME_BY_LAST_DIGIT.values() if p[-1] == status)

    def step_at(self, now_mono: float, interval: float) -> int:
        if interval <= 0:
            return len(self.path) - 1
        return min(int((now_mono - self.placed_mono) / interval), len(self.path) - 1)

    def status_at(self, now_mono: float, interval: float) -> str:
        return self.path[self.step_at(now_mono, interval)]

    def ended_at(self, now_mono: float, interval: float) -> float | None:
        """Wall-clock end (start plus duration), or None while the call is still going."""
        if self.status_at(now_mono, interval) not in FINAL_STATUSES:
            return None
        return self.placed_at + self.duration(interval)

    def duration(self, interval: float) -> int:
        """Seconds of talk: emulated calls that were answered last a few seconds per step."""
        talked = "in-progress" in self.path
        return max(1, int(interval * 10)) if talked else 0

    def wire(self, now_mono: float, interval: float) -> dict[str, Any]:
        """Get-call-data's bare object now (history items have the same shape)."""
        return self.wire_at(self.step_at(now_mono, interval), interval)

    def wire_at(self, step: int, interval: float) -> dict[str, Any]:
        """The call's object as it was at ``step`` of its status progression."""
        status = self.path[step]
        final = status in FINAL_STATUSES
        seconds = self.duration(interval) if final else 0
        body: dict[str, Any] = {
            # Free-form keys (the docs show partnerId, shiftId, ...): the dynamic variables.
            **{k: v for k, v in self.variables.items() if isinstance(k, str)},
            "seconds": seconds,
            "cost": round(seconds * 0.0015, 4),
            "status": status,
            "from": self.from_,
            "to": self.to,
            "date": rfc2822(self.placed_at),
            "recordingUrls": (
                [f"https://api.twilio.com/2010-04-01/Recordings/RE{self.sid[2:]}"]
                if final and seconds
                else []
            ),
            "phoneNumber": self.from_,
            "callSid": self.sid,
            "data": dict(self.variables) if status == "completed" else {},
        }
        return body


def call_sid() -> str:
    """``CA`` + 32 hex digits, like a Twilio call SID."""
    return "CA" + secrets.token_hex(16)
