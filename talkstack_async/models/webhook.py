"""A call-status webhook event, as parsed by ``parse_call_status_event``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from talkstack_async.models.call import Call
from talkstack_async.models.enums import CallStatus

__all__ = ["CallStatusEvent"]


@attrs.frozen
class CallStatusEvent:
    """One status change of a call, pushed to the project's ``call_status_webhook``.

    The payload is not documented. Assumed: a JSON object (or a form body) carrying the call's
    id and status under get-call-data's names (``callSid``, ``status``) or Twilio's
    (``CallSid``, ``CallStatus``), maybe nested under ``call`` or ``data``, plus whatever else
    the server sends. ``call`` is that object read as a ``Call``; ``raw`` is the body as
    received, so nothing is lost.
    """

    sid: str
    status: CallStatus | None
    call: Call
    project_id: str | None = None
    agent_id: str | None = None
    occurred_at: datetime | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False)

    @property
    def is_final(self) -> bool:
        """True when this is the call's last status change."""
        return self.status is not None and self.status.is_final
