"""What every model shares: the API's name(s) for each field, and ``extra`` for unknown fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import attrs

__all__ = ["WIRE_NAMES", "Model", "extra_field", "wire"]

WIRE_NAMES = "talkstack.wire_names"
M = TypeVar("M", bound="Model")


class Model:
    """Base of the response models: frozen, slotted attrs classes.

    Fields a model does not know are kept in ``extra`` under the API's own names, so nothing the
    server sends is lost and a new server field never breaks parsing. ``extra`` counts for
    equality, and models hash by their content (see ``_content_hash``).

    Subclasses are ``@attrs.frozen`` and end with ``extra: Mapping[str, Any] = extra_field()``.
    """

    # A plain slotted class rather than an attrs one, so that it is not frozen itself: the
    # readers (talkstack_async._convert) fill instances through an unfrozen class with the same
    # base and slots, then give them their model class.
    __slots__ = ("__weakref__",)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__attrs_attrs__" in cls.__dict__:  # attrs' final (slotted) class
            cls.__hash__ = _content_hash  # type: ignore[method-assign]

    if TYPE_CHECKING:  # every subclass is an attrs class: let the type checker know
        __attrs_attrs__: ClassVar[Any]

    def to_dict(self, *, wire_names: bool = False) -> dict[str, Any]:
        """This model as plain data: Python field names with ``extra`` as one object, or with
        ``wire_names=True`` the API's own names (unknown fields merged back in). Dates are
        ISO 8601 strings, enums their values. ``type(model).from_dict`` reads either back."""
        from talkstack_async.models._plain import to_dict

        return to_dict(self, wire_names=wire_names)

    def to_json(self, *, wire_names: bool = False, indent: int | None = None) -> str:
        """``to_dict`` as a JSON string."""
        from talkstack_async.models._plain import to_json

        return to_json(self, wire_names=wire_names, indent=indent)

    @classmethod
    def from_dict(cls: type[M], data: Mapping[str, Any]) -> M:
        """The model from ``to_dict``'s output in either spelling, or from an API answer,
        checked as the SDK checks what the API sends (a ``ValueError`` when it cannot be
        read)."""
        from talkstack_async.models._plain import from_dict

        made: M = from_dict(cls, data)
        return made


def _content_hash(self: Any) -> int:
    """Models are equal when their fields are (``extra`` included: two answers that differ in a
    field the SDK does not know are different answers), and hash by the same content. attrs
    would hash the fields as they are, and a ``dict`` field (``data``, ``extra``) would make
    every model unhashable; here they are hashed frozen (dicts as frozensets of items, lists
    as tuples), which equal models share."""
    fields = type(self).__attrs_attrs__
    return hash((type(self), *(_frozen(getattr(self, f.name)) for f in fields if f.eq)))


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return frozenset((key, _frozen(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, set):
        return frozenset(value)
    return value


def extra_field(*, secret: bool = False) -> Any:
    """The ``extra`` field: the fields the SDK does not know, under the API's names."""
    return attrs.field(factory=dict, kw_only=True, repr=not secret)


def wire(*names: str, default: Any = attrs.NOTHING, secret: bool = False) -> Any:
    """A model field sent by the API under ``names`` (the first one present wins).

    Several names absorb the API's inconsistencies (``refreshToken`` / ``resfreshToken``,
    ``id`` / ``agentId``). ``secret`` keeps the value out of ``repr()``.
    """
    return attrs.field(default=default, metadata={WIRE_NAMES: names}, repr=not secret)
