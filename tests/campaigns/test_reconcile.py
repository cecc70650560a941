"""Reconciling unknowns from the call history, on both ledgers (over real sockets): a lost
answer to a placement that happened is found and recorded as placed; one that never reached
the server is recorded as not placed once the grace period is over, and a re-run dials only it.
"""

from __future__ import annotations

import collections
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from talkstack_async import AsyncTalkstack, DialStatus, ValidationError
from talkstack_async.campaigns import RedisLedger, reconcile
from talkstack_async.campaigns.ledgers._journal import DialJournal
from talkstack_async.testing import Fault, TalkstackEmulator

NUMBERS = [f"+1415{8_000_000 + i:07d}" for i in range(10)]


async def _dial(client: AsyncTalkstack, seed: Any, **ledger: Any) -> list[Any]:
    return [
        outcome
        async for outcome in client.calls.dial_many(
            NUMBERS, project_id=seed.project_id, agent_id=seed.agent_id, concurrency=1, **ledger
        )
    ]


@pytest.mark.parametrize("kind", ["journal", "redis"])
@pytest.mark.talkstack_emulator(status_interval=600)
async def test_reconcile_settles_unknowns_and_a_re_run_dials_only_the_unplaced(
    kind: str, talkstack_server: TalkstackEmulator, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    seed = talkstack_server.seed()
    if kind == "journal":
        path = tmp_path / "campaign.jsonl"
        where: dict[str, Any] = {"journal": path}

        async def open_ledger() -> Any:
            return await DialJournal.open(path)
    else:
        url = request.getfixturevalue("redis_url")
        where = {"ledger": url, "campaign": "reconcile"}

        async def open_ledger() -> Any:
            return await RedisLedger.open(url, "reconcile")

    # Three placements whose answer is lost after the server placed them, then three whose
    # connection drops before the server sees them: all six UNKNOWN.
    talkstack_server.faults.inject(Fault.reset(after_processing=True), on="calls.make", times=3)
    talkstack_server.faults.inject(Fault.reset(), on="calls.make", times=3)
    async with AsyncTalkstack(
        api_key=seed.account.api_key, **talkstack_server.client_options()
    ) as client:
        first = await _dial(client, seed, **where)
        statuses = collections.Counter(o.status for o in first)
        assert statuses == {DialStatus.UNKNOWN: 6, DialStatus.PLACED: 4}
        placed_before = set(talkstack_server.placed_numbers())
        assert len(placed_before) == 7

        ledger = await open_ledger()
        try:
            soon = await reconcile(client, ledger, project_id=seed.project_id)
            assert (soon.placed, soon.not_placed, soon.pending) == (3, 0, 3)
            found = {item.unknown.number: item.sid for item in soon.items if item.sid}
            history = {c.to: c.sid async for c in client.calls.history(project_id=seed.project_id)}
            assert found == {number: history[number] for number in found}
            later = await reconcile(
                client,
                ledger,
                project_id=seed.project_id,
                from_number=seed.phone_number,
                now=lambda: datetime.now(timezone.utc) + timedelta(minutes=20),
            )
            assert (later.placed, later.not_placed, later.pending) == (0, 3, 0)
        finally:
            closing = ledger.close()
            if closing is not None:
                await closing

        again = await _dial(client, seed, **where)
    made = collections.Counter(talkstack_server.placed_numbers())
    assert set(made) == set(NUMBERS)
    assert set(made.values()) == {1}, "a number was dialled twice"
    redialled = {o.number for o in again if o.status is DialStatus.PLACED}
    assert redialled == set(NUMBERS) - placed_before
    skipped_with_sid = [o for o in again if o.status is DialStatus.SKIPPED and o.call is not None]
    assert len(skipped_with_sid) == 7


async def test_reconcile_checks_its_arguments(talkstack_server: TalkstackEmulator) -> None:
    async with AsyncTalkstack(api_key="k" * 40, **talkstack_server.client_options()) as client:
        with pytest.raises(ValidationError, match="grace"):
            await reconcile(client, _Empty(), project_id="p1", grace=-timedelta(seconds=1))  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="from_number"):
            await reconcile(client, _Empty(), project_id="p1", from_number="555")  # type: ignore[arg-type]


class _Empty:
    async def unknowns(self) -> Any:
        return
        yield
