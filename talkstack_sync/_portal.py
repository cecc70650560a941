"""Runs the async client on an event loop in a background thread, and hops calls onto it.

The loop is anyio's: a daemon thread runs ``anyio.run(..., backend="asyncio")``, started on
first use and stopped by ``close()``. Any number of threads may call through it at once; a
thread that is itself running an event loop (a Jupyter cell) simply blocks on this one, so
there is no "event loop is already running" error.

The hop (a speed trick, measured by W4 in ``benchmarks/run.py`` and held to anyio's
``BlockingPortal`` by ``tests/sync/test_portal.py``): the calling thread hands the coroutine
function to the loop with ``loop.call_soon_threadsafe`` and waits on a bare lock that the task's
done-callback releases. That is what ``anyio.from_thread.run(..., token=...)`` does on the
asyncio backend (``run_coroutine_threadsafe``), minus its ``concurrent.futures.Future`` (a
Condition and its locks per call) and minus the portal's task-group bookkeeping; anyio's
``BlockingPortal.start_task_soon`` measured 0.95x ``httpx.Client`` where this hop is the cost
the SDK adds. Keeping the task itself (which ``from_thread.run`` hides) is what lets an
interrupted caller cancel it: Ctrl-C during a call cancels the request underneath and waits a
few seconds at most for its cleanup (closing a generator, journalling what was in flight).

Processes, not only threads:

* The thread is a daemon, so a script that never calls ``close()`` still exits: a finalizer
  (run when the client is collected, or at exit) closes the client's connections on its loop,
  waits briefly, and warns ``ResourceWarning`` as an unclosed file would.
* After ``fork()`` (gunicorn ``--preload``, Celery's prefork pool, ``multiprocessing``) the
  child has no loop thread: the runner forgets the parent's loop and starts its own on first
  use, and the async client forgets the parent's connections (``talkstack_async._session``).
* A call from the loop thread itself (a ``progress`` callback, a sync ``on_tokens``, a
  ``dial_many`` input generator calling the blocking client) would wait for the loop it is
  blocking: it raises ``BlockingCallOnLoopError`` at once instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import threading
import warnings
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import anyio

from talkstack_async import BlockingCallOnLoopError, ClientClosedError

__all__ = ["PortalRunner"]

T = TypeVar("T")

_DONE: Any = object()
_CLEANUP_WAIT = 5.0  # seconds a cancelled call may take to clean up before we give up on it
_CLOSE_WAIT = 5.0  # seconds close() waits for the client's connections to close
_ABANDONED_WAIT = 2.0  # the same for a client nobody closed (collected, or at exit)


class _Loop:
    """The loop thread's state: the thread holds this, never the runner, so an unclosed
    runner can still be collected."""

    __slots__ = ("ident", "loop", "stop", "thread")

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.thread: threading.Thread | None = None
        self.ident: int | None = None

    def start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            try:
                anyio.run(self._serve, ready, backend="asyncio")
            except BaseException as exc:  # pragma: no cover - the loop could not start
                failure.append(exc)
                ready.set()

        self.thread = threading.Thread(target=main, name="talkstack-loop", daemon=True)
        self.thread.start()
        ready.wait()
        if failure:
            raise failure[0]

    async def _serve(self, ready: threading.Event) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        self.ident = threading.get_ident()
        ready.set()
        await self.stop.wait()

    def halt(self) -> None:
        """Stop the loop (from any thread, without waiting)."""
        loop, stop = self.loop, self.stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # closed already
                loop.call_soon_threadsafe(stop.set)


class _Box:
    """The runner's current loop, shared with its finalizer (which must not hold the runner)."""

    __slots__ = ("iterators", "shutdown", "state")

    def __init__(self) -> None:
        self.state: _Loop | None = None
        self.shutdown: Callable[[], Awaitable[None]] | None = None
        # Async iterators a blocking generator is going through: closed before the client,
        # one at a time, so that none is left for asyncio's shutdown to close (it closes all
        # at once, and a generator that closes the one it wraps then finds it "already
        # running").
        self.iterators: weakref.WeakSet[Any] = weakref.WeakSet()


class PortalRunner:
    __slots__ = ("__weakref__", "_box", "_closed", "_finalizer", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._box = _Box()
        self._closed = False
        self._finalizer = weakref.finalize(self, _abandoned, self._box)
        _RUNNERS.add(self)

    def bind(self, shutdown: Callable[[], Awaitable[None]]) -> None:
        """What closing runs on the loop (the first client's ``aclose``; its ``with_options``
        copies share the runner), also when nobody closes the client."""
        if self._box.shutdown is None:
            self._box.shutdown = shutdown

    @property
    def started(self) -> bool:
        return self._box.state is not None

    @property
    def closed(self) -> bool:
        return self._closed

    def _get(self) -> _Loop:
        state = self._box.state
        if state is not None:
            return state
        with self._lock:
            if self._closed:
                raise ClientClosedError("the Talkstack client is closed; create a new one")
            if self._box.state is None:
                state = _Loop()
                state.start()
                self._box.state = state
            return self._box.state

    def call(self, function: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
        """Run ``function(*args, **kwargs)`` on the loop and wait for its result.

        An exception in the waiting thread (KeyboardInterrupt) cancels the running coroutine
        and waits (a few seconds at most) for its cleanup, so what it does on cancellation
        (close a generator, journal what was in flight) is done before the exception goes on.
        """
        state = self._box.state or self._get()
        if threading.get_ident() == state.ident:
            raise BlockingCallOnLoopError(_ON_LOOP)
        loop = state.loop
        assert loop is not None
        hop = _Hop(function, args, kwargs)
        try:
            try:
                # In a copy of the caller's context: its context variables (an OpenTelemetry
                # span, a request id) are what the coroutine sees, as if run in this thread.
                loop.call_soon_threadsafe(hop.start, loop, context=contextvars.copy_context())
            except RuntimeError:  # the loop stopped: closed by another thread meanwhile
                raise ClientClosedError(
                    "the Talkstack client is closed; create a new one"
                ) from None
            # Interruptible: Ctrl-C lands here, or inside call_soon_threadsafe once the hop is
            # already queued: either way the hop is abandoned, so that no coroutine is left
            # running (a generator's aclose() would then find it "already running").
            hop.done.acquire()
        except BaseException:
            if not hop.finished:
                hop.abandon(loop)
            raise
        if hop.error is not None:
            error, hop.error = hop.error, None  # no cycle through the traceback
            raise error
        result: T = hop.result
        return result

    def iterate(self, iterator: AsyncIterator[T]) -> Iterator[T]:
        """The items of an async iterator, one hop per item; closed when abandoned."""
        with contextlib.suppress(TypeError):  # not every iterator takes a weak reference
            self._box.iterators.add(iterator)
        try:
            while True:
                item = self.call(_next_or_done, iterator)
                if item is _DONE:
                    return
                yield item
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None and self._box.state is not None and not self._closed:
                self.call(aclose)

    def close(self, shutdown: Callable[[], Awaitable[None]]) -> None:
        """Run ``shutdown`` on the loop (if it ever started), then stop the loop and its thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            state, self._box.state = self._box.state, None
        self._finalizer.detach()
        if state is None:
            return
        if threading.get_ident() == state.ident:
            # Closed from a callback on the loop itself: finish there, without waiting.
            assert state.loop is not None
            state.loop.create_task(_shut_down(self._box, shutdown, state))
            return
        _close_and_join(self._box, shutdown, state, _CLOSE_WAIT)


class _Hop:
    """One call's trip to the loop and back."""

    __slots__ = (
        "abandoned", "args", "done", "error", "finished", "function", "kwargs", "result", "task",
    )  # fmt: skip

    def __init__(
        self, function: Callable[..., Awaitable[Any]], args: tuple[Any, ...], kwargs: Any
    ) -> None:
        self.function = function
        self.args = args
        self.kwargs = kwargs
        self.done = threading.Lock()
        self.done.acquire()
        self.finished = False
        self.abandoned = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.task: asyncio.Future[Any] | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the loop: start the coroutine as a task."""
        try:
            if self.abandoned:
                raise ClientClosedError("the call was interrupted before it started")
            task = asyncio.ensure_future(self.function(*self.args, **self.kwargs), loop=loop)
        except BaseException as exc:
            self.error = exc
            self._finish()
            return
        self.task = task
        task.add_done_callback(self._settle)

    def _settle(self, task: asyncio.Future[Any]) -> None:
        if task.cancelled():
            self.error = ClientClosedError("the call was cancelled (the client was closing)")
        else:
            self.error = task.exception()
            if self.error is None:
                self.result = task.result()
        # Let go of the task here, on the loop thread: were the waiting thread to drop the
        # last reference, the task would be freed there, running asyncio's WeakSet callback
        # in that thread, and a Ctrl-C landing inside such a callback is swallowed by Python
        # ("Exception ignored in ... _remove"): the interrupt would be lost.
        self.task = None
        self._finish()

    def _finish(self) -> None:
        self.finished = True
        self.function = self.args = self.kwargs = None  # type: ignore[assignment]
        self.done.release()

    def abandon(self, loop: asyncio.AbstractEventLoop) -> None:
        """Cancel the task (wherever it is) and wait, a few seconds at most, for its cleanup."""
        self.abandoned = True
        try:
            loop.call_soon_threadsafe(self._cancel)
        except RuntimeError:
            return  # the loop is gone
        if self.done.acquire(timeout=_CLEANUP_WAIT):
            self.error = None  # the interruption is what the caller sees

    def _cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()


async def _next_or_done(iterator: AsyncIterator[T]) -> T:
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return _DONE  # type: ignore[no-any-return]


async def _shut_down(
    box: _Box, shutdown: Callable[[], Awaitable[None]] | None, state: _Loop
) -> None:
    try:
        for iterator in list(box.iterators):
            with contextlib.suppress(Exception):
                await iterator.aclose()
        if shutdown is not None:
            await shutdown()
    finally:
        assert state.stop is not None
        state.stop.set()


def _close_and_join(
    box: _Box, shutdown: Callable[[], Awaitable[None]] | None, state: _Loop, wait: float
) -> None:
    """Run ``shutdown`` on the loop, stop it, and wait up to ``wait`` seconds for both."""
    assert state.loop is not None
    assert state.thread is not None
    try:
        asyncio.run_coroutine_threadsafe(_shut_down(box, shutdown, state), state.loop)
    except RuntimeError:
        return  # the loop is gone already
    state.thread.join(wait)
    if state.thread.is_alive():
        state.halt()


def _abandoned(box: _Box) -> None:
    """A client that was never closed, collected or still open at exit: close its
    connections on its loop (briefly), stop the loop, and say so as an unclosed file would."""
    state, box.state = box.state, None
    if state is None:
        return
    warnings.warn(
        "a talkstack_sync.Talkstack client was not closed; use `with Talkstack(...) as "
        "client:` or call client.close()",
        ResourceWarning,
        stacklevel=2,
    )
    if threading.get_ident() == state.ident:
        assert state.loop is not None
        state.loop.create_task(_shut_down(box, box.shutdown, state))
    else:
        _close_and_join(box, box.shutdown, state, _ABANDONED_WAIT)


_ON_LOOP = (
    "the blocking client was called from code the SDK runs on its own event loop (a "
    "progress callback, a sync on_tokens, or a dial_many input generator); that call would "
    "wait for the very loop it blocks. Keep such callbacks quick and hand the work to "
    "another thread, or use talkstack_async.AsyncTalkstack with an async callback and "
    "await it there"
)

# Every runner of this process, so that a forked child can forget the parent's loop threads.
_RUNNERS: weakref.WeakSet[PortalRunner] = weakref.WeakSet()
# The parent's loop states in a forked child: kept, never used, so that nothing of the
# parent's (its loop, its selector) is collected and finalized here.
_INHERITED: list[tuple[_Loop, list[Any]]] = []


def _forget_parent_loops() -> None:
    for runner in list(_RUNNERS):
        box = runner._box
        if box.state is not None:
            # The parent's loop, and the generators suspended on it, stay out of reach.
            _INHERITED.append((box.state, list(box.iterators)))
            box.state, box.iterators = None, weakref.WeakSet()
        runner._lock = threading.Lock()  # it may have been held by a parent thread


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parent_loops)
