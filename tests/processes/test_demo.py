"""The README's demo (``nox -s demo``) runs, as a real process from this checkout, and proves
what it shows: in section 4c, calling windows in three zones made a number wait and redials
happened; a demo whose windows or redials did not work fails loudly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from talkstack_async import CallingWindow, DialAttempt, DialOutcome, DialStatus, RedialPolicy
from talkstack_async.testing.demo import SCRIPTED, windows_and_redials_problems
from tests.processes.conftest import ROOT, run_script


def _env() -> dict[str, str]:
    """This checkout first on the path (not an installed copy), no TALKSTACK_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKSTACK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _run_module(module: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module],
        env=_env(),
        cwd=cwd,  # not the checkout: PYTHONPATH is what finds it
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _section(output: str, name: str) -> list[str]:
    match = re.search(rf"^{re.escape(name)}\. .*?(?=^\S)", output, re.M | re.S)
    assert match, f"no section {name} in:\n{output}"
    return [line.strip() for line in match.group(0).splitlines()[1:] if line.strip()]


def test_the_async_demo_runs_and_its_windows_section_shows_waits_and_redials(
    tmp_path: Path,
) -> None:
    done = _run_module("talkstack_async.testing.demo", tmp_path, timeout=120)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    assert done.stdout.rstrip().endswith("async demo finished")
    lines = _section(done.stdout, "4c")
    numbers = {line.split()[0]: line for line in lines if line.startswith("+")}
    assert set(numbers) == set(SCRIPTED), lines
    assert not any("failed" in line.lower() for line in lines), lines
    assert "waited for its window until Mon 09:00 local" in numbers["+14155553100"]
    assert "redialled 1 time;" in numbers["+14155553100"]
    assert "redialled 2 times;" in numbers["+12125553101"]
    assert "called at once" in numbers["+442079463102"]
    assert all("final status placed" in line for line in numbers.values()), lines
    assert lines[-1] == "checked: 1 waited for a window, 3 redials, every call in its window"


def test_the_blocking_demo_runs(tmp_path: Path) -> None:
    done = _run_module("talkstack_sync.demo", tmp_path, timeout=60)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    assert done.stdout.rstrip().endswith("blocking demo finished")


def test_the_windows_section_fails_loudly_without_the_windows_extra(tmp_path: Path) -> None:
    """As on a fresh install without ``talkstack[windows]``: no phonenumbers to import."""
    done = run_script(
        """
        import asyncio, sys
        sys.modules["phonenumbers"] = None  # an import of it now fails, as when absent

        from talkstack_async import AsyncTalkstack
        from talkstack_async.testing import TalkstackEmulator
        from talkstack_async.testing.demo import windows_and_redials

        async def main():
            async with TalkstackEmulator() as emulator:
                seed = emulator.seed()
                async with AsyncTalkstack(**emulator.client_options(seed.account)) as client:
                    await windows_and_redials(client, emulator, seed.project_id, seed.agent_id)

        asyncio.run(main())
        print("not reached")
        """,
        _env(),
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 1, f"{done.stdout}\n{done.stderr}"
    assert "not reached" not in done.stdout
    assert done.stderr.startswith("demo, 4c:"), done.stderr
    assert "talkstack[windows]" in done.stderr
    assert "Traceback" not in done.stderr


START = datetime(2026, 12, 7, 15, 0, tzinfo=timezone.utc)  # the demo's: Monday 15:00 UTC
WINDOW = CallingWindow()  # 09:00-20:00, as in the demo
REDIAL = RedialPolicy(times=2, after=timedelta(minutes=30))


def _outcome(number: str, *calls: tuple[int, int, str]) -> DialOutcome:
    """``calls``: (hour, minute UTC, how it ended), each ending five minutes later."""
    attempts = []
    for n, (hour, minute, ended) in enumerate(calls):
        placed = START.replace(hour=hour, minute=minute)
        attempts.append(
            DialAttempt(
                n,
                f"k{n}",
                DialStatus.PLACED,
                ended=ended,
                ended_at=placed + timedelta(minutes=5),
                placed_at=placed,
            )
        )
    status = DialStatus.PLACED if attempts else DialStatus.FAILED
    return DialOutcome(0, number, status, number=number, attempts=tuple(attempts))


GOOD = [
    _outcome("+14155553100", (17, 0, "busy"), (17, 35, "completed")),
    _outcome("+12125553101", (15, 0, "no-answer"), (15, 35, "no-answer"), (16, 10, "no-answer")),
    _outcome("+442079463102", (15, 0, "completed")),
]


def test_the_demos_check_passes_a_run_where_windows_and_redials_worked() -> None:
    assert windows_and_redials_problems(GOOD, START, WINDOW, REDIAL) == []


@pytest.mark.parametrize(
    ("outcomes", "problem"),
    [
        ([_outcome(n) for n in SCRIPTED], "+14155553100: failed"),
        ([_outcome(n) for n in SCRIPTED], "no number waited for its window"),
        ([_outcome(n) for n in SCRIPTED], "no number was redialled"),
        (GOOD[1:], "+14155553100: no outcome"),
        (
            [_outcome("+14155553100", (15, 0, "busy"), (17, 0, "completed")), *GOOD[1:]],
            "+14155553100: call 0 at Mon 07:00 local, not in the window",
        ),
        (
            [_outcome("+14155553100", (17, 0, "busy"), (17, 10, "completed")), *GOOD[1:]],
            "+14155553100: redial 1 came 0:05:00 after the call",
        ),
        (
            [GOOD[0], _outcome("+12125553101", (15, 0, "no-answer")), GOOD[2]],
            "+12125553101: calls ended ['no-answer'], the emulator was told",
        ),
    ],
)
def test_the_demos_check_names_what_did_not_work(outcomes: list[DialOutcome], problem: str) -> None:
    problems = windows_and_redials_problems(outcomes, START, WINDOW, REDIAL)
    assert any(p.startswith(problem) for p in problems), problems
