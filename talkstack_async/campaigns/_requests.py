"""The dialer's input: any request form made into a checked ``CallRequest``, its journal key,
and a CSV file read one row at a time."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from talkstack_async._errors import ValidationError
from talkstack_async._validation import check_dynamic_variables, check_id, check_phone_number
from talkstack_async.models.dial import CallRequest

__all__ = ["CallRequestFile", "check_call_request", "request_digest"]

# Each field and the names a mapping may use for it (the Python name, then the API's).
_MAPPING_NAMES = {
    "number": ("number",),
    "project_id": ("project_id", "projectId"),
    "agent_id": ("agent_id", "agentId"),
    "dynamic_variables": ("dynamic_variables", "dynamicVariables"),
    "key": ("key",),
    "timezone": ("timezone",),
}
_KNOWN_NAMES = frozenset(name for names in _MAPPING_NAMES.values() for name in names)


def check_call_request(
    where: str, item: object, *, project_id: str | None, agent_id: str | None
) -> CallRequest:
    """``item`` as a complete, checked ``CallRequest``; a ``ValidationError`` names the field."""
    if isinstance(item, CallRequest):
        fields: dict[str, Any] = {
            "number": item.number,
            "project_id": item.project_id,
            "agent_id": item.agent_id,
            "dynamic_variables": item.dynamic_variables,
            "key": item.key,
            "timezone": item.timezone,
        }
    elif isinstance(item, str):
        fields = {"number": item, "project_id": None, "agent_id": None}
    elif isinstance(item, Mapping):
        unknown = sorted(str(k) for k in item if k not in _KNOWN_NAMES)
        if unknown:
            raise ValidationError(where, f"unknown field(s) {unknown}")
        fields = {
            field: next((item[n] for n in names if item.get(n) is not None), None)
            for field, names in _MAPPING_NAMES.items()
        }
    else:
        raise ValidationError(
            where, f"must be a CallRequest, a number or a mapping, not {type(item).__name__}"
        )
    variables = fields.get("dynamic_variables")
    if isinstance(variables, str):
        variables = _json_object(f"{where}.dynamic_variables", variables)
    key = fields.get("key")
    return CallRequest(
        number=check_phone_number(f"{where}.number", fields["number"]),
        project_id=_row_id(f"{where}.project_id", fields["project_id"], project_id),
        agent_id=_row_id(f"{where}.agent_id", fields["agent_id"], agent_id),
        dynamic_variables=check_dynamic_variables(f"{where}.dynamic_variables", variables) or {},
        key=None if key is None else check_id(f"{where}.key", key),
        timezone=_timezone(f"{where}.timezone", fields.get("timezone")),
    )


def _timezone(argument: str, value: object) -> str | None:
    """An IANA zone name (checked against this system's tz database), or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(argument, f"must be an IANA time zone name, not {value!r}")
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(argument, f"{value!r} is not an IANA time zone") from None
    return value.strip()


def _row_id(argument: str, given: object, default: str | None) -> str:
    """The row's own id when it gives one (None: not given), else the run's.

    An empty (or blank) id in a row is bad input, not "use the run's": a row that names a
    project or an agent must name a real one. (A CSV row's empty cell is not given at all:
    ``CallRequestFile`` drops empty cells.)
    """
    field = argument.rsplit(".", 1)[-1]
    if given is None:
        if default is None:
            raise ValidationError(argument, f"is missing: give {field} to dial_many or per request")
        return check_id(argument, default)
    if isinstance(given, str) and not given.strip():
        raise ValidationError(
            argument,
            f"is empty: leave it out (or None) for the run's {field}, or give a real one",
        )
    return check_id(argument, given)


def _json_object(argument: str, text: str) -> Any:
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise ValidationError(argument, f"is not JSON: {text[:80]!r}") from None
    if not isinstance(value, dict):
        raise ValidationError(argument, "must be a JSON object")
    return value


def request_digest(request: CallRequest) -> bytes:
    """16 bytes naming the request: its ``key``, else what the call would be (same project,
    agent, number and variables: same call)."""
    if request.key is not None:
        material = "key\0" + request.key
    else:
        material = json.dumps(
            [request.project_id, request.agent_id, request.number, request.dynamic_variables],
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
    return hashlib.blake2b(material.encode(), digest_size=16).digest()


class CallRequestFile:
    """The rows of a CSV file as dialer input, read one at a time (memory stays flat however
    long the file). Re-iterable: each iteration reads the file afresh.

    Columns: ``number`` (required), ``dynamicVariables`` (a JSON object, optional), ``key``
    (optional), ``projectId``/``agentId`` (optional, per row); these names are matched
    whatever their case (``Number`` works). Any other non-empty column becomes a dynamic
    variable of that name; ``dynamicVariables`` wins on a clash. The delimiter (comma,
    semicolon or tab) is sniffed from the start of the file, and a byte-order mark is skipped.
    A bad row becomes that request's ``FAILED`` outcome, not an error of the whole run.
    """

    def __init__(self, path: str | os.PathLike[str], *, encoding: str = "utf-8-sig") -> None:
        self.path = Path(path)
        self.encoding = encoding
        try:
            with self.path.open(newline="", encoding=encoding) as file:
                sample = file.read(_SNIFF)
                self.dialect = _sniff(sample)
                file.seek(0)
                header = next(csv.reader(file, self.dialect), [])
        except (OSError, UnicodeDecodeError) as exc:
            raise ValidationError("path", f"cannot read {str(self.path)!r}: {exc}") from None
        self.columns = tuple(_CANONICAL.get(c.strip().lower(), c.strip()) for c in header)
        if "number" not in self.columns:
            raise ValidationError(
                "path", f"the CSV needs a 'number' column; its header is {list(header)}"
            )

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for _, row in self.numbered():
            yield row

    def count(self) -> int:
        """How many rows the file has (a quick pass of the CSV reader, no row is checked)."""
        with self.path.open(newline="", encoding=self.encoding) as file:
            reader = csv.reader(file, self.dialect)
            next(reader, None)
            return sum(1 for cells in reader if cells)

    def numbered(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Each row with the line of the file it starts on (the header is line 1)."""
        with self.path.open(newline="", encoding=self.encoding) as file:
            reader = csv.reader(file, self.dialect)
            next(reader, None)
            line = reader.line_num + 1
            for cells in reader:
                if cells:
                    yield line, self._row(cells)
                line = reader.line_num + 1

    def _row(self, cells: list[str]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        variables: dict[str, Any] = {}
        for column, cell in zip(self.columns, cells, strict=False):
            value = cell.strip()
            if column in _KNOWN_NAMES:
                if value:
                    row[column] = value
            elif column and value:
                variables[column] = value
        raw = row.pop("dynamicVariables", None)
        if raw is not None:
            # Kept as text when it is not a JSON object, so the row fails with a clear error.
            parsed = _try_json_object(raw)
            if parsed is None:
                row["dynamicVariables"] = raw
                return row
            variables.update(parsed)
        if variables:
            row["dynamicVariables"] = variables
        row.setdefault("number", "")
        return row

    def __repr__(self) -> str:
        return f"CallRequestFile({str(self.path)!r})"


_SNIFF = 16 * 1024
_CANONICAL = {name.lower(): name for name in _KNOWN_NAMES}


def _sniff(sample: str) -> type[csv.Dialect] | csv.Dialect:
    """The file's dialect (comma, semicolon or tab), or plain CSV when it cannot tell."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _try_json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
