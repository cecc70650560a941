"""Fault injection and the request log, seen from a raw HTTP client."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time

import aiohttp
import pytest

from talkstack_async.testing import Fault, FaultKind, Seed, TalkstackEmulator
from tests.emulator.conftest import Raw


async def test_status_fault_answers_without_processing(
    keyed: Raw, seed: Seed, talkstack_server: TalkstackEmulator
) -> None:
    rule = talkstack_server.faults.inject(
        Fault.rate_limited(retry_after=2), on="calls.make", times=1
    )
    body = {"number": "+14155550123", "projectId": seed.project_id, "agentId": seed.agent_id}
    async with keyed.session.post(
        talkstack_server.calls_base_url + "/call/makeCall",
        json=body,
        headers={"x-api-key": seed.account.api_key},
    ) as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "2"
    assert talkstack_server.placed_numbers() == []  # not processed
    assert (await keyed("POST", "/call/makeCall", body, host="calls"))[0] == 200  # budget spent
    assert rule.triggered == 1
    made = talkstack_server.requests.of("calls.make")
    assert [(r.status, r.fault) for r in made] == [(429, FaultKind.STATUS), (200, None)]
    assert made[0].json == body
    assert made[0].body_sha256 == hashlib.sha256(json.dumps(body).encode()).hexdigest()
    assert made[0].host == "calls"


async def test_reset_before_and_after_processing(
    keyed: Raw, seed: Seed, talkstack_server: TalkstackEmulator
) -> None:
    body = {"number": "+14155550123", "projectId": seed.project_id, "agentId": seed.agent_id}
    talkstack_server.faults.inject(Fault.reset(), on="calls.make", times=1)
    with pytest.raises(aiohttp.ClientOSError):
        await keyed("POST", "/call/makeCall", body, host="calls")
    assert talkstack_server.placed_numbers() == []
    talkstack_server.faults.clear()
    talkstack_server.faults.inject(Fault.reset(after_processing=True), on="calls.make", times=1)
    with pytest.raises(aiohttp.ClientOSError):
        await keyed("POST", "/call/makeCall", body, host="calls")
    assert talkstack_server.placed_numbers() == ["+14155550123"]  # placed, but never answered
    statuses = [(r.status, r.fault) for r in talkstack_server.requests.of("calls.make")]
    assert statuses == [(None, FaultKind.RESET_BEFORE), (None, FaultKind.RESET_AFTER)]


async def test_latency_and_slow_body(keyed: Raw, talkstack_server: TalkstackEmulator) -> None:
    talkstack_server.faults.inject(Fault.latency(0.2), on="voices.list", times=1)
    started = time.monotonic()
    assert (await keyed("GET", "/voices"))[0] == 200
    assert time.monotonic() - started >= 0.2
    talkstack_server.faults.inject(Fault.slow_body(0.3), on="voices.list", times=1)
    started = time.monotonic()
    status, body = await keyed("GET", "/voices")
    assert (status, len(body["voices"])) == (200, 4)  # complete, only slow
    assert time.monotonic() - started >= 0.25


async def test_hang_never_answers(keyed: Raw, talkstack_server: TalkstackEmulator) -> None:
    talkstack_server.faults.inject(Fault.hang(), on="voices.list")
    with pytest.raises(asyncio.TimeoutError):
        async with keyed.session.get(
            talkstack_server.base_url + "/voices",
            headers={"x-api-key": keyed.api_key or ""},
            timeout=aiohttp.ClientTimeout(total=0.3),
        ):
            pass


async def test_probability_is_seeded_and_replayable() -> None:
    async def run() -> list[int]:
        async with TalkstackEmulator(fault_seed=7) as emulator, aiohttp.ClientSession() as session:
            account = emulator.create_account()
            emulator.faults.inject(Fault.error(503), on="voices.list", probability=0.3)
            raw = Raw(emulator, session, account.api_key)
            return [(await raw("GET", "/voices"))[0] for _ in range(60)]

    first, second = await run(), await run()
    assert first == second
    assert 5 <= first.count(503) <= 35
    assert set(first) == {200, 503}


async def test_faults_apply_only_to_their_operations(
    keyed: Raw, talkstack_server: TalkstackEmulator
) -> None:
    talkstack_server.faults.inject(Fault.error(500), on=["calls.make", "calls.batch"])
    assert (await keyed("GET", "/voices"))[0] == 200
    talkstack_server.faults.inject(Fault.error(502))  # every operation
    assert (await keyed("GET", "/voices"))[0] == 502
    with pytest.raises(ValueError, match="probability"):
        talkstack_server.faults.inject(Fault.error(), probability=1.5)


async def test_request_log_records_every_request(
    keyed: Raw, talkstack_server: TalkstackEmulator
) -> None:
    talkstack_server.requests.clear()
    await keyed("GET", "/voices")
    await keyed("GET", "/no/such/route")
    await keyed("POST", "/call/get-call-history", {"projectId": "x"}, params={"status": "busy"})
    log = talkstack_server.requests.all()
    assert [(r.operation, r.method, r.path, r.status) for r in log] == [
        ("voices.list", "GET", "/voices", 200),
        (None, "GET", "/no/such/route", 404),
        ("calls.history", "POST", "/call/get-call-history", 400),
    ]
    assert log[2].query == {"status": "busy"}
    assert log[2].json == {"projectId": "x"}
    assert log[0].received_at <= log[2].received_at
    assert talkstack_server.requests.count("voices.list") == 1
