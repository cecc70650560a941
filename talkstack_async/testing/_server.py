"""TalkstackEmulator: the emulated API and calls hosts on loopback, and helpers for tests."""

from __future__ import annotations

import asyncio
import collections
import secrets
import time
from types import TracebackType
from typing import Any

import attrs
from aiohttp import web

from talkstack_async.testing._accounts import Accounts, Mail
from talkstack_async.testing._faults import Faults
from talkstack_async.testing._http import build_app
from talkstack_async.testing._log import RequestLog
from talkstack_async.testing._records import FINAL_STATUSES
from talkstack_async.testing._store import Store
from talkstack_async.testing._webhooks import WebhookDelivery, WebhookDispatcher

__all__ = ["Account", "Seed", "TalkstackEmulator"]


@attrs.frozen
class Account:
    """A verified account with an API key, made by ``create_account`` (secrets not in repr)."""

    user_id: str
    email: str
    password: str = attrs.field(repr=False)
    api_key: str = attrs.field(repr=False)


@attrs.frozen
class Seed:
    """What ``seed`` made: an account, a project, an agent and the agent's phone number."""

    account: Account
    project_id: str
    agent_id: str
    phone_number: str


class TalkstackEmulator:
    """A stateful Talkstack on loopback: ``async with TalkstackEmulator() as emulator:``.

    The API host and the make-call host are served on two ports, like the real service's two
    hosts, so a client that sends make-call to the wrong host gets a 404.

    Args:
        host: The interface to listen on; loopback by default.
        port: The API host's port (0: any free port).
        calls_port: The make-call host's port (0: any free port).
        token_ttl: Seconds a bearer token lives (the real API: 2 hours).
        status_interval: Seconds between a call's status changes (0: calls end at once).
        fault_seed: Seeds the fault injector's random choices, for replayable tests.

    Test helpers (``create_account``, ``seed``, ``expire_tokens``, ...) may be called from any
    thread; the ``faults`` and ``requests`` log are thread-safe too.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        calls_port: int = 0,
        token_ttl: float = 7200.0,
        status_interval: float = 0.2,
        fault_seed: int | None = None,
        history_page_cap: int | None = None,
        history_hints: bool = True,
        make_call_rate: float | None = None,
    ) -> None:
        """``history_page_cap`` makes call-history pages at most that long whatever
        ``pageSize`` asks (a server-side cap); ``history_hints=False`` leaves ``page``,
        ``pageSize``, ``totalPages`` and ``total`` out of its answers (a terser server).
        ``make_call_rate`` limits each account to that many placements in any one second;
        more are refused with 429 and ``Retry-After`` (``rate_limited`` counts them)."""
        self._host, self._ports = host, (port, calls_port)
        self.faults = Faults(fault_seed)
        self.requests = RequestLog()
        self._store = Store(
            clock=time.time,
            monotonic=time.monotonic,
            status_interval=status_interval,
            accounts=Accounts(clock=time.time, token_ttl=token_ttl),
            history_page_cap=history_page_cap,
            history_hints=history_hints,
            make_call_rate=make_call_rate,
        )
        self._webhooks = WebhookDispatcher(self._store, time.time)
        self._store.on_call_placed.append(self._webhooks.call_placed)
        self._runners: list[web.AppRunner] = []
        self._urls: tuple[str, str] | None = None
        self._stopping: asyncio.Event | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        if self._urls is not None:
            raise RuntimeError("the emulator is already running")
        self._stopping = asyncio.Event()
        urls = []
        try:
            for name, port in zip(("api", "calls"), self._ports, strict=True):
                app = build_app(name, self._store, self.faults, self.requests, self._stopping)
                runner = web.AppRunner(
                    app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
                )
                await runner.setup()
                self._runners.append(runner)
                site = web.TCPSite(runner, self._host, port)
                await site.start()
                bound = runner.addresses[0][1]
                urls.append(f"http://{_url_host(self._host)}:{bound}")
        except BaseException:
            await self.stop()
            raise
        self._webhooks.start()
        self._urls = (urls[0], urls[1])

    async def stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        await self._webhooks.stop()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
        self._urls = None

    async def __aenter__(self) -> TalkstackEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """The API host, e.g. ``http://127.0.0.1:8765``."""
        return self._running()[0]

    @property
    def calls_base_url(self) -> str:
        """The make-call host."""
        return self._running()[1]

    def _running(self) -> tuple[str, str]:
        if self._urls is None:
            raise RuntimeError("the emulator is not running; use `async with` or start()")
        return self._urls

    def client_options(self, account: Account | None = None) -> dict[str, Any]:
        """Keyword arguments for ``AsyncTalkstack``/``Talkstack`` pointing at this emulator."""
        options: dict[str, Any] = {"base_url": self.base_url, "calls_base_url": self.calls_base_url}
        if account is not None:
            options["api_key"] = account.api_key
        return options

    # -- test helpers -------------------------------------------------------------------------
    def create_account(
        self, email: str | None = None, password: str | None = None, *, name: str = "Test User"
    ) -> Account:
        """A verified account with an API key, made without any HTTP request."""
        email = email or f"user-{secrets.token_hex(4)}@talkstack.test"
        password = password or secrets.token_urlsafe(12)
        with self._store.lock:
            user = self._store.accounts.create_verified(email, password, name)
            key = self._store.accounts.new_api_key(user)
        return Account(user.id, email, password, key)

    def seed(
        self,
        *,
        calls: int = 0,
        account: Account | None = None,
        project_name: str = "Seeded project",
        phone_number: str = "+18005550199",
    ) -> Seed:
        """An account (or ``account``), a project with an agent, and ``calls`` past calls.

        The seeded calls are computed on demand (a million cost a few bytes), ended, newest
        first from 2025-05-31 23:59 UTC, 90 seconds apart; their statuses cycle through the final
        ones.
        """
        account = account or self.create_account()
        with self._store.lock:
            user = self._store.accounts.users[account.email.lower()]
            project = self._store.create_project(
                user, project_name, "Made by TalkstackEmulator.seed"
            )
            agent = self._store.create_agent(
                project, "Seeded agent", "You are a helpful assistant.", phone_number, None
            )
            if calls:
                self._store.seed_calls(project, calls)
        return Seed(account, project.id, agent.id, phone_number)

    def mailbox(self, email: str) -> list[Mail]:
        """The verification codes and reset tokens "sent" to ``email``, oldest first."""
        with self._store.lock:
            return [m for m in self._store.accounts.mailbox if m.to.lower() == email.lower()]

    def expire_tokens(self) -> None:
        """Expire every bearer token now; refresh tokens keep working."""
        with self._store.lock:
            self._store.accounts.expire_tokens()

    @property
    def refresh_count(self) -> int:
        """Successful token refreshes so far."""
        with self._store.lock:
            return self._store.accounts.refreshes

    def call_status(self, sid: str) -> str:
        """The current status of a call placed through the emulator."""
        with self._store.lock:
            call = self._store.calls[sid]
            return call.status_at(self._store.monotonic(), self._store.status_interval)

    @property
    def rate_limited(self) -> int:
        """Placements refused by ``make_call_rate`` so far."""
        with self._store.lock:
            return self._store.rate_limited

    def call_outcomes(self, number: str, *statuses: str) -> None:
        """The next calls to ``number`` end with ``statuses``, one each, in turn (then as its
        last digit says): ``call_outcomes("+14155550100", "busy", "no-answer", "completed")``."""
        wrong = [s for s in statuses if s not in FINAL_STATUSES]
        if wrong:
            raise ValueError(f"not final call statuses: {wrong}; use {sorted(FINAL_STATUSES)}")
        with self._store.lock:
            self._store.scripted.setdefault(number, collections.deque()).extend(statuses)

    def placed_numbers(self) -> list[str]:
        """The number of every call placed so far, in order (duplicates kept)."""
        with self._store.lock:
            return [call.to for call in self._store.calls.values()]

    def webhook_deliveries(self) -> list[WebhookDelivery]:
        return list(self._webhooks.deliveries)

    def __repr__(self) -> str:
        where = f"{self._urls[0]} + {self._urls[1]}" if self._urls else "stopped"
        return f"<TalkstackEmulator {where}>"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
