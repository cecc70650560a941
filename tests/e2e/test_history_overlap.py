"""Call history's request ahead is on the wire while the current page is being read."""

from __future__ import annotations

import json
from types import SimpleNamespace

import aiohttp

from talkstack_async import AsyncTalkstack
from talkstack_async.testing import TalkstackEmulator


async def test_next_page_is_requested_before_the_current_page_is_read(
    talkstack_server: TalkstackEmulator,
) -> None:
    """When a page reaches the consumer, the next page's request body has been written.

    Structuring a page is synchronous and nothing is awaited between it and handing the page
    out, so a request written by then was written before the page was read: the server works
    on page N + 1 while the client reads page N. Without the loop turns in
    ``iterate_history_pages`` the request would leave only when the consumer asks for the next
    page; if a later aiohttp needs more turns to send, this test says so.
    """
    seed = talkstack_server.seed(calls=500)
    pages_sent: list[int] = []

    async def on_chunk_sent(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestChunkSentParams,
    ) -> None:
        pages_sent.append(json.loads(params.chunk)["page"])

    trace = aiohttp.TraceConfig()
    trace.on_request_chunk_sent.append(on_chunk_sent)
    options = talkstack_server.client_options(seed.account)
    async with (
        aiohttp.ClientSession(trace_configs=[trace]) as session,
        AsyncTalkstack(**options, session=session) as client,
    ):
        sent_when_handed_out = {
            page.page_number: list(pages_sent)
            async for page in client.calls.history_pages(project_id=seed.project_id, page_size=100)
        }

    # 500 calls are 5 pages, and the emulator says so (totalPages): no sixth request.
    assert sent_when_handed_out == {n: list(range(1, min(n + 1, 5) + 1)) for n in range(1, 6)}
    assert pages_sent == [1, 2, 3, 4, 5]
