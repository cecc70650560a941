"""The dialer's data: a call to place, its outcome, and the run's running totals."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from talkstack_async._errors import TalkstackError
from talkstack_async.models.call import Call, PlacedCall

__all__ = [
    "CallRequest",
    "CallRequestLike",
    "DialAttempt",
    "DialOutcome",
    "DialProgress",
    "DialStatus",
]


@attrs.frozen
class CallRequest:
    """One call for ``calls.dial_many``.

    ``project_id``/``agent_id`` default to the ones given to ``dial_many``. ``key`` identifies
    the request in the journal and for de-duplication; by default it is derived from the
    project, agent, number and variables, so the same call is never placed twice in a run.
    """

    number: str
    project_id: str | None = None
    agent_id: str | None = None
    dynamic_variables: Mapping[str, Any] = attrs.field(factory=dict)
    key: str | None = None
    timezone: str | None = None
    """The recipient's IANA time zone, for a calling window (else taken from the number)."""


CallRequestLike = CallRequest | str | Mapping[str, Any]
"""A ``CallRequest``, a bare E.164 number, or a mapping with ``number`` and optionally
``project_id``/``projectId``, ``agent_id``/``agentId``, ``dynamic_variables``/
``dynamicVariables`` (a mapping or JSON text, as in a CSV cell) and ``key``."""


class DialStatus(str, enum.Enum):
    """How a request of a dial run ended."""

    PLACED = "placed"
    """Make-call accepted it; ``call`` holds the call id. Placed is not finished."""
    FAILED = "failed"
    """Not placed, for certain: rejected before sending (``ValidationError``), refused by the
    server (4xx, 429) or the connection could not be opened. Safe to try again."""
    UNKNOWN = "unknown"
    """The request may have reached the server but no answer says so (5xx, a reset or timeout
    after sending, the run stopped mid-request). Never retried: check before dialling again."""
    SKIPPED = "skipped"
    """Not sent: the journal shows an earlier run placed (or may have placed) it, or the same
    request came earlier in this run."""
    NOT_ATTEMPTED = "not_attempted"
    """Not sent because the run stopped first."""

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class DialAttempt:
    """One placement of an input under a redial policy (``DialOutcome.attempts``)."""

    attempt: int
    """0 for the first call, 1 for the first redial, ..."""
    key: str
    """This attempt's own key in the journal (the first attempt's is the input's key)."""
    status: DialStatus
    """How the placement went: PLACED, FAILED, UNKNOWN (or SKIPPED: placed by an earlier
    run, read back from the journal)."""
    call: PlacedCall | None = None
    ended: str | None = None
    """How the call ended (a call status, e.g. ``busy``); None while not known."""
    ended_at: datetime | None = None
    """When the run saw it end (by the run's clock)."""
    error: TalkstackError | None = None
    placed_at: datetime | None = None
    """When this run sent it (by the run's clock); None for an earlier run's."""


@attrs.frozen
class DialOutcome:
    """The one outcome of one input of ``dial_many``.

    ``index`` is the input's 0-based position and ``request`` the input exactly as given, to
    match outcomes (which arrive in completion order) with inputs.
    """

    index: int
    request: Any
    status: DialStatus
    number: str | None = None
    key: str | None = None
    call: PlacedCall | None = None
    error: TalkstackError | None = None
    detail: str = ""
    final: Call | None = None
    """With ``wait_until_finished``: the call once it reached a final status."""
    final_error: TalkstackError | None = None
    """With ``wait_until_finished``: why the final status is not known (e.g. the deadline)."""
    attempts: tuple[DialAttempt, ...] = ()
    """With a redial policy: every attempt, this run's and (resumed) earlier runs', in
    order. ``status`` is then the last attempt's, so it says what a re-run does: FAILED or
    NOT_ATTEMPTED, a re-run makes that attempt; UNKNOWN, it skips it."""
    redial_at: datetime | None = None
    """With a redial policy, stopped while waiting to redial: when the redial was due (a
    re-run with the journal redials it then)."""

    @property
    def placed(self) -> bool:
        return self.status is DialStatus.PLACED

    @property
    def may_have_been_placed(self) -> bool:
        """True unless the call was certainly not placed, now or by an earlier run (with a
        redial policy: unless no attempt was)."""
        placed = (DialStatus.PLACED, DialStatus.UNKNOWN, DialStatus.SKIPPED)
        return self.status in placed or any(a.status in placed for a in self.attempts)


@attrs.frozen
class DialProgress:
    """A dial run's totals, passed to the ``progress`` callback after each outcome."""

    last: DialOutcome
    read: int
    """Inputs read so far (the run reads its input lazily)."""
    in_flight: int
    placed: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    not_attempted: int = 0
    backing_off: int = 0
    """Placements the server refused for its rate, waiting to be sent again."""
    rate: float | None = None
    """The campaign's rate now (calls/s; below the configured one while the server pushes
    back); None: unlimited."""
    waiting_for_window: int = 0
    """Inputs outside their calling window, waiting for it to open."""
    next_window: datetime | None = None
    """When the next waiting input is due (UTC): its window opening, or its redial."""
    waiting_to_redial: int = 0
    """Inputs whose call ended busy, unanswered, ..., waiting for their redial (a policy)."""

    @property
    def done(self) -> int:
        return self.placed + self.failed + self.unknown + self.skipped + self.not_attempted
