"""The blocking facade's hop (talkstack_sync._portal) is held to the plain way, anyio's own
BlockingPortal: the same results, the same exceptions, the same items, from many threads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio.from_thread
from hypothesis import given, settings
from hypothesis import strategies as st

from talkstack_sync._portal import PortalRunner


class Boom(Exception):
    pass


async def compute(kind: str, value: int) -> Any:
    if kind == "sleep":
        await asyncio.sleep(0.0005)
    if kind == "raise":
        raise Boom(value)
    if kind == "loop":
        return id(asyncio.get_running_loop()) != 0
    return value * 2


async def count(n: int) -> AsyncIterator[int]:
    for i in range(n):
        await asyncio.sleep(0)
        yield i


def _outcome(call: Callable[[], Any]) -> Any:
    try:
        return ("ok", call())
    except Boom as exc:
        return ("boom", exc.args)


_step = st.tuples(
    st.sampled_from(["value", "sleep", "raise", "loop", "iterate"]), st.integers(0, 5)
)


@settings(max_examples=25, deadline=None)
@given(st.lists(_step, min_size=1, max_size=12), st.integers(1, 4))
def test_the_hop_agrees_with_anyios_blocking_portal(
    steps: list[tuple[str, int]], threads: int
) -> None:
    runner = PortalRunner()
    try:
        with anyio.from_thread.start_blocking_portal("asyncio") as portal:

            def plain(kind: str, value: int) -> Any:
                if kind == "iterate":
                    return _outcome(lambda: _drain_portal(portal, value))
                return _outcome(lambda: portal.call(compute, kind, value))

            def hopped(kind: str, value: int) -> Any:
                if kind == "iterate":
                    return _outcome(lambda: list(runner.iterate(count(value))))
                return _outcome(lambda: runner.call(compute, kind, value))

            with ThreadPoolExecutor(threads) as pool:
                expected = list(pool.map(lambda s: plain(*s), steps))
                got = list(pool.map(lambda s: hopped(*s), steps))
    finally:
        runner.close(_nothing)
    assert got == expected


def _drain_portal(portal: Any, n: int) -> list[int]:
    iterator = count(n)
    items = []

    async def step() -> Any:
        try:
            return await iterator.__anext__()
        except StopAsyncIteration:
            return None

    while (item := portal.call(step)) is not None:
        items.append(item)
    return items


async def _nothing() -> None:
    return None
