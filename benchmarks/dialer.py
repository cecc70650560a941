"""What ``calls.dial_many`` costs over placing the same calls by hand.

``python benchmarks/dialer.py`` (``BENCH_REPS``, default 5): 5,000 placements, 50 in flight,
against the canned server (``benchmarks/server.py``, its own process), each way in turn:

* baseline: ``asyncio.gather`` of ``client.calls.make`` under a semaphore, as one writes it
  by hand (no de-duplication, no outcome per input, no journal);
* ``dial_many``: the same numbers, no journal;
* ``dial_many`` with a journal (each attempt fsynced before it is sent, group-committed).

Prints placements per second (median of the rounds) and each one's ratio to the baseline in
the same round, and the client's CPU time per placement.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from server import API_KEY, PROJECT_ID, serving

from talkstack_async import AsyncTalkstack

PLACEMENTS = 5_000
IN_FLIGHT = 50
REPS = int(os.environ.get("BENCH_REPS", "5"))
AGENT_ID = "65f0c0ffee0000000000a9e7"
NUMBERS = [f"+1415{5_000_000 + i:07d}" for i in range(PLACEMENTS)]


async def by_hand(client: AsyncTalkstack) -> None:
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one(number: str) -> None:
        async with slots:
            await client.calls.make(number, project_id=PROJECT_ID, agent_id=AGENT_ID)

    await asyncio.gather(*(one(n) for n in NUMBERS))


async def dialled(client: AsyncTalkstack, journal: Path | None = None) -> None:
    run = client.calls.dial_many(
        NUMBERS,
        project_id=PROJECT_ID,
        agent_id=AGENT_ID,
        concurrency=IN_FLIGHT,
        journal=journal,
        on_rate_limit=None,
    )
    placed = sum([outcome.placed async for outcome in run])
    assert placed == PLACEMENTS, placed


async def journalled(client: AsyncTalkstack) -> None:
    with tempfile.TemporaryDirectory() as directory:
        await dialled(client, Path(directory) / "campaign.jsonl")


Way = Callable[[AsyncTalkstack], Awaitable[None]]


async def measure(base: str, way: Way) -> tuple[float, float]:
    async with AsyncTalkstack(api_key=API_KEY, base_url=base, calls_base_url=base) as client:
        started, cpu = time.perf_counter(), time.process_time()
        await way(client)
        wall, used = time.perf_counter() - started, time.process_time() - cpu
    return PLACEMENTS / wall, used / PLACEMENTS * 1e6


def main() -> None:
    ways = {"by hand (baseline)": by_hand, "dial_many": dialled, "dial_many + journal": journalled}
    rates: dict[str, list[float]] = {name: [] for name in ways}
    cpus: dict[str, list[float]] = {name: [] for name in ways}
    with serving() as base:
        asyncio.run(measure(base, by_hand))  # warm up: connections, imports, caches
        for _ in range(REPS):
            for name, way in ways.items():
                rate, cpu = asyncio.run(measure(base, way))
                rates[name].append(rate)
                cpus[name].append(cpu)
    baseline = rates["by hand (baseline)"]
    print(f"{PLACEMENTS:,} placements, {IN_FLIGHT} in flight, {REPS} rounds")
    print(f"{'':24} {'placements/s':>13} {'ratio':>7} {'cpu us':>8}")
    for name in ways:
        ratio = statistics.median(r / b for r, b in zip(rates[name], baseline, strict=True))
        print(f"{name:24} {statistics.median(rates[name]):13,.0f} {ratio:7.2f}x "
              f"{statistics.median(cpus[name]):8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
