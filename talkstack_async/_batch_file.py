"""The file a batch call uploads: a CSV/XLSX path, raw bytes, or rows rendered to CSV here."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Union

from talkstack_async._errors import ValidationError
from talkstack_async._transport import FilePart
from talkstack_async._validation import check_dynamic_variables, check_phone_number

__all__ = ["BatchSource", "batch_file"]

BatchSource = Union[str, "os.PathLike[str]", bytes, Iterable[Mapping[str, Any]]]
"""A path to a .csv/.xlsx/.xls file, its raw bytes, or rows of
``{"number": "+1...", "dynamic_variables": {...}}``."""

_CONTENT_TYPES = {
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xls": "application/vnd.ms-excel",
}
_ZIP_MAGIC = b"PK\x03\x04"  # .xlsx files are zip archives
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls


def batch_file(argument: str, source: BatchSource) -> FilePart:
    """The ``file`` part of a batch-call upload; every row of ``rows`` is checked first."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        content_type = _CONTENT_TYPES.get(path.suffix.lower())
        if content_type is None:
            raise ValidationError(
                argument, f"must be a .csv, .xlsx or .xls file, not {path.name!r}"
            )
        if not path.is_file():
            raise ValidationError(argument, f"no such file: {str(path)!r}")
        data = path.read_bytes()
        if content_type == _CONTENT_TYPES[".csv"]:
            _check_csv_header(argument, data)
        return FilePart(path.name, data, content_type)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise ValidationError(argument, "is empty")
        if data.startswith(_ZIP_MAGIC):
            return FilePart("calls.xlsx", data, _CONTENT_TYPES[".xlsx"])
        if data.startswith(_OLE_MAGIC):
            return FilePart("calls.xls", data, _CONTENT_TYPES[".xls"])
        _check_csv_header(argument, data)
        return FilePart("calls.csv", data, _CONTENT_TYPES[".csv"])
    if isinstance(source, Mapping) or not isinstance(source, Iterable):
        raise ValidationError(argument, "must be a file path, bytes, or an iterable of rows")
    return FilePart("calls.csv", _rows_to_csv(argument, source), _CONTENT_TYPES[".csv"])


def _check_csv_header(argument: str, data: bytes) -> None:
    first_line = data.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    header = [column.strip() for column in next(csv.reader([first_line]), [])]
    if "number" not in header:
        raise ValidationError(argument, f"the CSV needs a 'number' column; its header is {header}")


def _rows_to_csv(argument: str, rows: Iterable[Mapping[str, Any]]) -> bytes:
    """The documented layout: a ``number`` column and a ``dynamicVariables`` JSON column.

    All rows are checked before anything is sent, and every bad row is reported at once.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["number", "dynamicVariables"])
    problems: list[str] = []
    count = 0
    for index, row in enumerate(rows):
        count += 1
        where = f"{argument}[{index}]"
        try:
            if not isinstance(row, Mapping):
                raise ValidationError(where, "must be a mapping with a 'number'")
            number = check_phone_number(f"{where}.number", row.get("number"))
            variables = check_dynamic_variables(
                f"{where}.dynamic_variables",
                row.get("dynamic_variables", row.get("dynamicVariables")),
            )
        except ValidationError as exc:
            problems.append(str(exc))
            continue
        writer.writerow([number, json.dumps(variables, separators=(",", ":")) if variables else ""])
    if problems:
        shown = "; ".join(problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        raise ValidationError(argument, f"{len(problems)} invalid row(s): {shown}{more}")
    if count == 0:
        raise ValidationError(argument, "has no rows")
    return buffer.getvalue().encode()
