"""Reading the input lazily, one slot of ``concurrency`` held per input from its reading to
its outcome's consumption (memory stays flat however long the input and however slow the
consumer), and handing each input to admission.

Every input read gets exactly one outcome: the feeder keeps the input it is admitting in
``run.admitting`` until admission gave it an outcome, a placement or a place in the schedule,
so a failure of the ledger (or of this SDK) while admitting reports it ``NOT_ATTEMPTED``
rather than losing it; a cancellation does the same. When the run has failed the rest of the
input is read and reported ``NOT_ATTEMPTED``. An input iterator that raises ends the input
there: what was read goes on to its outcomes, then the run raises that error.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from talkstack_async.campaigns._admit import Admission
    from talkstack_async.campaigns._run import Run

__all__ = ["as_async_iterator", "close_source", "feed"]


_END: Any = object()


async def feed(run: Run, admission: Admission, source: AsyncIterator[Any]) -> None:
    """The feeder task: read, admit, and once the input is done wait for the run's tasks."""
    try:
        while run.failure is None:
            item = await _next(run, source)
            if item is _END:
                break
            index = run.read - 1
            if run.failed:  # it failed while we waited for a slot
                run.emit(admission.not_attempted(index, item, "run failed"))
                break
            run.admitting = (index, item)
            try:
                await admission.admit(index, item)
            except Exception as exc:  # the ledger failed (or this SDK): the run ends
                if run.stopping:  # a client that turned our cancellation into its own
                    raise asyncio.CancelledError from exc  # error (redis-py may): a stop
                run.fail(exc)
            if run.admitting is not None:  # admission ended without placing it anywhere
                run.admitting = None
                run.emit(admission.not_attempted(index, item, "run failed"))
        if run.failure is not None:
            while (item := await _next(run, source)) is not _END:
                run.emit(admission.not_attempted(run.read - 1, item, "run failed"))
        await run.settled()
    except asyncio.CancelledError:
        if run.admitting is not None:
            index, item = run.admitting
            run.admitting = None
            run.emit(admission.not_attempted(index, item, "run stopped"))
        raise
    except Exception as exc:  # a bug here must not hang the consumer
        run.fail(exc)
    run.finish()


async def _next(run: Run, source: AsyncIterator[Any]) -> Any:
    """The next input, with a slot held for its outcome; ``_END`` at the end."""
    if run.stopping:  # never wait for a slot once the consumer is gone
        raise asyncio.CancelledError
    await run.slots.acquire()
    try:
        item = await source.__anext__()
    except StopAsyncIteration:
        run.slots.release()
        return _END
    except Exception as exc:  # the input ends here; what was read goes on
        run.slots.release()
        run.input_error = exc
        return _END
    run.read += 1
    return item


class _SyncSource:
    """A plain iterable as an async iterator (read in the event loop: keep it cheap, e.g. a
    file read row by row)."""

    def __init__(self, iterable: Iterable[Any]) -> None:
        self.iterator: Iterator[Any] = iter(iterable)

    def __aiter__(self) -> _SyncSource:
        return self

    async def __anext__(self) -> Any:
        try:
            return next(self.iterator)
        except StopIteration:
            raise StopAsyncIteration from None


def as_async_iterator(requests: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    if isinstance(requests, AsyncIterable):
        return aiter(requests)
    return _SyncSource(requests)


async def close_source(source: AsyncIterator[Any]) -> None:
    """Close a generator the run stopped reading (a CSV reader's open file, say), as a
    ``with`` block would; other iterators are left as they are."""
    if isinstance(source, _SyncSource):
        if inspect.isgenerator(source.iterator):
            source.iterator.close()
    elif inspect.isasyncgen(source):
        await source.aclose()
