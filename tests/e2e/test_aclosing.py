"""Leaving ``contextlib.aclosing(...)`` around ``dial_many`` or ``history`` stops everything
there and then: no talkstack task is left, the journal can be reopened at once, and the page
request ahead is finished."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from talkstack_async import AsyncTalkstack, DialStatus
from talkstack_async.campaigns.ledgers._journal import DialJournal
from talkstack_async.testing import Fault, TalkstackEmulator


def _others() -> set[asyncio.Task[object]]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


async def test_leaving_aclosing_on_dial_many_stops_the_run_and_frees_the_journal(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed()
    talkstack_server.faults.inject(Fault.latency(0.05), on="calls.make")
    journal = tmp_path / "campaign.jsonl"
    numbers = [f"+1415555{n:04d}" for n in range(200)]
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
        before = _others()
        async with contextlib.aclosing(
            client.calls.dial_many(
                numbers,
                project_id=seed.project_id,
                agent_id=seed.agent_id,
                concurrency=20,
                journal=journal,
            )
        ) as outcomes:
            async for outcome in outcomes:
                assert outcome.status is DialStatus.PLACED
                break
        assert _others() == before
        DialJournal(journal).close()  # not in use: no waiting
        # And a re-run on the spot skips what the stopped one placed or may have placed.
        rerun = [
            o
            async for o in client.calls.dial_many(
                numbers, project_id=seed.project_id, agent_id=seed.agent_id, journal=journal
            )
        ]
    assert len(rerun) == 200
    sent = talkstack_server.requests.of("calls.make")
    assert len(sent) == 200  # one make-call per number, across the two runs
    # A request the stop cut short mid-body reached the server unreadable (no JSON): counted
    # above, unnamed here.
    made = [r.json["number"] for r in sent if r.json is not None]
    assert len(made) == len(set(made)), "a number was dialled twice"


async def test_leaving_aclosing_on_history_leaves_no_request_ahead(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed(calls=500)
    talkstack_server.faults.inject(Fault.latency(0.2), on="calls.history")
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
        before = _others()
        async with contextlib.aclosing(
            client.calls.history(project_id=seed.project_id, page_size=50)
        ) as calls:
            async for _ in calls:
                break
        assert _others() == before
