"""Code the SDK runs on its own loop (a progress callback, a sync on_tokens, a dial_many input
generator) that calls the blocking client gets an immediate, typed error saying what to do,
not a frozen loop."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from talkstack_async import BlockingCallOnLoopError, DialProgress, TalkstackError
from talkstack_async.testing import TalkstackEmulator
from talkstack_sync import Talkstack


def test_a_progress_callback_calling_the_blocking_client_fails_at_once(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed()
    with Talkstack(**talkstack_server.client_options(seed.account)) as client:

        def progress(update: DialProgress) -> None:
            client.voices.list()  # blocking, on the client's own loop

        started = time.monotonic()
        with pytest.raises(BlockingCallOnLoopError, match="another thread") as caught:
            list(
                client.calls.dial_many(
                    ["+14155550100", "+14155550101"],
                    project_id=seed.project_id,
                    agent_id=seed.agent_id,
                    progress=progress,
                )
            )
        assert time.monotonic() - started < 2
        assert isinstance(caught.value, TalkstackError)
        assert client.voices.list()  # the client is fine afterwards


def test_an_input_generator_calling_the_blocking_client_fails_at_once(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed()
    with Talkstack(**talkstack_server.client_options(seed.account)) as client:

        def numbers() -> Iterator[str]:
            yield "+14155550102"
            client.projects.get(seed.project_id)
            yield "+14155550103"

        started = time.monotonic()
        with pytest.raises(BlockingCallOnLoopError):
            list(
                client.calls.dial_many(
                    numbers(), project_id=seed.project_id, agent_id=seed.agent_id
                )
            )
        assert time.monotonic() - started < 2


@pytest.mark.talkstack_emulator(token_ttl=3600)
def test_a_sync_on_tokens_calling_the_blocking_client_fails_at_once(
    talkstack_server: TalkstackEmulator,
) -> None:
    account = talkstack_server.create_account()
    holder: dict[str, Any] = {}

    def on_tokens(tokens: Any) -> None:
        holder["client"].voices.list()

    options = talkstack_server.client_options()
    with Talkstack(
        **options, email=account.email, password=account.password, on_tokens=on_tokens
    ) as client:
        holder["client"] = client
        started = time.monotonic()
        with pytest.raises(BlockingCallOnLoopError):
            client.voices.list()
        assert time.monotonic() - started < 2
