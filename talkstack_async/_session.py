"""The client's one aiohttp ClientSession: created lazily in the running loop, or injected."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import Any

import aiohttp
from aiohttp.connector import Connection

from talkstack_async._config import ClientConfig
from talkstack_async._errors import ClientClosedError, TalkstackError
from talkstack_async._version import __version__

__all__ = ["SessionHolder", "base_headers", "connecting"]

connecting: ContextVar[bool] = ContextVar("talkstack_connecting", default=False)
"""True while the current attempt waits for its connection (a free slot in a full pool, or the
TCP and TLS connect): a timeout then proves the request never left this machine. Set only by
the client's own connector; the transport clears it before each attempt. Without our connector
(an injected session, a mocked transport) it stays False, and a timeout counts as maybe sent."""


def base_headers(config: ClientConfig) -> dict[str, str]:
    """The headers of every request, credentials aside."""
    return {
        "User-Agent": f"talkstack-python/{__version__}",
        "Accept": "application/json",
        **config.default_headers,
    }


class _Connector(aiohttp.TCPConnector):
    """aiohttp's connector, telling the transport while an attempt waits for its connection."""

    async def connect(
        self, req: aiohttp.ClientRequest, traces: list[Any], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        connecting.set(True)
        connection = await super().connect(req, traces, timeout)
        connecting.set(False)
        return connection


class SessionHolder:
    """Owns (or borrows) the session shared by a client and all its ``with_options`` copies."""

    __slots__ = ("_closed", "_config", "_loop", "_owned", "_session")

    def __init__(self, config: ClientConfig, session: aiohttp.ClientSession | None) -> None:
        self._config = config
        self._session = session
        self._owned = session is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def owned(self) -> bool:
        """Whether the client made the session (and so its default headers are ours)."""
        return self._owned

    def get(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClientClosedError("the Talkstack client is closed; create a new one")
        session = self._session
        if session is None:
            self._loop = asyncio.get_running_loop()
            connector = _Connector(
                limit=self._config.max_connections,
                limit_per_host=self._config.max_connections_per_host,
            )
            # The base headers go on the session: aiohttp merges per-request headers one by
            # one in Python, which costs more than the rest of this SDK's request handling.
            session = self._session = aiohttp.ClientSession(
                connector=connector, headers=base_headers(self._config)
            )
        elif self._owned:
            # Only aclose() closes an owned session, and it sets _closed: no need to ask it.
            if self._loop is not asyncio.get_running_loop():
                raise TalkstackError(
                    "this client's connections belong to another event loop; create one "
                    "client per event loop (or use talkstack_sync from blocking code)"
                )
        elif session.closed:
            raise ClientClosedError("the injected aiohttp session is closed")
        return session

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if self._owned and session is not None and not session.closed:
            await session.close()
