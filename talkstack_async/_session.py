"""The client's one aiohttp ClientSession: created lazily in the running loop, or injected."""

from __future__ import annotations

import asyncio

import aiohttp

from talkstack_async._config import ClientConfig
from talkstack_async._errors import ClientClosedError, TalkstackError

__all__ = ["SessionHolder"]


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

    def get(self) -> aiohttp.ClientSession:
        if self._closed:
            raise ClientClosedError("the Talkstack client is closed; create a new one")
        session = self._session
        if session is None:
            self._loop = asyncio.get_running_loop()
            connector = aiohttp.TCPConnector(
                limit=self._config.max_connections,
                limit_per_host=self._config.max_connections_per_host,
            )
            session = self._session = aiohttp.ClientSession(connector=connector)
        elif self._owned and self._loop is not asyncio.get_running_loop():
            raise TalkstackError(
                "this client's connections belong to another event loop; create one client "
                "per event loop (or use talkstack_sync from blocking code)"
            )
        elif session.closed:
            raise ClientClosedError("the injected aiohttp session is closed")
        return session

    async def aclose(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if self._owned and session is not None and not session.closed:
            await session.close()
