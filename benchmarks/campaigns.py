"""Campaigns across processes: what the ledger costs, how a fleet scales, whether a rate holds.

``python benchmarks/campaigns.py`` (needs ``redis-server`` on PATH; started here on a free
loopback port with ``appendonly yes``, ``appendfsync always``, as the ledger asks for). Three
measurements, each against a baseline of the same run:

1. Ledger cost per placement (µs): the ledger's claim and result for 5,000 placements, 50 at
   a time, through the file journal (fsynced, group-committed) and through Redis (one atomic
   script per claim, one per result), beside no ledger at all.
2. Throughput with 1, 2 and 4 ``talkstack calls dial`` processes on one Redis campaign against
   the emulator, whose make-call answers after 50 ms (so the emulator, which mostly sleeps, is
   not the bottleneck), each process with 8 placements in flight (campaign concurrency
   8 x processes): placements per second and the ratio to one process.
3. The rate held: 4 processes on one campaign with ``--rate 100``: the most placements the
   emulator saw in any one-second window, and the mean rate.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from talkstack_async.campaigns import RedisLedger  # noqa: E402
from talkstack_async.campaigns.ledgers._journal import DialJournal  # noqa: E402
from talkstack_async.testing import EmulatorThread, Fault  # noqa: E402
from tests.campaigns.conftest import RedisServer  # noqa: E402

PLACEMENTS = 5000
IN_FLIGHT = 50
ENTRY_POINT = Path(sys.executable).with_name("talkstack")


async def _ledger_cost(ledger: Any) -> float:
    """Seconds per placement for the claim and the result, IN_FLIGHT at a time."""
    semaphore = asyncio.Semaphore(IN_FLIGHT)

    async def one(i: int) -> None:
        key = hashlib.blake2b(str(i).encode(), digest_size=16).digest()
        async with semaphore:
            if ledger is None:
                await asyncio.sleep(0)
                return
            admitted = ledger.admit(key)
            if not isinstance(admitted, str) and hasattr(admitted, "__await__"):
                await admitted
            await ledger.submit(
                {"event": "attempt", "key": key.hex(), "index": i, "number": f"+1415{i:07d}"}
            )
            await ledger.submit({"event": "placed", "key": key.hex(), "sid": f"CA{i}"})

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(PLACEMENTS)))
    return (time.perf_counter() - started) / PLACEMENTS


async def ledger_costs(redis_url: str, directory: Path) -> dict[str, float]:
    costs = {"none": await _ledger_cost(None)}
    journal = await DialJournal.open(directory / "bench.jsonl")
    costs["file journal"] = await _ledger_cost(journal)
    await journal.flush()
    journal.close()
    ledger = await RedisLedger.open(redis_url, "bench-cost")
    costs["redis"] = await _ledger_cost(ledger)
    await ledger.close()
    return costs


def _csv(path: Path, count: int, offset: int) -> Path:
    with path.open("w") as file:
        file.write("number\n")
        file.writelines(f"+1{3_000_000_000 + offset + i:010d}\n" for i in range(count))
    return path


def fleet(
    server: Any,
    seed: Any,
    redis_url: str,
    directory: Path,
    processes: int,
    count: int,
    **flags: Any,
) -> tuple[float, list[float]]:
    """Wall seconds for ``processes`` CLI workers to dial ``count`` numbers on one campaign,
    and the times the emulator received each placement."""
    campaign = f"bench-{processes}-{time.monotonic_ns()}"
    csv = _csv(directory / f"{campaign}.csv", count, processes * 1_000_000)
    concurrency = flags.get("concurrency", 8 * processes)
    command = [
        str(ENTRY_POINT), "calls", "dial", "--file", str(csv), "--project", seed.project_id,
        "--agent", seed.agent_id, "--concurrency", str(concurrency), "--progress", "never",
        "--ledger", redis_url, "--campaign", campaign,
    ]  # fmt: skip
    if "rate" in flags:
        command += ["--rate", str(flags["rate"])]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKSTACK_")}
    env.update(
        TALKSTACK_BASE_URL=server.base_url,
        TALKSTACK_CALLS_BASE_URL=server.calls_base_url,
        TALKSTACK_API_KEY=seed.account.api_key,
    )
    server.requests.clear()
    started = time.perf_counter()
    workers = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(processes)
    ]
    for worker in workers:
        _, stderr = worker.communicate(timeout=600)
        if worker.returncode != 0:
            raise SystemExit(f"a worker failed: {stderr.decode()[-2000:]}")
    elapsed = time.perf_counter() - started
    times = sorted(r.received_at for r in server.requests.of("calls.make"))
    if len(times) != count:
        raise SystemExit(f"{len(times)} placements for {count} numbers")
    return elapsed, times


def _busiest_second(times: list[float]) -> int:
    most = start = 0
    for end, at in enumerate(times):
        while times[start] <= at - 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        redis_server = RedisServer(directory).start()
        emulator_thread = EmulatorThread(status_interval=600)
        server = emulator_thread.start()
        try:
            seed = server.seed()
            costs = asyncio.run(ledger_costs(redis_server.url, directory))
            print(f"1. ledger cost per placement ({PLACEMENTS:,}, {IN_FLIGHT} at a time)")
            for name, seconds in costs.items():
                extra = seconds - costs["none"]
                print(f"   {name:<14} {seconds * 1e6:8.1f} us   (+{extra * 1e6:.1f} us over none)")

            server.faults.inject(Fault.latency(0.05), on="calls.make")
            print("2. throughput, 8 in flight per process, make-call answering in 50 ms")
            base = None
            for processes in (1, 2, 4):
                count = 800 * processes
                elapsed, times = fleet(server, seed, redis_server.url, directory, processes, count)
                span = times[-1] - times[0]
                rate = (len(times) - 1) / span
                base = base or rate
                print(
                    f"   {processes} process(es): {count:,} placed, {rate:7.1f} placements/s "
                    f"between first and last ({elapsed:.1f} s with start-up), {rate / base:.2f}x"
                )

            print("3. rate held: 4 processes, --rate 100, 1,200 numbers")
            _, times = fleet(
                server, seed, redis_server.url, directory, 4, 1200, rate=100, concurrency=32
            )
            span = times[-1] - times[0]
            print(
                f"   busiest one-second window: {_busiest_second(times)} placements "
                f"(limit 100); mean {(len(times) - 1) / span:.1f}/s"
            )
        finally:
            emulator_thread.stop()
            redis_server.stop()


if __name__ == "__main__":
    main()
