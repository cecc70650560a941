"""Rows of a batch-call upload: CSV, or XLSX read with the standard library.

An .xlsx file is a zip of XML parts; the first worksheet and the shared-strings table are all
that is needed, so no spreadsheet dependency is pulled in. Legacy binary .xls is refused.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from xml.etree import ElementTree

from talkstack_async.testing._errors import Refusal

__all__ = ["read_rows"]

_NS = {"s": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_COLUMN = re.compile(r"([A-Z]+)\d+")


def read_rows(filename: str, data: bytes) -> list[dict[str, str]]:
    """The upload's rows as ``{column: text}``; the header must have a ``number`` column."""
    if data.startswith(b"PK\x03\x04"):
        table = list(_xlsx_rows(data))
    elif data.startswith(b"\xd0\xcf\x11\xe0") or filename.lower().endswith(".xls"):
        raise Refusal(400, "legacy .xls files are not supported by the emulator; use CSV or XLSX.")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Refusal(400, "the file is neither UTF-8 CSV nor XLSX.") from None
        table = list(csv.reader(io.StringIO(text)))
    if not table:
        raise Refusal(400, "the file is empty.")
    header = [column.strip() for column in table[0]]
    if "number" not in header:
        raise Refusal(400, "the file needs a 'number' column.")
    return [
        {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}
        for row in table[1:]
        if any(cell.strip() for cell in row)
    ]


def _xlsx_rows(data: bytes) -> Iterator[list[str]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        shared = _shared_strings(archive)
        sheet = ElementTree.fromstring(archive.read("xl/worksheets/sheet1.xml"))  # noqa: S314
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError):
        raise Refusal(400, "the XLSX file could not be read.") from None
    for row in sheet.iterfind(".//s:sheetData/s:row", _NS):
        cells: dict[int, str] = {}
        for cell in row.iterfind("s:c", _NS):
            match = _COLUMN.match(cell.get("r", ""))
            column = _column_index(match.group(1)) if match else len(cells)
            cells[column] = _cell_text(cell, shared)
        yield [cells.get(i, "") for i in range(max(cells, default=-1) + 1)]


def _shared_strings(archive: zipfile.ZipFile) -> list[str]:
    try:
        root = ElementTree.fromstring(archive.read("xl/sharedStrings.xml"))  # noqa: S314
    except KeyError:
        return []
    return ["".join(t.text or "" for t in si.iterfind(".//s:t", _NS)) for si in root]


def _cell_text(cell: ElementTree.Element, shared: list[str]) -> str:
    kind = cell.get("t")
    if kind == "inlineStr":
        return "".join(t.text or "" for t in cell.iterfind(".//s:t", _NS))
    value = cell.findtext("s:v", default="", namespaces=_NS)
    if kind == "s" and value.isdigit() and int(value) < len(shared):
        return shared[int(value)]
    return value


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1
