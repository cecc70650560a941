"""A compact map from 16-byte request digests to journal offsets, for resuming big campaigns.

Resuming a journal needs, for every request an earlier run may have placed, where its deciding
record is. A ``dict[bytes, int]`` costs about 130 bytes an entry in CPython (a bytes object, an
int object and a hash-table entry), so a million-request campaign would take 130 MB before it
dials anyone. This table keeps an entry in three machine words of ``array('Q')`` (24 bytes; at
most two thirds full, so 36-72 bytes of memory an entry): a million fit in about 50 MB.

Open addressing with linear probing. A digest is a BLAKE2b hash, uniform already, so its first
64 bits pick the slot; both halves are kept, so lookups are exact. A value is stored plus 2:
0 marks a slot never used and 1 a removed key (the slot keeps its key so probe chains stay
whole; growing drops them). Values must be below 2**63.

Held to a plain dict by a property test (``tests/unit/test_journal_index.py``).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

__all__ = ["DigestIndex"]

_EMPTY = 0
_REMOVED = 1
_SHIFT = 2  # stored value = value + _SHIFT


class DigestIndex:
    """``digest -> int`` for 16-byte digests, in a few bytes an entry."""

    __slots__ = ("_hi", "_live", "_lo", "_mask", "_used", "_values")

    def __init__(self, capacity: int = 0) -> None:
        size = 1 << max(6, (capacity * 3 // 2).bit_length())
        self._allocate(size)

    def _allocate(self, size: int) -> None:
        zeros = bytes(8 * size)
        self._hi = array("Q", zeros)
        self._lo = array("Q", zeros)
        self._values = array("Q", zeros)
        self._mask = size - 1
        self._used = 0  # slots that hold a key, live or removed
        self._live = 0

    def _find(self, hi: int, lo: int) -> int:
        """The slot holding this key, or the empty slot where it would go."""
        his, los, values, mask = self._hi, self._lo, self._values, self._mask
        slot = hi & mask
        while values[slot] != _EMPTY and (his[slot] != hi or los[slot] != lo):
            slot = (slot + 1) & mask
        return slot

    def get(self, digest: bytes) -> int | None:
        value = self._values[self._find(*_halves(digest))]
        return value - _SHIFT if value >= _SHIFT else None

    def __contains__(self, digest: bytes) -> bool:
        return self.get(digest) is not None

    def set(self, digest: bytes, value: int) -> None:
        hi, lo = _halves(digest)
        self._set_at(self._find(hi, lo), hi, lo, value)

    def _set_at(self, slot: int, hi: int, lo: int, value: int) -> None:
        previous = self._values[slot]
        self._values[slot] = value + _SHIFT
        if previous == _REMOVED:
            self._live += 1
        elif previous == _EMPTY:
            self._hi[slot], self._lo[slot] = hi, lo
            self._used += 1
            self._live += 1
            if self._used * 3 > len(self._values) * 2:
                self._rehash()

    def add(self, digest: bytes) -> bool:
        """Set ``digest`` (to 0) if it is absent: True when it was (one probe for a test and
        a set, as a set's membership and add)."""
        hi, lo = _halves(digest)
        slot = self._find(hi, lo)
        if self._values[slot] >= _SHIFT:
            return False
        self._set_at(slot, hi, lo, 0)
        return True

    def discard(self, digest: bytes) -> None:
        slot = self._find(*_halves(digest))
        if self._values[slot] >= _SHIFT:
            self._values[slot] = _REMOVED
            self._live -= 1

    def _rehash(self) -> None:
        his, los, values = self._hi, self._lo, self._values
        size = len(values)
        if self._live * 3 > size:  # mostly live entries: grow; mostly removed: same size
            size *= 2
        self._allocate(size)
        for slot, value in enumerate(values):
            if value >= _SHIFT:
                hi, lo = his[slot], los[slot]
                new = self._find(hi, lo)
                self._hi[new], self._lo[new], self._values[new] = hi, lo, value
                self._used += 1
                self._live += 1

    def __len__(self) -> int:
        return self._live

    def items(self) -> Iterator[tuple[bytes, int]]:
        for slot, value in enumerate(self._values):
            if value >= _SHIFT:
                digest = self._hi[slot].to_bytes(8, "big") + self._lo[slot].to_bytes(8, "big")
                yield digest, value - _SHIFT


def _halves(digest: bytes) -> tuple[int, int]:
    if len(digest) != 16:
        raise ValueError("a request digest has 16 bytes")
    return int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:], "big")
