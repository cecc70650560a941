"""A campaign whose journal's disk fills up, on a real full filesystem (a small tmpfs the test
mounts; root only, skipped elsewhere; CI runs as root).

What each outcome says is what a re-run with the journal does: ``NOT_ATTEMPTED`` is dialled by
the re-run, ``PLACED`` and ``UNKNOWN`` are skipped. Nothing is written after the failed write,
the journal still ends with a complete record, and no "exception was never retrieved" is left.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from talkstack_async import AsyncTalkstack, DialOutcome, DialStatus, JournalWriteError
from talkstack_async.testing import Fault, TalkstackEmulator

NUMBERS = [f"+1415777{n:04d}" for n in range(300)]
DISK = 512 * 1024
ROOM = 12 * 1024  # free bytes left for the journal: room for a few dozen placements


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if os.geteuid() != 0 or mount is None or umount is None:
        pytest.skip("mounting a tmpfs needs root")
    mountpoint = tmp_path / "disk"
    mountpoint.mkdir()
    mounted = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={DISK}", "tmpfs", str(mountpoint)],
        capture_output=True,
        timeout=30,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run([umount, "-l", str(mountpoint)], timeout=30, check=False)


async def _dial(
    client: AsyncTalkstack, seed: object, journal: Path, into: list[DialOutcome] | None = None
) -> list[DialOutcome]:
    outcomes = [] if into is None else into
    async for outcome in client.calls.dial_many(
        NUMBERS,
        project_id=seed.project_id,  # type: ignore[attr-defined]
        agent_id=seed.agent_id,  # type: ignore[attr-defined]
        concurrency=16,
        journal=journal,
    ):
        outcomes.append(outcome)
    return outcomes


async def test_a_full_disk_fails_the_run_and_every_outcome_says_what_a_rerun_does(
    talkstack_server: TalkstackEmulator, small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="asyncio")
    seed = talkstack_server.seed()
    talkstack_server.faults.inject(Fault.latency(0.005), on="calls.make")
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (DISK - ROOM))
    journal = small_disk / "campaign.jsonl"
    first: list[DialOutcome] = []
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
        with pytest.raises(JournalWriteError) as caught:
            await _dial(client, seed, journal, into=first)
        assert caught.value.rolled_back
        assert "No space left" in str(caught.value)
        size = journal.stat().st_size
        data = journal.read_bytes()
        assert data.endswith(b"\n")  # rolled back to a complete record

        # Every input has exactly one outcome, and the run stopped placing at once.
        assert sorted(o.index for o in first) == list(range(len(NUMBERS)))
        by_status = {s: [o for o in first if o.status is s] for s in DialStatus}
        assert by_status[DialStatus.PLACED]
        assert by_status[DialStatus.NOT_ATTEMPTED]
        assert not by_status[DialStatus.FAILED]
        assert journal.stat().st_size == size  # nothing written after the failure

        filler.unlink()  # room again: resume
        second = {o.index: o for o in await _dial(client, seed, journal)}

    assert len(second) == len(NUMBERS)
    for outcome in first:
        again = second[outcome.index]
        if outcome.status is DialStatus.NOT_ATTEMPTED:
            assert again.status is DialStatus.PLACED, (outcome, again)
        else:  # PLACED or UNKNOWN: the re-run skips it, as the outcome said
            assert again.status is DialStatus.SKIPPED, (outcome, again)
    placed = talkstack_server.placed_numbers()
    assert len(placed) == len(set(placed))  # nobody twice
    never = set(NUMBERS) - set(placed)
    unknown = {o.number for o in first if o.status is DialStatus.UNKNOWN}
    assert never <= unknown  # only what the first run said may have been placed
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
