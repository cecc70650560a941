"""Client-side checks of arguments; each failure is a ValidationError naming the argument.

Everything here runs before a request is built, so bad input never reaches the wire.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from typing import Any

from yarl import URL

from talkstack_async._errors import ValidationError
from talkstack_async.models.call import AnalysisQuestion
from talkstack_async.models.enums import CallStatus, QuestionType

__all__ = [
    "check_analysis_questions",
    "check_bool",
    "check_call_status",
    "check_day",
    "check_dynamic_variables",
    "check_email",
    "check_id",
    "check_page_size",
    "check_phone_number",
    "check_text",
    "check_url",
]

_E164 = re.compile(r"\+[1-9][0-9]{7,14}")
_MAX_ID_LENGTH = 256
_MAX_TEXT_LENGTH = 100_000
MAX_PAGE_SIZE = 1000


_WHITESPACE = re.compile(r"\s")


def _require_str(argument: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError(argument, f"must be a string, not {type(value).__name__}")
    return value


def check_id(argument: str, value: object) -> str:
    """A non-empty id without whitespace or control characters."""
    text = _require_str(argument, value)
    if not text:
        raise ValidationError(argument, "must not be empty")
    if len(text) > _MAX_ID_LENGTH:
        raise ValidationError(argument, f"is longer than {_MAX_ID_LENGTH} characters")
    # Typical ids are alphanumeric: one C call settles them, before the slower checks.
    if not text.isalnum():
        if not text.isprintable() or _WHITESPACE.search(text):
            raise ValidationError(argument, "must not contain whitespace or control characters")
        if not text.strip("."):
            raise ValidationError(
                argument, f"{text!r} is not an id (in a path it names another route)"
            )
    return text


def check_text(argument: str, value: object, *, max_length: int = _MAX_TEXT_LENGTH) -> str:
    """A non-blank string of at most ``max_length`` characters."""
    text = _require_str(argument, value)
    if not text.strip():
        raise ValidationError(argument, "must not be empty")
    if len(text) > max_length:
        raise ValidationError(argument, f"is longer than {max_length} characters")
    if "\x00" in text:
        raise ValidationError(argument, "must not contain NUL characters")
    return text


def check_email(argument: str, value: object) -> str:
    text = check_text(argument, value, max_length=320)
    local, _, domain = text.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in text):
        raise ValidationError(argument, f"is not an email address: {text!r}")
    return text


def check_phone_number(argument: str, value: object) -> str:
    """An E.164 number: ``+``, then 8 to 15 digits, the first not 0 (e.g. ``+14155550123``)."""
    text = _require_str(argument, value)
    if not _E164.fullmatch(text):
        raise ValidationError(
            argument,
            f"must be an E.164 phone number like '+14155550123' ('+' and 8-15 digits), "
            f"not {text[:40]!r}",
        )
    return text


def check_bool(argument: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(argument, f"must be True or False, not {value!r}")
    return value


def check_page_size(argument: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(argument, f"must be an integer, not {type(value).__name__}")
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise ValidationError(argument, f"must be between 1 and {MAX_PAGE_SIZE}, not {value}")
    return value


def check_url(argument: str, value: object) -> str:
    text = check_text(argument, value, max_length=2048)
    try:
        url = URL(text)
    except (TypeError, ValueError):
        raise ValidationError(argument, f"is not a URL: {text!r}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValidationError(argument, f"must be an absolute http(s) URL, not {text!r}")
    return text


def check_day(argument: str, value: object) -> str:
    """A day for the history filters, as the API's ``YYYY-MM-DD`` in UTC.

    Accepts a ``date``, a ``datetime`` (aware ones are converted to UTC, naive ones taken as
    UTC) or a ``YYYY-MM-DD`` string.
    """
    if isinstance(value, datetime):
        day = value.astimezone(timezone.utc).date() if value.tzinfo else value.date()
    elif isinstance(value, date):
        day = value
    elif isinstance(value, str):
        try:
            if len(value) != 10:
                raise ValueError(value)
            day = date.fromisoformat(value)
        except ValueError:
            raise ValidationError(
                argument, f"must be a date or 'YYYY-MM-DD', not {value[:40]!r}"
            ) from None
    else:
        raise ValidationError(argument, f"must be a date, not {type(value).__name__}")
    return day.isoformat()


def check_call_status(argument: str, value: object) -> str:
    """A call status filter: a CallStatus or one of its values."""
    if isinstance(value, CallStatus):
        return value.value
    text = _require_str(argument, value)
    try:
        status = CallStatus(text)
    except ValueError:
        status = None
    if status is None or not status.is_known:
        known = ", ".join(s.value for s in CallStatus)
        raise ValidationError(argument, f"must be one of {known}; not {text[:40]!r}")
    return status.value


def check_dynamic_variables(argument: str, value: object) -> dict[str, Any] | None:
    """A mapping of placeholder names to JSON values, or None.

    Checked at every depth: a nested mapping's keys are strings (JSON object keys are; ``json``
    would turn ``1`` into ``"1"`` and clash with a ``"1"`` beside it), numbers are finite,
    text is valid Unicode, containers are dicts, lists or tuples. What passes can be sent and
    digested (``campaigns._requests.request_digest``), whatever the input.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError(argument, f"must be a mapping, not {type(value).__name__}")
    for key in value:
        if not isinstance(key, str) or not key:
            raise ValidationError(argument, f"keys must be non-empty strings, not {key!r}")
    variables = dict(value)
    try:
        _check_json_value(variables, depth=0, parents=set())
    except _NotJson as bad:
        where = argument + "".join(
            f".{step}" if isinstance(step, str) and _NAME.fullmatch(step) else f"[{step!r}]"
            for step in reversed(bad.path)
        )
        raise ValidationError(where, bad.problem) from None
    try:
        # As request_digest writes them (sorted keys, UTF-8): what passes here digests.
        json.dumps(
            variables, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(argument, f"must be JSON-serialisable ({exc})") from None
    return variables


_MAX_DEPTH = 64
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _NotJson(Exception):
    """A part of a value that JSON cannot carry; ``path`` is filled in on the way out (the
    innermost step first), so a value that passes builds no path at all."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str | int] = []


def _check_json_value(value: object, *, depth: int, parents: set[int]) -> None:
    """``value`` as JSON that ``json.dumps(sort_keys=True)`` writes and UTF-8 encodes, or
    ``_NotJson`` for the first part that is not."""
    if value is None or isinstance(value, (bool, int)):
        return
    if isinstance(value, str):
        if not _is_unicode(value):
            raise _NotJson("is not valid Unicode text (it has a lone surrogate)")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise _NotJson(f"must be a finite number, not {value!r}")
    elif isinstance(value, (dict, list, tuple)):
        if depth >= _MAX_DEPTH:
            raise _NotJson(f"nests deeper than {_MAX_DEPTH} levels")
        if id(value) in parents:
            raise _NotJson("is inside itself (a cycle)")
        parents.add(id(value))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(value, dict):
                if not isinstance(key, str):
                    raise _NotJson(f"has a key {key!r} that is not a string (JSON keys are)")
                if not _is_unicode(key):
                    raise _NotJson(f"has a key {key!r} that is not valid Unicode")
            try:
                _check_json_value(item, depth=depth + 1, parents=parents)
            except _NotJson as bad:
                bad.path.append(key)
                raise
        parents.discard(id(value))
    else:
        raise _NotJson(
            f"must be a string, number, bool, None, list or dict, not {type(value).__name__}"
        )


def _is_unicode(text: str) -> bool:
    """False for text with a lone surrogate (no UTF-8 for it: it cannot be sent or digested)."""
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def check_analysis_questions(
    argument: str, value: Iterable[AnalysisQuestion | Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Questions as the API's JSON: ``[{"question", "type", "options"?}]``."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ValidationError(argument, "must be a list of questions")
    wire: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        where = f"{argument}[{index}]"
        question = _as_question(where, item)
        check_text(f"{where}.question", question.question, max_length=10_000)
        if not question.type.is_known:
            allowed = ", ".join(t.value for t in QuestionType)
            raise ValidationError(f"{where}.type", f"must be one of {allowed}")
        body: dict[str, Any] = {"question": question.question, "type": question.type.value}
        if question.type is QuestionType.SELECTOR:
            if not question.options:
                raise ValidationError(f"{where}.options", "a Selector question needs options")
            for n, option in enumerate(question.options):
                check_text(f"{where}.options[{n}]", option, max_length=1000)
            body["options"] = list(question.options)
        elif question.options:
            raise ValidationError(f"{where}.options", "only Selector questions take options")
        wire.append(body)
    if not wire:
        raise ValidationError(argument, "must contain at least one question")
    return wire


def _as_question(where: str, item: object) -> AnalysisQuestion:
    if isinstance(item, AnalysisQuestion):
        return item
    if not isinstance(item, Mapping):
        raise ValidationError(where, "must be an AnalysisQuestion or a mapping")
    options = item.get("options") or ()
    if isinstance(options, (str, bytes)):
        raise ValidationError(f"{where}.options", "must be a list of strings")
    try:
        return AnalysisQuestion(item.get("question"), item.get("type"), options)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ValidationError(where, f"is not a valid question ({exc})") from None
