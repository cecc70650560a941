"""The client's one aiohttp ClientSession: created lazily in the running loop, or injected."""

from __future__ import annotations

import asyncio

import aiohttp

from talkstack_async._config import ClientConfig
from talkstack_async._errors import ClientClosedError, TalkstackError
from talkstack_async._version import __version__

__all__ = ["SessionHolder", "base_headers"]


def base_headers(config: ClientConfig) -> dict[str, str]:
    """The headers of every request, credentials aside."""
    return {
        "User-Agent": f"talkstack-python/{__version__}",
        "Accept": "application/json",
        **config.default_headers,
    }


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
            connector = aiohttp.TCPConnector(
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
