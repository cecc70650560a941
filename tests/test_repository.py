"""The repository's promises about itself: CI runs the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.+?)\n```", readme)
    test_command = next(c for c in commands if "nox -s tests" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_both_packages_are_typed() -> None:
    assert (ROOT / "talkstack_async" / "py.typed").exists()
    assert (ROOT / "talkstack_sync" / "py.typed").exists()


def test_readme_opens_with_the_demo_command_then_the_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.+?)\n```", readme)
    assert commands[0].endswith("nox -s demo")
    assert commands[1].endswith("nox -s tests")
    assert "nox -s lint typecheck demo" in (ROOT / ".ci" / "run").read_text()


def test_the_pytest_plugin_is_registered() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'talkstack = "talkstack_async.testing.pytest_plugin"' in pyproject


def test_the_demo_session_installs_the_extras_the_demo_shows() -> None:
    """Section 4c's calling windows take each number's zone from phonenumbers (``windows``);
    without it a fresh clone's demo cannot show them (issue 27, finding 6)."""
    noxfile = (ROOT / "noxfile.py").read_text()
    start = noxfile.index("def demo(")
    demo = noxfile[start : noxfile.index("@nox.session", start)]
    installs = re.findall(r'session\.install\("-e", "\.\[([a-z,]+)\]"\)', demo)
    assert installs, demo
    assert "windows" in installs[0].split(",")
