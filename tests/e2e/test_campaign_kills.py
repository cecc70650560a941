"""A dial run killed with SIGKILL in the middle of each kind of wait, then resumed, again and
again: while placements back off from the server's 429s, while inputs wait to redial, while
they wait for their calling window (``tests.e2e.campaign_child``, real processes, a clock
running faster than real time that goes on across them).

After the kills, ``reconcile`` settles what they left as "may have been placed" (from the
call history) and a last run completes. Then: every attempt was placed exactly once (the
emulator's log), none failed for a 429, the schedules were kept (three calls to each number of
the redial campaign; each number of the window campaign called inside its window), and the
journal shows the kills did land in the middle of each wait.
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from talkstack_async import AsyncTalkstack
from talkstack_async.campaigns import reconcile
from talkstack_async.campaigns.ledgers._journal import DialJournal
from talkstack_async.testing import TalkstackEmulator

ROOT = Path(__file__).resolve().parents[2]
PROCESS_TIMEOUT = 120.0
TRIALS = 6
MONDAY_3PM_UTC = datetime(2026, 12, 7, 15, 0, tzinfo=timezone.utc)
LOS_ANGELES = [f"+1415{7_700_000 + i:07d}" for i in range(15)]
NEW_YORK = [f"+1212{7_700_000 + i:07d}" for i in range(15)]
CHICAGO = [f"+1312{7_700_000 + i:07d}" for i in range(15)]
# mode: (numbers, speed of the clock, concurrency, the longest a run lives before its kill)
CAMPAIGNS: dict[str, tuple[list[str], float, int, float]] = {
    "backoff": ([f"+1415{7_800_000 + i:07d}" for i in range(160)], 1.0, 12, 2.5),
    "redial": ([f"+1415{7_900_000 + i:07d}" for i in range(40)], 10.0, 8, 4.0),
    # Monday 15:00 UTC: 07:00 in Los Angeles (opens in 2 h: 6 s here), 09:00 in Chicago,
    # 10:00 in New York (both open for 10 h more: 30 s here).
    "window": (LOS_ANGELES + CHICAGO + NEW_YORK, 1200.0, 8, 1.5),
}


def _run(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.campaign_child", str(config)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _records(journal: Path) -> list[dict[str, Any]]:
    lines = journal.read_bytes().split(b"\n")
    return [json.loads(line) for line in lines[1:] if line.endswith(b"}")]


def _cut_short(records: list[dict[str, Any]], why: str) -> int:
    """How many waits of kind ``why`` a kill cut short (the run that began one wrote nothing
    more for that key: a window or redial wait is a ``scheduled`` record, a backoff a failed
    record with ``until``), checking that a later run took each of them up (attempted it)."""
    open_waits: dict[tuple[str, str], int] = {}
    for position, record in enumerate(records):
        at = (record.get("key", ""), record.get("run", ""))
        backoff = record["event"] == "failed" and bool(record.get("until"))
        if (record["event"] == "scheduled" and record.get("why") == why) or (
            why == "backoff" and backoff
        ):
            open_waits[at] = position
        else:
            open_waits.pop(at, None)
    cut = [(position, key) for (key, _), position in open_waits.items()]
    for position, key in cut:
        later = [r for r in records[position:] if r["event"] == "attempt" and r["key"] == key]
        assert later, f"a {why} wait cut short by a kill was never taken up"
    return len(cut)


def _refused_yet_unknown(
    server: TalkstackEmulator, journal: Path, kills: list[tuple[float, float]]
) -> list[str]:
    """Requests left as "may have been placed" whose every make-call the server had answered
    with a refusal (429) well before the kill: the run knew they were not placed."""
    unknowns = asyncio.run(_unknowns(journal))
    calls = server.requests.of("calls.make")
    wrong = []
    for number, attempted in unknowns:
        at = attempted.timestamp()
        killed_at = next((end for start, end in kills if start <= at <= end), None)
        if killed_at is None:
            continue
        sent = [r for r in calls if r.json.get("number") == number and at - 0.01 <= r.received_at]
        sent = [r for r in sent if r.received_at <= killed_at]
        if sent and all(r.status == 429 and r.finished_at < killed_at - 0.05 for r in sent):
            wrong.append(number)
    return wrong


async def _unknowns(journal: Path) -> list[tuple[str, datetime]]:
    ledger = await DialJournal.open(journal)
    try:
        return [(u.number, u.attempted_at) async for u in ledger.unknowns()]
    finally:
        ledger.close()


async def _reconcile(server: TalkstackEmulator, key: str, project: str, journal: Path) -> None:
    ledger = await DialJournal.open(journal)
    try:
        async with AsyncTalkstack(api_key=key, **server.client_options()) as client:
            await reconcile(client, ledger, project_id=project, grace=timedelta(0))
    finally:
        ledger.close()


@pytest.mark.talkstack_emulator(status_interval=0, make_call_rate=25)
@pytest.mark.parametrize("mode", sorted(CAMPAIGNS))
def test_kill_9_in_the_middle_of_a_wait_then_resume_keeps_every_promise(
    mode: str, talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    rng = random.Random(f"{mode}-20261201")
    numbers, speed, concurrency, longest = CAMPAIGNS[mode]
    seed = talkstack_server.seed()
    if mode == "redial":
        for number in numbers:
            talkstack_server.call_outcomes(number, "busy", "no-answer", "completed")
    journal, outcomes = tmp_path / "campaign.jsonl", tmp_path / "outcomes.jsonl"
    epoch_real = time.time()
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "mode": mode,
                "api_key": seed.account.api_key,
                "base_url": talkstack_server.base_url,
                "calls_base_url": talkstack_server.calls_base_url,
                "project": seed.project_id,
                "agent": seed.agent_id,
                "numbers": numbers,
                "concurrency": concurrency,
                "journal": str(journal),
                "outcomes": str(outcomes),
                "epoch_real": epoch_real,
                "epoch_fake": MONDAY_3PM_UTC.isoformat(),
                "speed": speed,
            }
        )
    )
    kills: list[tuple[float, float]] = []  # each killed run: when it started, when killed
    for _ in range(TRIALS):
        started = time.time()
        process = _run(config)
        try:
            process.wait(timeout=rng.uniform(0.4, longest))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            kills.append((started, time.time()))
        _, stderr = process.communicate(timeout=PROCESS_TIMEOUT)
        assert process.returncode in (0, -signal.SIGKILL), stderr
        made = collections.Counter(talkstack_server.placed_numbers())
        assert max(made.values(), default=0) <= (3 if mode == "redial" else 1), "placed twice"
    assert len(kills) >= 2, "the runs ended before they could be killed"
    refused = _refused_yet_unknown(talkstack_server, journal, kills)
    assert not refused, f"refused for the server's rate, yet left as unknown: {refused}"

    asyncio.run(_reconcile(talkstack_server, seed.account.api_key, seed.project_id, journal))
    last = _run(config)
    try:
        _, stderr = last.communicate(timeout=PROCESS_TIMEOUT)
    finally:
        if last.poll() is None:  # a hang fails the test and leaves no process behind
            last.kill()
            last.communicate(timeout=30)
    assert last.returncode == 0, stderr

    made = collections.Counter(talkstack_server.placed_numbers())
    calls = 3 if mode == "redial" else 1
    assert made == dict.fromkeys(numbers, calls), "an attempt was placed twice, or never"
    reported = [json.loads(line) for line in outcomes.read_text().splitlines()]
    assert not [o for o in reported if o["error"] == "RateLimitError"], "failed for a 429"
    records = _records(journal)
    placed = [r for r in records if r["event"] == "placed"]
    assert len({r["sid"] for r in placed}) == len(placed), "one call recorded for two attempts"
    assert len({r["key"] for r in placed}) == sum(made.values())  # one key per attempt
    if mode == "backoff":
        assert talkstack_server.rate_limited > 0
        assert _cut_short(records, "backoff") > 0, "no kill landed while backing off"
    elif mode == "redial":
        finals = collections.Counter(r["status"] for r in records if r["event"] == "final")
        assert set(finals) == {"busy", "no-answer", "completed"}
        assert _cut_short(records, "redial") > 0, "no kill landed while waiting to redial"
    else:
        assert _cut_short(records, "window") > 0, "no kill landed while waiting for a window"
        opens = MONDAY_3PM_UTC + timedelta(hours=2)  # 09:00 in Los Angeles
        for request in talkstack_server.requests.of("calls.make"):
            if request.status != 200:
                continue
            fake = MONDAY_3PM_UTC + timedelta(seconds=(request.received_at - epoch_real) * speed)
            if request.json["number"] in LOS_ANGELES:
                assert fake >= opens - timedelta(minutes=1), "called before 09:00 local"
            else:
                # Chicago and New York: open from the start until 20:00 in New York.
                assert fake < MONDAY_3PM_UTC + timedelta(hours=10)
