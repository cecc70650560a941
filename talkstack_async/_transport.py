"""The one place that sends HTTP: headers, timeouts, retries, decoding, error mapping, logging.

Retry rules, in order of precedence:

* A request that got no response is retried only when it is declared ``retry_safe``, or when it
  provably never left this machine (the connection could not be opened, or the timeout fired
  while it waited for one: ``_session.connecting``). So a call-placing
  request is never sent twice, whatever fails; ``_send_once`` keeps aiohttp's own re-send of
  idempotent methods away from requests that are not retry-safe.
* A 401 on a renewable credential renews it once (single-flight) and repeats the request once:
  the server rejected the request unprocessed, so this holds for call placement too.
* 408, 429 and 5xx (the ``RetryPolicy``'s ``statuses``) are retried only for ``retry_safe``
  requests, after ``Retry-After`` or an exponential backoff with full jitter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, BinaryIO, NamedTuple

import aiohttp
import attrs
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from talkstack_async._auth import Auth
from talkstack_async._config import ClientConfig
from talkstack_async._endpoints import Endpoint, Host, unwrap
from talkstack_async._errors import (
    APIConnectionError,
    APIResponseError,
    APIStatusError,
    APITimeoutError,
    ClientClosedError,
    NotFoundError,
    status_error_class,
)
from talkstack_async._hooks import HookSet, OperationInfo, RequestEvent, ResponseEvent, RetryEvent
from talkstack_async._json import loads, loads_common
from talkstack_async._logging import logger
from talkstack_async._options import check_options
from talkstack_async._redact import for_debug_log, redact, scrub
from talkstack_async._response import capture as raw_capture
from talkstack_async._retry import backoff_delay, retry_after_seconds
from talkstack_async._send_once import send_once_middlewares
from talkstack_async._session import SessionHolder, base_headers, connecting

__all__ = ["FilePart", "RequestSpec", "Transport"]

_sleep = asyncio.sleep  # a module attribute so tests can observe the backoff without waiting


@attrs.frozen
class FilePart:
    """A file sent in a multipart body."""

    filename: str
    content: bytes | BinaryIO = attrs.field(repr=False)
    content_type: str = "application/octet-stream"


class RequestSpec(NamedTuple):
    """One HTTP request: the endpoint (route and policies) and this request's content.

    A named tuple rather than an attrs class: one is built for every request, and a frozen
    attrs instance costs three times as much to build.
    """

    endpoint: Endpoint
    path: str
    json: Any = None
    params: Mapping[str, str] | None = None
    form: Mapping[str, str | FilePart] | None = None
    headers: CIMultiDict[str] | None = None  # the call's own, over the client's
    timeout: aiohttp.ClientTimeout | None = None  # the call's own, else the client's

    @property
    def method(self) -> str:
        return self.endpoint.method

    def __repr__(self) -> str:
        # Bodies carry passwords and refresh tokens; error reporters that capture frame
        # locals would show them.
        return f"RequestSpec({self.method} {self.path})"


class _NoResponse(Exception):
    """Internal: an attempt got no response; ``sent`` says whether the request may have left."""

    def __init__(self, error: APIConnectionError, *, sent: bool) -> None:
        self.error = error
        self.sent = sent


class Transport:
    __slots__ = (
        "_attempt_hooks",
        "_auth",
        "_bases",
        "_config",
        "_headers",
        "_hooks",
        "_merged",
        "_plain",
        "_proxies",
        "_sessions",
        "_timeout",
        "_urls",
        "send",
    )

    send: Callable[[RequestSpec], Awaitable[tuple[int, Any]]]
    """Send with auth, retries and error mapping; return the status and the decoded body."""

    def __init__(
        self,
        config: ClientConfig,
        auth: Auth,
        sessions: SessionHolder,
        hooks: HookSet | None = None,
    ) -> None:
        self._config = config
        self._hooks = hooks
        self._attempt_hooks = hooks if hooks is not None and hooks.attempts else None
        # Chosen once: a client whose hooks wrap no operation pays nothing for the wrapping.
        self.send = self._send_scoped if hooks is not None and hooks.operations else self._send
        self._auth = auth
        self._sessions = sessions
        self._timeout = config.timeouts.as_aiohttp()
        self._bases = {
            Host.API: str(config.base_url).rstrip("/"),
            Host.CALLS: str(config.calls_base_url).rstrip("/"),
        }
        self._proxies = {Host.API: config.proxies.api, Host.CALLS: config.proxies.calls}
        # A session the client made carries the base headers itself; an injected one gets
        # them with every request.
        self._headers = {} if sessions.owned else base_headers(config)
        self._plain = CIMultiDict(self._headers) if self._headers else None
        # The last auth headers and the full set built from them. Auth hands out the same
        # dict until its credentials change, so most requests reuse one CIMultiDict that
        # aiohttp takes as it is instead of converting a dict every time.
        self._merged: tuple[Mapping[str, str] | None, CIMultiDict[str] | None] = (
            None,
            self._plain,
        )
        # Parsed URLs by host and path: a client asks for the same few resources again and
        # again, and parsing one costs about a microsecond on every request.
        self._urls: dict[tuple[Host, str], URL] = {}

    @property
    def auth(self) -> Auth:
        return self._auth

    async def call(
        self,
        endpoint: Endpoint,
        args: Mapping[str, Any],
        options: Mapping[str, Any] | None = None,
    ) -> Any:
        """Send ``endpoint`` with these (Python-named) arguments; return its unwrapped result.

        ``options`` are the caller's per-call options (``extra_headers``, ``extra_query``,
        ``extra_body``, ``timeout``), checked before anything is sent. Returns ``None`` for
        message-only endpoints and for a 404 that the endpoint documents as "nothing there".
        """
        path, body, query = endpoint.render(args)
        if options:
            spec = _with_options(endpoint, path, body, query, options)
        elif endpoint.multipart:
            spec = RequestSpec(endpoint, path, None, query or None, body)
        else:
            spec = RequestSpec(endpoint, path, body or None, query or None)
        status, decoded = await self.send(spec)
        if status == 404:
            return None
        return unwrap(endpoint, decoded, status=status)

    @property
    def hooks(self) -> HookSet | None:
        return self._hooks

    async def _send_scoped(self, spec: RequestSpec) -> tuple[int, Any]:
        assert self._hooks is not None
        endpoint = spec.endpoint
        info = OperationInfo(
            endpoint.name, endpoint.method, endpoint.path, endpoint.host.value, endpoint.retry_safe
        )
        with self._hooks.operation(info):
            return await self._send(spec)

    async def _send(self, spec: RequestSpec) -> tuple[int, Any]:
        endpoint = spec.endpoint
        retries = 0
        renewed = False
        policy = self._config.retry
        recorder = raw_capture.get()  # set only inside a with_raw_response call
        hooks = self._attempt_hooks
        while True:
            auth_headers = self._auth.ready_headers(endpoint.auth)
            if auth_headers is None:
                auth_headers = await self._auth.headers(endpoint.auth)
            if hooks is not None:
                attempt = retries + renewed + 1
                hooks.emit(
                    hooks.requests, RequestEvent(endpoint.name, spec.method, endpoint.path, attempt)
                )
            timed = recorder is not None or hooks is not None
            started = time.perf_counter() if timed else 0.0
            try:
                status, headers, raw = await self._attempt(spec, auth_headers, retries)
            except _NoResponse as failure:
                if (endpoint.retry_safe or not failure.sent) and retries < policy.max_retries:
                    reason = "timed out" if isinstance(failure.error, APITimeoutError) else None
                    await self._backoff(
                        spec, retries, None, failure.error.message, renewed, reason, None
                    )
                    retries += 1
                    continue
                raise failure.error from failure.__cause__
            if timed:
                elapsed = time.perf_counter() - started
                if recorder is not None and (200 <= status < 300 or status == 404):
                    recorder.record(status, headers, elapsed, spec.method, spec.path)
                if hooks is not None and hooks.responses:
                    event = ResponseEvent(
                        endpoint.name,
                        spec.method,
                        endpoint.path,
                        retries + renewed + 1,
                        status,
                        elapsed,
                        CIMultiDictProxy(CIMultiDict(headers)),
                    )
                    hooks.emit(hooks.responses, event)
            if 200 <= status < 300:
                try:
                    return status, loads_common(raw)
                except ValueError:  # an empty body, or one only the stdlib reads, or not JSON
                    return status, self._decode_success(spec, status, raw)
            renewable = endpoint.renew_on_401 and auth_headers and self._auth.can_renew
            if status == 401 and renewable and not renewed:
                renewed = True
                await self._auth.renew_after_rejection(auth_headers)
                continue
            if status == 404 and endpoint.absent_on_404:
                return status, None
            retry_after = retry_after_seconds(headers)
            retryable = endpoint.retry_safe and status in policy.statuses
            if retryable and retries < policy.max_retries:
                reason = f"HTTP {status}"
                await self._backoff(spec, retries, retry_after, reason, renewed, reason, status)
                retries += 1
                continue
            raise self._status_error(spec, status, headers, raw, retry_after)

    async def _attempt(
        self, spec: RequestSpec, auth_headers: Mapping[str, str], retries: int
    ) -> tuple[int, Mapping[str, str], bytes]:
        url = self._url(spec.endpoint.host, spec.path)
        last_auth, headers = self._merged
        if not auth_headers:
            headers = self._plain
        elif auth_headers is not last_auth:
            headers = CIMultiDict({**self._headers, **auth_headers})
            self._merged = (auth_headers, headers)
        if spec.headers is not None:  # the call's extra_headers win
            headers = CIMultiDict(headers or ())
            headers.update(spec.headers)
        # DEBUG on implies INFO on: one level check per request when logging is off.
        timed = logger.isEnabledFor(logging.INFO)
        debug = timed and logger.isEnabledFor(logging.DEBUG)
        if debug:
            logger.debug(
                "talkstack request %s %s params=%s body=%s",
                spec.method,
                spec.path,
                for_debug_log(spec.params),
                self._safe(for_debug_log(redact(spec.json))),
            )
        started = time.perf_counter() if timed else None
        try:
            session = self._sessions.get()
            once = (
                None
                if spec.endpoint.retry_safe
                else send_once_middlewares(session, self._sessions.owned)
            )
            async with session.request(
                spec.method,
                url,
                json=spec.json,
                params=spec.params,
                data=_form_data(spec.form) if spec.form is not None else None,
                headers=headers,
                timeout=self._timeout if spec.timeout is None else spec.timeout,
                # Redirects would carry x-api-key to wherever they point; an API never needs one.
                allow_redirects=False,
                middlewares=once,
                proxy=self._proxies[spec.endpoint.host],
            ) as response:
                raw = await response.read()
                status = response.status
                response_headers = response.headers
        except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
            raise self._no_response(spec, exc) from exc
        except RuntimeError as exc:
            if "closed" not in str(exc).lower():
                raise
            raise ClientClosedError(f"the aiohttp session is closed ({exc})") from exc
        if started is not None:
            logger.info(
                "talkstack %s %s -> %s in %.1f ms (attempt %d)",
                spec.method,
                spec.path,
                status,
                (time.perf_counter() - started) * 1000,
                retries + 1,
            )
        if debug:
            body = for_debug_log(redact(_decode(raw)[1]))
            logger.debug("talkstack response body=%s", self._safe(body))
        return status, response_headers, raw

    def _url(self, host: Host, path: str) -> URL:
        key = (host, path)
        url = self._urls.get(key)
        if url is None:
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()  # ids in paths make the set open-ended: start over
            url = self._urls[key] = URL(self._bases[host] + path, encoded=True)
        return url

    def _no_response(self, spec: RequestSpec, exc: BaseException) -> _NoResponse:
        # Only a failure to connect, or a timeout before the attempt had a connection (a full
        # pool), proves the request never left; anything later may have reached the server
        # (a read timeout, a reset after sending, a broken response).
        waited = connecting.get()
        if waited:
            connecting.set(False)  # for this task's next attempt
        never_sent = isinstance(
            exc, (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError)
        ) or (isinstance(exc, asyncio.TimeoutError) and waited)
        if isinstance(exc, (aiohttp.ClientSSLError, aiohttp.ClientConnectorCertificateError)):
            never_sent = False  # retrying does not fix a certificate
        error_class = (
            APITimeoutError if isinstance(exc, asyncio.TimeoutError) else APIConnectionError
        )
        what = "timed out" if error_class is APITimeoutError else "failed"
        detail = self._safe(str(exc) or type(exc).__name__)
        error = error_class(
            f"{spec.method} {spec.path} {what}: {detail}",
            method=spec.method,
            path=spec.path,
            request_sent=not never_sent,
        )
        return _NoResponse(error, sent=not never_sent)

    async def _backoff(
        self,
        spec: RequestSpec,
        retries: int,
        retry_after: float | None,
        reason: str,
        renewed: bool,
        short_reason: str | None,
        status: int | None,
    ) -> None:
        delay = backoff_delay(self._config.retry, retries, retry_after)
        hooks = self._attempt_hooks
        if hooks is not None and hooks.retries:
            event = RetryEvent(
                spec.endpoint.name,
                spec.method,
                spec.endpoint.path,
                retries + renewed + 1,
                delay,
                short_reason or "connection failed",
                status,
            )
            hooks.emit(hooks.retries, event)
        logger.info(
            "talkstack retrying %s %s in %.2f s after %s (retry %d of %d)",
            spec.method,
            spec.path,
            delay,
            reason,
            retries + 1,
            self._config.retry.max_retries,
        )
        await _sleep(delay)

    def _decode_success(self, spec: RequestSpec, status: int, raw: bytes) -> Any:
        ok, decoded = _decode(raw)
        if not ok:
            raise APIResponseError(
                f"{spec.method} {spec.path} returned {status} with a body that is not JSON",
                method=spec.method,
                path=spec.path,
                status=status,
                body=self._safe(decoded[:500]),
            )
        return decoded

    def _status_error(
        self,
        spec: RequestSpec,
        status: int,
        headers: Mapping[str, str],
        raw: bytes,
        retry_after: float | None,
    ) -> APIStatusError:
        ok, decoded = _decode(raw)
        message = None
        if ok and isinstance(decoded, dict):
            candidate = decoded.get("message") or decoded.get("error")
            message = candidate if isinstance(candidate, str) else None
        if message is None:
            snippet = decoded if isinstance(decoded, str) else ""
            message = snippet.strip()[:200] or f"HTTP {status}"
        error_class = status_error_class(status)
        if status == 400 and spec.endpoint.not_found_on_400:
            error_class = NotFoundError
        return error_class(
            self._safe(message),
            method=spec.method,
            path=spec.path,
            status=status,
            body=redact(decoded, tuple(self._auth.secrets())) if ok else self._safe(decoded[:2000]),
            headers=CIMultiDict(
                (k, v) for k, v in headers.items() if k.lower() not in _SECRET_HEADERS
            ),
            retry_after=retry_after,
        )

    def _safe(self, text: Any) -> Any:
        """``text`` with the client's own secrets scrubbed out (non-strings pass through)."""
        if not isinstance(text, str):
            if text is None or isinstance(text, (int, float, bool)):
                return text
            text = json.dumps(text, default=str)
        return scrub(text, (*self._auth.secrets(), *self._config.proxies.secrets()))


_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "set-cookie"})
_URL_CACHE_SIZE = 512


def _with_options(
    endpoint: Endpoint,
    path: str,
    body: dict[str, Any],
    query: dict[str, str],
    options: Mapping[str, Any],
) -> RequestSpec:
    """The request with the caller's per-call options applied over the method's own."""
    extra = check_options(
        options, operation=endpoint.name, method=endpoint.method, multipart=endpoint.multipart
    )
    if extra.query:
        query = {**query, **extra.query}
    if extra.body:
        body = {**body, **extra.body}
    if endpoint.multipart:
        return RequestSpec(
            endpoint, path, None, query or None, body, headers=extra.headers, timeout=extra.timeout
        )
    return RequestSpec(
        endpoint, path, body or None, query or None, headers=extra.headers, timeout=extra.timeout
    )


def _decode(raw: bytes) -> tuple[bool, Any]:
    """(True, JSON value) or (False, the body as text)."""
    if not raw:
        return True, None
    try:
        return True, loads(raw)
    except ValueError:  # UnicodeDecodeError is one
        return False, raw.decode("utf-8", errors="replace")


def _form_data(fields: Mapping[str, str | FilePart]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in fields.items():
        if isinstance(value, FilePart):
            form.add_field(
                name, value.content, filename=value.filename, content_type=value.content_type
            )
        else:
            form.add_field(name, str(value))
    return form
