"""The ``talkstack`` command, run as users run it: the installed entry point in a subprocess,
against the emulator (which runs in this process, on its own thread)."""

from __future__ import annotations

import collections
import csv
import email.utils
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from talkstack_async.testing import Fault, Seed, TalkstackEmulator

ENTRY_POINT = Path(sys.executable).with_name("talkstack")


def cli(
    server: TalkstackEmulator,
    *args: str,
    api_key: str | None = None,
    stdin: str | None = None,
    extra_env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``talkstack ARGS`` with only the emulator's URLs (and ``api_key``) in its env."""
    env = {**cli_env(server, api_key), **(extra_env or {})}
    result = subprocess.run(
        [str(ENTRY_POINT), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if api_key is not None:
        assert api_key not in result.stdout + result.stderr  # never echoed
    return result


def cli_env(server: TalkstackEmulator, api_key: str | None) -> dict[str, str]:
    """This process's environment without any TALKSTACK_ setting, plus the emulator's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKSTACK_")}
    env.update(TALKSTACK_BASE_URL=server.base_url, TALKSTACK_CALLS_BASE_URL=server.calls_base_url)
    if api_key is not None:
        env["TALKSTACK_API_KEY"] = api_key
    return env


def test_the_entry_point_is_installed() -> None:
    assert ENTRY_POINT.is_file(), "pip install the project: the talkstack script is missing"


async def wire_history(server: TalkstackEmulator, seed: Seed) -> list[dict[str, Any]]:
    """The emulator's calls as it serves them, read with plain aiohttp."""
    calls: list[dict[str, Any]] = []
    async with aiohttp.ClientSession(headers={"x-api-key": seed.account.api_key}) as http:
        page = 1
        while True:
            body = {"projectId": seed.project_id, "pageSize": 1000, "page": page}
            async with http.post(f"{server.base_url}/call/get-call-history", json=body) as r:
                if r.status == 404:
                    return calls
                calls += (await r.json())["data"]
            page += 1


def iso(rfc2822: str) -> str:
    return email.utils.parsedate_to_datetime(rfc2822).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_exporting_ten_thousand_calls_matches_the_emulator(
    talkstack_server: TalkstackEmulator, tmp_path: Path, fmt: str
) -> None:
    seed = talkstack_server.seed(calls=10_000)
    expected = await wire_history(talkstack_server, seed)
    assert len(expected) == 10_000
    out = tmp_path / f"calls.{fmt}"
    args = ["calls", "history", "--project", seed.project_id, "--format", fmt, "-o", str(out)]
    result = cli(talkstack_server, *args, "--page-size", "1000", api_key=seed.account.api_key)
    assert result.returncode == 0, result.stderr
    assert "exported 10,000 call(s)" in result.stderr
    assert "\r" not in result.stderr  # piped: no progress bar
    if fmt == "csv":
        with out.open(newline="") as file:
            rows: list[dict[str, Any]] = list(csv.DictReader(file))
    else:
        rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 10_000
    for row, call in zip(rows, expected, strict=True):
        assert row["sid"] == call["callSid"]
        assert (row["status"], row["to"], row["from"]) == (call["status"], call["to"], call["from"])
        assert row["date"] == iso(call["date"])
        assert float(row["duration_seconds"]) == call["seconds"]
        urls = row["recording_urls"] if fmt == "jsonl" else json.loads(row["recording_urls"])
        assert urls == call["recordingUrls"]


async def test_filters_reach_the_server_and_stdout_is_the_default(
    talkstack_server: TalkstackEmulator,
) -> None:
    seed = talkstack_server.seed(calls=200)
    expected = [c for c in await wire_history(talkstack_server, seed) if c["status"] == "busy"]
    result = cli(
        talkstack_server,
        "calls", "history", "--project", seed.project_id, "--status", "busy",
        "--format", "jsonl", "--started-before", "2030-01-01",
        api_key=seed.account.api_key,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["sid"] for line in result.stdout.splitlines()] == [
        c["callSid"] for c in expected
    ]
    request = talkstack_server.requests.of("calls.history")[-1]
    assert request.query == {"status": "busy", "startTimeBefore": "2030-01-01"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["calls"], "the following arguments are required: ACTION"),
        (["calls", "history"], "the following arguments are required: --project"),
        (["calls", "history", "--project", "p", "--page-size", "0"], "must be at least 1"),
        (["calls", "history", "--project", "p", "--ended-on", "May 1"], "not a YYYY-MM-DD date"),
        (["calls", "history", "--project", "p", "--status", "done"], "invalid choice: 'done'"),
        (["calls", "history", "--project", "p", "--format", "xml"], "invalid choice: 'xml'"),
        (["calls", "make", "+14155550100", "--project", "p"], "required: --agent"),
        (["calls", "make", "555", "--project", "p", "--agent", "a"], "E.164"),
        (["calls", "make", "+14155550100", "--project", "p", "--agent", "a", "--var", "x"],
         "expected KEY=VALUE"),
        (["calls", "dial", "--file", "missing.csv", "--project", "p", "--agent", "a"],
         "cannot read"),
        (["calls", "dial", "--file", "f.csv", "--project", "p", "--agent", "a", "--rate", "-1"],
         "must be a positive number"),
        (["projects", "frobnicate"], "invalid choice: 'frobnicate'"),
        (["--timeout", "soon", "voices", "list"], "not a number"),
    ],
)  # fmt: skip
def test_bad_usage_exits_2_with_a_clear_message(
    talkstack_server: TalkstackEmulator, args: list[str], message: str
) -> None:
    result = cli(talkstack_server, *args, api_key="k" * 64)
    assert result.returncode == 2, result
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert talkstack_server.requests.all() == []  # nothing was sent


def test_errors_from_the_api_and_missing_credentials(talkstack_server: TalkstackEmulator) -> None:
    seed = talkstack_server.seed()
    missing = cli(
        talkstack_server, "projects", "get", "nosuchproject", api_key=seed.account.api_key
    )
    assert missing.returncode == 1
    assert missing.stderr.startswith("talkstack: error: 400 from GET /project/nosuchproject")
    assert "the API's answer when it does not exist" in missing.stderr
    wrong_key = cli(talkstack_server, "voices", "list", api_key="0" * 64)
    assert wrong_key.returncode == 1
    assert "401" in wrong_key.stderr
    anonymous = cli(talkstack_server, "voices", "list")
    assert anonymous.returncode == 2
    assert "TALKSTACK_API_KEY" in anonymous.stderr
    unreachable = cli(
        talkstack_server, "voices", "list", "--max-retries", "0", api_key=seed.account.api_key,
        extra_env={"TALKSTACK_BASE_URL": "http://127.0.0.1:9"},
    )  # fmt: skip
    assert unreachable.returncode == 1
    assert "is --base-url right?" in unreachable.stderr
    assert "Traceback" not in missing.stderr + wrong_key.stderr + unreachable.stderr


def test_resource_commands(talkstack_server: TalkstackEmulator) -> None:
    seed = talkstack_server.seed()
    key = seed.account.api_key
    created = cli(
        talkstack_server, "projects", "create", "--name", "Clinic", "--description", "Reminders",
        "--format", "json", api_key=key,
    )  # fmt: skip
    [project] = json.loads(created.stdout)
    assert project["name"] == "Clinic"
    listed = cli(talkstack_server, "projects", "list", "--format", "jsonl", api_key=key)
    assert {json.loads(line)["id"] for line in listed.stdout.splitlines()} == {
        seed.project_id,
        project["id"],
    }
    table = cli(talkstack_server, "agents", "list", "--project", seed.project_id, api_key=key)
    assert table.stdout.splitlines()[0].split()[:2] == ["ID", "NAME"]
    assert seed.agent_id in table.stdout
    agent = cli(
        talkstack_server, "agents", "get", seed.agent_id, "--project", seed.project_id,
        "--format", "json", api_key=key,
    )  # fmt: skip
    assert json.loads(agent.stdout)[0]["id"] == seed.agent_id
    voices = cli(talkstack_server, "voices", "list", "--format", "csv", api_key=key)
    assert voices.stdout.startswith("id,name,")
    placed = cli(
        talkstack_server, "calls", "make", "+14155550100", "--project", seed.project_id,
        "--agent", seed.agent_id, "--var", "name=Ada", "--format", "json", api_key=key,
    )  # fmt: skip
    assert placed.returncode == 0, placed.stderr
    [request] = talkstack_server.requests.of("calls.make")
    assert request.json["dynamicVariables"] == {"name": "Ada"}
    assert talkstack_server.call_status(json.loads(placed.stdout)["sid"])


@pytest.mark.talkstack_emulator(token_ttl=1)
def test_login_stores_nothing_unless_asked_and_then_keeps_the_file_current(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    account = talkstack_server.create_account(password="correct horse battery")
    store = tmp_path / "creds.json"
    base = ["--credentials-file", str(store)]
    login = ["login", "--email", account.email, "--password-stdin"]
    plain = cli(talkstack_server, *base, *login, stdin="correct horse battery\n")
    assert plain.returncode == 0, plain.stderr
    assert "Nothing was stored" in plain.stdout
    assert not store.exists()
    wrong = cli(talkstack_server, *base, *login, stdin="wrong\n")
    assert wrong.returncode == 1
    saved = cli(talkstack_server, *base, *login, "--save", stdin="correct horse battery\n")
    assert saved.returncode == 0, saved.stderr
    assert store.stat().st_mode & 0o777 == 0o600
    first = json.loads(store.read_text())
    time.sleep(1.2)  # the saved token expires: the next command refreshes and re-saves
    listed = cli(talkstack_server, *base, "projects", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    second = json.loads(store.read_text())
    assert second["refresh_token"] != first["refresh_token"]  # rotated, and kept
    assert talkstack_server.refresh_count == 1
    everything = "".join(r.stdout + r.stderr for r in (plain, wrong, saved, listed))
    for secret in ("correct horse battery", first["token"], first["refresh_token"]):
        assert secret not in everything


def numbers_csv(path: Path, count: int) -> list[str]:
    numbers = [f"+1415{6_000_000 + i:07d}" for i in range(count)]
    with path.open("w") as file:
        file.write("number,name\n")
        file.writelines(f"{n},caller {i}\n" for i, n in enumerate(numbers))
    return numbers


@pytest.mark.talkstack_emulator(status_interval=60)
def test_a_killed_campaign_resumes_from_its_journal_without_dialling_anyone_twice(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed()
    numbers = numbers_csv(tmp_path / "numbers.csv", 2000)
    talkstack_server.faults.inject(Fault.latency(0.02), on="calls.make")
    journal = tmp_path / "campaign.jsonl"
    args = [
        str(ENTRY_POINT), "calls", "dial", "--file", str(tmp_path / "numbers.csv"),
        "--project", seed.project_id, "--agent", seed.agent_id, "--concurrency", "20",
        "--journal", str(journal),
    ]  # fmt: skip
    env = cli_env(talkstack_server, seed.account.api_key)
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while talkstack_server.requests.count("calls.make") < 300:
            assert process.poll() is None, "the campaign ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)  # no chance to clean up: a crash
    finally:
        process.wait(10)
        assert process.stderr is not None
        process.stderr.close()
    first_attempts = journalled_attempts(journal)
    assert 300 <= len(first_attempts) < 2000

    resumed = cli(talkstack_server, *args[1:], api_key=seed.account.api_key, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    made = talkstack_server.requests.of("calls.make")
    # A request the kill cut off mid-body reached the server without a number: not a call.
    sent = collections.Counter(r.json["number"] for r in made if r.json is not None)
    assert len(made) - sum(sent.values()) <= 20
    assert max(sent.values()) == 1  # nobody was dialled twice
    placed = set(talkstack_server.placed_numbers())
    in_flight_at_kill = first_attempts - placed  # may or may not have reached the server
    assert len(in_flight_at_kill) <= 20
    # Everyone was dialled, except calls in flight at the kill: skipped, not risked twice.
    assert placed | in_flight_at_kill == set(numbers)
    said = resumed.stderr.strip().splitlines()
    assert (
        f"talkstack: placed {2000 - len(first_attempts):,} · failed 0 · unknown 0"
        f" · skipped {len(first_attempts):,} · not attempted 0"
    ) in said
    # The rows an operator must decide on are counted and the way to decide is named.
    decide = [line for line in said if "may have been placed" in line]
    if in_flight_at_kill:
        assert decide, said
        assert "skipped from an earlier run" in decide[0]  # attempted, no result journalled
        assert "calls history --to" in decide[0]


def journalled_attempts(journal: Path) -> set[str]:
    numbers = set()
    for line in journal.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a write the kill tore: its call was never sent
        if record.get("event") == "attempt":
            numbers.add(record["number"])
    return numbers


def test_a_progress_bar_only_when_asked_or_on_a_terminal(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed(calls=300)
    key = seed.account.api_key
    history = ["calls", "history", "--project", seed.project_id, "--format", "jsonl"]
    shown = cli(talkstack_server, *history, "--progress", "always", "-o", str(tmp_path / "a"),
                api_key=key)  # fmt: skip
    assert "300/" in shown.stderr or "300call" in shown.stderr.replace(" ", "")
    hidden = cli(talkstack_server, *history, "-o", str(tmp_path / "b"), api_key=key)
    assert hidden.stderr == "talkstack: exported 300 call(s)\n"
    numbers_csv(tmp_path / "n.csv", 5)
    dial = cli(
        talkstack_server, "calls", "dial", "--file", str(tmp_path / "n.csv"),
        "--project", seed.project_id, "--agent", seed.agent_id, "--progress", "always",
        api_key=key,
    )  # fmt: skip
    assert dial.returncode == 0, dial.stderr
    assert "dialling" in dial.stderr
    assert "5/5" in dial.stderr
    assert dial.stderr.strip().splitlines()[-1] == (
        "talkstack: placed 5 · failed 0 · unknown 0 · skipped 0 · not attempted 0"
    )


@pytest.mark.talkstack_emulator(status_interval=60)
def test_ctrl_c_stops_a_campaign_cleanly_and_accounts_for_what_was_in_flight(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed()
    numbers_csv(tmp_path / "numbers.csv", 100)
    talkstack_server.faults.inject(Fault.latency(0.5), on="calls.make")
    journal = tmp_path / "campaign.jsonl"
    env = cli_env(talkstack_server, seed.account.api_key)
    process = subprocess.Popen(
        [
            str(ENTRY_POINT),
            "calls",
            "dial",
            "--file",
            str(tmp_path / "numbers.csv"),
            "--project",
            seed.project_id,
            "--agent",
            seed.agent_id,
            "--concurrency",
            "5",
            "--journal",
            str(journal),
            "--outcomes",
            str(tmp_path / "outcomes.jsonl"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while talkstack_server.requests.count("calls.make") < 10:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted; re-run with the same --journal to resume" in stderr
    seen: dict[str, set[str]] = collections.defaultdict(set)
    for line in journal.read_text().splitlines()[1:]:
        record = json.loads(line)
        seen[record["key"]].add(record["event"])
    # Every attempt has a result: placed, unknown (in flight at Ctrl-C) or not attempted.
    results = {key: events - {"attempt"} for key, events in seen.items()}
    assert all(len(result) == 1 for result in results.values()), results
    events = collections.Counter(result.pop() for result in results.values())
    (summary,) = [line for line in stderr.splitlines() if line.startswith("talkstack: placed")]
    placed, unknown = events["placed"], events["unknown"]
    assert summary == (
        f"talkstack: placed {placed} · failed 0 · unknown {unknown} · skipped 0 · "
        f"not attempted {100 - placed - unknown}"
    )
    # Every row's outcome is in the outcomes file, the ones in flight at Ctrl-C included,
    # each under its CSV line; the rows to decide on are named with how to decide.
    written = [json.loads(line) for line in (tmp_path / "outcomes.jsonl").read_text().splitlines()]
    assert sorted(r["line"] for r in written) == list(range(2, 102))
    by = collections.Counter(r["status"] for r in written)
    expected = {"placed": placed, "unknown": unknown, "not_attempted": 100 - placed - unknown}
    assert by == collections.Counter(expected)
    if unknown:
        assert f"{unknown} row(s) may have been placed ({unknown} in flight" in stderr
