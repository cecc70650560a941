"""The call-status webhook: a POST to the project's URL each time a call's status changes.

What Talkstack sends is not documented. The emulator sends get-call-data's fields as they are
at that moment (``callSid``, ``status``, ``from``, ``to``, ``seconds``, ...) plus ``projectId``,
``agentId`` and ``timestamp`` (ISO 8601). Only loopback URLs are called: an emulator must never
reach the internet.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Any

import aiohttp
import attrs
from yarl import URL

from talkstack_async._config import is_loopback
from talkstack_async.testing._records import CallRecord, iso
from talkstack_async.testing._store import Store

__all__ = ["WebhookDelivery", "WebhookDispatcher"]


@attrs.frozen
class WebhookDelivery:
    url: str
    payload: dict[str, Any]
    status: int | None  # the receiver's answer; None when it could not be reached
    error: str | None = None


class WebhookDispatcher:
    """Sends each status change when it happens, from one task, in order of time."""

    def __init__(self, store: Store, clock: Callable[[], float]) -> None:
        self._store = store
        self._clock = clock
        self._due: list[tuple[float, int, str, int]] = []  # (when, tie-breaker, sid, step)
        self._counter = itertools.count()
        self._wake = asyncio.Event()
        self._sending: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.deliveries: list[WebhookDelivery] = []

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        self._task = asyncio.create_task(self._run(), name="talkstack-emulator-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def call_placed(self, call: CallRecord) -> None:
        """Schedule every status change of a new call (called with the store's lock held)."""
        interval = self._store.status_interval
        for step in range(len(call.path)):
            when = call.placed_mono + step * interval
            heapq.heappush(self._due, (when, next(self._counter), call.sid, step))
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            with self._store.lock:
                ready = []
                now = self._store.monotonic()
                while self._due and self._due[0][0] <= now:
                    ready.append(heapq.heappop(self._due))
                wait = self._due[0][0] - now if self._due else None
                events = [self._event(sid, step) for _, _, sid, step in ready]
            for event in events:
                if event is not None:
                    task = loop.create_task(self._deliver(*event))
                    self._sending.add(task)
                    task.add_done_callback(self._sending.discard)
            # A timer that sets the event, not wait_for: Python 3.11's wait_for can swallow a
            # cancellation that lands as its timeout fires, and stop() would then wait forever.
            timer = loop.call_later(wait, self._wake.set) if wait is not None else None
            try:
                await self._wake.wait()
            finally:
                if timer is not None:
                    timer.cancel()

    def _event(self, sid: str, step: int) -> tuple[str, dict[str, Any]] | None:
        call = self._store.calls.get(sid)
        project = self._store.projects.get(call.project_id) if call else None
        if call is None or project is None or not project.webhook:
            return None
        payload = call.wire_at(step, self._store.status_interval)
        payload.update(
            projectId=call.project_id, agentId=call.agent_id, timestamp=iso(self._clock())
        )
        return project.webhook, payload

    async def _deliver(self, url: str, payload: dict[str, Any]) -> None:
        assert self._session is not None
        if not is_loopback(URL(url)):
            self.deliveries.append(WebhookDelivery(url, payload, None, "not a loopback URL"))
            return
        try:
            async with self._session.post(url, json=payload) as response:
                self.deliveries.append(WebhookDelivery(url, payload, response.status))
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            self.deliveries.append(WebhookDelivery(url, payload, None, repr(exc)))
