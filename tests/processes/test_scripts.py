"""A script that never calls ``close()`` exits promptly with its own status."""

from __future__ import annotations

import time

import pytest

from talkstack_async.testing import TalkstackEmulator
from tests.processes.conftest import env_for, run_script


@pytest.mark.parametrize("status", [0, 3])
def test_a_script_that_never_closes_its_client_exits_with_its_own_status(
    talkstack_server: TalkstackEmulator, status: int
) -> None:
    seed = talkstack_server.seed(calls=50)
    started = time.monotonic()
    done = run_script(
        f"""
        import sys
        from talkstack_sync import Talkstack

        client = Talkstack()
        print(len(client.voices.list()))
        pages = client.calls.history_pages(project_id="{seed.project_id}", page_size=10)
        next(pages)  # a generator left half-way, too
        sys.exit({status})
        """,
        env_for(talkstack_server, seed.account.api_key),
        timeout=30,
    )
    assert done.returncode == status, done.stderr
    assert time.monotonic() - started < 20
    assert "Traceback" not in done.stderr
    assert "Unclosed" not in done.stderr  # its connections were closed on the way out
    assert int(done.stdout.split()[0]) > 0


def test_an_unclosed_client_says_so_only_as_a_resource_warning(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed()
    done = run_script(
        """
        import gc, warnings
        from talkstack_sync import Talkstack

        warnings.simplefilter("always", ResourceWarning)
        client = Talkstack()
        client.voices.list()
        del client
        gc.collect()
        print("still running")
        """,
        env_for(talkstack_server, seed.account.api_key),
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "still running"
    assert "ResourceWarning: a talkstack_sync.Talkstack client was not closed" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Unclosed client session" not in done.stderr
