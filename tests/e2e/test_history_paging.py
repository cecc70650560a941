"""Call history over real sockets when the pages move or the server pages its own way: calls
placed during an export, a server that caps the page size (saying so or not), a server that
ignores the page number."""

from __future__ import annotations

import pytest

from talkstack_async import AsyncTalkstack
from talkstack_async.testing import TalkstackEmulator


@pytest.mark.talkstack_emulator(status_interval=600)
async def test_calls_placed_during_an_export_never_yield_a_call_twice(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed(calls=95)
    sids: list[str] = []
    async with AsyncTalkstack(**talkstack_server.client_options(seed.account)) as client:
        async for page in client.calls.history_pages(project_id=seed.project_id, page_size=20):
            sids.extend(call.sid for call in page.items)
            if page.page_number == 1:
                for n in range(5):  # newest first: these push five calls onto later pages
                    await client.calls.make(
                        f"+1415888{n:04d}", project_id=seed.project_id, agent_id=seed.agent_id
                    )
    assert len(sids) == len(set(sids))
    assert len(sids) >= 95  # none of the calls there at the start is missed


@pytest.mark.parametrize("hints", [True, False], ids=["says-its-page-size", "silent"])
async def test_a_server_that_caps_the_page_size_is_paged_to_the_end(
    hints: bool,
) -> None:
    from talkstack_async.testing import EmulatorThread

    with EmulatorThread(history_page_cap=25, history_hints=hints) as emulator:
        seed = emulator.seed(calls=180)
        async with AsyncTalkstack(**emulator.client_options(seed.account)) as client:
            calls = [
                c async for c in client.calls.history(project_id=seed.project_id, page_size=100)
            ]
        history_requests = emulator.requests.count("calls.history")
    assert len(calls) == 180
    assert len({c.sid for c in calls}) == 180
    assert history_requests == 8  # 7 pages of 25 or fewer, and the empty 8th


@pytest.mark.parametrize("hints", [True, False], ids=["with-hints", "silent"])
async def test_a_short_history_ends_without_error(hints: bool) -> None:
    from talkstack_async.testing import EmulatorThread

    with EmulatorThread(history_hints=hints) as emulator:
        seed = emulator.seed(calls=7)
        async with AsyncTalkstack(**emulator.client_options(seed.account)) as client:
            calls = [
                c async for c in client.calls.history(project_id=seed.project_id, page_size=20)
            ]
        history_requests = emulator.requests.count("calls.history")
    assert len(calls) == 7
    assert history_requests == (1 if hints else 2)  # silent: page 2 is asked once, empty
