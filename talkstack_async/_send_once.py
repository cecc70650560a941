"""At most one send per request for what must not be repeated, whatever aiohttp does underneath.

aiohttp re-sends a GET, PUT or DELETE once on its own when the connection drops after the
request left (``ClientSession._request`` retries ``ClientOSError``/``ServerDisconnectedError``
for idempotent methods, RFC 9112 section 9.3.1). The transport's own retry rules decide what may
be repeated, from the endpoint table, and a request marked not retry-safe (one that rotates the
API key, places a call, or that the caller declared unsafe) must reach the server at most once.

So such a request carries a per-request aiohttp client middleware (aiohttp >= 3.12): it lets the
first send through, turns a dropped connection into :class:`SentOnceError` (a
``ClientConnectionError`` that aiohttp's retry loop does not catch), and refuses any second send
outright. Connection *opening* failures pass through unchanged: nothing was sent, and the
transport may still retry those. Retry-safe requests carry no middleware, so they keep aiohttp's
free retry on a stale pooled connection and their connection reuse is unchanged.

A session handed in by the caller may have middlewares of its own; a per-request list replaces
the session's, so theirs come first and this one last (closest to the wire). aiohttp offers no
public accessor for them, hence the guarded read of ``_middlewares``.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp

__all__ = ["SendOnce", "SentOnceError", "send_once_middlewares"]

_CONNECT_FAILURES = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)


class SentOnceError(aiohttp.ClientConnectionError):
    """The connection dropped after a request that must not be repeated was sent."""


class SendOnce:
    """One request's guard: the first send goes through, a second is refused."""

    __slots__ = ("_sent",)

    def __init__(self) -> None:
        self._sent = False

    async def __call__(
        self, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        if self._sent:
            raise SentOnceError(f"refused to send {request.method} {request.url.path} again")
        self._sent = True
        try:
            return await handler(request)
        except _CONNECT_FAILURES:
            raise
        except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
            raise SentOnceError(str(exc) or type(exc).__name__) from exc


def send_once_middlewares(
    session: aiohttp.ClientSession, owned: bool
) -> Sequence[aiohttp.ClientMiddlewareType]:
    """The middlewares for one not-retry-safe request on ``session``."""
    if owned:
        return (SendOnce(),)
    own = tuple(getattr(session, "_middlewares", ()) or ())
    return (*own, SendOnce())
