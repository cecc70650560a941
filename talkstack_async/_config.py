"""Client settings: base URLs, timeouts, retry and connection limits, read from args or env vars."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp
import attrs
from yarl import URL

from talkstack_async._errors import ValidationError
from talkstack_async._proxies import Proxies, resolve_proxies

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_CALLS_BASE_URL",
    "NOT_GIVEN",
    "ClientConfig",
    "RetryPolicy",
    "Timeouts",
]

DEFAULT_BASE_URL = "https://api.talkstackai.com"
# Make-call is served by another host (see the API reference, quirk 1).
DEFAULT_CALLS_BASE_URL = "https://calls.talkstack.ai"

ENV_API_KEY = "TALKSTACK_API_KEY"
ENV_BASE_URL = "TALKSTACK_BASE_URL"
ENV_CALLS_BASE_URL = "TALKSTACK_CALLS_BASE_URL"
ENV_EMAIL = "TALKSTACK_EMAIL"
ENV_PASSWORD = "TALKSTACK_PASSWORD"  # noqa: S105 - the variable's name, not a password
ENV_TOKEN = "TALKSTACK_TOKEN"  # noqa: S105
ENV_REFRESH_TOKEN = "TALKSTACK_REFRESH_TOKEN"  # noqa: S105
ENV_LOG = "TALKSTACK_LOG"


class NotGiven:
    """The type of ``NOT_GIVEN``: "argument omitted", where ``None`` already means something."""

    _instance: NotGiven | None = None

    def __new__(cls) -> NotGiven:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotGiven()


def _positive_or_none(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0
    ):
        raise ValidationError(attribute.name, f"must be a positive number or None, not {value!r}")


@attrs.frozen
class Timeouts:
    """Timeouts in seconds; ``None`` disables one.

    ``connect`` bounds establishing a connection, ``read`` the wait for each chunk of the
    response, ``total`` the whole request (one attempt; retries get a fresh budget).

    ``read`` is off by default: ``total`` already bounds every attempt, and aiohttp re-arms a
    read timer for every chunk received, which cost 13 % of throughput at 100 requests in
    flight (benchmarks, W2). Set it for long responses that should fail fast on a stall.
    """

    total: float | None = attrs.field(default=60.0, validator=_positive_or_none)
    connect: float | None = attrs.field(default=10.0, validator=_positive_or_none)
    read: float | None = attrs.field(default=None, validator=_positive_or_none)

    def as_aiohttp(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(
            total=self.total, sock_connect=self.connect, sock_read=self.read
        )

    @classmethod
    def coerce(cls, value: Timeouts | float | None) -> Timeouts:
        """Accept a ``Timeouts`` or a plain number of seconds (the total)."""
        if isinstance(value, Timeouts):
            return value
        if value is None:
            return cls(total=None, connect=None, read=None)
        return cls(total=value)


DEFAULT_TIMEOUTS = Timeouts()


def _non_negative_int(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(attribute.name, f"must be a non-negative integer, not {value!r}")


def _non_negative_seconds(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValidationError(attribute.name, f"must be a number of seconds >= 0, not {value!r}")


def _statuses(value: object) -> frozenset[int]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError("statuses", f"must be a set of HTTP statuses, not {value!r}")
    statuses = frozenset(value)
    for status in statuses:
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ValidationError("statuses", f"{status!r} is not an HTTP status")
        if 200 <= status < 300:
            raise ValidationError("statuses", f"{status} is a success, not a reason to retry")
    return statuses


DEFAULT_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@attrs.frozen
class RetryPolicy:
    """How retry-safe requests are retried: exponential backoff with full jitter.

    Attempt ``n`` (0-based) waits a random time in ``[0, min(max_delay, initial_delay * 2**n)]``,
    unless the server sent ``Retry-After``, which is honoured up to ``max_retry_after``.
    ``statuses`` are the answers worth another try; a request that got no answer is retried
    too. Whatever the policy says, a request that can place a call (or rotate a credential) is
    never sent twice: the endpoint table decides what may be retried, the policy only how.

    Pass one as ``max_retries=RetryPolicy(...)`` to the client or to ``with_options``.
    """

    max_retries: int = attrs.field(default=2, validator=_non_negative_int)
    initial_delay: float = attrs.field(default=0.5, validator=_non_negative_seconds)
    max_delay: float = attrs.field(default=8.0, validator=_non_negative_seconds)
    max_retry_after: float = attrs.field(default=60.0, validator=_non_negative_seconds)
    statuses: frozenset[int] = attrs.field(default=DEFAULT_RETRY_STATUSES, converter=_statuses)

    @classmethod
    def coerce(cls, value: int | RetryPolicy) -> RetryPolicy:
        """``max_retries`` as given: a count (the default policy with it) or a policy."""
        return value if isinstance(value, RetryPolicy) else cls(max_retries=value)


def is_loopback(url: URL) -> bool:
    host = url.host or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _base_url(value: str | URL, argument: str, allow_insecure_http: bool) -> URL:
    url = URL(str(value).rstrip("/"))
    if url.scheme not in ("http", "https") or not url.host:
        raise ValidationError(argument, f"must be an http(s) URL, not {str(value)!r}")
    # Credentials travel in headers: never in clear text across a network unless asked to.
    if url.scheme == "http" and not is_loopback(url) and not allow_insecure_http:
        raise ValidationError(
            argument,
            "plain http:// is only allowed for loopback hosts; pass allow_insecure_http=True "
            "to send credentials unencrypted",
        )
    return url


@attrs.frozen
class ClientConfig:
    """Everything about where and how requests are sent, except credentials."""

    base_url: URL
    calls_base_url: URL
    timeouts: Timeouts = DEFAULT_TIMEOUTS
    retry: RetryPolicy = RetryPolicy()
    max_connections: int = 100
    max_connections_per_host: int = 0
    # Out of the repr: a custom header may carry a credential of its own.
    default_headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    proxies: Proxies = attrs.field(factory=Proxies)

    @classmethod
    def build(
        cls,
        *,
        base_url: str | URL | None,
        calls_base_url: str | URL | None,
        timeout: Timeouts | float | None,
        max_retries: int | RetryPolicy,
        max_connections: int,
        allow_insecure_http: bool,
        default_headers: Mapping[str, str] | None,
        proxy: str | URL | None = None,
        trust_env: bool = True,
        environ: Mapping[str, str] = os.environ,
    ) -> ClientConfig:
        if not isinstance(allow_insecure_http, bool):
            raise ValidationError("allow_insecure_http", "must be True or False")
        for argument, given in (("base_url", base_url), ("calls_base_url", calls_base_url)):
            if given is not None and (not isinstance(given, (str, URL)) or not str(given)):
                raise ValidationError(argument, f"must be an http(s) URL, not {given!r}")
        api = _base_url(
            base_url or environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL,
            "base_url",
            allow_insecure_http,
        )
        # Pointing the API at a local server points make-call there too, unless told otherwise.
        calls_default = DEFAULT_CALLS_BASE_URL if str(api) == DEFAULT_BASE_URL else api
        calls = _base_url(
            calls_base_url or environ.get(ENV_CALLS_BASE_URL) or calls_default,
            "calls_base_url",
            allow_insecure_http,
        )
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise ValidationError("max_connections", "must be an integer")
        if max_connections < 0:
            raise ValidationError("max_connections", "must be >= 0 (0 means unlimited)")
        return cls(
            base_url=api,
            calls_base_url=calls,
            timeouts=Timeouts.coerce(timeout),
            retry=RetryPolicy.coerce(max_retries),
            max_connections=max_connections,
            default_headers=_headers(default_headers),
            proxies=resolve_proxies(proxy, trust_env, (api, calls), environ),
        )


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name (RFC 9110 token)


def _headers(given: object) -> dict[str, str]:
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise ValidationError("default_headers", f"must be a mapping, not {type(given).__name__}")
    for name, value in given.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ValidationError("default_headers", f"{name!r} is not a header name")
        # CR or LF in a value would let it smuggle in headers of its own.
        if not isinstance(value, str) or any(c in value for c in "\r\n\x00"):
            raise ValidationError("default_headers", f"the value of {name!r} must be one line")
    return dict(given)
