"""Crash consistency of a campaign: the dialing process (the real ``talkstack calls dial``) is
killed with SIGKILL at random moments and resumed on the same journal, again and again.

After every resume: the journal loads, nobody was dialled twice (the emulator's log), and no
request was attempted by two runs. Some crashes are followed by a torn write (a partial record
without its newline, as a power cut mid-write leaves): the next run must cut it off durably and
go on, any number of times. At the end one run completes, and then every input has exactly one
final outcome across the runs: placed (once, by the emulator's log) or attempted by a run that
died before learning whether it left (so skipped as "may have been placed", never re-dialled).
"""

from __future__ import annotations

import collections
import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from talkstack_async.campaigns.ledgers._journal import DialJournal
from talkstack_async.testing import Fault, TalkstackEmulator
from tests.cli.test_cli import ENTRY_POINT, cli_env, numbers_csv
from tests.soak import soak

TRIALS = soak(32, 12)
NUMBERS = 1200
TIME_BUDGET = 240.0  # seconds for the whole test; each process is bounded too


def _dial(server: TalkstackEmulator, key: str, csv: Path, journal: Path, project: str, agent: str):
    return subprocess.Popen(
        [
            str(ENTRY_POINT), "calls", "dial", "--file", str(csv), "--project", project,
            "--agent", agent, "--concurrency", "8", "--journal", str(journal),
        ],
        env=cli_env(server, key),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _records(journal: Path) -> list[dict]:
    lines = journal.read_bytes().split(b"\n")
    assert lines[-1] == b"", "the journal must end with a complete line"
    return [json.loads(line) for line in lines[1:-1]]


def _check(journal: Path, server: TalkstackEmulator) -> None:
    DialJournal(journal).close()  # loads (and repairs) without complaint
    made = collections.Counter(server.placed_numbers())
    assert not made or max(made.values()) == 1, "a number was dialled twice"
    attempts: dict[str, set[str]] = collections.defaultdict(set)
    for record in _records(journal):
        if record["event"] == "attempt":
            attempts[record["number"]].add(record["run"])
    twice = {number: runs for number, runs in attempts.items() if len(runs) > 1}
    assert not twice, f"attempted by two runs: {twice}"
    assert set(made) <= set(attempts), "placed without an attempt record"


def _tear(journal: Path, rng: random.Random) -> None:
    """Append part of a record with no newline: a write cut short by a crash."""
    partial = json.dumps({"event": "attempt", "key": "ab" * 16, "index": 1, "number": "+1"})
    with journal.open("ab") as file:
        file.write(partial[: rng.randrange(1, len(partial))].encode())


@pytest.mark.talkstack_emulator(status_interval=600)
def test_kill_9_at_random_moments_then_resume_never_dials_twice_and_loses_nothing(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    started = time.monotonic()
    rng = random.Random(20261201)
    seed = talkstack_server.seed()
    talkstack_server.faults.inject(Fault.latency(0.01), on="calls.make")
    csv, journal = tmp_path / "numbers.csv", tmp_path / "campaign.jsonl"
    numbers = numbers_csv(csv, NUMBERS)
    args = (talkstack_server, seed.account.api_key, csv, journal, seed.project_id, seed.agent_id)
    kills = tears = 0
    for _ in range(TRIALS):
        assert time.monotonic() - started < TIME_BUDGET, f"only {kills} trials in time"
        process = _dial(*args)
        try:
            process.wait(timeout=rng.uniform(0.05, 0.7))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            kills += 1
        finally:
            process.communicate(timeout=30)
        if journal.exists() and rng.random() < 0.3:
            _tear(journal, rng)
            tears += 1
        _check(journal, talkstack_server)

    final = _dial(*args)
    try:
        _, stderr = final.communicate(timeout=120)
    finally:
        if final.poll() is None:  # a hang fails the test and leaves no process behind
            final.kill()
            final.communicate(timeout=30)
    assert final.returncode in (0, 1), stderr
    _check(journal, talkstack_server)
    placed = set(talkstack_server.placed_numbers())
    records = _records(journal)
    attempted = {r["number"] for r in records if r["event"] == "attempt"}
    assert attempted == set(numbers), "an input was never attempted"
    # Exactly one final outcome each: placed, or attempted by a run killed before it knew.
    # A run records "placed" only for what the emulator placed.
    key_of = {r["key"]: r["number"] for r in records if r["event"] == "attempt"}
    recorded_placed = {key_of[r["key"]] for r in records if r["event"] == "placed"}
    assert recorded_placed <= placed
    assert kills >= TRIALS * 5 // 8, f"only {kills} of {TRIALS} runs were killed mid-way"
    assert tears >= TRIALS * 5 // 32  # about 30 % of the runs tear the tail
    print(
        f"{kills} kills, {tears} torn tails, {len(placed)} placed once, "
        f"{len(attempted - placed)} attempted but never sent (skipped, not re-dialled)"
    )
