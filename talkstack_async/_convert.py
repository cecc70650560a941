"""The one cattrs converter: API names to Python names, dates, open enums, unknown fields kept."""

from __future__ import annotations

import email.utils
import enum
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any, TypeVar

import attrs
import cattrs

from talkstack_async.models._base import WIRE_NAMES, Model

__all__ = ["StructureError", "converter", "parse_datetime", "structure", "structure_list"]

T = TypeVar("T")


class StructureError(ValueError):
    """A response value does not fit its model; the transport reports it as APIResponseError."""


_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_MONTH_DIGITS = {name: f"{number:02d}" for name, number in _MONTHS.items()}
# The call-data form, "Tue, 30 Jan 2024 13:39:53 +0000": parsed by hand because
# email.utils takes ~10 µs a value, which shows when paging through call history.
_RFC2822 = re.compile(
    r"(?:[A-Za-z]{3}, )?(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d\d):(\d\d):(\d\d) ([+-]\d{4}|GMT|UTC)"
)


def _parse_rfc2822(text: str) -> datetime:
    # The API's own form, "Tue, 30 Jan 2024 13:39:53 +0000", rewritten as ISO 8601 for the
    # C parser: about half the cost of converting each field (this runs for every call).
    if len(text) == 31 and text[25:] == " +0000" and text[3:5] == ", ":
        digits = _MONTH_DIGITS.get(text[8:11])
        if digits is not None:
            try:
                return datetime.fromisoformat(
                    f"{text[12:16]}-{digits}-{text[5:7]}T{text[17:25]}+00:00"
                )
            except ValueError:
                pass  # not quite the canonical form: the general path decides
    match = _RFC2822.fullmatch(text)
    month = _MONTHS.get(match.group(2).title()) if match else None
    if match is None or month is None:
        return email.utils.parsedate_to_datetime(text)
    day, _, year, hour, minute, second, zone = match.groups()
    offset = 0 if zone in ("GMT", "UTC") else int(zone[1:3]) * 60 + int(zone[3:5])
    tz = (
        timezone.utc
        if offset == 0
        else timezone(timedelta(minutes=-offset if zone[0] == "-" else offset))
    )
    return datetime(int(year), month, int(day), int(hour), int(minute), int(second), tzinfo=tz)


def parse_datetime(value: Any) -> datetime:
    """ISO 8601 (``2025-03-11T17:49:38.925Z``), RFC 2822 (``Tue, 30 Jan 2024 13:39:53 +0000``) or
    epoch seconds; naive values are taken as UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        parsed = datetime.fromtimestamp(value, tz=timezone.utc)
    elif isinstance(value, str):
        text = value.strip()
        try:
            if text[4:5] == "-":
                # Python 3.10's fromisoformat does not take the "Z" suffix the API uses.
                parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] == "Z" else text)
            else:
                parsed = _parse_rfc2822(text)
        except (TypeError, ValueError, IndexError):
            raise StructureError(f"unrecognised date-time {value!r}") from None
    else:
        raise StructureError(f"expected a date-time, got {type(value).__name__}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


_fromisoformat = datetime.fromisoformat
_ISO_Z = sys.version_info >= (3, 11)  # fromisoformat reads the "Z" suffix from 3.11 on


def _read_datetime(value: Any) -> datetime:
    """``parse_datetime`` for model fields, with the API's usual form first.

    Every call-history item carries "Mon, 23 Nov 2026 10:30:57 +0000", every project and user
    "2025-03-11T17:49:38.925Z": read with slices and one C call, each costs half of the general
    path, which is the fallback for anything else.
    """
    if value.__class__ is str:
        if len(value) == 31 and value[25:] == " +0000":
            digits = _MONTH_DIGITS.get(value[8:11])
            if digits is not None:
                try:
                    return _fromisoformat(
                        f"{value[12:16]}-{digits}-{value[5:7]}T{value[17:25]}+00:00"
                    )
                except ValueError:
                    pass  # the general path decides
        elif _ISO_Z and len(value) == 24 and value[23] == "Z":  # "2025-03-11T17:49:38.925Z"
            try:
                return _fromisoformat(value)
            except ValueError:
                pass
    return parse_datetime(value)


def _identity(value: Any) -> Any:
    return value


def _read_str(value: Any) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise StructureError(f"expected a string, got {type(value).__name__}")


def _read_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise StructureError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _read_bool(value: Any) -> bool:
    # Strict: "false" as truthy would silently flip meaning.
    if isinstance(value, bool):
        return value
    if value in (0, 1, "true", "false"):
        return value in (1, "true")
    raise StructureError(f"expected a boolean, got {value!r}")


def _enum_reader(cls: type[enum.Enum]) -> Callable[[Any], Any]:
    members = cls._value2member_map_

    def read_enum(value: Any) -> Any:
        member = members.get(value) if isinstance(value, (str, int)) else None
        return cls(value) if member is None else member

    read_enum.members = members  # type: ignore[attr-defined]
    return read_enum


# map() with a C predicate: a generator expression costs more than the check itself.
_is_str = str.__instancecheck__


def _read_str_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)) and all(map(_is_str, value)):
        return tuple(value)
    raise StructureError(f"expected an array of strings, got {value!r}")


def _read_object(value: Any) -> Mapping[str, Any]:
    # Decoded JSON objects are fresh dicts nobody else holds: kept as they are, not copied.
    if isinstance(value, dict) and all(map(_is_str, value)):
        return value
    raise StructureError(f"expected an object, got {type(value).__name__}")


def _reader(type_: Any) -> tuple[Callable[[Any], Any], bool]:
    """A one-argument function that reads a field of ``type_``, and whether ``None`` fits it.

    Resolved once per model field so the per-item path does no dispatching.
    """
    optional = False
    if typing.get_origin(type_) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(type_) if a is not type(None)]
        optional = len(members) < len(typing.get_args(type_))
        if len(members) == 1:
            type_ = members[0]
    if type_ is str:
        return _read_str, optional
    if type_ is float:
        return _read_float, optional
    if type_ is bool:
        return _read_bool, optional
    if type_ is datetime:
        return _read_datetime, optional
    if type_ is Any:
        return _identity, True
    if isinstance(type_, type) and issubclass(type_, enum.Enum):
        return _enum_reader(type_), optional
    if type_ == tuple[str, ...]:
        return _read_str_tuple, optional
    if type_ == Mapping[str, Any]:
        return _read_object, optional
    hook = converter.get_structure_hook(type_)
    return (lambda v: hook(v, type_)), optional


def _inline(read: Callable[[Any], Any], name: str) -> str:
    """The cheapest expression that reads ``v`` with ``read``: common cases skip the call."""
    if read is _identity:
        return "v"
    if read is _read_str:
        return f"v if v.__class__ is str else read_{name}(v)"
    if read is _read_float:
        return f"v if v.__class__ is float else float(v) if v.__class__ is int else read_{name}(v)"
    if read is _read_str_tuple:
        return f"() if v == [] else read_{name}(v)"
    if read is _read_object:
        return f"v if v == {{}} else read_{name}(v)"
    if getattr(read, "members", None) is not None:  # an enum: known values by dict lookup
        return f"m if (m := members_{name}.get(v)) is not None else read_{name}(v)"
    return f"read_{name}(v)"


def _fast_construction(cls: type[Model]) -> bool:
    """Whether instances may be built by storing each slot directly, skipping ``__init__``.

    True for plain frozen slotted models (no validators, converters or post-init hooks): the
    stores are what attrs' ``__init__`` would do, minus the per-field method calls.
    """
    return (
        "__slots__" in cls.__dict__
        and not hasattr(cls, "__attrs_post_init__")
        and all(f.validator is None and f.converter is None for f in attrs.fields(cls))
    )


@attrs.frozen
class _FieldPlan:
    """How the generated code reads one model field."""

    name: str
    wire_names: tuple[str, ...]
    value: str  # the expression that reads ``v`` (see _inline)
    optional: bool
    missing: str  # the statement that fills the field when no wire name is present


def _plan(cls: type[Model], namespace: dict[str, Any]) -> list[_FieldPlan]:
    """Each field's reading plan; the readers and defaults it names go into ``namespace``."""
    plans = []
    for f in attrs.fields(cls):
        if f.name == "extra":
            continue
        names = f.metadata.get(WIRE_NAMES, (f.name,))
        read, optional = _reader(f.type)
        namespace[f"read_{f.name}"] = read
        namespace[f"members_{f.name}"] = getattr(read, "members", None)
        if f.default is attrs.NOTHING:
            missing = f"raise StructureError({f'{cls.__name__}: missing {names[0]!r}'!r})"
        elif isinstance(f.default, attrs.Factory):  # type: ignore[arg-type]
            namespace[f"factory_{f.name}"] = f.default.factory
            missing = f"f_{f.name} = factory_{f.name}()"
        else:
            namespace[f"default_{f.name}"] = f.default
            missing = f"f_{f.name} = default_{f.name}"
        plans.append(_FieldPlan(f.name, names, _inline(read, f.name), optional, missing))
    return plans


def _read_lines(plan: _FieldPlan, wire_name: str, source: str, indent: str) -> list[str]:
    """Lines that read ``plan``'s field from ``source``, sent under ``wire_name``."""
    lines = [f"field = {wire_name!r}", f"v = {source}"]
    if plan.optional:
        lines.append(f"f_{plan.name} = None if v is None else {plan.value}")
    else:
        lines += ["if v is None:", "    raise StructureError('is null')"]
        lines.append(f"f_{plan.name} = {plan.value}")
    return [indent + line for line in lines]


def _error_lines(cls: type[Model]) -> list[str]:
    """The end of the generated ``try``: an error names the field (by its wire name)."""
    return [
        "    except StructureError as exc:",
        "        if field is None:",
        "            raise",
        f"        raise StructureError('{cls.__name__}.' + field + ': ' + str(exc)) from None",
        "    except Exception as exc:",
        f"        raise StructureError('{cls.__name__}.' + str(field) + ': ' + repr(exc)) from exc",
    ]


def _construct_lines(cls: type[Model], namespace: dict[str, Any]) -> list[str]:
    """The generated function's end: the instance, from the ``f_<field>`` locals."""
    fields = attrs.fields(cls)
    if _fast_construction(cls):
        lines = ["    obj = new(cls)"]
        for f in fields:
            namespace[f"set_{f.name}"] = cls.__dict__[f.name].__set__
            lines.append(f"    set_{f.name}(obj, f_{f.name})")
        return [*lines, "    return obj"]
    arguments = ", ".join(f"{f.name}=f_{f.name}" for f in fields)
    return [
        "    try:",
        f"        return cls({arguments})",
        "    except (TypeError, ValueError) as exc:",
        f"        raise StructureError('{cls.__name__}: ' + str(exc)) from exc",
    ]


def _compile(lines: list[str], namespace: dict[str, Any], name: str) -> Callable[..., Any]:
    code = compile("\n".join(lines), f"<talkstack structure {name}>", "exec")
    exec(code, namespace)  # noqa: S102
    return namespace.pop("structure_model")  # type: ignore[no-any-return]


def _general_reader(cls: type[Model], plans: list[_FieldPlan], namespace: dict[str, Any]) -> Any:
    """Reads any mapping: looks each field up by its wire names, in order."""
    lines = [
        "def structure_model(data):",
        "    if data.__class__ is not dict and not isinstance(data, Mapping):",
        f"        raise StructureError('{cls.__name__}: expected an object, got '"
        " + type(data).__name__)",
        "    field = None",
        "    try:",
    ]
    for plan in plans:
        for i, wire_name in enumerate(plan.wire_names):
            lines.append(f"        {'if' if i == 0 else 'elif'} {wire_name!r} in data:")
            lines += _read_lines(plan, wire_name, f"data[{wire_name!r}]", " " * 12)
        lines += ["        else:", f"            {plan.missing}"]
    lines += _error_lines(cls)
    lines.append(
        "    f_extra = {} if known.issuperset(data) else "
        "{k: v for k, v in data.items() if k not in known}"
    )
    return _compile([*lines, *_construct_lines(cls, namespace)], namespace, cls.__name__)


def _shape_reader(
    cls: type[Model], plans: list[_FieldPlan], keys: tuple[str, ...], namespace: dict[str, Any]
) -> Any:
    """Reads a dict whose keys are exactly ``keys``, in that order: one unpacking of its values
    replaces a membership test and a lookup per field, and ``extra`` is known in advance."""
    position = {key: i for i, key in enumerate(keys)}
    lines = ["def structure_model(data):"]
    if keys:
        lines.append(f"    ({''.join(f'v_{i}, ' for i in range(len(keys)))}) = data.values()")
    lines += ["    field = None", "    try:"]
    for plan in plans:
        present = [name for name in plan.wire_names if name in position]
        if present:
            lines += _read_lines(plan, present[0], f"v_{position[present[0]]}", " " * 8)
        else:
            lines.append(f"        {plan.missing}")
    lines += _error_lines(cls)
    # The server's key names stay data: they never become text of the generated code.
    unknown = [i for i, key in enumerate(keys) if key not in namespace["known"]]
    values = "".join(f"v_{i}, " for i in unknown)
    extra = f"dict(zip(extra_keys, ({values})))" if unknown else "{}"
    lines.append(f"    f_extra = {extra}")
    namespace = {**namespace, "extra_keys": tuple(keys[i] for i in unknown)}
    return _compile([*lines, *_construct_lines(cls, namespace)], namespace, cls.__name__)


# Key orders specialized per model, and their length: a server that sends ever new orders, or
# objects with a great many keys, gets the general path rather than ever more generated code.
_MAX_SHAPES = 16
_MAX_SHAPE_KEYS = 64


def _model_hook(cls: type[Model]) -> Callable[[Any, Any], Model]:
    """A generated, straight-line structure function for one model class.

    Hand-rolled rather than cattrs' generated dict hook because a field may have several wire
    names and unknown keys are collected into ``extra``; each value still goes through a reader
    resolved once from its type. Generated because it runs for every item of every page:
    values go to locals and then straight into the instance's slots.

    The API sends each kind of object with the same keys in the same order, so a reader is
    also generated per key order seen (up to ``_MAX_SHAPES``): it unpacks the values by
    position instead of looking every field up.
    """
    attrs.resolve_types(cls)
    namespace: dict[str, Any] = {
        "Mapping": Mapping,
        "StructureError": StructureError,
        "cls": cls,
        "new": object.__new__,
    }
    plans = _plan(cls, namespace)
    namespace["known"] = frozenset(name for plan in plans for name in plan.wire_names)
    general = _general_reader(cls, plans, namespace)
    shapes: dict[tuple[str, ...], Callable[[dict[str, Any]], Model]] = {}

    def structure_model(data: Any, _: Any) -> Model:
        if data.__class__ is not dict:
            return general(data)  # type: ignore[no-any-return]
        keys = tuple(data)
        read = shapes.get(keys)
        if read is None:
            if len(shapes) >= _MAX_SHAPES or len(keys) > _MAX_SHAPE_KEYS:
                return general(data)  # type: ignore[no-any-return]
            read = shapes[keys] = _shape_reader(cls, plans, keys, namespace)
        return read(data)

    return structure_model


converter = cattrs.Converter()
converter.register_structure_hook(datetime, lambda v, _: parse_datetime(v))
converter.register_structure_hook_factory(
    lambda t: isinstance(t, type) and issubclass(t, Model), _model_hook
)
converter.register_unstructure_hook(datetime, datetime.isoformat)
converter.register_unstructure_hook(date, date.isoformat)


def structure(data: Any, cls: type[T]) -> T:
    """``data`` (decoded JSON) as an instance of ``cls``; any mismatch is a StructureError."""
    try:
        return converter.structure(data, cls)
    except StructureError:
        raise
    except Exception as exc:
        raise StructureError(f"cannot read {type(data).__name__} as {cls}: {exc!r}") from exc


def structure_list(data: Any, cls: type[T]) -> list[T]:
    """A JSON array as a list of ``cls``; anything else is a StructureError."""
    if not isinstance(data, list):
        raise StructureError(f"expected an array of {cls.__name__}, got {type(data).__name__}")
    hook = converter.get_structure_hook(cls)
    return [hook(item, cls) for item in data]
