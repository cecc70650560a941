"""Runs the async client on an event loop in a background thread (an anyio BlockingPortal).

One portal per client, started on first use and stopped by ``close()``. Any number of threads
may call through it at once; a thread that is itself running an event loop (a Jupyter cell)
simply blocks on the portal's loop, so there is no "event loop is already running" error.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import anyio
import anyio.from_thread
from anyio.from_thread import BlockingPortal

from talkstack_async import ClientClosedError

__all__ = ["PortalRunner"]

T = TypeVar("T")

_DONE: Any = object()
_CLEANUP_WAIT = 5.0  # seconds a cancelled call may take to clean up before we give up on it


class PortalRunner:
    __slots__ = ("_closed", "_lock", "_portal", "_stack")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stack: contextlib.ExitStack | None = None
        self._portal: BlockingPortal | None = None
        self._closed = False

    @property
    def started(self) -> bool:
        return self._portal is not None

    @property
    def closed(self) -> bool:
        return self._closed

    def _get(self) -> BlockingPortal:
        portal = self._portal
        if portal is not None:
            return portal
        with self._lock:
            if self._closed:
                raise ClientClosedError("the Talkstack client is closed; create a new one")
            if self._portal is None:
                stack = contextlib.ExitStack()
                self._portal = stack.enter_context(
                    anyio.from_thread.start_blocking_portal("asyncio", name="talkstack-portal")
                )
                self._stack = stack
            return self._portal

    def call(self, function: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Run ``function(*args, **kwargs)`` on the portal's loop and wait for its result.

        An exception in the waiting thread (KeyboardInterrupt) cancels the running coroutine
        and waits (a few seconds at most) for its cleanup, so what it does on cancellation
        (close a generator, journal what was in flight) is done before the exception goes on.
        """
        portal = self._get()
        step = _Step()
        try:
            # Inside the try: a Ctrl-C may land while the task is being handed to the loop.
            future = portal.start_task_soon(_run_step, step, function, args, kwargs)
            result: T = future.result()
        except BaseException:
            step.abandon(portal)
            raise
        return result

    def iterate(self, iterator: AsyncIterator[T]) -> Iterator[T]:
        """The items of an async iterator, one portal hop per item; closed when abandoned."""
        try:
            while True:
                item = self.call(_next_or_done, iterator)
                if item is _DONE:
                    return
                yield item
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None and self._portal is not None and not self._closed:
                self.call(aclose)

    def close(self, shutdown: Callable[[], Awaitable[None]]) -> None:
        """Run ``shutdown`` on the loop (if it ever started), then stop the loop and its thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            portal, stack = self._portal, self._stack
            self._portal = self._stack = None
        if portal is None or stack is None:
            return
        try:
            future = portal.start_task_soon(shutdown)
            future.result()
        finally:
            stack.close()


class _Step:
    """One call's task as the calling thread sees it, so the thread can stop it even if it is
    interrupted before it holds the task's future."""

    __slots__ = ("abandoned", "finished", "scope")

    def __init__(self) -> None:
        self.abandoned = False
        self.finished = threading.Event()
        self.scope: anyio.CancelScope | None = None

    def abandon(self, portal: BlockingPortal) -> None:
        """Cancel the task (wherever it is) and wait, a few seconds at most, for its cleanup."""
        # The task sets ``scope`` then reads ``abandoned``; we write ``abandoned`` then read
        # ``scope``: one of the two sides sees the other, so the task is always cancelled.
        self.abandoned = True
        scope = self.scope
        if scope is not None:
            with contextlib.suppress(Exception):  # the loop may be gone already
                portal.call(scope.cancel)
        self.finished.wait(_CLEANUP_WAIT)


async def _run_step(
    step: _Step,
    function: Callable[..., Awaitable[T]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> T:
    try:
        with anyio.CancelScope() as scope:
            step.scope = scope
            if step.abandoned:
                scope.cancel()
            result: T = await function(*args, **kwargs)
            return result
        raise RuntimeError("abandoned by the calling thread")  # nobody waits for this
    finally:
        step.finished.set()


async def _next_or_done(iterator: AsyncIterator[T]) -> T:
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return _DONE  # type: ignore[no-any-return]
