"""Fault injection: latency, error statuses, connection resets, slow bodies, hangs.

Rules are matched per operation (the SDK's endpoint names, e.g. ``"calls.make"``) with a
probability and an optional budget. The random source is seeded, so a failing test can be
replayed with the same faults.
"""

from __future__ import annotations

import enum
import random
import threading
from collections.abc import Iterable

import attrs

__all__ = ["Fault", "FaultKind", "FaultRule", "Faults"]


class FaultKind(enum.Enum):
    LATENCY = "latency"  # answer normally, ``delay`` seconds late
    STATUS = "status"  # answer ``status`` (with Retry-After) without processing the request
    RESET_BEFORE = "reset-before"  # drop the connection (TCP RST) before processing
    RESET_AFTER = "reset-after"  # process the request, then drop the connection unanswered
    SLOW_BODY = "slow-body"  # process, then send the body in pieces over ``delay`` seconds
    HANG = "hang"  # accept the request and never answer


@attrs.frozen
class Fault:
    """What goes wrong. Build one with the class methods."""

    kind: FaultKind
    status: int = 503
    retry_after: float | None = None
    delay: float = 0.0

    @classmethod
    def latency(cls, seconds: float) -> Fault:
        return cls(FaultKind.LATENCY, delay=seconds)

    @classmethod
    def error(cls, status: int = 500, *, retry_after: float | None = None) -> Fault:
        return cls(FaultKind.STATUS, status=status, retry_after=retry_after)

    @classmethod
    def rate_limited(cls, retry_after: float = 1.0) -> Fault:
        return cls(FaultKind.STATUS, status=429, retry_after=retry_after)

    @classmethod
    def reset(cls, *, after_processing: bool = False) -> Fault:
        return cls(FaultKind.RESET_AFTER if after_processing else FaultKind.RESET_BEFORE)

    @classmethod
    def slow_body(cls, seconds: float) -> Fault:
        return cls(FaultKind.SLOW_BODY, delay=seconds)

    @classmethod
    def hang(cls) -> Fault:
        return cls(FaultKind.HANG)


@attrs.define
class FaultRule:
    fault: Fault
    operations: frozenset[str] | None  # None: every operation
    probability: float
    remaining: int | None  # None: no budget
    triggered: int = 0


class Faults:
    """The emulator's fault rules. Safe to change from any thread while requests run."""

    def __init__(self, seed: int | None = None) -> None:
        self._rules: list[FaultRule] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def inject(
        self,
        fault: Fault,
        *,
        on: str | Iterable[str] | None = None,
        probability: float = 1.0,
        times: int | None = None,
    ) -> FaultRule:
        """Apply ``fault`` to requests of the operations ``on`` (all when None).

        Args:
            fault: What goes wrong.
            on: Operation names such as ``"calls.make"`` or ``"projects.get"``.
            probability: The chance that a matching request gets the fault.
            times: Stop after this many faults (None: never stop).
        """
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        operations = None if on is None else frozenset([on] if isinstance(on, str) else on)
        rule = FaultRule(fault, operations, probability, times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        with self._lock:
            return tuple(self._rules)

    def pick(self, operation: str | None) -> Fault | None:
        """The fault this request gets, if any (the first matching rule that fires)."""
        with self._lock:
            for rule in self._rules:
                if rule.remaining == 0:
                    continue
                if rule.operations is not None and operation not in rule.operations:
                    continue
                if rule.probability < 1.0 and self._random.random() >= rule.probability:
                    continue
                rule.triggered += 1
                if rule.remaining is not None:
                    rule.remaining -= 1
                return rule.fault
        return None
