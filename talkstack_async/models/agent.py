from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from talkstack_async.models._base import Model, extra_field, wire

__all__ = ["Agent"]


@attrs.frozen
class Agent(Model):
    """An AI phone agent. Update responses name the id ``agentId``; both names are read."""

    id: str = wire("id", "agentId", "_id")
    name: str | None = wire("name", default=None)
    project_id: str | None = wire("projectId", default=None)
    system_instruction: str | None = wire("systemInstruction", default=None)
    voice_id: str | None = wire("voice_id", "voiceId", default=None)
    phone_number: str | None = wire("phoneNumber", default=None)
    extra: Mapping[str, Any] = extra_field()
