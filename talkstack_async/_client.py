"""AsyncTalkstack: credentials, settings, the session's lifecycle, and the resources."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Literal

import aiohttp
import attrs

from talkstack_async import _config as cfg
from talkstack_async import _endpoints as ep
from talkstack_async._auth import ApiKeyAuth, Auth, NoAuth, TokenAuth, TokenCallback
from talkstack_async._config import (
    DEFAULT_TIMEOUTS,
    NOT_GIVEN,
    ClientConfig,
    NotGiven,
    RetryPolicy,
    Timeouts,
)
from talkstack_async._errors import ValidationError
from talkstack_async._hooks import Hooks, HookSet, TokenEvent
from talkstack_async._logging import configure_from_env
from talkstack_async._options import check_form, check_options
from talkstack_async._response import RawResponses
from talkstack_async._session import SessionFactory, SessionHolder
from talkstack_async._transport import FilePart, RequestSpec, Transport
from talkstack_async.models.user import LoginResult, TokenSet
from talkstack_async.resources.agents import AsyncAgentsResource
from talkstack_async.resources.auth import AsyncAuthResource
from talkstack_async.resources.calls import AsyncCallsResource
from talkstack_async.resources.phone_numbers import AsyncPhoneNumbersResource
from talkstack_async.resources.projects import AsyncProjectsResource
from talkstack_async.resources.user import AsyncUserResource
from talkstack_async.resources.voices import AsyncVoicesResource

__all__ = ["AsyncTalkstack"]


class AsyncTalkstack:
    """The asynchronous Talkstack client.

    Credentials, in order of precedence: ``api_key`` (the ``x-api-key`` header); ``token``
    with ``refresh_token`` (bearer, refreshed automatically); ``email`` with ``password``
    (logs in on first use, and again whenever the refresh token is rejected). When none is
    given, the env vars ``TALKSTACK_API_KEY``, ``TALKSTACK_TOKEN``/``TALKSTACK_REFRESH_TOKEN``
    and ``TALKSTACK_EMAIL``/``TALKSTACK_PASSWORD`` are read in that order. A client without
    credentials can still sign up, verify, log in and reset passwords.

    Use it as ``async with AsyncTalkstack(...) as client:`` or close it with
    ``await client.aclose()``. Its aiohttp session is created on first use inside the running
    event loop (by ``session_factory`` if given); a ``session`` you pass in is used as
    is and never closed by the client.

    Args:
        api_key: An API key.
        email: Account email, with ``password``.
        password: Account password, with ``email``.
        token: A bearer token, with ``refresh_token``.
        refresh_token: The refresh token that renews ``token``.
        token_expires_at: When ``token`` expires, if known (else it is renewed on a 401).
        on_tokens: Called (sync or async) with every new ``TokenSet``, e.g. to persist it.
        base_url: The API host (env ``TALKSTACK_BASE_URL``), e.g. a local emulator.
        calls_base_url: The make-call host (env ``TALKSTACK_CALLS_BASE_URL``); defaults to
            Talkstack's calls host, or to ``base_url`` when that points elsewhere.
        timeout: A ``Timeouts`` or a total in seconds; None disables timeouts.
        max_retries: Retries of retry-safe requests (never of call placement), or a
            ``RetryPolicy`` (statuses, backoff, cap) with the count in it.
        max_connections: The connection pool's size (0: unlimited).
        session: An aiohttp session to use instead of creating one (async code only: a
            session belongs to the event loop it was made on).
        session_factory: Makes the client's aiohttp session, called on the client's own
            event loop on first use (your connector, trace configs, proxy settings); the
            client closes what it returns. Works on both facades.
        allow_insecure_http: Allow plain ``http://`` to a non-loopback host.
        default_headers: Extra headers sent with every request.
        proxy: An HTTP(S) proxy for every request, credentials in the URL if it wants them
            (``http://user:pass@proxy:3128``; never shown in reprs, logs or errors).
        trust_env: Without ``proxy``, use ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` and
            ``NO_PROXY`` from the environment, as httpx and requests do.
        hooks: ``Hooks`` (or a list of them) told of every attempt, response, retry and token
            renewal; ``talkstack_async.integrations.otel.OpenTelemetryHooks`` traces each
            operation as an OpenTelemetry span.
    """

    auth: AsyncAuthResource
    user: AsyncUserResource
    projects: AsyncProjectsResource
    agents: AsyncAgentsResource
    calls: AsyncCallsResource
    voices: AsyncVoicesResource
    phone_numbers: AsyncPhoneNumbersResource

    def __init__(
        self,
        *,
        api_key: str | None = None,
        email: str | None = None,
        password: str | None = None,
        token: str | None = None,
        refresh_token: str | None = None,
        token_expires_at: datetime | None = None,
        on_tokens: TokenCallback | None = None,
        base_url: str | None = None,
        calls_base_url: str | None = None,
        timeout: Timeouts | float | None = DEFAULT_TIMEOUTS,
        max_retries: int | RetryPolicy = 2,
        max_connections: int = 100,
        session: aiohttp.ClientSession | None = None,
        session_factory: SessionFactory | None = None,
        allow_insecure_http: bool = False,
        default_headers: Mapping[str, str] | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        hooks: Hooks | Sequence[Hooks] | None = None,
    ) -> None:
        configure_from_env()
        config = ClientConfig.build(
            base_url=base_url,
            calls_base_url=calls_base_url,
            timeout=timeout,
            max_retries=max_retries,
            max_connections=max_connections,
            allow_insecure_http=allow_insecure_http,
            default_headers=default_headers,
            proxy=proxy,
            trust_env=trust_env,
        )
        if session is not None and session_factory is not None:
            raise ValidationError("session_factory", "pass session or session_factory, not both")
        if session_factory is not None and not callable(session_factory):
            raise ValidationError("session_factory", "must be callable")
        self._sessions = SessionHolder(config, session, session_factory)
        self._hooks = HookSet.build(hooks)
        credentials = _credentials(api_key, email, password, token, refresh_token, os.environ)
        self._setup(config, self._make_auth(credentials, token_expires_at, on_tokens))

    def _setup(self, config: ClientConfig, auth: Auth) -> None:
        self._config = config
        self._auth = auth
        self._transport = Transport(config, auth, self._sessions, self._hooks)
        self.auth = AsyncAuthResource(self)
        self.user = AsyncUserResource(self)
        self.projects = AsyncProjectsResource(self)
        self.agents = AsyncAgentsResource(self)
        self.calls = AsyncCallsResource(self)
        self.voices = AsyncVoicesResource(self)
        self.phone_numbers = AsyncPhoneNumbersResource(self)

    def _make_auth(
        self,
        credentials: Mapping[str, str],
        token_expires_at: datetime | None,
        on_tokens: TokenCallback | None,
    ) -> Auth:
        if "api_key" in credentials:
            return ApiKeyAuth(credentials["api_key"])
        if not credentials:
            return NoAuth()
        tokens = None
        if token_expires_at is not None and (
            not isinstance(token_expires_at, datetime) or token_expires_at.utcoffset() is None
        ):
            raise ValidationError(
                "token_expires_at",
                f"must be a timezone-aware datetime (e.g. datetime.now(timezone.utc) + "
                f"timedelta(hours=2)), not {token_expires_at!r}",
            )
        if "token" in credentials:
            tokens = TokenSet(
                credentials["token"], credentials.get("refresh_token"), token_expires_at
            )
        return TokenAuth(
            refresher=self._refresh_tokens,
            login=self._login_tokens,
            tokens=tokens,
            email=credentials.get("email"),
            password=credentials.get("password"),
            on_tokens=on_tokens,
        )

    async def _refresh_tokens(self, refresh_token: str) -> TokenSet:
        tokens = await self.auth.refresh(refresh_token=refresh_token)
        self._renewed("refresh")
        return tokens

    async def _login_tokens(self, email: str, password: str) -> TokenSet:
        result: LoginResult = await self.auth.login(email=email, password=password)
        self._renewed("login")
        return result.tokens

    def _renewed(self, how: Literal["refresh", "login"]) -> None:
        if self._hooks is not None and self._hooks.tokens:
            self._hooks.emit(self._hooks.tokens, TokenEvent(how))

    @property
    def base_url(self) -> str:
        return str(self._config.base_url)

    @property
    def calls_base_url(self) -> str:
        return str(self._config.calls_base_url)

    @property
    def timeouts(self) -> Timeouts:
        return self._config.timeouts

    @property
    def max_retries(self) -> int:
        return self._config.retry.max_retries

    @property
    def retry_policy(self) -> RetryPolicy:
        """How retry-safe requests are retried (``max_retries`` is its count)."""
        return self._config.retry

    @property
    def tokens(self) -> TokenSet | None:
        """The current bearer tokens (token auth only; None before the first login)."""
        return self._auth.tokens if isinstance(self._auth, TokenAuth) else None

    @property
    def is_closed(self) -> bool:
        return self._sessions.closed

    def with_options(
        self,
        *,
        timeout: Timeouts | float | NotGiven | None = NOT_GIVEN,
        max_retries: int | RetryPolicy | NotGiven = NOT_GIVEN,
    ) -> AsyncTalkstack:
        """A copy with other timeouts or retries, sharing this client's session and credentials.

        Cheap enough to use for a single call: ``client.with_options(timeout=5).calls.get(...)``.
        ``timeout=None`` disables timeouts. Closing either client closes both.
        """
        copy = object.__new__(AsyncTalkstack)
        copy._sessions = self._sessions
        copy._hooks = self._hooks
        retry = self._config.retry
        config = attrs.evolve(  # everything else (hosts, proxies, headers) as it was
            self._config,
            timeouts=self._config.timeouts
            if isinstance(timeout, NotGiven)
            else Timeouts.coerce(timeout),
            retry=retry
            if isinstance(max_retries, NotGiven)
            else cfg.RetryPolicy.coerce(max_retries),
        )
        copy._setup(config, self._auth)
        return copy

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        form: Mapping[str, str | FilePart] | None = None,
        host: Literal["api", "calls"] = "api",
        authenticated: bool = True,
        retry_safe: bool = False,
        timeout: Timeouts | float | NotGiven | None = NOT_GIVEN,
    ) -> Any:
        """Call an endpoint the SDK does not model (e.g. the HubSpot integration).

        Same credentials, retries, errors and logging as every other call. Retried only when
        you declare ``retry_safe=True``: say so only for requests that may be sent twice.
        For the status and headers too: ``await client.with_raw_response.request(...)``.

        Args:
            method: The HTTP method.
            path: The path, starting with ``/``.
            json: The JSON body, if any.
            params: Query parameters.
            headers: Headers for this request (over the client's own).
            form: A multipart/form-data body instead of JSON: strings and ``FilePart``s.
            host: ``"api"`` or ``"calls"`` (the make-call host).
            authenticated: Send the client's credentials.
            retry_safe: Allow retries on connection errors, 408, 429 and 5xx.
            timeout: This request's timeouts (a ``Timeouts`` or a total in seconds; None:
                none); the client's when not given.

        Returns:
            The decoded JSON body (None when empty).

        Raises:
            APIStatusError: A non-2xx answer (its subclass says which).
            APIResponseError: A 2xx answer that is not JSON.
            ValidationError: A malformed argument (nothing is sent).
        """
        if not isinstance(path, str) or not path.startswith("/") or "//" in path:
            raise ValidationError("path", f"must be an absolute path like '/agent', not {path!r}")
        if not isinstance(method, str) or not method.isalpha():
            raise ValidationError("method", f"must be an HTTP method, not {method!r}")
        if host not in ("api", "calls"):
            raise ValidationError("host", f"must be 'api' or 'calls', not {host!r}")
        if json is not None and form is not None:
            raise ValidationError("form", "send json or form, not both")
        endpoint = ep.Endpoint(
            "request",
            method.upper(),
            path,
            host=ep.Host(host),
            auth=ep.AuthKind.ANY if authenticated else ep.AuthKind.NONE,
            retry_safe=retry_safe,
        )
        options: dict[str, Any] = {}
        if headers is not None:
            options["extra_headers"] = headers
        if not isinstance(timeout, NotGiven):
            options["timeout"] = timeout
        extra = check_options(options, operation="request", method=endpoint.method)
        spec = RequestSpec(
            endpoint,
            path,
            json=json,
            params=dict(params) if params else None,
            form=check_form(form),
            headers=extra.headers,
            timeout=extra.timeout,
        )
        _, body = await self._transport.send(spec)
        return body

    @property
    def with_raw_response(self) -> RawResponses:
        """``request`` returning an ``APIResponse`` (status, headers, request id, elapsed,
        ``parse()``): ``client.with_raw_response.request("GET", "/voices")`` (awaited on the
        async client)."""
        return RawResponses(self, only=("request",))

    async def aclose(self) -> None:
        """Close the session (if the client created it) and stop any token refresh in flight.

        Closing twice is fine; using the client afterwards raises ClientClosedError.
        """
        await self._auth.aclose()
        await self._sessions.aclose()

    async def close(self) -> None:
        """The same as :meth:`aclose` (openai-python and aiohttp spell it ``close``; httpx
        ``aclose``): ``await client.close()``."""
        await self.aclose()

    async def __aenter__(self) -> AsyncTalkstack:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"AsyncTalkstack(base_url={self.base_url!r}, calls_base_url={self.calls_base_url!r}, "
            f"auth={self._auth.mode!r})"
        )


def _credentials(
    api_key: str | None,
    email: str | None,
    password: str | None,
    token: str | None,
    refresh_token: str | None,
    environ: Mapping[str, str],
) -> dict[str, str]:
    """The one set of credentials to use, from the arguments or else from the environment."""
    given = {
        "api_key": api_key,
        "email": email,
        "password": password,
        "token": token,
        "refresh_token": refresh_token,
    }
    explicit = {k: v for k, v in given.items() if v is not None}
    if not explicit:
        explicit = {
            k: environ[name]
            for k, name in (
                ("api_key", cfg.ENV_API_KEY),
                ("email", cfg.ENV_EMAIL),
                ("password", cfg.ENV_PASSWORD),
                ("token", cfg.ENV_TOKEN),
                ("refresh_token", cfg.ENV_REFRESH_TOKEN),
            )
            if environ.get(name)
        }
        # The environment may hold several kinds; take the strongest, as documented.
        if "api_key" in explicit:
            return {"api_key": explicit["api_key"]}
        if "token" not in explicit and "refresh_token" in explicit:
            explicit.pop("refresh_token")
    for name, value in explicit.items():
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(name, "must be a non-empty string")
    if "api_key" in explicit and len(explicit) > 1:
        raise ValidationError("api_key", "give either an API key or token/login credentials")
    if ("email" in explicit) != ("password" in explicit):
        missing = "password" if "email" in explicit else "email"
        raise ValidationError(missing, "email and password go together")
    if "refresh_token" in explicit and "token" not in explicit and "email" not in explicit:
        raise ValidationError("token", "refresh_token needs the token it renews")
    return explicit
