"""Real processes using the blocking client: scripts, forks, gunicorn, Celery, a notebook.

Every process is bounded in time (a hang fails the test, it does not stall CI) and talks to
the test's emulator over loopback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def env_for(server: object, api_key: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKSTACK_")}
    env.update(
        TALKSTACK_BASE_URL=server.base_url,  # type: ignore[attr-defined]
        TALKSTACK_CALLS_BASE_URL=server.calls_base_url,  # type: ignore[attr-defined]
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        **extra,
    )
    if api_key is not None:
        env["TALKSTACK_API_KEY"] = api_key
    return env


def run_script(
    code: str, env: dict[str, str], *, timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter; a hang past ``timeout`` fails the test."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )
