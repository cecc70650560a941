"""Reliability at scale against the emulator: faults, token storms, hanging servers, cancels."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import time
from typing import Any

import pytest

from talkstack_async import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AsyncTalkstack,
    AuthenticationError,
    Timeouts,
)
from talkstack_async.testing import Fault, TalkstackEmulator
from talkstack_sync import Talkstack
from tests.e2e.conftest import run
from tests.soak import soak

OPERATIONS = soak(10_000, 3_000)
PLACEMENT_SHARE = 10  # one operation in ten places a call


@pytest.mark.talkstack_emulator(fault_seed=11, status_interval=600)
async def test_ten_thousand_mixed_operations_under_ten_percent_faults_lose_nothing(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed(calls=500)
    faults = [
        Fault.error(500),
        Fault.error(503),
        Fault.rate_limited(retry_after=0),
        Fault.reset(),
        Fault.hang(),  # the client's timeout ends it
    ]
    for fault in faults:
        talkstack_server.faults.inject(fault, probability=0.02)
    ids = {"project_id": seed.project_id, "agent_id": seed.agent_id}
    options = talkstack_server.client_options(seed.account)
    async with AsyncTalkstack(**options, timeout=Timeouts(total=0.5), max_retries=8) as client:
        reads = [
            lambda: client.projects.get(seed.project_id),
            lambda: client.agents.get(seed.agent_id, project_id=seed.project_id),
            lambda: client.agents.list(project_id=seed.project_id),
            lambda: client.voices.list(),
            lambda: client.projects.update(seed.project_id, description="same"),  # idempotent
            lambda: anext(client.calls.history_pages(project_id=seed.project_id, page_size=50)),
        ]
        gate = asyncio.Semaphore(100)

        async def operation(n: int) -> tuple[str, Any]:
            async with gate:
                try:
                    if n % PLACEMENT_SHARE == 0:
                        number = f"+1415{n:07d}"
                        return "placement", await client.calls.make(number, **ids)
                    return "read", await reads[n % len(reads)]()
                except Exception as exc:
                    return ("placement" if n % PLACEMENT_SHARE == 0 else "read"), exc

        results = await asyncio.gather(*(operation(n) for n in range(OPERATIONS)))

    assert len(results) == OPERATIONS  # nothing lost
    failures = [(kind, r) for kind, r in results if isinstance(r, BaseException)]
    # Reads and idempotent writes ride through every fault by retrying.
    assert [r for kind, r in failures if kind == "read"] == []
    # Every failure is typed; a placement that failed is never re-sent.
    assert all(isinstance(r, APIError) for _, r in failures)
    made = collections.Counter(r.json["number"] for r in talkstack_server.requests.of("calls.make"))
    assert len(made) == OPERATIONS // PLACEMENT_SHARE
    assert max(made.values()) == 1
    injected = sum(1 for r in talkstack_server.requests.all() if r.fault is not None)
    total = len(talkstack_server.requests.all())
    assert 0.07 * total <= injected <= 0.13 * total
    placed = collections.Counter(talkstack_server.placed_numbers())
    assert max(placed.values()) == 1
    print(  # the figures for the record (pytest -s)
        f"\n{OPERATIONS} operations, {total} requests, {injected} faults injected, "
        f"{len(failures)} placements failed (typed), {len(placed)} calls placed once each"
    )


@pytest.mark.talkstack_emulator(token_ttl=3600)
async def test_five_hundred_operations_on_an_expired_token_cause_one_refresh(
    facade: str, connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    account = talkstack_server.create_account()
    client = connect(email=account.email, password=account.password)
    project = await run(client.projects.create(name="P", description="d"))
    talkstack_server.expire_tokens()
    if facade == "async":
        results = await asyncio.gather(*(client.projects.get(project.id) for _ in range(500)))
    else:
        results = await asyncio.gather(
            *(asyncio.to_thread(client.projects.get, project.id) for _ in range(500))
        )
    assert {r.id for r in results} == {project.id}
    assert talkstack_server.refresh_count == 1


@pytest.mark.talkstack_emulator(token_ttl=3600)
async def test_a_failing_refresh_fails_every_waiter_promptly(
    talkstack_server: TalkstackEmulator,
) -> None:
    account = talkstack_server.create_account()
    login_result = None
    async with AsyncTalkstack(**talkstack_server.client_options()) as anonymous:
        login_result = await anonymous.auth.login(email=account.email, password=account.password)
    options = talkstack_server.client_options()
    async with AsyncTalkstack(
        **options, token=login_result.access_token, refresh_token=login_result.refresh_token
    ) as client:
        talkstack_server.expire_tokens()
        talkstack_server.faults.inject(Fault.error(401), on="auth.refresh")
        started = time.monotonic()
        results = await asyncio.wait_for(
            asyncio.gather(*(client.voices.list() for _ in range(500)), return_exceptions=True),
            timeout=30,
        )
    assert all(isinstance(r, AuthenticationError) for r in results)
    assert talkstack_server.requests.count("auth.refresh") == 1
    assert time.monotonic() - started < 10  # no hang


async def test_a_server_that_never_answers_times_out_when_configured(
    facade: str, connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed()
    talkstack_server.faults.inject(Fault.hang(), on="projects.get")
    client = connect(api_key=seed.account.api_key, timeout=0.3, max_retries=0)
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as caught:
        await run(client.projects.get(seed.project_id))
    assert 0.25 < time.monotonic() - started < 2.0
    assert isinstance(caught.value, APIConnectionError)
    assert caught.value.request_sent  # it reached the server: outcome unknown in general


async def test_cancelling_mid_request_and_mid_pagination_leaves_nothing_open(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed(calls=300)
    talkstack_server.faults.inject(Fault.latency(5), on="projects.get")
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
        request = asyncio.create_task(client.projects.get(seed.project_id))
        await asyncio.sleep(0.2)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request

        # Page 1 comes at once; page 2, asked for ahead while page 1 is read, hangs.
        talkstack_server.faults.inject(Fault.latency(0), on="calls.history", times=1)
        talkstack_server.faults.inject(Fault.latency(5), on="calls.history")
        pages = client.calls.history_pages(project_id=seed.project_id, page_size=20)
        await anext(pages)
        page_task = asyncio.create_task(anext(pages))
        await asyncio.sleep(0.2)
        page_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await page_task
        await pages.aclose()  # type: ignore[attr-defined]

        connector = client._sessions.get().connector
        assert connector is not None
        assert not connector._acquired  # no connection is checked out
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not [t for t in others if "talkstack" in repr(t).lower()]


def _checked_out(client: AsyncTalkstack) -> int:
    connector = client._sessions.get().connector
    assert connector is not None
    return len(connector._acquired)


async def _idle(client: AsyncTalkstack) -> int:
    # aiohttp hands back a connection whose body writer was cancelled from that writer's done
    # callback, one loop turn after the request's task ended.
    await asyncio.sleep(0)
    return _checked_out(client)


def _dial_list(count: int) -> list[str]:
    return [f"+1415556{i:04d}" for i in range(count)]


async def test_cancelling_a_dial_midway_leaves_nothing_open(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed()
    talkstack_server.faults.inject(Fault.latency(0.2), on="calls.make")
    outcomes: list[Any] = []
    thirty = asyncio.Event()
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
        run = client.calls.dial_many(
            _dial_list(500), project_id=seed.project_id, agent_id=seed.agent_id, concurrency=20
        )

        async def consume() -> None:
            async for outcome in run:
                outcomes.append(outcome)
                if len(outcomes) == 30:
                    thirty.set()

        consumer = asyncio.create_task(consume())
        await thirty.wait()
        consumer.cancel()  # with 20 placements in flight
        with pytest.raises(asyncio.CancelledError):
            await consumer
        assert await _idle(client) == 0
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not [t for t in others if "talkstack" in repr(t).lower()]
    placed = talkstack_server.placed_numbers()
    assert len(placed) == len(set(placed))  # nobody twice
    assert 30 <= len(placed) < 500  # the run stopped


def test_stopping_a_blocking_dial_midway_leaves_no_thread_or_connection(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed()
    talkstack_server.faults.inject(Fault.latency(0.2), on="calls.make")
    before = set(threading.enumerate())
    with Talkstack(**talkstack_server.client_options(seed.account)) as client:
        outcomes = client.calls.dial_many(
            _dial_list(500), project_id=seed.project_id, agent_id=seed.agent_id, concurrency=20
        )
        with contextlib.closing(outcomes):
            for count, _ in enumerate(outcomes, 1):
                if count == 30:
                    break
        assert client._portal.call(_idle, client._async) == 0
    assert set(threading.enumerate()) <= before  # the portal thread is gone
    placed = talkstack_server.placed_numbers()
    assert len(placed) == len(set(placed))
    assert 30 <= len(placed) < 500
