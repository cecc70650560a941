"""The emulator's behaviour beyond single responses: time, webhooks, scale, ways to run it."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import tracemalloc
import urllib.error
import urllib.request
import zipfile

import aiohttp
import pytest
from aiohttp import web

from talkstack_async.testing import EmulatorThread, Seed, TalkstackEmulator
from tests.emulator.conftest import Raw


async def test_calls_move_through_their_statuses_and_post_webhooks() -> None:
    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        async with (
            TalkstackEmulator(status_interval=0.05) as emulator,
            aiohttp.ClientSession() as session,
        ):
            seed = emulator.seed()
            raw = Raw(emulator, session, seed.account.api_key)
            await raw("POST", "/project/call-status/add-webhookurl",
                      {"projectId": seed.project_id, "webhookURL": url})  # fmt: skip
            answers = []
            for number in ("+14155550123", "+14155550126"):
                body = {"number": number, "projectId": seed.project_id, "agentId": seed.agent_id}
                answers.append((await raw("POST", "/call/makeCall", body, host="calls"))[1])
            sid = answers[0]["call"]["call_id"]
            assert emulator.call_status(sid) == "queued"
            await asyncio.sleep(0.4)
            assert emulator.call_status(sid) == "completed"
            assert emulator.call_status(answers[1]["call"]["call_id"]) == "busy"
            deliveries = emulator.webhook_deliveries()
    finally:
        await runner.cleanup()
    by_call: dict[str, list[str]] = {}
    for event in received:
        by_call.setdefault(event["callSid"], []).append(event["status"])
    assert by_call[sid] == ["queued", "initiated", "ringing", "in-progress", "completed"]
    assert by_call[answers[1]["call"]["call_id"]] == ["queued", "initiated", "ringing", "busy"]
    assert {"projectId", "agentId", "timestamp", "to", "from"} <= set(received[0])
    assert all(d.status == 200 for d in deliveries)


async def test_webhooks_only_go_to_loopback(
    raw: Raw, seed: Seed, talkstack_server: TalkstackEmulator
) -> None:
    keyed = Raw(talkstack_server, raw.session, seed.account.api_key)
    hook = {"projectId": seed.project_id, "webhookURL": "https://example.com/hook"}
    await keyed("POST", "/project/call-status/add-webhookurl", hook)
    body = {"number": "+14155550129", "projectId": seed.project_id, "agentId": seed.agent_id}
    await keyed("POST", "/call/makeCall", body, host="calls")
    await asyncio.sleep(0.1)
    deliveries = talkstack_server.webhook_deliveries()
    assert deliveries
    assert all(d.status is None and d.error == "not a loopback URL" for d in deliveries)


def _xlsx(rows: list[list[str]]) -> bytes:
    cells = "".join(
        "<row>" + "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' for v in row) + "</row>"
        for row in rows
    )
    sheet = ('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f"<sheetData>{cells}</sheetData></worksheet>")  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return buffer.getvalue()


async def test_batch_reads_xlsx_and_refuses_xls(
    raw: Raw, seed: Seed, talkstack_server: TalkstackEmulator
) -> None:
    keyed = Raw(talkstack_server, raw.session, seed.account.api_key)

    def form(data: bytes, name: str) -> aiohttp.FormData:
        fields = aiohttp.FormData()
        fields.add_field("projectId", seed.project_id)
        fields.add_field("agentId", seed.agent_id)
        fields.add_field("file", data, filename=name)
        return fields

    xlsx = _xlsx(
        [["number", "dynamicVariables"], ["+14155550140", '{"name": "X"}'], ["+14155550141", ""]]
    )
    status, body = await keyed("POST", "/call/batch-call", data=form(xlsx, "calls.xlsx"))
    assert status == 200
    assert [c["to"] for c in body["data"]["placed"]] == ["+14155550140", "+14155550141"]
    status, _ = await keyed(
        "POST", "/call/batch-call", data=form(b"\xd0\xcf\x11\xe0rest", "calls.xls")
    )
    assert status == 400
    status, body = await keyed(
        "POST", "/call/batch-call", data=form(b"phone\n+14155550142\n", "c.csv")
    )
    assert (status, body["message"]) == (400, "the file needs a 'number' column.")


async def test_a_million_seeded_calls_cost_little_memory_and_page_fast() -> None:
    async with TalkstackEmulator() as emulator, aiohttp.ClientSession() as session:
        tracemalloc.start()
        seed = emulator.seed(calls=1_000_000)
        raw = Raw(emulator, session, seed.account.api_key)
        page = {"projectId": seed.project_id, "pageSize": 1000, "page": 1000}
        status, last = await raw("POST", "/call/get-call-history", page)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert status == 200
    assert (last["total"], last["totalPages"], len(last["data"])) == (1_000_000, 1000, 1000)
    assert peak < 20_000_000  # a million dicts would be ~1 GB


def test_plugin_fixture_serves_blocking_code(talkstack_server: TalkstackEmulator) -> None:
    url = talkstack_server.base_url + "/voices"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url)  # noqa: S310
    assert refused.value.code == 401
    refused.value.close()
    key = talkstack_server.create_account().api_key
    request = urllib.request.Request(url, headers={"x-api-key": key})  # noqa: S310
    with urllib.request.urlopen(request) as response:  # noqa: S310
        assert json.load(response)["status"] == "success"


@pytest.mark.talkstack_emulator(token_ttl=3.5, status_interval=0)
def test_marker_configures_the_fixture(talkstack_server: TalkstackEmulator) -> None:
    seed = talkstack_server.seed()
    assert talkstack_server._store.accounts.token_ttl == 3.5
    assert talkstack_server._store.status_interval == 0
    assert seed.account.api_key not in repr(seed)
    assert seed.account.password not in repr(seed.account)


def test_emulator_thread_stops_cleanly() -> None:
    with EmulatorThread() as emulator:
        url = emulator.base_url
    with pytest.raises(RuntimeError, match="not running"):
        _ = emulator.base_url
    assert url.startswith("http://127.0.0.1:")


def test_command_line_prints_its_urls_and_a_seeded_key() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "talkstack_async.testing", "--port", "0", "--seed-calls", "10"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline().strip() for _ in range(5)]
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()  # type: ignore[union-attr]
    values = dict(line.split("=", 1) for line in lines if "=" in line)
    assert values["TALKSTACK_BASE_URL"].startswith("http://127.0.0.1:")
    assert values["TALKSTACK_CALLS_BASE_URL"].startswith("http://127.0.0.1:")
    assert len(values["TALKSTACK_API_KEY"]) == 64
    assert lines[-1] == "# serving; Ctrl-C to stop"


async def test_history_filters_apply_to_placed_calls_as_they_progress() -> None:
    async with (
        TalkstackEmulator(status_interval=0.05) as emulator,
        aiohttp.ClientSession() as session,
    ):
        seed = emulator.seed()
        raw = Raw(emulator, session, seed.account.api_key)
        for number in ("+14155550123", "+14155550126", "+14155550127"):
            body = {"number": number, "projectId": seed.project_id, "agentId": seed.agent_id}
            await raw("POST", "/call/makeCall", body, host="calls")
        history = {"projectId": seed.project_id}
        # Nothing has ended yet: no call has an end time to filter on.
        assert (
            await raw(
                "POST", "/call/get-call-history", history, params={"endTimeAfter": "2000-01-01"}
            )
        )[0] == 404
        await asyncio.sleep(0.3)
        _, busy = await raw("POST", "/call/get-call-history", history, params={"status": "busy"})
        assert [c["to"] for c in busy["data"]] == ["+14155550126"]
        _, ended = await raw(
            "POST", "/call/get-call-history", history, params={"endTimeAfter": "2000-01-01"}
        )
        assert ended["total"] == 3
        _, page = await raw("POST", "/call/get-call-history", {**history, "pageSize": 2, "page": 2})
        assert [c["to"] for c in page["data"]] == ["+14155550123"]  # newest first
