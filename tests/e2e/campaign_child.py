"""One dial run of the kill -9 tests (``test_campaign_kills``): ``python -m
tests.e2e.campaign_child CONFIG.json``. Its clock runs ``speed`` times faster than real time
from a moment fixed by the test, so it goes on across the processes the test kills and starts
again; each outcome is written to ``outcomes`` as a JSON line."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import IO, Any

from talkstack_async import AsyncTalkstack, CallingWindow, RedialPolicy


class ScaledClock:
    """Real time, ``speed`` times faster, from ``epoch_fake`` at ``epoch_real``."""

    def __init__(self, epoch_real: float, epoch_fake: datetime, speed: float) -> None:
        self.epoch_real, self.epoch_fake, self.speed = epoch_real, epoch_fake, speed

    def now(self) -> datetime:
        return self.epoch_fake + timedelta(seconds=(time.time() - self.epoch_real) * self.speed)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speed)


async def main(config: dict[str, Any], out: IO[str]) -> None:
    clock = ScaledClock(
        config["epoch_real"], datetime.fromisoformat(config["epoch_fake"]), config["speed"]
    )
    options: dict[str, Any] = {}
    if config["mode"] == "redial":
        options["redial"] = RedialPolicy(times=2, after=timedelta(seconds=60))
    if config["mode"] == "window":
        options["window"] = CallingWindow(start=clock_time(9), end=clock_time(20))
    async with AsyncTalkstack(
        api_key=config["api_key"],
        base_url=config["base_url"],
        calls_base_url=config["calls_base_url"],
    ) as client:
        run = client.calls.dial_many(
            config["numbers"],
            project_id=config["project"],
            agent_id=config["agent"],
            concurrency=config["concurrency"],
            journal=config["journal"],
            clock=clock,
            **options,
        )
        async for outcome in run:
            record = {
                "number": outcome.number,
                "status": outcome.status.value,
                "error": type(outcome.error).__name__ if outcome.error else None,
                "detail": outcome.detail,
                "attempts": [a.ended for a in outcome.attempts],
            }
            out.write(json.dumps(record) + "\n")
            out.flush()


if __name__ == "__main__":
    settings = json.loads(Path(sys.argv[1]).read_text())
    with Path(settings["outcomes"]).open("a", encoding="utf-8") as outcomes:
        asyncio.run(main(settings, outcomes))
