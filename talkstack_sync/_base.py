"""Hand-written halves of the generated facade: holding the async twin, closing."""

from __future__ import annotations

from types import TracebackType
from typing import Any, TypeVar

from talkstack_async import AsyncTalkstack, ValidationError
from talkstack_sync._portal import PortalRunner

__all__ = ["SyncClientBase", "SyncResource"]

C = TypeVar("C", bound="SyncClientBase")


class SyncResource:
    __slots__ = ("_async", "_portal")

    def __init__(self, async_resource: Any, portal: PortalRunner) -> None:
        self._async = async_resource
        self._portal = portal

    @property
    def with_raw_response(self) -> Any:
        """This resource's methods, each returning an ``APIResponse``: ``.status``,
        ``.headers`` (case-insensitive), ``.request_id``, ``.elapsed`` and ``.parse()`` for the
        usual result. ``client.projects.with_raw_response.get(pid)``."""
        return _SyncRawResponses(self._async.with_raw_response, self._portal)


class _SyncRawResponses:
    """The blocking twin of ``RawResponses``: each method runs through the portal."""

    __slots__ = ("_portal", "_raw")

    def __init__(self, raw: Any, portal: PortalRunner) -> None:
        self._raw = raw
        self._portal = portal

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._raw, name)
        portal = self._portal

        def call(*args: Any, **kwargs: Any) -> Any:
            return portal.call(method, *args, **kwargs)

        call.__name__ = call.__qualname__ = name
        call.__doc__ = method.__doc__
        return call


class SyncClientBase:
    _async: AsyncTalkstack
    _portal: PortalRunner

    def _attach(self, async_client: AsyncTalkstack, portal: PortalRunner) -> None:
        if async_client._sessions.injected:
            raise ValidationError(
                "session",
                "an aiohttp session belongs to the event loop it was made on, and the blocking "
                "client runs its own loop in a thread: pass session_factory=lambda: "
                "aiohttp.ClientSession(...) instead; the client calls it on that loop",
            )
        self._async = async_client
        self._portal = portal
        portal.bind(async_client.aclose)
        self._bind()

    def _bind(self) -> None:
        raise NotImplementedError

    def _mirror(self: C, async_client: AsyncTalkstack) -> C:
        copy = object.__new__(type(self))
        copy._attach(async_client, self._portal)
        return copy

    @property
    def with_raw_response(self) -> Any:
        """``request`` returning an ``APIResponse`` (status, headers, request id, elapsed,
        ``parse()``): ``client.with_raw_response.request("GET", "/voices")`` (awaited on the
        async client)."""
        return _SyncRawResponses(self._async.with_raw_response, self._portal)

    def close(self) -> None:
        """Close the client: its connections, any token refresh in flight, and its event-loop
        thread. Closing twice is fine; using the client afterwards raises ClientClosedError."""
        self._portal.close(self._async.aclose)

    @property
    def is_closed(self) -> bool:
        return self._portal.closed

    def __enter__(self: C) -> C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncTalkstack(", f"{type(self).__name__}(", 1)
