"""Redial policies under a fake clock, over real sockets (the emulator scripts how each call
ends): who is redialled, how far apart, per-status rules, every attempt in the outcome and in
the journal as its own placement, and a stop and resume in the middle of a schedule."""

from __future__ import annotations

import collections
import itertools
import json
from contextlib import aclosing
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from talkstack_async import (
    AsyncTalkstack,
    CallingWindow,
    DialOutcome,
    DialProgress,
    DialStatus,
    Redial,
    RedialPolicy,
    ValidationError,
)
from talkstack_async.campaigns.policies._redial import attempt_digest
from talkstack_async.testing import FakeClock, TalkstackEmulator
from tests.e2e.conftest import collect

pytestmark = pytest.mark.talkstack_emulator(status_interval=0)

MONDAY_3PM_UTC = datetime(2026, 12, 7, 15, 0, tzinfo=timezone.utc)
HALF_AN_HOUR = timedelta(minutes=30)
BUSY_BUSY_ANSWERED = "+14155550100"
NEVER_ANSWERS = "+14155550101"
ANSWERS = "+14155550102"
SILENT = "+14155550103"


def _script(server: TalkstackEmulator) -> None:
    server.call_outcomes(BUSY_BUSY_ANSWERED, "busy", "busy", "completed")
    server.call_outcomes(NEVER_ANSWERS, *["no-answer"] * 5)
    server.call_outcomes(ANSWERS, "completed")
    server.call_outcomes(SILENT, "silence", "completed")


def _by_number(outcomes: list[DialOutcome]) -> dict[str, DialOutcome]:
    assert len({o.number for o in outcomes}) == len(outcomes)
    return {str(o.number): o for o in outcomes}


def _records(journal: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in journal.read_text().splitlines()[1:]]


async def test_each_attempt_is_its_own_placement_at_least_the_interval_after_the_last_ended(
    connect: Any, talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed()
    _script(talkstack_server)
    clock = FakeClock(MONDAY_3PM_UTC)
    journal = tmp_path / "campaign.jsonl"
    client = connect(api_key=seed.account.api_key)
    numbers = [BUSY_BUSY_ANSWERED, NEVER_ANSWERS, ANSWERS, SILENT]

    async def dial() -> dict[str, DialOutcome]:
        run = client.calls.dial_many(
            numbers,
            project_id=seed.project_id,
            agent_id=seed.agent_id,
            redial=RedialPolicy(times=2, after=HALF_AN_HOUR),
            clock=clock,
            journal=journal,
        )
        return _by_number(await collect(run))

    outcomes = await dial()
    made = collections.Counter(talkstack_server.placed_numbers())
    assert made == {BUSY_BUSY_ANSWERED: 3, NEVER_ANSWERS: 3, ANSWERS: 1, SILENT: 1}

    reached = outcomes[BUSY_BUSY_ANSWERED]
    assert reached.status is DialStatus.PLACED
    assert [a.ended for a in reached.attempts] == ["busy", "busy", "completed"]
    assert reached.final is not None
    assert reached.final.status == "completed"
    assert reached.detail == "3 attempts: busy, busy, completed"
    ended = [a.ended_at for a in reached.attempts]
    assert all(a is not None for a in ended)
    for earlier, later in itertools.pairwise(ended):
        assert later - earlier >= HALF_AN_HOUR  # type: ignore[operator]
    assert [a.attempt for a in reached.attempts] == [0, 1, 2]
    keys = [a.key for a in reached.attempts]
    assert keys[0] == reached.key
    assert len(set(keys)) == 3
    assert len({a.call.sid for a in reached.attempts if a.call}) == 3

    unanswered = outcomes[NEVER_ANSWERS]  # two redials, then done: still no answer
    assert [a.ended for a in unanswered.attempts] == ["no-answer"] * 3
    assert unanswered.status is DialStatus.PLACED
    assert unanswered.final is not None
    assert unanswered.final.status == "no-answer"
    # Answered at once, and silence (not redialled by default): one attempt each.
    assert [a.ended for a in outcomes[ANSWERS].attempts] == ["completed"]
    assert [a.ended for a in outcomes[SILENT].attempts] == ["silence"]

    # The journal: one claim and one result per attempt, each under its own key.
    records = _records(journal)
    attempts = [r for r in records if r["event"] == "attempt"]
    assert len(attempts) == 8 == len({r["key"] for r in attempts})
    assert {r["key"] for r in records if r["event"] == "placed"} == {r["key"] for r in attempts}
    redials = [r for r in attempts if r.get("attempt")]
    assert {(r["number"], r["attempt"]) for r in redials} == {
        (BUSY_BUSY_ANSWERED, 1), (BUSY_BUSY_ANSWERED, 2), (NEVER_ANSWERS, 1), (NEVER_ANSWERS, 2)
    }  # fmt: skip
    for r in redials:
        assert r["key"] == attempt_digest(bytes.fromhex(r["of"]), r["attempt"]).hex()
    scheduled = [r for r in records if r["event"] == "scheduled"]
    assert {r["why"] for r in scheduled} == {"redial"}
    assert len(scheduled) == 4

    # A re-run with the journal: every schedule is complete, nothing is dialled again.
    again = await dial()
    assert collections.Counter(talkstack_server.placed_numbers()) == made
    assert {o.status for o in again.values()} == {DialStatus.SKIPPED}
    assert again[BUSY_BUSY_ANSWERED].detail == (
        "placed by an earlier run; 3 attempts: busy, busy, completed"
    )
    assert [a.call.sid for a in again[BUSY_BUSY_ANSWERED].attempts if a.call] == [
        a.call.sid for a in reached.attempts if a.call
    ]


async def test_rules_per_status(talkstack_server: TalkstackEmulator) -> None:
    seed = talkstack_server.seed()
    busy, failed, voicemail = "+14155550110", "+14155550111", "+14155550112"
    talkstack_server.call_outcomes(busy, *["busy"] * 5)
    talkstack_server.call_outcomes(failed, "failed", "failed", "completed")
    talkstack_server.call_outcomes(voicemail, *["voicemail"] * 5)
    policy = RedialPolicy(
        times=1,
        after=timedelta(hours=2),
        statuses=["failed", "voicemail"],
        per_status={"busy": Redial(times=3, after=timedelta(minutes=5))},
    )
    clock = FakeClock(MONDAY_3PM_UTC)
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
        run = client.calls.dial_many(
            [busy, failed, voicemail],
            project_id=seed.project_id,
            agent_id=seed.agent_id,
            redial=policy,
            clock=clock,
        )
        outcomes = _by_number([o async for o in run])
    assert [a.ended for a in outcomes[busy].attempts] == ["busy"] * 4
    for a, b in itertools.pairwise(outcomes[busy].attempts):
        assert a.ended_at is not None
        assert b.ended_at is not None
        assert b.ended_at - a.ended_at >= timedelta(minutes=5)
    assert [a.ended for a in outcomes[failed].attempts] == ["failed", "failed"]
    assert [a.ended for a in outcomes[voicemail].attempts] == ["voicemail"] * 2


async def test_a_redial_due_outside_the_calling_window_waits_for_it(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed()
    new_york = "+12125550106"
    talkstack_server.call_outcomes(new_york, "busy", "completed")
    # Monday 19:50 in New York: the redial is due at 20:20, after the window closed.
    clock = FakeClock(datetime(2026, 12, 8, 0, 50, tzinfo=timezone.utc))
    seen: list[DialProgress] = []
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
        run = client.calls.dial_many(
            [new_york],
            project_id=seed.project_id,
            agent_id=seed.agent_id,
            redial=RedialPolicy(times=2, after=HALF_AN_HOUR),
            window=CallingWindow(start=time(9), end=time(20)),
            clock=clock,
            progress=seen.append,
        )
        (outcome,) = [o async for o in run]
    assert [a.ended for a in outcome.attempts] == ["busy", "completed"]
    redialled = outcome.attempts[1].ended_at
    tuesday_9am_new_york = datetime(2026, 12, 8, 14, 0, tzinfo=timezone.utc)
    assert redialled is not None
    assert tuesday_9am_new_york <= redialled < tuesday_9am_new_york + timedelta(minutes=1)


async def test_a_stop_while_waiting_to_redial_then_a_resume_continues_the_schedule(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed()
    _script(talkstack_server)
    journal = tmp_path / "campaign.jsonl"
    clock = FakeClock(MONDAY_3PM_UTC)
    policy = RedialPolicy(times=2, after=HALF_AN_HOUR)
    numbers = [BUSY_BUSY_ANSWERED, NEVER_ANSWERS, ANSWERS]
    reported: list[DialProgress] = []

    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:

        def dial(**options: Any) -> Any:
            return client.calls.dial_many(
                numbers,
                project_id=seed.project_id,
                agent_id=seed.agent_id,
                redial=policy,
                clock=clock,
                journal=journal,
                **options,
            )

        async with aclosing(dial(progress=reported.append)) as run:
            async for outcome in run:
                assert outcome.number == ANSWERS  # the only one done before its redials
                break
        stopped = [p.last for p in reported if p.last.number != ANSWERS]
        assert {o.status for o in stopped} == {DialStatus.NOT_ATTEMPTED}
        for o in stopped:
            assert o.redial_at == MONDAY_3PM_UTC + HALF_AN_HOUR
            assert [a.ended for a in o.attempts] in (["busy"], ["no-answer"])
            assert "waited to redial" in o.detail
        assert max(p.waiting_to_redial for p in reported) == 2
        assert collections.Counter(talkstack_server.placed_numbers()) == dict.fromkeys(numbers, 1)

        clock.advance(3600)  # the resume comes an hour later: the redials are overdue
        outcomes = _by_number([o async for o in dial()])
    assert collections.Counter(talkstack_server.placed_numbers()) == {
        BUSY_BUSY_ANSWERED: 3, NEVER_ANSWERS: 3, ANSWERS: 1
    }  # fmt: skip
    resumed = outcomes[BUSY_BUSY_ANSWERED]
    assert resumed.status is DialStatus.PLACED
    assert [(a.status, a.ended) for a in resumed.attempts] == [
        (DialStatus.SKIPPED, "busy"),  # the earlier run's attempt, read back
        (DialStatus.PLACED, "busy"),
        (DialStatus.PLACED, "completed"),
    ]
    assert outcomes[ANSWERS].status is DialStatus.SKIPPED


@pytest.mark.talkstack_emulator(status_interval=0.3)
async def test_a_resume_learns_how_a_call_it_did_not_see_end_ended_then_redials(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed()
    number = "+14155550120"
    talkstack_server.call_outcomes(number, "busy", "completed")
    journal = tmp_path / "campaign.jsonl"
    clock = FakeClock(MONDAY_3PM_UTC)
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:

        def dial(**options: Any) -> Any:
            return client.calls.dial_many(
                [number],
                project_id=seed.project_id,
                agent_id=seed.agent_id,
                redial=RedialPolicy(times=2, after=HALF_AN_HOUR),
                clock=clock,
                journal=journal,
                **options,
            )

        # The first run gives up waiting for the call's end (a short finish_timeout).
        (first,) = [o async for o in dial(finish_timeout=0.05)]
        assert first.status is DialStatus.PLACED
        assert first.final_error is not None
        assert [a.ended for a in first.attempts] == [None]
        (resumed,) = [o async for o in dial()]  # polls the call (a read), then redials
    assert talkstack_server.placed_numbers() == [number, number]
    assert [(a.status, a.ended) for a in resumed.attempts] == [
        (DialStatus.PLACED, "busy"),
        (DialStatus.PLACED, "completed"),
    ]
    assert resumed.attempts[0].call is not None
    assert first.call is not None
    assert resumed.attempts[0].call.sid == first.call.sid


def test_a_bad_policy_is_refused_when_made() -> None:
    with pytest.raises(ValidationError, match="cannot be redialled"):
        RedialPolicy(statuses=["completed"])
    with pytest.raises(ValidationError, match="times"):
        RedialPolicy(times=-1)
    with pytest.raises(ValidationError, match="after"):
        RedialPolicy(after=timedelta(0))
    with pytest.raises(ValidationError, match="per_status"):
        RedialPolicy(per_status={"busy": 3})  # type: ignore[dict-item]
    assert RedialPolicy(after=90).after == timedelta(seconds=90)


async def test_a_redial_argument_that_is_not_a_policy_fails_before_sending(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed()
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
        run = client.calls.dial_many(
            ["+14155550100"], project_id=seed.project_id, agent_id=seed.agent_id, redial=2
        )  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="redial"):
            await run.__anext__()
    assert talkstack_server.placed_numbers() == []


async def test_a_custom_ledger_without_ended_is_refused_for_redials_before_sending(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    """A ``Ledger`` of your own keeps working; a redial policy needs it to answer ``ended``."""
    from talkstack_async.campaigns.ledgers._journal import DialJournal

    class OldLedger:  # the Ledger protocol as it was before redials
        def __init__(self, journal: DialJournal) -> None:
            self._journal = journal

        def admit(self, digest: bytes) -> Any:
            return self._journal.admit(digest)

        def submit(self, record: Any) -> Any:
            return self._journal.submit(record)

        async def write(self, record: Any) -> None:
            await self._journal.write(record)

        async def flush(self) -> None:
            await self._journal.flush()

        def close(self) -> None:
            self._journal.close()

        def unknowns(self) -> Any:
            return self._journal.unknowns()

        async def resolve(self, key: str, *, sid: str | None, note: str) -> None:
            await self._journal.resolve(key, sid=sid, note=note)

    seed = talkstack_server.seed()
    ledger = OldLedger(await DialJournal.open(tmp_path / "campaign.jsonl"))
    try:
        async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:

            def dial(**options: Any) -> Any:
                return client.calls.dial_many(
                    [ANSWERS], project_id=seed.project_id, agent_id=seed.agent_id,
                    ledger=ledger, **options,
                )  # fmt: skip

            with pytest.raises(ValidationError, match="ended"):
                await dial(redial=RedialPolicy()).__anext__()
            assert talkstack_server.placed_numbers() == []
            assert [o.status async for o in dial()] == [DialStatus.PLACED]
    finally:
        ledger.close()
