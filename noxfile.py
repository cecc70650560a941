"""Development sessions: ``nox -s demo``, ``tests``, ``lint`` and ``typecheck``."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True


@nox.session
def demo(session: nox.Session) -> None:
    """The main job end to end against the bundled emulator, async then blocking.

    With the extras the demo shows: ``windows`` (phonenumbers) for section 4c's calling
    windows in each number's time zone. The demo checks its own output and fails loudly.
    """
    session.install("-e", ".[windows]")
    session.run("python", "-m", "talkstack_async.testing.demo")
    session.run("python", "-m", "talkstack_sync.demo")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against raw aiohttp, httpx and requests (BENCH_REPS=5 repetitions)."""
    session.install("-e", ".[speedups]", "httpx>=0.27", "requests>=2.31")
    session.run("python", "benchmarks/run.py")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (warnings are errors: see pyproject.toml)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on both packages."""
    session.install("-e", ".[typecheck]")
    session.run("mypy", "--strict")
