"""A minimal, fast Talkstack stand-in for benchmarks, run in its own process.

Canned answers (pre-rendered bytes) keep the server's share of each request small, so the
benchmarks measure the clients. ``python benchmarks/server.py`` prints its port and serves:

* ``GET /project/{id}``: the documented get-project answer (x-api-key or the current token);
* ``POST /call/get-call-history``: pages of the emulator's seeded calls (body ``page`` and
  ``pageSize``), rendered once and cached;
* ``POST /call/makeCall``: make-call's documented answer (the same call every time);
* ``POST /auth/refresh-token``: a new token (counted); ``POST /bench/expire``: invalidate the
  current token; ``GET /bench/stats``: ``{"refreshes": n}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator

from aiohttp import web

from talkstack_async.testing._seeded import SeededCalls

API_KEY = "b" * 64
PROJECT_ID = "65f0c0ffee0000000000beef"
TOTAL_CALLS = 100_000

_PROJECT = json.dumps(
    {
        "message": "successfully fetched project data.",
        "status": "succcess",
        "data": {
            "name": "Bench", "user_id": "65f0c0ffee0000000000cafe", "status": "ACTIVE",
            "description": "benchmark project", "is_deleted": False, "call_status_webhook": None,
            "id": PROJECT_ID, "active_agent": None, "created_at": "2025-03-05T11:04:49.875Z",
            "updated_at": "2025-03-05T11:04:49.875Z",
        },
    }
).encode()  # fmt: skip


_PLACED = json.dumps(
    {"message": "call made successfully.", "status": "success",
     "call": {"call_id": "CA" + "0" * 32, "to": "+14155550100", "from": "+18005550100"}}
).encode()  # fmt: skip


class State:
    def __init__(self) -> None:
        self.token = "initial-token"
        self.refreshes = 0
        self.pages: dict[tuple[int, int], bytes] = {}
        self.seeded = SeededCalls(PROJECT_ID, TOTAL_CALLS, "+18005550100")

    def authorized(self, request: web.Request) -> bool:
        if request.headers.get("x-api-key") == API_KEY:
            return True
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def page(self, number: int, size: int) -> bytes | None:
        key = (number, size)
        if key not in self.pages:
            start = (number - 1) * size
            items = [self.seeded.item(i) for i in range(start, min(start + size, TOTAL_CALLS))]
            if not items:
                return None
            pages = -(-TOTAL_CALLS // size)
            body = {"message": "ok", "status": "success", "data": items, "page": number,
                    "pageSize": size, "totalPages": pages, "total": TOTAL_CALLS}  # fmt: skip
            self.pages[key] = json.dumps(body).encode()
        return self.pages[key]


def app(state: State) -> web.Application:
    unauthorized = web.Response(status=401, body=b'{"message":"unauthorized"}')

    async def get_project(request: web.Request) -> web.Response:
        if not state.authorized(request):
            return unauthorized
        return web.Response(body=_PROJECT, content_type="application/json")

    async def history(request: web.Request) -> web.Response:
        if not state.authorized(request):
            return unauthorized
        body = await request.json()
        page = state.page(body.get("page", 1), body.get("pageSize", 20))
        if page is None:
            return web.Response(status=404, body=b'{"message":"call list is empty."}')
        return web.Response(body=page, content_type="application/json")

    async def make_call(request: web.Request) -> web.Response:
        if not state.authorized(request):
            return unauthorized
        await request.read()
        return web.Response(body=_PLACED, content_type="application/json")

    async def refresh(request: web.Request) -> web.Response:
        await request.read()
        state.refreshes += 1
        state.token = f"token-{state.refreshes}"
        answer = {"message": "ok", "status": "success", "token": state.token,
                  "resfreshToken": f"refresh-{state.refreshes}",
                  "expirationTime": "2099-01-01T00:00:00.000Z"}  # fmt: skip
        return web.json_response(answer)

    async def expire(request: web.Request) -> web.Response:
        state.token = "nobody-has-this-token"
        state.refreshes = 0
        return web.json_response({})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"refreshes": state.refreshes})

    application = web.Application()
    application.router.add_get("/project/{projectId}", get_project)
    application.router.add_post("/call/get-call-history", history)
    application.router.add_post("/call/makeCall", make_call)
    application.router.add_post("/auth/refresh-token", refresh)
    application.router.add_post("/bench/expire", expire)
    application.router.add_get("/bench/stats", stats)
    return application


async def main() -> None:
    runner = web.AppRunner(app(State()), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, backlog=1024).start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()


@contextlib.contextmanager
def serving() -> Iterator[str]:
    """This server in a process of its own, for as long as the block runs; yields its URL."""
    server = subprocess.Popen([sys.executable, __file__], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        yield f"http://127.0.0.1:{server.stdout.readline().strip()}"
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
