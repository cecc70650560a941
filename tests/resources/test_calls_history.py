"""Call history: lazy pages, early exit, the paging strategy's edges."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aioresponses import CallbackResult, aioresponses

from talkstack_async import AsyncTalkstack, CallHistoryPage, PaginationError
from talkstack_async._pagination import HistoryPaging, split_page
from tests.conftest import API, API_KEY

HISTORY = re.compile(rf"^{API}/call/get-call-history(\?.*)?$")


class FakeHistory:
    """Serves ``total`` calls by 1-based ``page`` and ``pageSize`` and records each request."""

    def __init__(self, total: int, *, envelope: bool = False) -> None:
        self.total = total
        self.envelope = envelope
        self.requests: list[dict[str, Any]] = []

    def __call__(self, url: Any, **kwargs: Any) -> CallbackResult:
        body = kwargs["json"]
        self.requests.append(body)
        size, page = body["pageSize"], body.get("page", 1)
        start = (page - 1) * size
        calls = [
            {"callSid": f"CA{n:06d}", "status": "completed", "to": "+14155550123"}
            for n in range(start, min(start + size, self.total))
        ]
        if not calls:
            return CallbackResult(status=404, payload={"message": "call list is empty"})
        payload: Any = {"message": "ok", "data": calls} if self.envelope else calls
        return CallbackResult(payload=payload)


async def _sids(client: AsyncTalkstack, page_size: int) -> list[str | None]:
    return [call.sid async for call in client.calls.history(project_id="p1", page_size=page_size)]


@pytest.mark.parametrize(
    ("total", "page_size", "requests"),
    [
        (0, 10, 1),  # the 404 "call list is empty"
        (7, 10, 2),  # one short page: a cap or the end? page 2 (a 404) says the end
        (10, 10, 2),  # exactly full: one more request learns the end
        (95, 10, 10),  # many pages, the last short
    ],
    ids=["empty", "one-page", "exactly-full", "many-pages"],
)
async def test_history_yields_every_call_once_in_order(
    mocked: aioresponses, total: int, page_size: int, requests: int
) -> None:
    server = FakeHistory(total)
    mocked.post(HISTORY, callback=server, repeat=True)
    async with AsyncTalkstack(api_key=API_KEY) as client:
        sids = await _sids(client, page_size)
    assert sids == [f"CA{n:06d}" for n in range(total)]
    assert [r["page"] for r in server.requests] == list(range(1, requests + 1))
    assert all(r["pageSize"] == page_size and r["projectId"] == "p1" for r in server.requests)


async def test_history_pages_expose_whole_pages(mocked: aioresponses) -> None:
    server = FakeHistory(25, envelope=True)
    mocked.post(HISTORY, callback=server, repeat=True)
    async with AsyncTalkstack(api_key=API_KEY) as client:
        pages = [page async for page in client.calls.history_pages(project_id="p1", page_size=10)]
    assert [len(p.items) for p in pages] == [10, 10, 5]
    assert [p.page_number for p in pages] == [1, 2, 3]
    assert all(isinstance(p, CallHistoryPage) for p in pages)


async def test_breaking_out_early_sends_nothing_past_the_request_ahead(
    mocked: aioresponses,
) -> None:
    server = FakeHistory(1000)
    mocked.post(HISTORY, callback=server, repeat=True)
    async with AsyncTalkstack(api_key=API_KEY) as client:
        seen = 0
        history = client.calls.history(project_id="p1", page_size=10)
        async for _ in history:
            seen += 1
            if seen == 15:
                break
        await history.aclose()  # type: ignore[attr-defined]
    assert seen == 15
    assert [r["page"] for r in server.requests] == [1, 2, 3]  # 3: asked for while reading 2


async def test_pages_are_fetched_only_when_asked_for(mocked: aioresponses) -> None:
    server = FakeHistory(100)
    mocked.post(HISTORY, callback=server, repeat=True)
    async with AsyncTalkstack(api_key=API_KEY) as client:
        pages = client.calls.history_pages(project_id="p1", page_size=10)
        assert server.requests == []
        await pages.__anext__()  # type: ignore[attr-defined]
        assert [r["page"] for r in server.requests] == [1, 2]  # page 2 is the one ahead
        await pages.aclose()  # type: ignore[attr-defined]


async def test_a_server_cursor_is_followed_when_offered(mocked: aioresponses) -> None:
    mocked.post(
        HISTORY,
        payload={"data": {"calls": [{"callSid": "CA1"}], "nextPageToken": "tok-2"}},
    )
    mocked.post(HISTORY, payload={"calls": [{"callSid": "CA2"}], "hasMore": False})
    async with AsyncTalkstack(api_key=API_KEY) as client:
        sids = await _sids(client, page_size=1)
    assert sids == ["CA1", "CA2"]
    bodies = [call.kwargs["json"] for calls in mocked.requests.values() for call in calls]
    assert bodies[1] == {"projectId": "p1", "pageSize": 1, "pageToken": "tok-2"}


async def test_a_server_that_ignores_the_page_number_is_detected(mocked: aioresponses) -> None:
    same_page = [{"callSid": f"CA{n}"} for n in range(5)]
    mocked.post(HISTORY, payload=same_page, repeat=True)
    async with AsyncTalkstack(api_key=API_KEY) as client:
        with pytest.raises(PaginationError, match="page 1 again"):
            await _sids(client, page_size=5)


def test_paging_stops_on_total_pages_and_has_more() -> None:
    paging = HistoryPaging()
    full = [{"callSid": "x"}] * 10
    assert paging.after({"page": 3}, split_page({"data": full, "totalPages": 3}), 10) is None
    assert paging.after({"page": 2}, split_page({"data": full, "totalPages": 3}), 10) == {"page": 3}
    assert paging.after({"page": 1}, split_page({"data": full, "has_more": False}), 10) is None


def test_history_payload_without_any_array_is_rejected() -> None:
    from talkstack_async._convert import StructureError

    with pytest.raises(StructureError):
        split_page({"message": "ok"})


async def test_history_sends_the_documented_default_page_size(mocked: aioresponses) -> None:
    mocked.post(HISTORY, payload=[])
    async with AsyncTalkstack(api_key=API_KEY) as client:
        assert [c async for c in client.calls.history(project_id="p1")] == []
    (call,) = next(iter(mocked.requests.values()))
    assert json.loads(json.dumps(call.kwargs["json"])) == {
        "projectId": "p1",
        "pageSize": 20,
        "page": 1,
    }
