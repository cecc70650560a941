"""Models to plain data and back: dicts and JSON for logs, caches and task queues.

Two spellings. With ``wire_names=True`` a model becomes what the API sends (its first name for
each field, the fields the SDK does not model merged back in under their own names), which
the SDK's own reader turns into the same model again. With Python names (the default) each
field is under its attribute name and ``extra`` stays one object; ``Model.from_dict`` reads
either. Dates become ISO 8601 strings (UTC as ``Z``), enums their values, tuples lists.
"""

from __future__ import annotations

import enum
import json
import types
import typing
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from talkstack_async.models._base import WIRE_NAMES, Model

__all__ = ["from_dict", "to_dict", "to_json"]


def to_dict(model: Model, *, wire_names: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    extra: Mapping[str, Any] = {}
    for field in attrs.fields(type(model)):
        value = getattr(model, field.name)
        if field.name == "extra":
            extra = value
            continue
        out[_wire_name(field) if wire_names else field.name] = _plain(value, wire_names)
    if wire_names:
        for key, value in extra.items():
            out.setdefault(key, _plain(value, wire_names))
    elif attrs.fields_dict(type(model)).get("extra") is not None:
        out["extra"] = _plain(extra, wire_names)
    return out


def to_json(model: Model, *, wire_names: bool = False, indent: int | None = None) -> str:
    return json.dumps(to_dict(model, wire_names=wire_names), ensure_ascii=False, indent=indent)


def from_dict(cls: type[Model], data: Mapping[str, Any]) -> Any:
    """``cls`` from ``to_dict``'s output in either spelling (or from an API answer)."""
    from talkstack_async._convert import converter

    return converter.structure(_to_wire(cls, data), cls)


def _to_wire(cls: type[Model], data: Mapping[str, Any]) -> dict[str, Any]:
    """Python-named data in the API's names (wire-named data passes through as it is)."""
    if not isinstance(data, Mapping):
        return data  # type: ignore[unreachable]  # the reader reports what is wrong with it
    fields = attrs.fields_dict(cls)
    hints = _hints(cls)
    wire: dict[str, Any] = {}
    for key, value in data.items():
        field = fields.get(key)
        if key == "extra" and field is not None and isinstance(value, Mapping):
            for extra_key, extra_value in value.items():
                wire.setdefault(extra_key, extra_value)
            continue
        if field is None:
            wire.setdefault(key, value)  # a wire name already (or an unknown field)
            continue
        nested = _model_type(hints.get(key))
        if nested is not None and isinstance(value, Mapping):
            value = _to_wire(nested, value)
        wire[_wire_name(field)] = value
    return wire


def _wire_name(field: attrs.Attribute[Any]) -> str:
    names = field.metadata.get(WIRE_NAMES)
    return str(names[0]) if names else field.name


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type[Model]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _model_type(hint: Any) -> type[Model] | None:
    """The model class in a field's type (``User`` or ``User | None``), if any."""
    if isinstance(hint, type) and issubclass(hint, Model):
        return hint
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        for member in typing.get_args(hint):
            found = _model_type(member)
            if found is not None:
                return found
    return None


def _plain(value: Any, wire_names: bool) -> Any:
    if isinstance(value, Model):
        return to_dict(value, wire_names=wire_names)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Mapping):
        return {str(k): _plain(v, wire_names) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, wire_names) for v in value]
    return value
