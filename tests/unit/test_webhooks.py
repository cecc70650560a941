"""Call-status webhooks: the tolerant parser, and the aiohttp handler fed by the emulator."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import datetime, timezone
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from talkstack_async import (
    AsyncTalkstack,
    CallStatus,
    CallStatusEvent,
    WebhookPayloadError,
    call_status_webhook_handler,
    parse_call_status_event,
)
from talkstack_async.testing import TalkstackEmulator


def test_the_emulators_payload() -> None:
    body = json.dumps(
        {
            "callSid": "CA1",
            "status": "completed",
            "to": "+14155550100",
            "from": "+14155550199",
            "seconds": 42,
            "date": "Tue, 30 Jan 2024 13:39:53 +0000",
            "projectId": "p1",
            "agentId": "a1",
            "timestamp": "2024-01-30T13:40:35.123Z",
            "shiftId": "s-9",
        }
    ).encode()
    event = parse_call_status_event(body)
    assert (event.sid, event.status, event.project_id, event.agent_id) == (
        "CA1",
        CallStatus.COMPLETED,
        "p1",
        "a1",
    )
    assert event.is_final
    assert event.occurred_at == datetime(2024, 1, 30, 13, 40, 35, 123000, tzinfo=timezone.utc)
    assert event.call.duration_seconds == 42
    assert event.call.to == "+14155550100"
    assert event.call.extra["shiftId"] == "s-9"  # unknown fields are kept


def test_twilio_style_form_bodies_and_nested_objects() -> None:
    form = parse_call_status_event(
        b"CallSid=CA2&CallStatus=ringing&To=%2B14155550100",
        content_type="application/x-www-form-urlencoded",
    )
    assert (form.sid, form.status, form.is_final) == ("CA2", CallStatus.RINGING, False)
    assert form.call.sid == "CA2"
    nested = parse_call_status_event({"event": "status", "call": {"sid": "CA3", "status": "busy"}})
    assert (nested.sid, nested.status) == ("CA3", CallStatus.BUSY)
    epoch = parse_call_status_event({"call_id": 7, "status": "queued", "timestamp": 1706622035000})
    assert epoch.sid == "7"
    assert epoch.occurred_at == datetime(2024, 1, 30, 13, 40, 35, tzinfo=timezone.utc)


def test_unknown_statuses_and_odd_fields_do_not_lose_the_event() -> None:
    event = parse_call_status_event({"callSid": "CA4", "status": "transferred", "seconds": "n/a"})
    assert event.status == "transferred"
    assert event.status is not None
    assert not event.status.is_known
    assert not event.is_final  # unknown: not final
    assert event.call.extra["seconds"] == "n/a"
    assert parse_call_status_event({"callSid": "CA5", "timestamp": "soon"}).occurred_at is None


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'{"status": "completed"}', b'{"callSid": ""}', "\ufffe"],
)
def test_bodies_that_name_no_call_are_refused(body: Any) -> None:
    with pytest.raises(WebhookPayloadError):
        parse_call_status_event(body)


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def test_the_handler_checks_its_token_and_answers_each_case() -> None:
    received: list[CallStatusEvent] = []

    async def on_event(event: CallStatusEvent) -> None:
        received.append(event)

    app = web.Application()
    app.router.add_post("/hooks", call_status_webhook_handler(on_event, token="s3cret"))
    runner, url = await _serve(app)
    try:
        async with aiohttp.ClientSession() as http:
            good = {"callSid": "CA1", "status": "ringing"}
            cases = [
                (f"{url}/hooks", {"json": good}, 401),
                (f"{url}/hooks?token=wrong", {"json": good}, 401),
                (f"{url}/hooks?token=s3cret", {"data": b"nope"}, 400),
                (f"{url}/hooks?token=s3cret", {"data": io.BytesIO(b"x" * (2 << 20))}, 413),
                (f"{url}/hooks?token=s3cret", {"json": good}, 204),
                (f"{url}/hooks", {"json": good, "headers": {"X-Talkstack-Token": "s3cret"}}, 204),
            ]
            for target, options, status in cases:
                async with http.post(target, **options) as response:
                    assert response.status == status, (target, options.keys())
                    assert "s3cret" not in await response.text()
    finally:
        await runner.cleanup()
    assert [e.sid for e in received] == ["CA1", "CA1"]


@pytest.mark.talkstack_emulator(status_interval=0.02)
async def test_the_emulator_delivers_every_status_change_to_the_handler(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed()
    events: list[CallStatusEvent] = []
    finished = asyncio.Event()

    def on_event(event: CallStatusEvent) -> None:  # a plain function works too
        events.append(event)
        if event.is_final:
            finished.set()

    app = web.Application()
    app.router.add_post("/talkstack", call_status_webhook_handler(on_event, token="t0ken"))
    runner, url = await _serve(app)
    try:
        async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
            await client.projects.set_webhook(seed.project_id, url=f"{url}/talkstack?token=t0ken")
            placed = await client.calls.make(
                "+14155550107", project_id=seed.project_id, agent_id=seed.agent_id
            )
            await asyncio.wait_for(finished.wait(), 10)
    finally:
        await runner.cleanup()
    assert {e.sid for e in events} == {placed.sid}
    statuses = [e.status for e in events]
    assert statuses[0] == CallStatus.QUEUED
    assert statuses[-1] == CallStatus.NO_ANSWER  # the emulator ends ...7 as no-answer
    assert all(e.project_id == seed.project_id for e in events)
