from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from talkstack_async.models._base import Model, extra_field, wire

__all__ = ["PhoneNumber"]


@attrs.frozen
class PhoneNumber(Model):
    """A phone number of the account. ``status`` is ``"AVAILABLE"`` in the docs' example."""

    id: str = wire("id", "_id")
    number: str | None = wire("e164", default=None)
    status: str | None = wire("status", default=None)
    project_id: str | None = wire("projectId", default=None)
    agent_id: str | None = wire("agentId", default=None)
    extra: Mapping[str, Any] = extra_field()
