"""The aiohttp side of the emulator: routes to handlers, auth, faults and the request log."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from talkstack_async.testing._accounts import Accounts
from talkstack_async.testing._errors import Refusal
from talkstack_async.testing._faults import Fault, FaultKind, Faults
from talkstack_async.testing._log import RecordedRequest, RequestLog
from talkstack_async.testing._records import UserRecord
from talkstack_async.testing._routes import ROUTES, Incoming, Route
from talkstack_async.testing._store import Store

__all__ = ["build_app"]

_MAX_UPLOAD = 64 * 1024 * 1024
# The body's digest and decoded JSON, once read; the handler and the middleware share a task.
_SEEN: ContextVar[tuple[str, Any] | None] = ContextVar("talkstack_emulator_body", default=None)
_UNPROCESSED = frozenset({FaultKind.STATUS, FaultKind.RESET_BEFORE, FaultKind.HANG})


def build_app(
    host: str, store: Store, faults: Faults, log: RequestLog, stopping: asyncio.Event
) -> web.Application:
    """The application of one host (``"api"`` or ``"calls"``)."""
    app = web.Application(
        middlewares=[_middleware(host, faults, log, stopping)], client_max_size=_MAX_UPLOAD
    )
    for item in ROUTES:
        if item.host == host:
            app.router.add_route(item.method, item.path, _endpoint(item, store), name=item.name)
    return app


def _endpoint(item: Route, store: Store) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            body, form = await _decode(request, item.multipart)
            with store.lock:
                user = _authenticate(store.accounts, request, item.auth)
                incoming = Incoming(store, user, body, request.query, request.match_info, form)
                result = item.handler(incoming)
        except Refusal as refusal:
            return web.json_response(refusal.body(), status=refusal.status, headers=refusal.headers)
        return web.json_response(result)

    return handle


async def _decode(request: web.Request, multipart: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    if multipart:
        if not request.content_type.startswith("multipart/"):
            raise Refusal(400, "expected multipart/form-data.")
        form: dict[str, Any] = {}
        digest = hashlib.sha256()
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                data = value.file.read()
                form[name] = (value.filename, data)
                digest.update(data)
            else:
                text = value if isinstance(value, str) else value.decode("utf-8", "replace")
                form[name] = text
                digest.update(f"{name}={text}".encode())
        _SEEN.set((digest.hexdigest(), None))
        return {}, form
    raw = await request.read()
    if not raw:
        _SEEN.set((hashlib.sha256(raw).hexdigest(), None))
        return {}, {}
    try:
        body = json.loads(raw)
    except ValueError:
        _SEEN.set((hashlib.sha256(raw).hexdigest(), None))
        raise Refusal(400, "the body is not valid JSON.") from None
    _SEEN.set((hashlib.sha256(raw).hexdigest(), body))
    if not isinstance(body, dict):
        raise Refusal(400, "the body must be a JSON object.")
    return body, {}


def _authenticate(accounts: Accounts, request: web.Request, auth: str) -> UserRecord | None:
    if auth == "none":
        return None
    key = request.headers.get("x-api-key")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return accounts.by_token(token)
    if key and auth == "bearer":
        raise Refusal(401, "this endpoint requires a bearer token.")
    if key:
        return accounts.by_api_key(key)
    raise Refusal(401, "unauthorized: send x-api-key or a bearer token.")


def _middleware(
    host: str, faults: Faults, log: RequestLog, stopping: asyncio.Event
) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        received = time.time()
        operation = request.match_info.route.name
        fault = faults.pick(operation) if operation else None
        status: int | None = None
        _SEEN.set(None)
        if fault is not None and fault.kind in _UNPROCESSED:
            _SEEN.set(await _digest_unread(request))
        try:
            response = await _serve(request, handler, fault, stopping)
            status = None if response is None else response.status
            return response if response is not None else web.Response()
        except web.HTTPException as exc:  # no such route or method
            status = exc.status
            raise
        finally:
            digest, body = _SEEN.get() or await _digest_unread(request)
            log.append(
                RecordedRequest(
                    operation, request.method, request.path, dict(request.query), host,
                    digest, body, received, status, fault.kind if fault else None,
                    CIMultiDictProxy(CIMultiDict(request.headers)), time.time(),
                )
            )  # fmt: skip

    return middleware


async def _serve(
    request: web.Request,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    fault: Fault | None,
    stopping: asyncio.Event,
) -> web.StreamResponse | None:
    """The response, or None when the connection was dropped instead."""
    kind = fault.kind if fault else None
    if fault is not None and kind is FaultKind.LATENCY:
        await asyncio.sleep(fault.delay)
    elif kind is FaultKind.HANG:
        await stopping.wait()  # until the client gives up (handler cancelled) or we stop
        return web.json_response({"message": "emulator stopped", "status": "error"}, status=503)
    elif fault is not None and kind is FaultKind.STATUS:
        headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
        body = {"message": f"injected fault: HTTP {fault.status}", "status": "error"}
        return web.json_response(body, status=fault.status, headers=headers)
    elif kind is FaultKind.RESET_BEFORE:
        _reset(request)
        return None
    response = await handler(request)
    if kind is FaultKind.RESET_AFTER:
        _reset(request)
        return None
    if fault is not None and kind is FaultKind.SLOW_BODY and isinstance(response, web.Response):
        return await _slowly(request, response, fault.delay)
    return response


def _reset(request: web.Request) -> None:
    """Drop the connection with a TCP RST, as a crashed proxy would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _slowly(
    request: web.Request, response: web.Response, seconds: float
) -> web.StreamResponse:
    body = response.body if isinstance(response.body, bytes) else b""
    slow = web.StreamResponse(
        status=response.status, headers={"Content-Type": response.content_type}
    )
    slow.content_length = len(body)
    await slow.prepare(request)
    pieces = 10
    step = max(1, -(-len(body) // pieces))
    for start in range(0, len(body), step):
        await slow.write(body[start : start + step])
        await asyncio.sleep(seconds / pieces)
    await slow.write_eof()
    return slow


async def _digest_unread(request: web.Request) -> tuple[str, Any]:
    """The body of a request no handler read (a fault answered first)."""
    try:
        raw = await request.read()
    except Exception:  # the connection may be gone already
        raw = b""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return hashlib.sha256(raw).hexdigest(), body
