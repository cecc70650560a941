"""Which proxy each of the client's two hosts is reached through, decided once per client.

As httpx and requests do: an explicit ``proxy=`` is used for both hosts; otherwise, unless
``trust_env=False``, ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` (either case) by the host's
scheme, with ``NO_PROXY`` honoured (the standard library's rules, ``proxy_bypass``); loopback
hosts (a local emulator) are always reached directly unless ``proxy=`` says otherwise.

Decided here, once, rather than by aiohttp's ``trust_env``: that looks the environment up
again in a worker thread on every request (and reads ``~/.netrc`` in another), which would
cost more than the rest of the request. The client's hosts are fixed, so their proxies are too.
Credentials in a proxy URL are secrets: never in a repr, scrubbed from errors and logs.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator, Mapping

import attrs
from yarl import URL

from talkstack_async._errors import ValidationError

__all__ = ["Proxies", "resolve_proxies"]


@attrs.frozen
class Proxies:
    """The proxy for the API host and for the make-call host (None: straight there)."""

    api: URL | None = attrs.field(default=None, repr=False)
    calls: URL | None = attrs.field(default=None, repr=False)

    def secrets(self) -> Iterator[str]:
        for proxy in (self.api, self.calls):
            if proxy is not None and proxy.password:
                yield proxy.password
                yield str(proxy)

    def __repr__(self) -> str:
        shown = [_shown(p) for p in (self.api, self.calls)]
        return f"Proxies(api={shown[0]}, calls={shown[1]})"


def resolve_proxies(
    proxy: str | URL | None,
    trust_env: bool,
    hosts: tuple[URL, URL],
    environ: Mapping[str, str],
) -> Proxies:
    if not isinstance(trust_env, bool):
        raise ValidationError("trust_env", "must be True or False")
    if proxy is not None:
        url = _proxy_url(proxy, "proxy")
        return Proxies(url, url)
    if not trust_env:
        return Proxies()
    env = {k.lower(): v for k, v in environ.items() if k.lower().endswith("_proxy") and v}
    table = {k[: -len("_proxy")]: v for k, v in env.items()}
    return Proxies(*(_from_env(host, table) for host in hosts))


def _from_env(host: URL, table: Mapping[str, str]) -> URL | None:
    from talkstack_async._config import is_loopback

    chosen = table.get(host.scheme) or table.get("all")
    if chosen is None or is_loopback(host):  # a local emulator is never behind a proxy
        return None
    # Not in typeshed: an undocumented but long-standing helper (it backs proxy_bypass).
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if host.host and bypass(f"{host.host}:{host.port}" if host.port else host.host, table):
        return None
    return _proxy_url(chosen, f"{host.scheme.upper()}_PROXY")


def _proxy_url(value: str | URL, argument: str) -> URL:
    text = str(value)
    url = URL(text if "://" in text else f"http://{text}")
    if url.scheme not in ("http", "https") or not url.host:
        shown = _shown(url)
        raise ValidationError(argument, f"must be an http(s):// proxy URL, not {shown}")
    return url


def _shown(url: URL | None) -> str:
    if url is None:
        return "None"
    return repr(str(url.with_password("<redacted>") if url.password else url))
