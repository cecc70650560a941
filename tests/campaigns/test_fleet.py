"""The acceptance test of a campaign run by a fleet: real ``talkstack calls dial`` processes
sharing one Redis ledger, one of them killed with SIGKILL mid-run and started again (as a task
queue redelivers a dead worker's task), then ``talkstack calls reconcile`` and a last run.

Then every number was placed exactly once (the emulator's log), every input has exactly one
final state in the ledger, and in no one-second window did the campaign exceed its rate by
more than 10 %, nor its concurrency at all (the emulator's own count of requests in flight)."""

from __future__ import annotations

import collections
import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from talkstack_async.testing import Fault, TalkstackEmulator
from tests.campaigns.test_redis_ledger import _check_rate
from tests.cli.test_cli import ENTRY_POINT, cli_env, numbers_csv
from tests.soak import soak

NUMBERS = soak(5000, 1500)
RATE = 300
CONCURRENCY = 8  # campaign-wide: two workers, four each when both run
PROCESS_TIMEOUT = 120.0


def _worker(server: TalkstackEmulator, key: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(ENTRY_POINT), *args],
        env=cli_env(server, key),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return process.communicate(timeout=PROCESS_TIMEOUT)
    finally:
        if process.poll() is None:  # a hang fails the test and leaves no process behind
            process.kill()
            process.communicate(timeout=30)


@pytest.mark.talkstack_emulator(status_interval=600)
def test_a_fleet_with_a_killed_worker_places_every_number_once_within_its_limits(
    talkstack_server: TalkstackEmulator, redis_url: str, tmp_path: Path
) -> None:
    rng = random.Random(20261201)
    seed = talkstack_server.seed()
    talkstack_server.faults.inject(Fault.latency(0.02), on="calls.make")
    csv = tmp_path / "numbers.csv"
    numbers = numbers_csv(csv, NUMBERS)
    key = seed.account.api_key
    campaign = ["--ledger", redis_url, "--campaign", "acceptance"]
    dial = [
        "calls", "dial", "--file", str(csv), "--project", seed.project_id, "--agent",
        seed.agent_id, "--concurrency", str(CONCURRENCY), "--rate", str(RATE),
        "--progress", "never", *campaign,
    ]  # fmt: skip

    survivor = _worker(talkstack_server, key, *dial)
    doomed = _worker(talkstack_server, key, *dial)
    time.sleep(rng.uniform(2.0, 5.0) if NUMBERS == 5000 else rng.uniform(1.2, 2.5))
    assert doomed.poll() is None, "the worker finished before it could be killed"
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate(timeout=30)
    assert len(talkstack_server.placed_numbers()) < NUMBERS, "killed after the campaign ended"
    redelivered = _worker(talkstack_server, key, *dial)
    for process in (survivor, redelivered):
        _, stderr = _finish(process)
        assert process.returncode in (0, 1), stderr

    made = collections.Counter(talkstack_server.placed_numbers())
    assert max(made.values()) == 1, "a number was dialled twice"

    reconcile = _worker(
        talkstack_server,
        key,
        "calls", "reconcile", "--project", seed.project_id, "--from", seed.phone_number,
        "--grace-minutes", "0.001", *campaign,
    )  # fmt: skip
    settled, stderr = _finish(reconcile)
    assert reconcile.returncode == 0, stderr
    assert " unknown: " in settled
    last = _worker(talkstack_server, key, *dial)
    _, stderr = _finish(last)
    assert last.returncode == 0, stderr

    made = collections.Counter(talkstack_server.placed_numbers())
    assert set(made) == set(numbers), "an input was never placed"
    assert set(made.values()) == {1}, "a number was dialled twice"
    status = _worker(
        talkstack_server, key, "campaigns", "status", "acceptance", "--ledger", redis_url,
        "--format", "json",
    )  # fmt: skip
    stdout, stderr = _finish(status)
    assert status.returncode == 0, stderr
    counts = json.loads(stdout)
    assert counts["placed"] == NUMBERS, "every input has exactly one final state: placed"
    assert counts["in_flight"] == counts["may_have_been_placed"] == counts["not_placed"] == 0
    assert talkstack_server.requests.max_in_flight("calls.make") <= CONCURRENCY
    _check_rate(talkstack_server, RATE)
    print(f"reconcile: {settled.strip()}")
