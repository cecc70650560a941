"""The blocking client: plain calls, threads, inside a running loop, generators, closing."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from aioresponses import CallbackResult, aioresponses

from talkstack_async import (
    ClientClosedError,
    InternalServerError,
    NotFoundError,
    ValidationError,
)
from talkstack_sync import Project, Talkstack
from talkstack_sync._portal import PortalRunner
from tests.conftest import API, API_KEY, CALLS, sent

HISTORY = re.compile(rf"^{API}/call/get-call-history(\?.*)?$")


def _portal_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "talkstack-loop"]


@pytest.fixture
def client(mocked: aioresponses, sleeps: list[float]) -> Any:
    with Talkstack(api_key=API_KEY) as c:
        yield c
    assert _portal_threads() == []


def test_blocking_calls_return_the_same_models(client: Talkstack, mocked: aioresponses) -> None:
    mocked.get(f"{API}/project/p1", payload={"data": {"id": "p1", "name": "Support"}})
    project = client.projects.get("p1")
    assert isinstance(project, Project)
    assert project.name == "Support"


def test_blocking_calls_raise_the_same_error_classes(
    client: Talkstack, mocked: aioresponses
) -> None:
    mocked.get(f"{API}/project/p1", status=400, payload={"message": "project does not exist"})
    mocked.post(f"{CALLS}/call/makeCall", status=500)
    with pytest.raises(NotFoundError):
        client.projects.get("p1")
    with pytest.raises(InternalServerError):
        client.calls.make("+14155550123", project_id="p1", agent_id="a1")
    with pytest.raises(ValidationError):
        client.calls.make("not a number", project_id="p1", agent_id="a1")
    assert len(sent(mocked, "POST", f"{CALLS}/call/makeCall")) == 1


def test_eight_threads_share_one_client(client: Talkstack, mocked: aioresponses) -> None:
    mocked.get(f"{API}/voices", payload={"voices": []}, repeat=True)

    def work(_: int) -> int:
        return sum(1 for _ in range(100) if client.voices.list() == [])

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(work, range(8))) == 800
    assert len(sent(mocked, "GET", f"{API}/voices")) == 800
    assert len(_portal_threads()) == 1


def test_works_inside_a_running_event_loop(client: Talkstack, mocked: aioresponses) -> None:
    mocked.get(f"{API}/voices", payload={"voices": []})

    async def notebook_cell() -> Any:
        return client.voices.list()  # blocking call from a coroutine, as in Jupyter

    assert asyncio.run(notebook_cell()) == []


def test_history_is_a_generator_that_moves_whole_pages(
    client: Talkstack, mocked: aioresponses, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests: list[dict[str, Any]] = []

    def serve(url: Any, **kwargs: Any) -> CallbackResult:
        requests.append(kwargs["json"])
        start = (kwargs["json"]["page"] - 1) * 10
        return CallbackResult(payload=[{"callSid": f"CA{n}"} for n in range(start, start + 10)])

    mocked.post(HISTORY, callback=serve, repeat=True)
    hops: list[Any] = []
    original = PortalRunner.call

    def counting_call(self: PortalRunner, function: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(function)
        return original(self, function, *args, **kwargs)

    monkeypatch.setattr(PortalRunner, "call", counting_call)
    sids = []
    for call in client.calls.history(project_id="p1", page_size=10):
        sids.append(call.sid)
        if len(sids) == 25:
            break
    assert sids == [f"CA{n}" for n in range(25)]
    assert len(requests) == 4  # pages 1-3 and the one ahead, cancelled by the break
    # Three pages crossed the thread boundary (plus closing the generator), not 25 items.
    assert len(hops) == 4


def test_abandoned_history_generator_is_closed(client: Talkstack, mocked: aioresponses) -> None:
    mocked.post(HISTORY, payload=[{"callSid": f"CA{n}"} for n in range(10)], repeat=True)
    pages = client.calls.history_pages(project_id="p1", page_size=10)
    next(pages)
    pages.close()
    sent_by_then = len(next(iter(mocked.requests.values())))
    assert sent_by_then in (1, 2)  # the first page, perhaps the one ahead (cancelled)
    time.sleep(0.05)
    assert len(next(iter(mocked.requests.values()))) == sent_by_then


def test_with_options_shares_the_portal(client: Talkstack, mocked: aioresponses) -> None:
    mocked.get(f"{API}/voices", payload={"voices": []}, repeat=True)
    fast = client.with_options(timeout=2)
    assert isinstance(fast, Talkstack)
    assert fast.voices.list() == []
    assert fast._portal is client._portal
    assert sent(mocked, "GET", f"{API}/voices")[0].kwargs["timeout"].total == 2


def test_close_stops_the_thread_and_closes_the_session(mocked: aioresponses) -> None:
    mocked.get(f"{API}/voices", payload={"voices": []})
    client = Talkstack(api_key=API_KEY)
    client.voices.list()
    session = client._async._sessions._session
    assert session is not None
    assert len(_portal_threads()) == 1
    client.close()
    client.close()  # twice is fine
    assert session.closed
    assert _portal_threads() == []
    assert client.is_closed
    with pytest.raises(ClientClosedError):
        client.voices.list()


def test_a_client_closed_before_use_never_starts_a_thread(mocked: aioresponses) -> None:
    client = Talkstack(api_key=API_KEY)
    client.close()
    assert _portal_threads() == []
    with pytest.raises(ClientClosedError):
        client.voices.list()


def test_repr_is_the_async_one_renamed() -> None:
    client = Talkstack(api_key=API_KEY)
    assert repr(client).startswith("Talkstack(base_url='https://api.talkstackai.com'")
    assert API_KEY not in repr(client)
    client.close()


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="needs the main thread"
)
def test_keyboard_interrupt_cancels_the_request_underneath(
    client: Talkstack, mocked: aioresponses
) -> None:
    outcome: list[str] = []
    in_flight = threading.Event()

    async def hang(url: Any, **kwargs: Any) -> None:
        in_flight.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    def interrupt() -> None:
        # Once the request is in flight (a loaded machine may take a while to get there), a
        # real SIGINT, as Ctrl-C sends (interrupt_main would not wake a blocked wait).
        if in_flight.wait(20):
            time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGINT)

    mocked.post(f"{CALLS}/call/makeCall", callback=hang)
    timer = threading.Thread(target=interrupt, daemon=True)
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        client.calls.make("+14155550123", project_id="p1", agent_id="a1")
    timer.join(timeout=5)
    assert time.monotonic() - started < 25
    deadline = time.monotonic() + 5
    while not outcome and time.monotonic() < deadline:
        time.sleep(0.01)
    assert outcome == ["cancelled"]
