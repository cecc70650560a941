from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from talkstack_async.models._base import Model, extra_field, wire

__all__ = ["Voice", "VoiceLabels"]


@attrs.frozen
class VoiceLabels(Model):
    accent: str | None = wire("accent", default=None)
    description: str | None = wire("description", default=None)
    age: str | None = wire("age", default=None)
    gender: str | None = wire("gender", default=None)
    use_case: str | None = wire("use_case", default=None)
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen
class Voice(Model):
    id: str = wire("voice_id", "id")
    name: str | None = wire("name", default=None)
    preview_url: str | None = wire("preview_url", default=None)
    labels: VoiceLabels | None = wire("labels", default=None)
    extra: Mapping[str, Any] = extra_field()
