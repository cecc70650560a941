"""Resuming a big campaign: peak memory and the event loop's longest stall.

``python benchmarks/resume.py [REQUESTS]`` (default 1,000,000) writes a journal in which every
request was attempted and placed (what a crashed campaign of that size leaves), and a CSV of
the same numbers, then in a fresh process resumes it through ``calls.dial_many`` with
``CallRequestFile``: every input is read, found in the journal and skipped; nothing is sent.

It prints the process's peak RSS beside the same process's RSS before the resume (the
interpreter with aiohttp and the SDK imported), the resume's wall time, and the longest gap
between the ticks of a 10 ms timer task during it: that is how long the loop was blocked.
The target (issue "Every promise true at the edges"): under 150 MB peak for a million.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_campaign(directory: Path, count: int) -> tuple[Path, Path]:
    """A CSV of ``count`` numbers and a journal that has placed every one of them."""
    from talkstack_async.campaigns._requests import request_digest
    from talkstack_async.models.dial import CallRequest

    csv, journal = directory / "numbers.csv", directory / "campaign.jsonl"
    with csv.open("w") as rows, journal.open("w") as records:
        rows.write("number\n")
        records.write(json.dumps({"talkstack_journal": 1, "created": "2026-12-01T00:00:00Z"}))
        records.write("\n")
        for n in range(count):
            number = f"+1{2_000_000_000 + n:010d}"
            rows.write(number + "\n")
            key = request_digest(CallRequest(number, "P1", "A1")).hex()
            sid = "CA" + hashlib.md5(key.encode(), usedforsecurity=False).hexdigest()
            records.write(
                f'{{"event":"attempt","key":"{key}","index":{n},"number":"{number}",'
                f'"at":"2026-12-01T00:00:00.000Z","run":"0badc0de"}}\n'
                f'{{"event":"placed","key":"{key}","sid":"{sid}","run":"0badc0de"}}\n'
            )
    return csv, journal


async def resume(csv: Path, journal: Path) -> dict[str, float]:
    from talkstack_async import AsyncTalkstack, CallRequestFile

    longest = 0.0

    async def ticker() -> None:
        nonlocal longest
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(0.01)
            now = loop.time()
            longest = max(longest, now - last - 0.01)
            last = now

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    skipped = 0
    async with AsyncTalkstack(api_key="k" * 64, base_url="http://127.0.0.1:9") as client:
        async for outcome in client.calls.dial_many(
            CallRequestFile(csv), project_id="P1", agent_id="A1", journal=journal
        ):
            skipped += outcome.status.value == "skipped"
    elapsed = time.perf_counter() - started
    tick.cancel()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "skipped": skipped,
        "baseline_mb": before,
        "peak_mb": peak,
        "seconds": elapsed,
        "longest_stall_ms": longest * 1000,
    }


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        csv, journal = Path(sys.argv[2]), Path(sys.argv[3])
        print(json.dumps(asyncio.run(resume(csv, journal))))
        return
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        csv, journal = write_campaign(Path(directory), count)
        size = os.path.getsize(journal) / 2**20
        print(f"wrote a {count:,}-request journal ({size:.0f} MB) in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(csv), str(journal)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(child.stdout)
    assert result["skipped"] == count, result
    print(
        f"resume of {count:,}: peak RSS {result['peak_mb']:.0f} MB "
        f"(the process before resuming: {result['baseline_mb']:.0f} MB; "
        f"growth {result['peak_mb'] - result['baseline_mb']:.0f} MB), "
        f"{result['seconds']:.1f} s, longest loop stall {result['longest_stall_ms']:.0f} ms"
    )


if __name__ == "__main__":
    main()
