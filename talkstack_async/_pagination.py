"""Call-history paging as async generators, behind one small strategy.

ASSUMPTION (the docs show only ``pageSize``, default 20, and not how to ask for page 2):

* page N is requested by adding ``"page": N`` (1-based) to the JSON body;
* if a response carries a cursor (``nextPageToken``, ``next_page_token``, ``nextCursor`` or
  ``next_cursor``), the next request sends it back as ``"pageToken"`` instead;
* the pages end at ``page`` reaching ``totalPages``/``total_pages`` when the server sends it,
  else at a page shorter than the server's page size (its ``pageSize`` in the answer; a server
  may cap what was asked), an empty page, a 404 ("call list is empty") or ``hasMore``/
  ``has_more`` false (see ``HistoryPaging`` for a short first page);
* calls placed during the iteration push older ones onto later pages: a call already yielded
  on the previous page is not yielded again. A concurrent *deletion* can still make a call
  move to an earlier page and be missed; offset paging cannot prevent that;
* the items are the body itself when it is an array, else the first array found under
  ``data``, ``calls``, ``callHistory``, ``items`` or ``results`` (one level of nesting allowed).

A server that ignored the page number would send the first page forever; a page identical to
the previous one therefore raises PaginationError instead of looping. To change the
mechanism, change ``HistoryPaging`` only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from itertools import repeat
from typing import Any, TypeVar

import anyio
import attrs

from talkstack_async._convert import StructureError, converter
from talkstack_async._errors import APIResponseError, PaginationError
from talkstack_async.models.call import Call, CallHistoryPage

__all__ = ["HistoryPaging", "items_of", "iterate_history_pages"]

# Loop turns a request on a pooled connection takes to reach the socket (aiohttp 3.14, Python
# 3.11): one runs the task up to aiohttp's body writer task, one runs that. Checked by
# tests/e2e/test_history_overlap.py, which fails if a later aiohttp needs more.
_TURNS_TO_SEND = 2

_ITEM_KEYS = ("data", "calls", "callHistory", "call_history", "items", "results")
_CURSOR_KEYS = ("nextPageToken", "next_page_token", "nextCursor", "next_cursor")


F = TypeVar("F", bound=Callable[..., Any])


def items_of(pages_method: str) -> Callable[[F], F]:
    """Marks an async generator as yielding the ``items`` of the pages ``pages_method`` yields.

    The blocking facade uses it to move whole pages across threads instead of single items.
    """

    def mark(method: F) -> F:
        method.__talkstack_items_of__ = pages_method  # type: ignore[attr-defined]
        return method

    return mark


@attrs.frozen
class RawPage:
    items: list[Any]
    meta: Mapping[str, Any]


def split_page(payload: Any) -> RawPage:
    """The item array of a history response and the object around it (for paging hints)."""
    if isinstance(payload, list):
        return RawPage(payload, {})
    if isinstance(payload, dict):
        for key in _ITEM_KEYS:
            value = payload.get(key)
            if isinstance(value, list):
                return RawPage(value, payload)
            if isinstance(value, dict):
                for inner in _ITEM_KEYS:
                    if isinstance(value.get(inner), list):
                        return RawPage(value[inner], {**payload, **value})
    raise StructureError("no array of calls found in the call-history response")


class HistoryPaging:
    """Decides the paging fields of each call-history request (see the module docstring).

    One instance per iteration: it learns the server's page size. A server may serve fewer
    items a page than asked (a cap below ``pageSize``); when it says so (``pageSize`` in the
    answer) that size is what a last page is shorter than. When it does not, a short first
    page may be a cap or the whole history, so page 2 is asked for once (one extra request
    for a short history, sent while page 1 is read): empty or the same as page 1 means the
    end, anything else reveals the cap.
    """

    def __init__(self) -> None:
        self.size: int | None = None  # the server's page size, once known
        self.probing = False  # page 2 was asked for after a short page 1

    def first(self) -> dict[str, Any]:
        return {"page": 1}

    def after(
        self, request: Mapping[str, Any], page: RawPage, page_size: int
    ) -> dict[str, Any] | None:
        """The paging fields of the next request, or None when this page was the last."""
        meta = page.meta
        self.probing = False
        if not page.items or meta.get("hasMore", meta.get("has_more")) is False:
            return None
        for key in _CURSOR_KEYS:
            cursor = meta.get(key)
            if isinstance(cursor, str) and cursor:
                return {"page_token": cursor}
        number = request.get("page", 1)
        total = meta.get("totalPages", meta.get("total_pages"))
        if isinstance(total, int) and not isinstance(total, bool):
            return {"page": number + 1} if number < total else None
        served = meta.get("pageSize", meta.get("page_size"))
        if isinstance(served, int) and not isinstance(served, bool) and served > 0:
            self.size = min(served, page_size)
        if len(page.items) >= (self.size or page_size):
            return {"page": number + 1}
        if number == 1 and self.size is None:
            self.size = len(page.items)  # a cap, or the whole history: page 2 tells
            self.probing = True
            return {"page": 2}
        return None


async def iterate_history_pages(
    fetch: Callable[[Mapping[str, Any]], Awaitable[Any]],
    *,
    page_size: int,
    paging: HistoryPaging | None = None,
) -> AsyncGenerator[CallHistoryPage, None]:
    """Fetch page after page; ``fetch`` sends one request with the given paging fields.

    One request ahead: the next page's request is on the wire before the current page is
    read, so the server's time overlaps with reading this page and with the consumer's work.
    At most two pages are held; stopping early cancels the request ahead (one read may have
    been sent).
    """
    paging = paging or HistoryPaging()
    request: Mapping[str, Any] = paging.first()
    structure_call = converter.get_structure_hook(Call)
    previous: list[Any] | None = None
    previous_calls: tuple[Call, ...] = ()  # the previous page, for calls pushed onto this one
    number = 0
    following: Mapping[str, Any] | None = None
    ahead: asyncio.Future[Any] | None = None
    try:
        payload = await fetch(request)
        while payload is not None:  # None: 404, "call list is empty"
            try:
                page = split_page(payload)
                repeated = page.items == previous
                if repeated and paging.probing:
                    return  # a short page 1 served again: the server ignores paging, all fit
                following = paging.after(request, page, page_size) if page.items else None
                if following is not None and not repeated:
                    ahead = asyncio.ensure_future(fetch(following))
                    # Until the loop runs it, the task ahead is only scheduled: without these
                    # turns the request would leave after this page was read, not during.
                    for _ in range(_TURNS_TO_SEND):
                        await asyncio.sleep(0)
                items = tuple(map(structure_call, page.items, repeat(Call)))
            except StructureError as exc:
                raise APIResponseError(
                    f"unexpected call-history response: {exc}",
                    method="POST",
                    path="/call/get-call-history",
                    status=200,
                    body=None,
                ) from exc
            if not items:
                return
            fresh = items
            if previous_calls and items[0].sid is not None:
                # Calls placed meanwhile push the previous page's last calls onto the top of
                # this one: never yield a call twice across a page boundary. Looked for only
                # when this page starts with a call of the previous one (one scan of it).
                first = items[0].sid
                if any(call.sid == first for call in previous_calls):
                    seen = {call.sid for call in previous_calls}
                    fresh = tuple(call for call in items if call.sid not in seen)
            if repeated:
                raise PaginationError(
                    f"the server sent page {number} again for page {number + 1}; it does not "
                    "seem to support the paging this SDK assumes (see talkstack_async._pagination)"
                )
            previous = page.items
            previous_calls = items
            number += 1
            if fresh:
                yield CallHistoryPage(items=fresh, page_number=number)
            if ahead is None or following is None:
                return
            request, payload = following, await ahead
            ahead = None
    finally:
        if ahead is not None:
            ahead.cancel()
            with anyio.CancelScope(shield=True):
                await asyncio.gather(ahead, return_exceptions=True)
