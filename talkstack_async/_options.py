"""Per-call options: ``extra_headers``, ``extra_query``, ``extra_body`` and ``timeout``.

Every method takes them as keyword arguments (typed by ``RequestOptions`` through
``**options: Unpack[...]``), as Stainless-generated SDKs do::

    await client.projects.get(pid, extra_headers={"X-Trace": "1"}, timeout=5)

They are checked here, before anything is sent, and turned into a ``CallOptions`` the transport
applies: headers over the client's (the call's own win), query parameters and body fields over
the method's (the caller's win: an escape hatch for fields the SDK does not know yet). A call
without options passes an empty dict and costs one truth test.

``wait_until_finished`` and ``dial_many`` take ``ExtraOptions`` (no ``timeout``: theirs means
the whole wait); their requests' timeout comes from ``client.with_options(timeout=...)``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, NamedTuple, TypedDict

import aiohttp
from multidict import CIMultiDict

from talkstack_async._config import Timeouts
from talkstack_async._errors import ValidationError

__all__ = ["CallOptions", "ExtraOptions", "RequestOptions", "check_form", "check_options"]


class ExtraOptions(TypedDict, total=False):
    """Options every method takes."""

    extra_headers: Mapping[str, str]
    """Headers added to the request (over the client's own and its ``default_headers``)."""
    extra_query: Mapping[str, str | int | float | bool]
    """Query parameters added to the request (over the method's own)."""
    extra_body: Mapping[str, Any]
    """Fields added to the JSON (or multipart) body (over the method's own)."""


class RequestOptions(ExtraOptions, total=False):
    """Options every single-request method takes."""

    timeout: Timeouts | float | None
    """This call's timeouts (a ``Timeouts`` or a total in seconds; None: none)."""


class CallOptions(NamedTuple):
    """``RequestOptions``, checked, in the form the transport applies."""

    headers: CIMultiDict[str] | None = None
    query: dict[str, str] | None = None
    body: dict[str, Any] | None = None
    timeout: aiohttp.ClientTimeout | None = None


# RFC 9110 token characters; values may not break the header block.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_BAD_VALUE = re.compile(r"[\r\n\x00]")
# Headers the transport or aiohttp must own: a wrong one breaks the framing of the request.
_RESERVED = frozenset({"content-length", "transfer-encoding", "host", "connection"})
_KNOWN = frozenset(RequestOptions.__annotations__) | frozenset(ExtraOptions.__annotations__)


def check_options(
    options: Mapping[str, Any], *, operation: str, method: str, multipart: bool = False
) -> CallOptions:
    """``options`` checked; a ``TypeError`` for an unknown keyword, as Python gives for any
    function, and a ``ValidationError`` naming the option for a bad value."""
    unknown = set(options) - _KNOWN
    if unknown:
        name = sorted(unknown)[0]
        raise TypeError(f"{operation}() got an unexpected keyword argument {name!r}")
    headers = options.get("extra_headers")
    query = options.get("extra_query")
    body = options.get("extra_body")
    return CallOptions(
        headers=None if headers is None else _headers(headers),
        query=None if query is None else _query(query),
        body=None if body is None else _body(body, method=method, multipart=multipart),
        timeout=_timeout(options["timeout"]) if "timeout" in options else None,
    )


def _mapping(argument: str, value: object) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise ValidationError(argument, f"must be a mapping, not {type(value).__name__}")
    return value


def _headers(value: object) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for name, item in _mapping("extra_headers", value).items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ValidationError("extra_headers", f"{name!r} is not a header name")
        if name.lower() in _RESERVED:
            raise ValidationError("extra_headers", f"{name} is set by the transport itself")
        if not isinstance(item, str) or _BAD_VALUE.search(item):
            # The value is not shown: headers are where credentials travel.
            raise ValidationError(
                "extra_headers", f"the value of {name} must be a string without line breaks"
            )
        headers[name] = item
    return headers


def _query(value: object) -> dict[str, str]:
    query: dict[str, str] = {}
    for name, item in _mapping("extra_query", value).items():
        if not isinstance(name, str) or not name:
            raise ValidationError("extra_query", f"{name!r} is not a parameter name")
        if isinstance(item, bool):
            query[name] = "true" if item else "false"
        elif isinstance(item, (str, int, float)):
            query[name] = str(item)
        else:
            raise ValidationError(
                "extra_query", f"{name} must be a string, number or bool, not {type(item).__name__}"
            )
    return query


def _body(value: object, *, method: str, multipart: bool) -> dict[str, Any]:
    body = dict(_mapping("extra_body", value))
    if method == "GET" and body:
        raise ValidationError("extra_body", "a GET request has no body: use extra_query")
    for name, item in body.items():
        if not isinstance(name, str) or not name:
            raise ValidationError("extra_body", f"{name!r} is not a field name")
        if multipart and not isinstance(item, str):
            raise ValidationError("extra_body", f"{name}: a multipart field must be a string")
    try:
        json.dumps(body)
    except (TypeError, ValueError) as exc:
        raise ValidationError("extra_body", f"must be JSON-serializable ({exc})") from None
    return body


def _timeout(value: object) -> aiohttp.ClientTimeout:
    if value is None or isinstance(value, Timeouts):
        return Timeouts.coerce(value).as_aiohttp()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValidationError("timeout", f"must be a Timeouts, seconds > 0 or None, not {value!r}")
    return Timeouts.coerce(value).as_aiohttp()


def check_form(form: object) -> Any:
    """A multipart body for ``client.request``: field names to strings or ``FilePart``s."""
    from talkstack_async._transport import FilePart  # the transport imports this module

    if form is None:
        return None
    fields = dict(_mapping("form", form))
    for name, item in fields.items():
        if not isinstance(name, str) or not name:
            raise ValidationError("form", f"{name!r} is not a field name")
        if not isinstance(item, (str, FilePart)):
            raise ValidationError(
                "form", f"{name} must be a string or a FilePart, not {type(item).__name__}"
            )
    return fields
