"""Exports keep every column, say when they are partial, and the bars read well and fit the
terminal (run under a real pseudo-terminal with `script`)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from talkstack_async.testing import Fault, TalkstackEmulator
from tests.cli.test_cli import ENTRY_POINT, cli, cli_env, numbers_csv


def test_a_csv_export_of_rows_of_different_shapes_drops_no_value(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed()
    ids = ["--project", seed.project_id, "--agent", seed.agent_id]
    # The newest call has no variables, older ones do: the header must not come from it alone.
    cli(talkstack_server, "calls", "make", "+14155550101", *ids, "--var", "name=Ada",
        "--var", "day=Tue", api_key=seed.account.api_key)  # fmt: skip
    cli(talkstack_server, "calls", "make", "+14155550102", *ids, api_key=seed.account.api_key)
    out = tmp_path / "calls.csv"
    done = cli(talkstack_server, "calls", "history", "--project", seed.project_id, "--format",
               "csv", "-o", str(out), api_key=seed.account.api_key)  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 2
    assert {row["to"] for row in rows} == {"+14155550101", "+14155550102"}
    header = list(rows[0])
    assert header[-1] == "extra"  # fixed model columns, then what the SDK does not model
    everything = json.dumps(rows)
    for value in ("Ada", "Tue"):  # nothing dropped, wherever the API put the variables
        assert value in everything


def _in_terminal(command: list[str], env: dict[str, str], columns: int, timeout: float):
    """Run ``command`` under a pseudo-terminal ``columns`` wide; returns what it drew."""
    script = shutil.which("script")
    if script is None or sys.platform != "linux":
        pytest.skip("needs util-linux's script for a pseudo-terminal")
    line = f"stty cols {columns} rows 40; " + shlex.join(command)
    return subprocess.run(
        [script, "-qec", line, "/dev/null"],
        env={**env, "COLUMNS": str(columns), "TERM": "xterm"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _drawn_lines(output: str) -> list[str]:
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output)
    return [part for line in text.split("\n") for part in line.split("\r") if part.strip()]


@pytest.mark.parametrize("columns", [80, 120])
def test_the_dial_bar_and_its_tally_fit_the_terminal(
    talkstack_server: TalkstackEmulator, tmp_path: Path, columns: int
) -> None:
    seed = talkstack_server.seed()
    numbers_csv(tmp_path / "n.csv", 3000)
    command = [
        str(ENTRY_POINT), "calls", "dial", "--file", str(tmp_path / "n.csv"),
        "--project", seed.project_id, "--agent", seed.agent_id, "--concurrency", "50",
    ]  # fmt: skip
    done = _in_terminal(command, cli_env(talkstack_server, seed.account.api_key), columns, 120)
    assert done.returncode == 0, done.stdout[-2000:]
    bars = [line for line in _drawn_lines(done.stdout) if line.startswith("dialling")]
    assert bars, done.stdout[-2000:]
    assert max(len(line.rstrip()) for line in bars) <= columns
    assert "3,000/3,000" in bars[-1]
    assert "unk 0" in bars[-1]  # the whole tally, not cut
    assert "skip 0" in bars[-1]


def test_the_history_bar_reads_as_a_count_of_calls(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed(calls=2500)
    command = [
        str(ENTRY_POINT), "calls", "history", "--project", seed.project_id,
        "--page-size", "500", "-o", str(tmp_path / "c.jsonl"), "--format", "jsonl",
    ]  # fmt: skip
    done = _in_terminal(command, cli_env(talkstack_server, seed.account.api_key), 80, 120)
    assert done.returncode == 0, done.stdout[-2000:]
    bars = [line for line in _drawn_lines(done.stdout) if line.startswith("calls:")]
    assert bars[-1].startswith("calls: 2,500 calls [")


def test_an_interrupted_export_says_it_is_partial(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed(calls=5000)
    talkstack_server.faults.inject(Fault.latency(0.2), on="calls.history")
    out = tmp_path / "c.jsonl"
    process = subprocess.Popen(
        [str(ENTRY_POINT), "calls", "history", "--project", seed.project_id, "--page-size",
         "100", "--format", "jsonl", "-o", str(out)],
        env=cli_env(talkstack_server, seed.account.api_key),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not out.exists() or out.stat().st_size == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    written = len(out.read_text().splitlines())
    assert f"the export is partial, {written:,} call(s) written to {out}" in stderr
    assert "run the command again" in stderr
    assert os.path.getsize(out) > 0
