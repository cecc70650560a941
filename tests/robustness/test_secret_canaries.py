"""Secrets never show: every operation, its failures and the CLI, with logging at DEBUG everywhere.

The canaries are the real secrets of a run against the emulator (the password, the API key,
every access and refresh token issued, the generated key, the reset token, the new passwords)
plus deliberately wrong ones sent to provoke errors. Each must be absent from every log record
of every logger, every repr and str of a result or error (with its formatted traceback, body
and headers), and the CLI's stdout and stderr.
"""

from __future__ import annotations

import contextlib
import json
import logging
import traceback
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from talkstack_async import APIError, AsyncTalkstack, TalkstackError, TokenSet
from talkstack_async.testing import Fault, TalkstackEmulator
from talkstack_sync import Talkstack
from tests.cli.test_cli import cli
from tests.robustness.operations import OPERATIONS, Ids, invoke
from tests.robustness.tour import learn_after, learn_before

PASSWORD = "PASSWORD-canary-correct-horse"
WRONG_KEY = "APIKEY-canary-" + "0" * 50
WRONG_TOKEN = "TOKEN-canary-eyJhbGciOiJIUzI1NiJ9"
WRONG_REFRESH = "REFRESH-canary-r3fr3sh-t0k3n"
WRONG_PASSWORD = "PASSWORD-canary-wrong-staple"


class Sightings:
    """Everything a user could see; ``leaks(secrets)`` names the secrets found in it."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def result(self, value: Any) -> None:
        self.texts += [repr(value), str(value)]

    def error(self, error: BaseException) -> None:
        self.texts += [repr(error), str(error), "".join(traceback.format_exception(error))]
        if isinstance(error, APIError):
            self.texts += [repr(getattr(error, "body", None)), repr(getattr(error, "headers", {}))]

    @contextlib.contextmanager
    def expect_error(self) -> Iterator[None]:
        with pytest.raises(TalkstackError) as caught:
            yield
        self.error(caught.value)

    def leaks(self, secrets: dict[str, str], logs: str) -> list[str]:
        """The names (never the values: this is test output) of the secrets seen."""
        seen = "\n".join([*self.texts, logs])
        return sorted(name for name, value in secrets.items() if value and value in seen)


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # the root: aiohttp's and asyncio's records too
    caplog.set_level(logging.DEBUG, logger="talkstack")
    return caplog


async def test_no_secret_reaches_logs_reprs_or_errors_across_every_operation(
    talkstack_server: TalkstackEmulator, every_log: pytest.LogCaptureFixture
) -> None:
    account = talkstack_server.create_account(password=PASSWORD)
    secrets = {
        "password": PASSWORD,
        "api key": account.api_key,
        "wrong api key": WRONG_KEY,
        "wrong token": WRONG_TOKEN,
        "wrong refresh token": WRONG_REFRESH,
        "wrong password": WRONG_PASSWORD,
    }
    seen = Sightings()

    def remember(tokens: TokenSet) -> None:
        issued = len(secrets)
        secrets[f"access token {issued}"] = tokens.access_token
        secrets[f"refresh token {issued}"] = tokens.refresh_token or ""

    ids = Ids(email=account.email, password=PASSWORD)
    options = talkstack_server.client_options()
    async with AsyncTalkstack(
        email=account.email, password=PASSWORD, on_tokens=remember, **options
    ) as client:
        seen.result(client)
        for operation, arguments in OPERATIONS.items():
            await learn_before(operation, ids, talkstack_server)
            if operation == "auth.reset_password":
                secrets["reset token"] = ids.reset_token
            if operation == "projects.get":
                talkstack_server.expire_tokens()  # the next call refreshes
            result = await invoke(client, operation, arguments(ids))
            learn_after(operation, ids, result)
            if operation == "auth.login":
                remember(result.tokens)
            if operation == "auth.change_password":
                secrets["changed password"] = ids.password
            if operation == "user.generate_api_key":
                secrets["generated api key"] = result  # the one answer that is a secret
            else:
                seen.result(result)
        seen.result(client.with_options(timeout=3))

        with seen.expect_error():
            await client.auth.login(email=account.email, password=WRONG_PASSWORD)
        with seen.expect_error():
            await client.auth.refresh(refresh_token=WRONG_REFRESH)
        talkstack_server.faults.inject(Fault.error(500), on="projects.list", times=1)
        with seen.expect_error():
            await client.with_options(max_retries=0).projects.list()

    for credentials in ({"api_key": WRONG_KEY}, {"token": WRONG_TOKEN}):
        async with AsyncTalkstack(**credentials, **options) as wrong:
            seen.result(wrong)
            with seen.expect_error():
                await wrong.projects.list()
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    with Talkstack(
        token=WRONG_TOKEN, refresh_token=WRONG_REFRESH, token_expires_at=later, **options
    ) as blocking:
        seen.result(blocking)
        with seen.expect_error():
            blocking.projects.list()

    assert talkstack_server.refresh_count >= 1
    assert len(secrets) >= 12
    assert "talkstack request POST /auth/login" in every_log.text  # the logs were captured
    assert seen.leaks(secrets, every_log.text) == []


def test_no_secret_reaches_the_clis_output_even_with_debug_logging(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    account = talkstack_server.create_account(password=PASSWORD)
    seed = talkstack_server.seed(account=account, calls=5)
    store = tmp_path / "credentials.json"
    debug = {"TALKSTACK_LOG": "debug"}
    base = ["--credentials-file", str(store)]
    login = ["login", "--email", account.email, "--password-stdin"]
    history = ["calls", "history", "--project", seed.project_id, "--format", "jsonl"]
    runs = [
        cli(talkstack_server, *base, *login, "--save", stdin=PASSWORD + "\n", extra_env=debug),
        cli(talkstack_server, *base, "projects", "list", extra_env=debug),
        cli(talkstack_server, *history, api_key=account.api_key, extra_env=debug),
        cli(talkstack_server, "projects", "list", api_key=WRONG_KEY, extra_env=debug),
        cli(talkstack_server, "--api-key", WRONG_KEY, "voices", "list", extra_env=debug),
        cli(talkstack_server, *login, stdin=WRONG_PASSWORD + "\n", extra_env=debug),
    ]
    assert [run.returncode for run in runs] == [0, 0, 0, 1, 1, 1]
    assert all("talkstack request" in run.stderr for run in runs)  # debug logging was on
    stored = json.loads(store.read_text())
    stored_tokens = {f"stored {name}": stored[name] for name in ("token", "refresh_token")}
    secrets = {
        "password": PASSWORD,
        "api key": account.api_key,
        "wrong api key": WRONG_KEY,
        "wrong password": WRONG_PASSWORD,
        **stored_tokens,
    }
    seen = Sightings()
    seen.texts += [run.stdout + run.stderr for run in runs]
    assert seen.leaks(secrets, "") == []
