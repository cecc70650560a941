"""Redial policies: dial again a number whose call ended busy, unanswered, on voicemail or failed.

``RedialPolicy(times=2, after=timedelta(minutes=30))`` redials an input whose call ended
``busy``, ``no-answer``, ``voicemail`` or ``failed`` up to twice more, each redial at least 30
minutes after the previous call *ended* (so attempts are at least that far apart), and never
outside a calling window when the run has one. ``per_status`` gives a status its own rule:
``per_status={"busy": Redial(times=5, after=timedelta(minutes=5))}``. ``times`` counts the
input's redials whatever the statuses that led to them: a status's rule allows a redial while
fewer than its ``times`` were made.

Exactly-once holds per attempt: attempt ``n`` of an input has its own key,
:func:`attempt_digest` ``(digest, n)`` (attempt 0 keeps the request's own digest, so a journal
written without a policy resumes with one), claimed in the ledger before it is sent like any
placement. The call's end is journalled (``final``, with the call's sid and when it ended, by
the run's clock), so a resume walks each input's attempts, learns the end of one it did not
see (by polling it: a read), and continues the schedule from the recorded times.

The SDK's, not the API's: the API has no redial or scheduling fields; this is all done by the
dialler, which must therefore wait for each call to end (``redial`` implies
``wait_until_finished``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from talkstack_async._errors import ValidationError

__all__ = ["REDIALABLE", "Redial", "RedialPolicy", "attempt_digest"]

REDIALABLE = frozenset({"busy", "no-answer", "voicemail", "failed", "silence"})
"""The final statuses a policy may redial (``completed`` never: the person was reached)."""
_DEFAULT_STATUSES = frozenset({"busy", "no-answer", "voicemail", "failed"})
_MAX_TIMES = 100


def _times(_: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_TIMES:
        raise ValidationError(attribute.name, f"must be an int 0-{_MAX_TIMES}, not {value!r}")


def _interval(value: object) -> timedelta:
    """A ``timedelta`` or a number of seconds, at least a second."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = timedelta(seconds=value)
    if not isinstance(value, timedelta) or value < timedelta(seconds=1):
        raise ValidationError("after", f"must be a timedelta of at least 1 s, not {value!r}")
    return value


def _statuses(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        value = (value,)
    statuses = frozenset(str(s) for s in value)
    wrong = sorted(statuses - REDIALABLE)
    if wrong:
        raise ValidationError(
            "statuses", f"{wrong} cannot be redialled; choose among {sorted(REDIALABLE)}"
        )
    return statuses


@attrs.frozen
class Redial:
    """One status's rule: up to ``times`` redials, each ``after`` the previous call ended."""

    times: int = attrs.field(validator=_times)
    after: timedelta = attrs.field(converter=_interval)


def _rules(value: Mapping[str, Redial]) -> Mapping[str, Redial]:
    if not isinstance(value, Mapping):
        raise ValidationError("per_status", "must map call statuses to Redial rules")
    _statuses(value)
    for status, rule in value.items():
        if not isinstance(rule, Redial):
            raise ValidationError("per_status", f"{status!r} must map to a Redial, not {rule!r}")
    return dict(value)


@attrs.frozen
class RedialPolicy:
    """Which ended calls ``dial_many`` dials again, how often and how far apart (see the
    module docstring)."""

    times: int = attrs.field(default=2, validator=_times)
    after: timedelta = attrs.field(default=timedelta(minutes=30), converter=_interval)
    statuses: frozenset[str] = attrs.field(default=_DEFAULT_STATUSES, converter=_statuses)
    per_status: Mapping[str, Redial] = attrs.field(factory=dict, converter=_rules)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON), e.g. for a task queue; ``from_dict`` makes the policy again."""
        return {
            "times": self.times,
            "after": self.after.total_seconds(),
            "statuses": sorted(self.statuses),
            "per_status": {
                status: {"times": rule.times, "after": rule.after.total_seconds()}
                for status, rule in self.per_status.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RedialPolicy:
        rules = {s: Redial(**r) for s, r in dict(data.get("per_status") or {}).items()}
        return cls(
            times=data["times"], after=data["after"], statuses=data["statuses"], per_status=rules
        )

    def rule(self, status: str) -> Redial | None:
        rule = self.per_status.get(status)
        if rule is None and status in self.statuses:
            rule = Redial(self.times, self.after)
        return rule

    def next_attempt(self, status: str, redials: int, ended: datetime) -> datetime | None:
        """When to redial an input whose latest call ended ``status`` at ``ended``, after
        ``redials`` redials; None: its calls are done."""
        rule = self.rule(status)
        if rule is None or redials >= rule.times:
            return None
        return ended + rule.after


def attempt_digest(digest: bytes, attempt: int) -> bytes:
    """The ledger key of an input's attempt ``attempt`` (0: the input's own digest)."""
    if attempt == 0:
        return digest
    material = digest + b"\0redial\0" + attempt.to_bytes(2, "big")
    return hashlib.blake2b(material, digest_size=len(digest)).digest()
