"""After ``fork()`` (the multiprocessing fork start method, as gunicorn --preload and Celery's
prefork pool do) the child gets a fresh loop thread and fresh connections, the parent keeps
working, and an async client in the child works too; nothing hangs."""

from __future__ import annotations

import asyncio
import multiprocessing
import sys

import pytest

from talkstack_async import AsyncTalkstack
from talkstack_async.testing import TalkstackEmulator
from talkstack_sync import Talkstack

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="no fork on Windows"),
    # Python 3.12+ warns that forking a process with threads may deadlock: the emulator's and
    # the client's threads are here on purpose, as in the servers this test stands for.
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

_CLIENT: Talkstack | None = None
_ASYNC: AsyncTalkstack | None = None


def _child_sync(project_id: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    assert _CLIENT is not None
    # The parent's connections are not this process's: the child starts with none.
    assert _CLIENT._async._sessions._session is None
    names = [_CLIENT.projects.get(project_id).id for _ in range(20)]
    queue.put(("sync", names.count(project_id), len(_CLIENT.voices.list())))
    _CLIENT.close()


def _child_async(project_id: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    assert _ASYNC is not None

    async def work() -> int:
        got = await asyncio.gather(*(_ASYNC.projects.get(project_id) for _ in range(10)))
        await _ASYNC.aclose()
        return sum(p.id == project_id for p in got)

    queue.put(("async", asyncio.run(work()), 0))


def test_forked_children_get_their_own_loop_and_connections_and_the_parent_goes_on(
    talkstack_server: TalkstackEmulator,
) -> None:
    global _CLIENT, _ASYNC
    seed = talkstack_server.seed()
    options = talkstack_server.client_options(seed.account)
    context = multiprocessing.get_context("fork")
    with Talkstack(**options) as client:
        _CLIENT = client
        assert client.projects.get(seed.project_id).id == seed.project_id  # used before fork
        _ASYNC = AsyncTalkstack(**options)
        parent_loop = asyncio.new_event_loop()  # the async client's connections live here
        assert parent_loop.run_until_complete(_use_async(_ASYNC, seed.project_id)) == (
            seed.project_id
        )
        queue = context.Queue()
        children = [
            context.Process(target=_child_sync, args=(seed.project_id, queue)) for _ in range(2)
        ]
        children.append(context.Process(target=_child_async, args=(seed.project_id, queue)))
        for child in children:
            child.start()
        try:
            # Meanwhile the parent keeps using its client and its own connections.
            for _ in range(30):
                assert client.projects.get(seed.project_id).id == seed.project_id
            results = sorted(queue.get(timeout=60) for _ in children)
            for child in children:
                child.join(timeout=60)
                assert child.exitcode == 0
        finally:
            for child in children:  # a hung child fails the test, it does not stall pytest
                if child.is_alive():
                    child.kill()
                    child.join(timeout=10)
        assert client.voices.list()
        assert parent_loop.run_until_complete(_use_async(_ASYNC, seed.project_id))
        parent_loop.run_until_complete(_ASYNC.aclose())
        parent_loop.close()
    assert results == [("async", 10, 0), ("sync", 20, 4), ("sync", 20, 4)]
    _CLIENT = _ASYNC = None


async def _use_async(client: AsyncTalkstack, project_id: str) -> str:
    project = await client.projects.get(project_id)
    return project.id
