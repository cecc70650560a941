"""Credentials: which headers a request carries, and renewing bearer tokens.

Token renewal is single-flight: however many requests find the token stale (or get a 401) at
once, one refresh request is sent and they all wait for its outcome, success or failure.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import datetime, timezone
from types import MappingProxyType

from talkstack_async._endpoints import AuthKind
from talkstack_async._errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    AuthenticationError,
    MissingCredentialsError,
)
from talkstack_async._logging import logger
from talkstack_async.models.user import TokenSet

__all__ = ["ApiKeyAuth", "Auth", "NoAuth", "TokenAuth", "TokenCallback"]

TokenCallback = Callable[[TokenSet], Awaitable[None] | None]
"""Called with every new TokenSet (after login or refresh), e.g. to persist it."""

# Tokens live two hours (API reference); used when a response omits expirationTime or its
# expiry is already past on our clock (a skewed clock must not cause a refresh per request).
_DEFAULT_LIFETIME = 2 * 60 * 60.0
_MAX_MARGIN = 60.0
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class Auth:
    """Base: supplies headers per request kind and, where it can, renews credentials."""

    @property
    def can_renew(self) -> bool:
        return False

    def ready_headers(self, kind: AuthKind) -> Mapping[str, str] | None:
        """The headers for ``kind`` when they are at hand, else None (then await ``headers``).

        The transport asks this first: an API key or a fresh token needs no coroutine, and
        building and running one costs more than the rest of the credential handling.
        """
        return _NO_HEADERS if kind is AuthKind.NONE else None

    async def headers(self, kind: AuthKind) -> Mapping[str, str]:
        raise NotImplementedError

    async def renew_after_rejection(self, rejected: Mapping[str, str]) -> None:
        """Called once when a request carrying ``rejected`` headers got a 401."""

    def secrets(self) -> Iterator[str]:
        """The secret strings this auth holds, to scrub from any text shown to users."""
        return iter(())

    async def aclose(self) -> None:
        """Stop any renewal in flight."""

    @property
    def mode(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<redacted>)"


class NoAuth(Auth):
    """No credentials: only the unauthenticated endpoints (signup, login, ...) work."""

    mode = "none"

    async def headers(self, kind: AuthKind) -> Mapping[str, str]:
        if kind is AuthKind.NONE:
            return _NO_HEADERS
        raise MissingCredentialsError(
            "this endpoint needs credentials: pass api_key=..., email= and password=, or "
            "token=/refresh_token= to the client, or set TALKSTACK_API_KEY"
        )

    def __repr__(self) -> str:
        return "NoAuth()"


class ApiKeyAuth(Auth):
    """The ``x-api-key`` header on every authenticated request."""

    mode = "api-key"
    __slots__ = ("_headers", "_key")

    def __init__(self, api_key: str) -> None:
        self._key = api_key
        self._headers = {"x-api-key": api_key}

    def ready_headers(self, kind: AuthKind) -> Mapping[str, str] | None:
        if kind is AuthKind.ANY:
            return self._headers
        return _NO_HEADERS if kind is AuthKind.NONE else None

    async def headers(self, kind: AuthKind) -> Mapping[str, str]:
        ready = self.ready_headers(kind)
        if ready is not None:
            return ready
        raise MissingCredentialsError(
            "this endpoint accepts only a bearer token: create the client with email= and "
            "password= (or token=/refresh_token=) instead of an API key"
        )

    def secrets(self) -> Iterator[str]:
        yield self._key


Refresher = Callable[[str], Awaitable[TokenSet]]
LoginFn = Callable[[str, str], Awaitable[TokenSet]]


class TokenAuth(Auth):
    """Bearer tokens, renewed proactively shortly before expiry and reactively after a 401.

    Renewal uses the refresh token; when there is none, or the server rejects it, and the
    client was given email and password, it logs in again.
    """

    mode = "token"

    def __init__(
        self,
        *,
        refresher: Refresher,
        login: LoginFn,
        tokens: TokenSet | None = None,
        email: str | None = None,
        password: str | None = None,
        on_tokens: TokenCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._refresher = refresher
        self._login = login
        self._email = email
        self._password = password
        self._on_tokens = on_tokens
        self._clock = clock
        self._tokens: TokenSet | None = None
        self._header: dict[str, str] = {}
        self._renew_at = float("inf")
        self._renewal: asyncio.Task[None] | None = None
        # The header whose renewal the server refused, and why: requests still carrying it fail
        # at once instead of sending the dead refresh token again and again.
        self._refused: tuple[str | None, AuthenticationError] | None = None
        # A refresh token sent in a refresh whose answer was lost: never sent again.
        self._spent: str | None = None
        if tokens is not None:
            # Tokens handed in without an expiry are trusted until the server says otherwise.
            self._adopt(tokens, fresh=False)
        _TOKEN_AUTHS.add(self)

    @property
    def can_renew(self) -> bool:
        # With a bare access token a 401 is the server's verdict, reported as it is.
        has_refresh = self._tokens is not None and bool(self._tokens.refresh_token)
        return has_refresh or (self._email is not None and self._password is not None)

    @property
    def tokens(self) -> TokenSet | None:
        """The current tokens (None before the first login)."""
        return self._tokens

    def ready_headers(self, kind: AuthKind) -> Mapping[str, str] | None:
        if kind is AuthKind.NONE:
            return _NO_HEADERS
        if self._tokens is None or self._clock() >= self._renew_at:
            return None
        return self._header

    async def headers(self, kind: AuthKind) -> Mapping[str, str]:
        ready = self.ready_headers(kind)
        if ready is not None:
            return ready
        await self._renew(self._header.get("Authorization"))
        return self._header

    async def renew_after_rejection(self, rejected: Mapping[str, str]) -> None:
        await self._renew(rejected.get("Authorization"))

    async def _renew(self, stale: str | None) -> None:
        if self._tokens is not None and self._header.get("Authorization") != stale:
            return  # another request renewed it meanwhile
        if self._refused is not None and self._refused[0] == stale:
            raise _copy(self._refused[1])
        if self._renewal is None:
            self._renewal = asyncio.ensure_future(self._run_renewal())
            # Consume the outcome even if every waiter was cancelled meanwhile.
            self._renewal.add_done_callback(_consume_outcome)
        # Shielded: a cancelled waiter must not cancel the renewal the others wait for.
        await asyncio.shield(self._renewal)

    async def _run_renewal(self) -> None:
        try:
            try:
                tokens = await self._fetch_tokens()
            except AuthenticationError as exc:
                self._refused = (self._header.get("Authorization"), exc)
                raise
            self._adopt(tokens, fresh=True)
            if self._on_tokens is not None:
                result = self._on_tokens(tokens)
                if inspect.isawaitable(result):
                    await result
        finally:
            self._renewal = None

    async def _fetch_tokens(self) -> TokenSet:
        refresh_token = self._tokens.refresh_token if self._tokens else None
        if refresh_token and refresh_token != self._spent:
            try:
                logger.info("talkstack: refreshing the bearer token")
                return await self._refresher(refresh_token)
            except APIStatusError as exc:
                if exc.status >= 500:
                    self._consume(refresh_token, exc)  # it may have rotated before failing
                elif exc.status == 429:
                    raise  # refused unprocessed: the refresh token is still good
                elif self._password is None:
                    raise _rejected("token refresh", exc) from exc
                logger.info("talkstack: refresh token rejected (%s); logging in again", exc.status)
            except APIConnectionError as exc:
                if not exc.request_sent:
                    raise  # never left: the refresh token is still good
                self._consume(refresh_token, exc)
        if self._email is None or self._password is None:
            raise MissingCredentialsError(
                "the bearer token expired and there is no refresh token or password to renew it"
            )
        try:
            return await self._login(self._email, self._password)
        except APIStatusError as exc:
            if _is_server_trouble(exc):
                raise
            raise _rejected("login", exc) from exc

    def _consume(self, refresh_token: str, exc: APIError) -> None:
        """A refresh with ``refresh_token`` may have reached the server, which rotates refresh
        tokens: the answer (the new pair) is lost, and sending the old token again would look
        like token theft to a server with reuse detection (it may revoke the whole family).
        So it is never sent again: log in with the password, or tell the caller what to do."""
        self._spent = refresh_token
        if self._password is not None:
            logger.info("talkstack: the token refresh got no answer (%s); logging in again", exc)
            return
        raise AuthenticationError(
            "the token refresh may have reached the server but its answer was lost "
            f"({exc.message}); the refresh token has been consumed and is not sent again. "
            "Create the client with email= and password= (it then logs in by itself), or "
            "log in again and pass the new token= and refresh_token=",
            method=exc.method,
            path=exc.path,
            status=getattr(exc, "status", 401),
        ) from exc

    def _adopt(self, tokens: TokenSet, *, fresh: bool) -> None:
        """Use ``tokens`` from now on; ``fresh`` when the server issued them just now."""
        self._tokens = tokens
        self._header = {"Authorization": f"Bearer {tokens.access_token}"}
        remaining = None
        if tokens.expires_at is not None:
            remaining = (tokens.expires_at - datetime.now(timezone.utc)).total_seconds()
        if fresh:
            # Just issued, so what remains is its whole life. Absent or already past (a skewed
            # clock) means the documented two hours, with 401s as the backstop.
            if remaining is None or remaining <= 0:
                remaining = _DEFAULT_LIFETIME
            margin = min(_MAX_MARGIN, remaining / 10)  # a minute, or a tenth of a short life
        else:
            margin = _MAX_MARGIN  # handed in: an unknown part of a two-hour life is left
        self._renew_at = float("inf") if remaining is None else self._clock() + remaining - margin

    def secrets(self) -> Iterator[str]:
        if self._tokens is not None:
            yield self._tokens.access_token
            if self._tokens.refresh_token:
                yield self._tokens.refresh_token
        if self._password:
            yield self._password

    async def aclose(self) -> None:
        renewal, self._renewal = self._renewal, None
        if renewal is not None and not renewal.done():
            renewal.cancel()
            await asyncio.gather(renewal, return_exceptions=True)

    def __repr__(self) -> str:
        state = "no token yet" if self._tokens is None else f"expires_at={self._tokens.expires_at}"
        return f"TokenAuth({state})"


# A renewal in flight when the process forks belongs to the parent's event loop: a forked
# child starts its own the next time it needs one.
_TOKEN_AUTHS: weakref.WeakSet[TokenAuth] = weakref.WeakSet()


def _forget_parent_renewals() -> None:
    for auth in list(_TOKEN_AUTHS):
        auth._renewal = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parent_renewals)


def _is_server_trouble(exc: APIStatusError) -> bool:
    # Not a verdict on the credentials: the caller sees the server's own error.
    return exc.status >= 500 or exc.status == 429


def _rejected(what: str, exc: APIStatusError) -> AuthenticationError:
    return AuthenticationError(
        f"{what} was rejected: {exc.message}",
        method=exc.method,
        path=exc.path,
        status=exc.status,
        body=exc.body,
        headers=exc.headers,
    )


def _copy(error: AuthenticationError) -> AuthenticationError:
    """A fresh error like ``error``, so concurrent waiters do not share one traceback."""
    return AuthenticationError(
        error.message,
        method=error.method,
        path=error.path,
        status=error.status,
        body=error.body,
        headers=error.headers,
    )


def _consume_outcome(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()
