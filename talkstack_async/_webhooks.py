"""Receiving call-status webhooks: a tolerant parser and an ``aiohttp.web`` handler factory.

The payload is undocumented (see ``CallStatusEvent`` for what is assumed), so the parser looks
for the call id and status under every name seen in the API and in Twilio's callbacks, keeps
unknown fields, and only refuses a body with no call id at all.
"""

from __future__ import annotations

import hmac
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import attrs
from aiohttp import web
from multidict import CIMultiDict

from talkstack_async._convert import StructureError, parse_datetime, structure
from talkstack_async._errors import (
    WebhookPayloadError,
    WebhookTokenError,
    WebhookTooLargeError,
)
from talkstack_async._logging import logger
from talkstack_async.models.call import Call
from talkstack_async.models.enums import CallStatus
from talkstack_async.models.webhook import CallStatusEvent

__all__ = ["call_status_webhook_handler", "parse_call_status_event", "unwrap_call_status_event"]

_SID_NAMES = ("callSid", "CallSid", "sid", "call_id", "callId", "call_sid")
_STATUS_NAMES = ("status", "callStatus", "CallStatus", "call_status")
_PROJECT_NAMES = ("projectId", "project_id")
_AGENT_NAMES = ("agentId", "agent_id")
_TIME_NAMES = ("timestamp", "Timestamp", "time", "updatedAt", "updated_at", "eventTime")
_NESTS = ("call", "data", "payload", "event")
_TOKEN_HEADER = "X-Talkstack-Token"  # noqa: S105 - a header's name
_MAX_BODY = 1 << 20

EventCallback = Callable[[CallStatusEvent], Any]


def parse_call_status_event(
    body: bytes | str | Mapping[str, Any], *, content_type: str | None = None
) -> CallStatusEvent:
    """A webhook body as a ``CallStatusEvent``.

    Args:
        body: The raw body (JSON, or a form body as Twilio sends) or an already decoded
            mapping.
        content_type: The request's Content-Type, if known (only form bodies need it).

    Raises:
        WebhookPayloadError: The body is not an object, or names no call.
        TypeError: ``body`` or ``content_type`` is of another type (a bug in the caller, not
            a bad payload).
    """
    if not isinstance(body, (bytes, bytearray, str, Mapping)):
        raise TypeError(f"body must be bytes, str or a mapping, not {type(body).__name__}")
    if content_type is not None and not isinstance(content_type, str):
        raise TypeError(f"content_type must be a str or None, not {type(content_type).__name__}")
    raw = _decode(body, content_type)
    record = _record(raw)
    sid = _first(record, _SID_NAMES, raw)
    if not isinstance(sid, (str, int)) or isinstance(sid, bool) or not str(sid):
        raise WebhookPayloadError("the webhook body names no call (no callSid)")
    try:
        call = structure(record, Call)
    except StructureError:
        # A field of an unexpected type must not lose the event: keep the ids and the rest raw.
        call = Call(sid=str(sid), extra=dict(record))
    given = _first(record, _STATUS_NAMES, raw)
    status = CallStatus(given) if isinstance(given, str) else call.status
    if call.sid is None or call.status is None:
        call = attrs.evolve(call, sid=call.sid or str(sid), status=call.status or status)
    return CallStatusEvent(
        sid=str(sid),
        status=status,
        call=call,
        project_id=_text(_first(record, _PROJECT_NAMES, raw)),
        agent_id=_text(_first(record, _AGENT_NAMES, raw)),
        occurred_at=_time(_first(record, _TIME_NAMES, raw)),
        raw=raw,
    )


def unwrap_call_status_event(
    body: bytes | str,
    headers: Mapping[str, str],
    *,
    query: Mapping[str, str] | None = None,
    token: str | None = None,
) -> CallStatusEvent:
    """A webhook request, from any framework, checked and parsed: the shared ``token`` (in the
    query as ``?token=...`` or the ``X-Talkstack-Token`` header; compared in constant time),
    the size (at most 1 MiB), then the body as ``parse_call_status_event`` reads it.

    ``headers`` may be any mapping (names are matched case-insensitively).

    Raises:
        WebhookTokenError: ``token`` was given and the request lacks it (answer 401).
        WebhookTooLargeError: The body is over 1 MiB (answer 413).
        WebhookPayloadError: The body is not a call-status event (answer 400).
    """
    found = CIMultiDict(headers)
    if token is not None:
        given = (query or {}).get("token") or found.get(_TOKEN_HEADER) or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise WebhookTokenError("bad or missing token")
    if len(body) > _MAX_BODY:
        raise WebhookTooLargeError("body too large")
    event = parse_call_status_event(body, content_type=found.get("Content-Type"))
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("talkstack webhook: call %s is %s", event.sid, event.status)
    return event


def call_status_webhook_handler(
    on_event: EventCallback,
    *,
    token: str | None = None,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """An ``aiohttp.web`` handler that parses each POST and passes the event to ``on_event``
    (a function or a coroutine function)::

        app.router.add_post("/talkstack/calls", call_status_webhook_handler(on_event, token=t))

    Webhooks carry no signature, so anyone who learns the URL can post to it. Give a ``token``
    and register the URL with ``?token=...``: requests without it (in the query or the
    ``X-Talkstack-Token`` header) get 401. Answers 204 when handled, 400 for a body that is
    not an event, 401 for a bad token, 413 for a body over 1 MiB; if ``on_event`` raises, the
    error propagates (aiohttp answers 500, so a retrying sender tries again). Other frameworks:
    ``unwrap_call_status_event``, or ``talkstack_async.integrations`` (Starlette/FastAPI,
    Flask, Django).
    """

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            if request.content_length is not None and request.content_length > _MAX_BODY:
                raise WebhookTooLargeError("body too large")
            body = await request.content.read(_MAX_BODY + 1)
            event = unwrap_call_status_event(
                body, request.headers, query=request.query, token=token
            )
        except WebhookPayloadError as exc:
            return web.json_response({"error": str(exc)}, status=exc.status)
        result = on_event(event)
        if inspect.isawaitable(result):
            await result
        return web.Response(status=204)

    return handle


def _decode(body: bytes | str | Mapping[str, Any], content_type: str | None) -> dict[str, Any]:
    if isinstance(body, Mapping):
        return dict(body)
    text = body if isinstance(body, str) else bytes(body).decode("utf-8", errors="replace")
    if content_type and "x-www-form-urlencoded" in content_type:
        return dict(parse_qsl(text, keep_blank_values=True))
    try:
        value = json.loads(text)
    except ValueError:
        if "=" in text and not text.lstrip().startswith(("{", "[")):
            return dict(parse_qsl(text, keep_blank_values=True))
        raise WebhookPayloadError("the webhook body is neither JSON nor a form") from None
    if not isinstance(value, dict):
        raise WebhookPayloadError(
            f"the webhook body is a JSON {type(value).__name__}, not an object"
        )
    return value


def _record(raw: dict[str, Any]) -> dict[str, Any]:
    """The call's own fields: the body itself, or the object it nests them in."""
    if _first(raw, _SID_NAMES) is not None:
        return raw
    for name in _NESTS:
        nested = raw.get(name)
        if isinstance(nested, dict) and _first(nested, _SID_NAMES) is not None:
            return nested
    return raw


def _first(
    record: Mapping[str, Any], names: tuple[str, ...], fallback: Mapping[str, Any] | None = None
) -> Any:
    for source in (record, fallback or {}):
        for name in names:
            value = source.get(name)
            if value is not None and value != "":
                return value
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _time(value: Any) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 1e11:
        value = value / 1000  # epoch milliseconds
    try:
        return None if value is None else parse_datetime(value)
    except (StructureError, ValueError, TypeError, OverflowError, OSError):
        return None  # an unreadable time is not worth losing the event over
