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


def _inline(read: Callable[[Any], Any], name: str, v: str, optional: bool) -> str:
    """The cheapest expression that reads the variable ``v`` with ``read``: the usual types
    are tested first and need no call; ``None`` (when it fits) only in the fallback."""
    fallback = f"None if {v} is None else read_{name}({v})" if optional else f"read_{name}({v})"
    if read is _identity:
        return v
    if read is _read_str:
        return f"{v} if {v}.__class__ is str else {fallback}"
    if read is _read_bool:
        return f"{v} if {v}.__class__ is bool else {fallback}"
    if read is _read_float:
        return (
            f"{v} if {v}.__class__ is float else float({v}) if {v}.__class__ is int else {fallback}"
        )
    if read is _read_str_tuple:
        return f"() if {v} == [] else {fallback}"
    if read is _read_object:
        return f"{v} if {v} == {{}} else {fallback}"
    if getattr(read, "members", None) is not None:  # an enum: known values by dict lookup
        return f"m if (m := members_{name}.get({v})) is not None else {fallback}"
    return fallback


# One twin per model, however many hooks are made for it (tests make fresh ones).
_BUILDERS: dict[type[Model], type | None] = {}


def _builder(cls: type[Model]) -> type | None:
    if cls not in _BUILDERS:
        _BUILDERS[cls] = _make_builder(cls)
    return _BUILDERS[cls]


def _make_builder(cls: type[Model]) -> type | None:
    """An unfrozen twin of ``cls`` to fill before it becomes a ``cls``, or None if there is none.

    Storing into a frozen instance's slots means a method call per field (attrs' ``__init__``
    makes the same calls); the twin has the same base and slots but no ``__setattr__`` of its
    own, so the interpreter stores straight into them, and assigning ``__class__`` afterwards
    costs about two such calls: a model of eleven fields is built in 0.3 µs instead of 0.8 µs.
    Only for plain models (no validators, converters or post-init hooks, ``Model`` as the only
    base), where those stores are all ``__init__`` would do.
    """
    plain = (
        cls.__bases__ == (Model,)
        and "__slots__" in cls.__dict__
        and not hasattr(cls, "__attrs_post_init__")
        and all(f.validator is None and f.converter is None for f in attrs.fields(cls))
    )
    if not plain:
        return None
    # Not an attrs class, and a subclass of Model only as far as CPython's layout check needs.
    twin = type(f"_{cls.__name__}Builder", (Model,), {"__slots__": cls.__slots__})
    probe: Any = object.__new__(twin)
    try:
        probe.__class__ = cls  # the layouts must match; CPython checks it here
    except TypeError:
        return None
    return twin


@attrs.frozen
class _FieldPlan:
    """How the generated code reads one model field."""

    name: str
    wire_names: tuple[str, ...]
    read: Callable[[Any], Any]
    optional: bool
    missing: str | None  # what fills the field when no wire name is present; None: required

    def value(self, v: str) -> str:
        """The expression that reads the field from the variable ``v``."""
        return _inline(self.read, self.name, v, self.optional)


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
            missing = None
        elif isinstance(f.default, attrs.Factory):  # type: ignore[arg-type]
            namespace[f"factory_{f.name}"] = f.default.factory
            missing = f"factory_{f.name}()"
        else:
            namespace[f"default_{f.name}"] = f.default
            missing = f"default_{f.name}"
        plans.append(_FieldPlan(f.name, names, read, optional, missing))
    return plans


def _general_reader(cls: type[Model], plans: list[_FieldPlan], namespace: dict[str, Any]) -> Any:
    """Reads any mapping: looks each field up by its wire names, in order; an error names the
    field (by its wire name)."""
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
            lines += [
                f"        {'if' if i == 0 else 'elif'} {wire_name!r} in data:",
                f"            field = {wire_name!r}",
                f"            v = data[{wire_name!r}]",
            ]
            if not plan.optional:
                lines += [
                    "            if v is None:",
                    "                raise StructureError('is null')",
                ]
            lines.append(f"            f_{plan.name} = {plan.value('v')}")
        if plan.missing is None:
            missing = f"{cls.__name__}: missing {plan.wire_names[0]!r}"
            lines += ["        else:", f"            raise StructureError({missing!r})"]
        else:
            lines += ["        else:", f"            f_{plan.name} = {plan.missing}"]
    lines += [
        "    except StructureError as exc:",
        "        if field is None:",
        "            raise",
        f"        raise StructureError('{cls.__name__}.' + field + ': ' + str(exc)) from None",
        "    except Exception as exc:",
        f"        raise StructureError('{cls.__name__}.' + str(field) + ': ' + repr(exc)) from exc",
        "    f_extra = {} if known.issuperset(data) else "
        "{k: v for k, v in data.items() if k not in known}",
    ]
    values = {f.name: f"f_{f.name}" for f in attrs.fields(cls)}
    construct = _construct_lines(cls, values, namespace["builder"])
    if namespace["builder"] is None:  # attrs validators and converters raise these
        construct = [
            "    try:",
            "    " + construct[0],
            "    except (TypeError, ValueError) as exc:",
            f"        raise StructureError('{cls.__name__}: ' + str(exc)) from exc",
        ]
    return _compile([*lines, *construct], namespace, cls.__name__)


def _shape_reader(
    cls: type[Model], plans: list[_FieldPlan], keys: tuple[str, ...], namespace: dict[str, Any]
) -> Any:
    """Reads a dict whose keys are exactly ``keys``, in that order: one unpacking of its values
    replaces a membership test and a lookup per field, and ``extra`` is known in advance.

    It checks no more than it must and names no field: whatever it raises, the caller hands
    the dict to the general reader, which reports the error by field.
    """
    position = {key: i for i, key in enumerate(keys)}
    lines = ["def structure_model(data):"]
    if keys:
        lines.append(f"    ({''.join(f'v_{i}, ' for i in range(len(keys)))}) = data.values()")
    values: dict[str, str] = {}
    for plan in plans:
        present = [name for name in plan.wire_names if name in position]
        if present:
            v = f"v_{position[present[0]]}"
            if not plan.optional:
                lines += [f"    if {v} is None:", "        raise StructureError()"]
            values[plan.name] = plan.value(v)
        elif plan.missing is None:
            return namespace["general"]  # every dict of this shape lacks a required field
        else:
            values[plan.name] = plan.missing
    # The server's key names stay data: they never become text of the generated code.
    unknown = [i for i, key in enumerate(keys) if key not in namespace["known"]]
    extra = "".join(f"v_{i}, " for i in unknown)
    values["extra"] = f"dict(zip(extra_keys, ({extra})))" if unknown else "{}"
    namespace = {**namespace, "extra_keys": tuple(keys[i] for i in unknown)}
    lines += _construct_lines(cls, values, namespace["builder"])
    return _compile(lines, namespace, cls.__name__)


def _construct_lines(cls: type[Model], values: dict[str, str], builder: type | None) -> list[str]:
    """The generated function's end: the instance, from an expression per field."""
    fields = attrs.fields(cls)
    if builder is None:
        return [f"    return cls({', '.join(f'{f.name}={values[f.name]}' for f in fields)})"]
    lines = ["    obj = new(builder)"]
    lines += [f"    obj.{f.name} = {values[f.name]}" for f in fields]
    return [*lines, "    obj.__class__ = cls", "    return obj"]


def _compile(lines: list[str], namespace: dict[str, Any], name: str) -> Callable[..., Any]:
    code = compile("\n".join(lines), f"<talkstack structure {name}>", "exec")
    exec(code, namespace)  # noqa: S102
    return namespace.pop("structure_model")  # type: ignore[no-any-return]


# Key orders specialized per model, and their length: a server that sends ever new orders, or
# objects with a great many keys, gets the general path rather than ever more generated code.
_MAX_SHAPES = 16
_MAX_SHAPE_KEYS = 64


def _model_hook(cls: type[Model]) -> Callable[[Any, Any], Model]:
    """A generated, straight-line structure function for one model class.

    Hand-rolled rather than cattrs' generated dict hook because a field may have several wire
    names and unknown keys are collected into ``extra``; each value still goes through a reader
    resolved once from its type. Generated because it runs for every item of every page:
    values go straight into the slots of an unfrozen twin that then becomes a ``cls``.

    The API sends each kind of object with the same keys in the same order, so a reader is
    also generated per key order seen (up to ``_MAX_SHAPES``): it unpacks the values by
    position instead of looking every field up, and leaves reporting errors to the general
    reader.
    """
    attrs.resolve_types(cls)
    namespace: dict[str, Any] = {
        "Mapping": Mapping,
        "StructureError": StructureError,
        "cls": cls,
        "new": object.__new__,
        "builder": _builder(cls),
    }
    plans = _plan(cls, namespace)
    namespace["known"] = frozenset(name for plan in plans for name in plan.wire_names)
    general = namespace["general"] = _general_reader(cls, plans, namespace)
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
        try:
            return read(data)
        except Exception:
            # The key-order reader names no field: the general one reads the dict again and
            # reports what is wrong where (or reads what the fast path declined).
            return general(data)  # type: ignore[no-any-return]

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
