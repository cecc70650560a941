"""calls.dial_many over real HTTP: every input one outcome, nobody dialled twice, resumable."""

from __future__ import annotations

import asyncio
import collections
import json
from pathlib import Path
from typing import Any

import pytest

from talkstack_async import (
    APIConnectionError,
    APIStatusError,
    AsyncTalkstack,
    CallRequest,
    CallStatus,
    DialInterruptedError,
    DialOutcome,
    DialProgress,
    DialStatus,
    InternalServerError,
    RateLimitError,
    ValidationError,
)
from talkstack_async.testing import Fault, TalkstackEmulator
from tests.e2e.conftest import collect


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"+1415{5_000_000 + i:07d}" for i in range(start, start + count)]


def made_numbers(server: TalkstackEmulator) -> collections.Counter[str]:
    """How many make-call requests reached the server for each number."""
    return collections.Counter(r.json["number"] for r in server.requests.of("calls.make"))


def by_status(outcomes: list[DialOutcome]) -> dict[DialStatus, list[DialOutcome]]:
    grouped: dict[DialStatus, list[DialOutcome]] = collections.defaultdict(list)
    for outcome in outcomes:
        grouped[outcome.status].append(outcome)
    return grouped


@pytest.mark.talkstack_emulator(fault_seed=7, status_interval=60)
async def test_two_thousand_placements_with_ten_percent_failing(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key)
    for fault in (Fault.error(500), Fault.reset(), Fault.reset(after_processing=True)):
        talkstack_server.faults.inject(fault, on="calls.make", probability=0.025)
    talkstack_server.faults.inject(
        Fault.rate_limited(retry_after=0), on="calls.make", probability=0.025
    )
    inputs = numbers(2000)

    # on_rate_limit=None: a 429 is the request's outcome, so every request is sent once
    # (tests/e2e/test_rate_limits.py covers sending a 429'd request again).
    outcomes = await collect(
        client.calls.dial_many(
            inputs,
            project_id=seed.project_id,
            agent_id=seed.agent_id,
            concurrency=50,
            on_rate_limit=None,
        )
    )

    assert sorted(o.index for o in outcomes) == list(range(2000))  # one outcome per input
    assert all(o.request == inputs[o.index] == o.number for o in outcomes)
    sent = made_numbers(talkstack_server)
    assert max(sent.values()) == 1  # no number reached the server twice
    placed_on_server = collections.Counter(talkstack_server.placed_numbers())
    assert max(placed_on_server.values()) == 1
    grouped = by_status(outcomes)
    faults = sum(1 for r in talkstack_server.requests.of("calls.make") if r.fault is not None)
    assert 120 <= faults <= 280  # about 10 % of 2,000
    assert len(grouped[DialStatus.PLACED]) == 2000 - faults
    for outcome in grouped[DialStatus.PLACED]:
        assert outcome.call is not None
        assert talkstack_server.call_status(outcome.call.sid)  # a real call on the server
    # 429s were refused unprocessed: certainly not placed. 500s and resets may have been.
    assert all(isinstance(o.error, RateLimitError) for o in grouped[DialStatus.FAILED])
    assert {o.number for o in grouped[DialStatus.FAILED]}.isdisjoint(placed_on_server)
    assert all(
        isinstance(o.error, (InternalServerError, APIConnectionError))
        for o in grouped[DialStatus.UNKNOWN]
    )
    assert grouped[DialStatus.FAILED]
    assert grouped[DialStatus.UNKNOWN]
    placed_or_unknown = {o.number for o in grouped[DialStatus.PLACED] + grouped[DialStatus.UNKNOWN]}
    assert set(placed_on_server) <= placed_or_unknown


async def test_invalid_and_repeated_requests_are_reported_not_sent(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key)
    requests: list[Any] = [
        "+14155550100",
        "555-0101",  # not E.164
        {"number": "+14155550102", "dynamicVariables": '{"name": "Ada"}'},
        {"number": "+14155550103", "dynamicVariables": "{not json"},
        {"numbr": "+14155550104"},  # a typo'd field
        CallRequest("+14155550105", agent_id="other agent"),  # whitespace in an id
        "+14155550100",  # the same request again
        CallRequest("+14155550100", dynamic_variables={"name": "Bob"}),  # a different call
        42,
    ]
    outcomes = sorted(
        await collect(
            client.calls.dial_many(requests, project_id=seed.project_id, agent_id=seed.agent_id)
        ),
        key=lambda o: o.index,
    )
    statuses = [o.status for o in outcomes]
    P, F, S = DialStatus.PLACED, DialStatus.FAILED, DialStatus.SKIPPED
    assert statuses == [P, F, P, F, F, F, S, P, F]
    problems = {o.index: o.error for o in outcomes if o.status is F}
    assert all(isinstance(e, ValidationError) for e in problems.values())
    assert problems[1].argument == "requests[1].number"  # type: ignore[union-attr]
    assert problems[3].argument == "requests[3].dynamic_variables"  # type: ignore[union-attr]
    assert "numbr" in str(problems[4])
    assert problems[5].argument == "requests[5].agent_id"  # type: ignore[union-attr]
    assert "the same request came earlier" in outcomes[6].detail
    sent = [r.json for r in talkstack_server.requests.of("calls.make")]
    assert sorted(r["number"] for r in sent) == ["+14155550100", "+14155550100", "+14155550102"]
    assert {"name": "Ada"} in [r.get("dynamicVariables") for r in sent]


async def test_a_missing_project_is_an_outcome_and_bad_options_an_error(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key)
    [outcome] = await collect(client.calls.dial_many(["+14155550100"], agent_id=seed.agent_id))
    assert outcome.status is DialStatus.FAILED
    assert "project_id" in str(outcome.error)
    for options in ({"concurrency": 0}, {"rate": -1}, {"concurrency": 1.5}, {"progress": 3}):
        with pytest.raises(ValidationError):
            await collect(client.calls.dial_many(["+14155550100"], **options))
    with pytest.raises(ValidationError, match="iterable of requests"):
        await collect(client.calls.dial_many("+14155550100"))  # type: ignore[arg-type]
    assert talkstack_server.requests.count("calls.make") == 0


async def test_a_journal_makes_a_rerun_skip_what_was_placed(
    connect: Any, talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key)
    journal = tmp_path / "campaign.jsonl"
    ids = {"project_id": seed.project_id, "agent_id": seed.agent_id}
    talkstack_server.faults.inject(Fault.error(500), on="calls.make", times=1)
    talkstack_server.faults.inject(Fault.rate_limited(retry_after=0), on="calls.make", times=1)
    first = await collect(  # on_rate_limit=None: the 429 is a FAILED outcome, not re-sent
        client.calls.dial_many(
            numbers(10), journal=journal, concurrency=1, on_rate_limit=None, **ids
        )
    )
    assert [o.status for o in first].count(DialStatus.UNKNOWN) == 1
    assert [o.status for o in first].count(DialStatus.FAILED) == 1
    assert journal.stat().st_mode & 0o777 == 0o600

    second = await collect(
        client.calls.dial_many(numbers(12), journal=journal, concurrency=4, **ids)
    )
    grouped = by_status(second)
    # The 429 was certainly not placed: dialled again. The 500 may have been: skipped.
    assert len(grouped[DialStatus.SKIPPED]) == 9
    assert len(grouped[DialStatus.PLACED]) == 3
    maybe = [o for o in grouped[DialStatus.SKIPPED] if o.call is None]
    assert len(maybe) == 1
    assert "may have been placed" in maybe[0].detail
    assert all(o.call is not None for o in grouped[DialStatus.SKIPPED] if o is not maybe[0])
    # Twelve numbers reached the server once each, except the 429'd one: refused, then placed.
    assert collections.Counter(made_numbers(talkstack_server).values()) == {1: 11, 2: 1}
    assert collections.Counter(talkstack_server.placed_numbers()).most_common(1)[0][1] == 1


def test_a_torn_or_corrupt_journal(tmp_path: Path) -> None:
    from talkstack_async.campaigns.ledgers._journal import DialJournal

    journal = tmp_path / "j.jsonl"
    key = "ab" * 16
    journal.write_text(
        '{"talkstack_journal": 1}\n'
        + json.dumps({"event": "attempt", "key": key, "index": 0, "number": "+1"})
        + "\n"
        '{"event": "placed", "ke'  # a crash in the middle of a write
    )
    opened = DialJournal(journal)
    assert dict(opened.skips()) == {bytes.fromhex(key): ""}  # attempted, result unknown: skip
    opened.close()
    assert journal.read_text().endswith('"number": "+1"}\n')  # the torn tail is gone
    journal.write_text('{"talkstack_journal": 1}\n{"event": "attempt"\n{"event": "x"}\n')
    with pytest.raises(ValidationError, match="line 2 is not a journal record"):
        DialJournal(journal)


@pytest.mark.talkstack_emulator(status_interval=0.02)
async def test_final_statuses_by_polling(connect: Any, talkstack_server: TalkstackEmulator) -> None:
    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key)
    # The emulator ends a call by the number's last digit: 0-5 completed, 6 busy, 7 no-answer,
    # 8 voicemail, 9 failed.
    outcomes = await collect(
        client.calls.dial_many(
            numbers(10),
            project_id=seed.project_id,
            agent_id=seed.agent_id,
            wait_until_finished=True,
            finish_timeout=30,
        )
    )
    expected = ["completed"] * 6 + ["busy", "no-answer", "voicemail", "failed"]
    for outcome in outcomes:
        assert outcome.final is not None, outcome.final_error
        assert outcome.final.status == expected[int(outcome.number[-1])]  # type: ignore[index]
        assert outcome.final.status.is_final  # type: ignore[union-attr]


@pytest.mark.talkstack_emulator(status_interval=0.2)
async def test_waiting_for_one_call(connect: Any, talkstack_server: TalkstackEmulator) -> None:
    from talkstack_async import CallWaitTimeoutError

    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key)
    ids = {"project_id": seed.project_id, "agent_id": seed.agent_id}
    placed = await _run(client.calls.make("+14155550126", **ids))
    with pytest.raises(CallWaitTimeoutError) as caught:
        await _run(
            client.calls.wait_until_finished(
                placed.sid, project_id=seed.project_id, timeout=0.05, poll_interval=0.01
            )
        )
    assert caught.value.last is not None
    assert not caught.value.last.status.is_final
    call = await _run(
        client.calls.wait_until_finished(
            placed.sid, project_id=seed.project_id, timeout=30, poll_interval=0.05
        )
    )
    assert call.status is CallStatus.BUSY
    with pytest.raises(ValidationError):
        await _run(client.calls.wait_until_finished(placed.sid, project_id="p", timeout=0))


async def _run(value: Any) -> Any:
    from tests.e2e.conftest import run

    return await run(value)


@pytest.mark.talkstack_emulator(status_interval=60)
async def test_pacing_spaces_placements(connect: Any, talkstack_server: TalkstackEmulator) -> None:
    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key)
    await collect(
        client.calls.dial_many(
            numbers(11), project_id=seed.project_id, agent_id=seed.agent_id, rate=50
        )
    )
    times = sorted(r.received_at for r in talkstack_server.requests.of("calls.make"))
    assert times[-1] - times[0] >= 10 / 50 * 0.9  # ten gaps of 1/50 s, give or take


async def drain(iterator: Any, into: list[DialOutcome]) -> None:
    """Append each outcome to ``into`` as it comes, so a test sees them even if it raises."""
    if hasattr(iterator, "__aiter__"):
        async for outcome in iterator:
            into.append(outcome)
    else:
        for outcome in iterator:
            into.append(outcome)


async def test_a_failing_run_still_reports_every_input(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key)
    seen: list[DialProgress] = []

    def progress(update: DialProgress) -> None:
        seen.append(update)
        if len(seen) == 5:
            raise RuntimeError("the progress bar broke")

    outcomes: list[DialOutcome] = []
    run = client.calls.dial_many(
        numbers(40),
        project_id=seed.project_id,
        agent_id=seed.agent_id,
        concurrency=3,
        progress=progress,
    )
    with pytest.raises(RuntimeError, match="progress bar broke"):
        await drain(run, outcomes)
    assert sorted(o.index for o in outcomes) == list(range(40))
    grouped = by_status(outcomes)
    # Those in flight when it broke finish; not one placement starts after it: at most the
    # inputs read by then are placed.
    broke = seen[4]
    placed = len(grouped[DialStatus.PLACED])
    assert broke.placed + broke.in_flight <= placed <= broke.read
    assert len(grouped[DialStatus.NOT_ATTEMPTED]) == 40 - placed
    assert talkstack_server.requests.count("calls.make") == len(grouped[DialStatus.PLACED])
    assert seen[-1].done == 40


async def test_an_input_that_raises_ends_the_run_after_what_was_read(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key)

    def requests() -> Any:
        yield from numbers(5)
        raise OSError("the CSV's disk went away")

    outcomes: list[DialOutcome] = []
    run = client.calls.dial_many(requests(), project_id=seed.project_id, agent_id=seed.agent_id)
    with pytest.raises(OSError, match="disk went away"):
        await drain(run, outcomes)
    assert sorted(o.index for o in outcomes) == list(range(5))
    assert all(o.status is DialStatus.PLACED for o in outcomes)


async def test_cancelling_a_run_accounts_for_every_read_input(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed()
    talkstack_server.faults.inject(Fault.latency(5), on="calls.make")  # every call hangs a bit
    journal = tmp_path / "j.jsonl"
    reported: list[DialProgress] = []
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
        run = client.calls.dial_many(
            numbers(100),
            project_id=seed.project_id,
            agent_id=seed.agent_id,
            concurrency=4,
            journal=journal,
            progress=reported.append,
        )
        task = asyncio.create_task(anext(run))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if talkstack_server.requests.count("calls.make") == 4:
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await run.aclose()
        connector = client._sessions.get().connector
        assert connector is not None
        await asyncio.sleep(0)
        assert not connector._acquired  # no connection left checked out
    outcomes = [update.last for update in reported]
    assert len(outcomes) == 4  # four read, four in flight, none lost
    assert all(o.status is DialStatus.UNKNOWN for o in outcomes)
    assert all(isinstance(o.error, DialInterruptedError) for o in outcomes)
    events = [json.loads(line) for line in journal.read_text().splitlines()[1:]]
    assert collections.Counter(e["event"] for e in events) == {"attempt": 4, "unknown": 4}
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not [t for t in tasks if "talkstack" in repr(t)]


@pytest.mark.parametrize("wrong", ["api_key", "project", "agent"])
async def test_a_refusal_every_row_would_get_stops_the_run_after_the_first(
    connect: Any, talkstack_server: TalkstackEmulator, wrong: str
) -> None:
    seed = talkstack_server.seed()
    key = "0" * 64 if wrong == "api_key" else seed.account.api_key
    client = connect(api_key=key)
    ids = {
        "project_id": "nosuchproject" if wrong == "project" else seed.project_id,
        "agent_id": "nosuchagent" if wrong == "agent" else seed.agent_id,
    }
    outcomes: list[DialOutcome] = []
    run = client.calls.dial_many(numbers(200), concurrency=1, **ids)
    with pytest.raises(APIStatusError) as caught:
        await drain(run, outcomes)
    assert caught.value.status in (400, 401, 404)
    assert sorted(o.index for o in outcomes) == list(range(200))
    grouped = by_status(outcomes)
    assert len(grouped[DialStatus.FAILED]) == 1
    assert len(grouped[DialStatus.NOT_ATTEMPTED]) == 199
    assert talkstack_server.requests.count("calls.make") == 1


async def test_a_row_naming_a_missing_project_of_its_own_fails_alone(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key)
    rows = [{"number": "+14155550190", "project_id": "typo"}, *numbers(3)]
    outcomes = await collect(
        client.calls.dial_many(rows, project_id=seed.project_id, agent_id=seed.agent_id)
    )
    grouped = by_status(outcomes)
    assert len(grouped[DialStatus.FAILED]) == 1
    assert len(grouped[DialStatus.PLACED]) == 3
