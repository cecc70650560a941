from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from talkstack_async.models._base import Model, extra_field, wire
from talkstack_async.models.enums import CallStatus, QuestionType

__all__ = [
    "AnalysisQuestion",
    "BatchCallResult",
    "Call",
    "CallAnalysis",
    "CallHistoryPage",
    "PlacedCall",
]


@attrs.frozen
class PlacedCall(Model):
    """A call that make-call accepted: a placed call, not a finished one."""

    sid: str = wire("call_id", "callSid", "sid")
    to: str | None = wire("to", default=None)
    from_: str | None = wire("from", default=None)
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen
class Call(Model):
    """A call's record, from get-call-data or the call history.

    ``data`` holds the values the agent extracted; the API's free-form keys (``partnerId``,
    ``shiftId``, ...) are in ``extra``. History items are not documented to carry the sid, so
    ``sid`` may be ``None`` there. ``date`` is sent in RFC 2822 form and parsed to UTC.
    """

    sid: str | None = wire("callSid", "sid", "call_id", "callId", default=None)
    status: CallStatus | None = wire("status", default=None)
    to: str | None = wire("to", default=None)
    from_: str | None = wire("from", default=None)
    date: datetime | None = wire("date", default=None)
    duration_seconds: float | None = wire("seconds", default=None)
    cost: float | None = wire("cost", default=None)
    recording_urls: tuple[str, ...] = wire("recordingUrls", default=())
    phone_number: str | None = wire("phoneNumber", default=None)
    data: Mapping[str, Any] = wire("data", default=attrs.Factory(dict))
    extra: Mapping[str, Any] = extra_field()


@attrs.frozen
class CallHistoryPage:
    """One page of call history, as the server sent it."""

    items: tuple[Call, ...]
    page_number: int
    """1-based position of this page in the iteration."""


@attrs.frozen
class CallAnalysis(Model):
    """Post-call analysis; available only after the call ended.

    The response's shape was not captured in the docs: ``answers`` is read from
    ``custom_analysis_data`` (or ``customAnalysisData`` / ``answers``) as sent, and everything
    else is kept in ``extra``.
    """

    sentiment: str | None = wire("sentiment", default=None)
    status: str | None = wire("status", default=None)
    summary: str | None = wire("summary", default=None)
    answers: Any = wire("custom_analysis_data", "customAnalysisData", "answers", default=None)
    extra: Mapping[str, Any] = extra_field()


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    # A named converter: with the bare ``tuple`` type, mypy cannot infer the item type.
    return tuple(values)


@attrs.frozen
class AnalysisQuestion:
    """A question for post-call analysis. ``options`` is required for (and only for) Selector."""

    question: str
    type: QuestionType = attrs.field(converter=QuestionType)
    options: tuple[str, ...] = attrs.field(default=(), converter=_strings)


@attrs.frozen
class BatchCallResult(Model):
    """The batch-call response. Its shape is not documented: everything is kept in ``extra``."""

    message: str | None = wire("message", default=None)
    extra: Mapping[str, Any] = extra_field()
