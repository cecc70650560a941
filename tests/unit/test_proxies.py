"""Which proxy each host gets: explicit, from the environment by scheme, NO_PROXY, never."""

from __future__ import annotations

import pytest
from yarl import URL

from talkstack_async import ValidationError
from talkstack_async._proxies import resolve_proxies

HOSTS = (URL("https://api.talkstackai.com"), URL("https://calls.talkstack.ai"))


def test_https_hosts_take_https_proxy_in_either_case() -> None:
    proxies = resolve_proxies(None, True, HOSTS, {"https_proxy": "http://p:3128"})
    assert proxies.api == proxies.calls == URL("http://p:3128")
    upper = resolve_proxies(None, True, HOSTS, {"HTTPS_PROXY": "p2:8080", "HTTP_PROXY": "x:1"})
    assert upper.api == URL("http://p2:8080")


def test_no_proxy_and_all_proxy() -> None:
    env = {"ALL_PROXY": "http://all:1", "NO_PROXY": "calls.talkstack.ai"}
    proxies = resolve_proxies(None, True, HOSTS, env)
    assert proxies.api == URL("http://all:1")
    assert proxies.calls is None
    everything = resolve_proxies(None, True, HOSTS, {**env, "NO_PROXY": "*"})
    assert (everything.api, everything.calls) == (None, None)


def test_explicit_beats_env_and_trust_env_false_ignores_it() -> None:
    env = {"HTTPS_PROXY": "http://env:1"}
    assert resolve_proxies("http://mine:2", True, HOSTS, env).api == URL("http://mine:2")
    assert resolve_proxies(None, False, HOSTS, env).api is None


def test_a_proxy_password_stays_out_of_reprs_and_bad_urls_are_refused() -> None:
    proxies = resolve_proxies("http://u:hunter2@p:1", True, HOSTS, {})
    assert "hunter2" not in repr(proxies)
    assert "hunter2" in list(proxies.secrets())
    with pytest.raises(ValidationError, match="proxy"):
        resolve_proxies("ftp://p:1", True, HOSTS, {})
    with pytest.raises(ValidationError, match="trust_env"):
        resolve_proxies(None, "yes", HOSTS, {})  # type: ignore[arg-type]


def test_a_loopback_emulator_is_never_behind_an_env_proxy() -> None:
    local = (URL("http://127.0.0.1:8765"), URL("http://localhost:8766"))
    proxies = resolve_proxies(None, True, local, {"HTTP_PROXY": "http://p:1"})
    assert (proxies.api, proxies.calls) == (None, None)
    assert resolve_proxies("http://p:1", True, local, {}).api == URL("http://p:1")
