"""The client's one aiohttp ClientSession: created lazily in the running loop, or injected."""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import aiohttp

from talkstack_async._config import ClientConfig
from talkstack_async._errors import ClientClosedError, TalkstackError, ValidationError
from talkstack_async._version import __version__

__all__ = ["SessionFactory", "SessionHolder", "base_headers", "connecting"]

connecting: ContextVar[bool] = ContextVar("talkstack_connecting", default=False)
"""True while the current attempt waits for its connection (a free slot in a full pool, or the
TCP and TLS connect): a timeout then proves the request never left this machine. Set only by
the client's own connector, which clears it once connected; the transport clears it after a
failure it read it for. Without our connector
(an injected session, a mocked transport) it stays False, and a timeout counts as maybe sent."""


def base_headers(config: ClientConfig) -> dict[str, str]:
    """The headers of every request, credentials aside."""
    return {
        "User-Agent": f"talkstack-python/{__version__}",
        "Accept": "application/json",
        **config.default_headers,
    }


class _Connector(aiohttp.TCPConnector):
    """aiohttp's connector, telling the transport while an attempt waits for its connection.

    Only the two waits are marked, waiting for a free slot in a full pool and opening a new
    connection; a request that finds a pooled connection passes through neither, so it pays
    nothing (marking ``connect`` itself cost about 1 % of a call, counted by
    ``benchmarks/instructions.py``). These are aiohttp's own (private) steps of ``connect``:
    should a later aiohttp rename them, nothing is marked and a timeout counts as maybe sent,
    the safe side.
    """

    async def _wait_for_available_connection(self, key: Any, traces: Any) -> None:
        connecting.set(True)
        await super()._wait_for_available_connection(key, traces)
        connecting.set(False)

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:
        connecting.set(True)
        protocol = await super()._create_connection(req, traces, timeout)
        connecting.set(False)
        return protocol


SessionFactory = Callable[[], aiohttp.ClientSession]
"""Makes the client's aiohttp session, called on the client's own event loop on first use."""


class SessionHolder:
    """Owns (or borrows) the session shared by a client and all its ``with_options`` copies.

    Three origins: the client's own session (its connector, its headers on the session); one
    made by the caller's ``session_factory`` on the client's loop (closed by the client); or one
    injected ready-made (used as is, never closed by the client).

    After ``fork()`` a child must not touch the parent's sockets: the holder forgets its
    session there (it is kept, unclosed, out of reach) and the child makes its own on first use.
    """

    __slots__ = ("__weakref__", "_closed", "_config", "_factory", "_loop", "_owned", "_session")

    def __init__(
        self,
        config: ClientConfig,
        session: aiohttp.ClientSession | None,
        factory: SessionFactory | None = None,
    ) -> None:
        self._config = config
        self._session = session
        self._factory = factory
        self._owned = session is None and factory is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        _HOLDERS.add(self)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def owned(self) -> bool:
        """Whether the client made the session itself (so its default headers are on it)."""
        return self._owned

    @property
    def injected(self) -> bool:
        """Whether the caller handed in a ready-made session."""
        return not self._owned and self._factory is None

    def get(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClientClosedError("the Talkstack client is closed; create a new one")
        session = self._session
        if session is None:
            session = self._session = self._make()
        elif not self.injected:
            # Only aclose() closes a session the client made, and it sets _closed.
            if self._loop is not asyncio.get_running_loop():
                raise TalkstackError(
                    "this client's connections belong to another event loop; create one "
                    "client per event loop (or use talkstack_sync from blocking code)"
                )
        elif session.closed:
            raise ClientClosedError("the injected aiohttp session is closed")
        return session

    def _make(self) -> aiohttp.ClientSession:
        self._loop = asyncio.get_running_loop()
        if self._factory is not None:
            made = self._factory()
            if not isinstance(made, aiohttp.ClientSession):
                raise ValidationError(
                    "session_factory", f"must return an aiohttp.ClientSession, not {made!r}"
                )
            return made
        connector = _Connector(
            limit=self._config.max_connections,
            limit_per_host=self._config.max_connections_per_host,
        )
        # The base headers go on the session: aiohttp merges per-request headers one by
        # one in Python, which costs more than the rest of this SDK's request handling.
        return aiohttp.ClientSession(connector=connector, headers=base_headers(self._config))

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if not self.injected and session is not None and not session.closed:
            await session.close()

    def _forget_after_fork(self) -> None:
        if self._session is not None and not self.injected:
            _INHERITED.append(self._session)
            self._session = None
            self._loop = None


_HOLDERS: weakref.WeakSet[SessionHolder] = weakref.WeakSet()
# The parent's sessions in a forked child: never used, never closed (closing would shut the
# parent's sockets down from here), never collected (aiohttp would warn of them).
_INHERITED: list[aiohttp.ClientSession] = []


def _forget_parent_sessions() -> None:
    for holder in list(_HOLDERS):
        holder._forget_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parent_sessions)
