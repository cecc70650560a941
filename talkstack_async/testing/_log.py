"""Every request the emulator received, so tests can assert what reached the "server"."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import attrs

from talkstack_async.testing._faults import FaultKind

__all__ = ["RecordedRequest", "RequestLog"]


@attrs.frozen
class RecordedRequest:
    operation: str | None  # the SDK's endpoint name, e.g. "calls.make"; None if no route matched
    method: str
    path: str
    query: Mapping[str, str]
    host: str  # "api" or "calls"
    body_sha256: str
    json: Any = attrs.field(repr=False)  # the decoded JSON body, if it was JSON
    received_at: float  # time.time() when it arrived
    status: int | None  # the status answered; None when the connection was dropped instead
    fault: FaultKind | None
    # What the request carried (credentials among them: kept out of the repr).
    headers: Mapping[str, str] = attrs.field(repr=False, factory=dict)
    finished_at: float = 0.0  # time.time() when it was answered (or dropped)


class RequestLog:
    """Thread-safe, append-only; ``clear()`` starts afresh."""

    def __init__(self) -> None:
        self._items: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def append(self, item: RecordedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def all(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._items)

    def of(self, operation: str) -> list[RecordedRequest]:
        """The requests of one operation, e.g. ``log.of("calls.make")``."""
        with self._lock:
            return [item for item in self._items if item.operation == operation]

    def count(self, operation: str | None = None) -> int:
        with self._lock:
            if operation is None:
                return len(self._items)
            return sum(1 for item in self._items if item.operation == operation)

    def max_in_flight(self, operation: str) -> int:
        """The most requests of ``operation`` the server was handling at one moment."""
        edges = []
        for item in self.of(operation):
            edges += [(item.received_at, 1), (item.finished_at or item.received_at, -1)]
        edges.sort(key=lambda edge: (edge[0], edge[1]))  # an end before a start at a tie
        most = current = 0
        for _, step in edges:
            current += step
            most = max(most, current)
        return most

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return self.count()
