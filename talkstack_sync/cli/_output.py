"""Writing models out: JSON-ready records, and CSV, JSON lines, JSON and table writers that
stream (a table sizes its columns from the first rows, then keeps those widths)."""

from __future__ import annotations

import csv
import enum
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import IO, Any

import attrs

__all__ = ["FORMATS", "LIST_FORMATS", "record", "records_for", "write_records"]

FORMATS = ("table", "csv", "jsonl", "json")
LIST_FORMATS = ("table", "json", "jsonl", "csv")
_TABLE_SAMPLE = 50
_TABLE_MAX_WIDTH = 40


def record(model: Any, *, flatten_extra: bool = True) -> dict[str, Any]:
    """A model as a JSON-ready dict: Python field names (``from_`` is ``from``), ISO dates,
    enum values, and ``extra`` flattened in last under the API's own names; or, with
    ``flatten_extra=False``, kept as one ``extra`` object, so that every record of a model
    has the same keys (a CSV's columns, whatever fields each row happens to carry)."""
    if not attrs.has(type(model)):
        return {"value": _plain(model)}
    out: dict[str, Any] = {}
    for field in attrs.fields(type(model)):
        if not field.repr:
            continue  # secrets (tokens) are declared repr=False: not written either
        value = getattr(model, field.name)
        if field.name == "extra" and flatten_extra:
            for key, extra_value in value.items():
                out.setdefault(key, _plain(extra_value))
            continue
        out[field.name.rstrip("_")] = _plain(value)
    return out


def records_for(models: Iterable[Any], fmt: str) -> Iterator[dict[str, Any]]:
    """The records to write in ``fmt``: for CSV, ``extra`` stays one JSON column (a header
    can only come from the first row, and no later row may lose a value to it)."""
    flatten = fmt != "csv"
    return (record(model, flatten_extra=flatten) for model in models)


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if attrs.has(type(value)):
        return record(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_records(records: Iterable[dict[str, Any]], out: IO[str], fmt: str) -> int:
    """Write ``records`` to ``out`` in ``fmt`` as they come; return how many were written."""
    if fmt == "jsonl":
        return _count(out.write(json.dumps(r, ensure_ascii=False) + "\n") for r in records)
    if fmt == "json":
        return _write_json_array(records, out)
    if fmt == "csv":
        return _write_csv(records, out)
    return _write_table(records, out)


def _count(writes: Iterable[object]) -> int:
    return sum(1 for _ in writes)


def _write_json_array(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    count = 0
    out.write("[")
    for item in records:
        out.write(("," if count else "") + "\n  " + json.dumps(item, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _write_csv(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    writer: csv.DictWriter[str] | None = None
    count = 0
    for item in records:
        if writer is None:
            # Columns from the first record; records_for() gives every record the same keys.
            writer = csv.DictWriter(out, list(item), lineterminator="\n")
            writer.writeheader()
        writer.writerow({k: _cell(v) for k, v in item.items()})  # a stray key raises
        count += 1
    return count


def _write_table(records: Iterable[dict[str, Any]], out: IO[str]) -> int:
    iterator = iter(records)
    sample: list[dict[str, Any]] = []
    for item in iterator:
        sample.append(item)
        if len(sample) == _TABLE_SAMPLE:
            break
    if not sample:
        out.write("(none)\n")
        return 0
    columns = [c for c in sample[0] if not isinstance(sample[0][c], (dict, list))]
    widths = {
        c: min(_TABLE_MAX_WIDTH, max(len(c), *(len(_cell(r.get(c))) for r in sample)))
        for c in columns
    }

    def line(cells: Mapping[str, str]) -> str:
        parts = [_fit(cells[c], widths[c]).ljust(widths[c]) for c in columns]
        return "  ".join(parts).rstrip() + "\n"

    out.write(line({c: c.upper() for c in columns}))
    count = 0
    for item in (*sample, *iterator):
        out.write(line({c: _cell(item.get(c)) for c in columns}))
        count += 1
    return count


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
