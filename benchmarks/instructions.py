"""Instructions per call, counted by valgrind: W1 and W2 measured without the wall clock.

``python benchmarks/instructions.py`` (needs ``valgrind`` on PATH; not part of ``nox -s bench``).
On a shared VM the throughput ratios of ``run.py`` move by 10-20 % from run to run; a count of
the client's executed instructions does not. Each contender runs under callgrind twice, with
500 and 1,500 calls, and the difference over the 1,000 extra calls is the cost per call, so
start-up, imports and warm-up drop out. The server runs natively in its own process.

A ratio here is raw aiohttp's instructions over the contender's: 0.93x means the contender
executes 7.5 % more instructions per call. It is a lower bound of the wall-clock cost: extra
Python between aiohttp's own code also costs cache and predictor misses the count ignores
(the calibration rows of ``run.py`` show how much on the machine at hand).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

SMALL, LARGE = 500, 1_500
CONTENDERS = {
    "W1 sequential": ("raw_sequential", "sdk_sequential"),
    "W2 100 in flight": ("raw_concurrent", "sdk_concurrent"),
}


def child(workload: str, base: str, calls: int) -> None:
    """Run one workload of ``run.py`` with ``calls`` calls (under valgrind)."""
    sys.path.insert(0, str(Path(__file__).parent))
    import run

    run.W1_CALLS = run.W2_CALLS = calls
    asyncio.run(getattr(run, workload)(base))


def instructions(workload: str, base: str, calls: int) -> int:
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, __file__, "--child", workload, base, str(calls),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from callgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_call(workload: str, base: str) -> float:
    return (instructions(workload, base, LARGE) - instructions(workload, base, SMALL)) / (
        LARGE - SMALL
    )


def main() -> int:
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing to count", file=sys.stderr)
        return 1
    sys.path.insert(0, str(Path(__file__).parent))
    from server import serving

    with serving() as base:
        print(f"{'workload':<20} {'raw aiohttp':>14} {'talkstack_async':>16} ratio")
        for name, (raw, sdk) in CONTENDERS.items():
            raw_count, sdk_count = per_call(raw, base), per_call(sdk, base)
            ratio = raw_count / sdk_count
            print(f"{name:<20} {raw_count:>14,.0f} {sdk_count:>16,.0f} {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        sys.exit(0)
    os.environ.setdefault("PYTHONHASHSEED", "0")  # the same dict layouts in every child
    sys.exit(main())
