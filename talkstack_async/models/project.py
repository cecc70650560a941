from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from talkstack_async.models._base import Model, extra_field, wire

__all__ = ["Project"]


@attrs.frozen
class Project(Model):
    """A project: the container of agents, phone numbers and calls.

    ``status`` is ``"ACTIVE"`` in every documented example; other values are not documented.
    """

    id: str = wire("id")
    name: str | None = wire("name", default=None)
    description: str | None = wire("description", default=None)
    user_id: str | None = wire("user_id", default=None)
    status: str | None = wire("status", default=None)
    is_deleted: bool = wire("is_deleted", default=False)
    webhook_url: str | None = wire("call_status_webhook", default=None)
    active_agent_id: str | None = wire("active_agent", default=None)
    created_at: datetime | None = wire("created_at", default=None)
    updated_at: datetime | None = wire("updated_at", default=None)
    extra: Mapping[str, Any] = extra_field()
