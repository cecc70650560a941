"""What every model shares: the API's name(s) for each field, and ``extra`` for unknown fields."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import attrs

__all__ = ["WIRE_NAMES", "Model", "extra_field", "wire"]

WIRE_NAMES = "talkstack.wire_names"


class Model:
    """Base of the response models: frozen, slotted attrs classes.

    Fields a model does not know are kept in ``extra`` under the API's own names, so nothing the
    server sends is lost and a new server field never breaks parsing.

    Subclasses are ``@attrs.frozen`` and end with ``extra: Mapping[str, Any] = extra_field()``.
    """

    # A plain slotted class rather than an attrs one, so that it is not frozen itself: the
    # readers (talkstack_async._convert) fill instances through an unfrozen class with the same
    # base and slots, then give them their model class.
    __slots__ = ("__weakref__",)

    if TYPE_CHECKING:  # every subclass is an attrs class: let the type checker know
        __attrs_attrs__: ClassVar[Any]


def extra_field(*, secret: bool = False) -> Any:
    """The ``extra`` field: the fields the SDK does not know, under the API's names."""
    return attrs.field(factory=dict, kw_only=True, eq=False, repr=not secret)


def wire(*names: str, default: Any = attrs.NOTHING, secret: bool = False) -> Any:
    """A model field sent by the API under ``names`` (the first one present wins).

    Several names absorb the API's inconsistencies (``refreshToken`` / ``resfreshToken``,
    ``id`` / ``agentId``). ``secret`` keeps the value out of ``repr()``.
    """
    return attrs.field(default=default, metadata={WIRE_NAMES: names}, repr=not secret)
