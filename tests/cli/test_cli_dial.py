"""``talkstack calls dial`` tells the truth about every row: refusals that would repeat stop
the run, failures come with reasons and CSV lines, every row reaches --outcomes, the advice
fits what was done, and input files come as people make them."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from talkstack_async.testing import Fault, TalkstackEmulator
from tests.cli.test_cli import ENTRY_POINT, cli, cli_env, numbers_csv


def _dial(server: TalkstackEmulator, seed: object, csv: Path, *extra: str, **kwargs: object):
    return cli(
        server, "calls", "dial", "--file", str(csv), "--project", seed.project_id,  # type: ignore[attr-defined]
        "--agent", seed.agent_id, *extra, **kwargs,  # type: ignore[attr-defined]
    )  # fmt: skip


def _outcomes(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_wrong_api_key_stops_the_run_after_one_request_and_says_why(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed()
    numbers_csv(tmp_path / "n.csv", 50)
    out = tmp_path / "outcomes.jsonl"
    done = _dial(
        talkstack_server,
        seed,
        tmp_path / "n.csv",
        "--outcomes",
        str(out),
        "--concurrency",
        "1",
        api_key="0" * 64,
    )
    assert done.returncode == 1
    assert talkstack_server.requests.count("calls.make") == 1
    assert "talkstack: the run stopped: 401 from POST /call/makeCall" in done.stderr
    assert "placed 0 · failed 1 · unknown 0 · skipped 0 · not attempted 49" in done.stderr
    assert "failed: 1 x AuthenticationError: 401" in done.stderr
    statuses = [r["status"] for r in _outcomes(out)]
    assert statuses.count("failed") == 1
    assert statuses.count("not_attempted") == 49


def test_failed_rows_are_named_by_csv_line_with_their_reasons(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed()
    csv = tmp_path / "n.csv"
    csv.write_text("number,name\n+14155550100,Ann\nnot-a-number,Bob\n\n+14155550101,Cy\n12,Di\n")
    out = tmp_path / "outcomes.jsonl"
    done = _dial(talkstack_server, seed, csv, "--outcomes", str(out), api_key=seed.account.api_key)
    assert done.returncode == 1
    assert "placed 2 · failed 2 · unknown 0 · skipped 0 · not attempted 0" in done.stderr
    assert "failed: 2 x invalid number" in done.stderr
    assert f"failed rows: line 3 (not-a-number), line 6 (12) (in {out})" in done.stderr
    by_line = {r["line"]: r for r in _outcomes(out)}
    assert sorted(by_line) == [2, 3, 5, 6]  # the blank line 4 is no row
    assert by_line[3]["status"] == "failed"
    assert by_line[3]["number"] == "not-a-number"  # kept, so the row can be found and fixed


def test_an_interrupted_run_without_a_journal_says_a_rerun_dials_everyone_again(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed()
    numbers_csv(tmp_path / "n.csv", 100)
    talkstack_server.faults.inject(Fault.latency(0.3), on="calls.make")
    process = subprocess.Popen(
        [str(ENTRY_POINT), "calls", "dial", "--file", str(tmp_path / "n.csv"), "--project",
         seed.project_id, "--agent", seed.agent_id, "--concurrency", "4"],
        env=cli_env(talkstack_server, seed.account.api_key),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while talkstack_server.requests.count("calls.make") < 4:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "no --journal was given, so a re-run dials every row again" in stderr
    assert "re-run with the same --journal" not in stderr
    (tally,) = [line for line in stderr.splitlines() if line.startswith("talkstack: placed")]
    assert tally.endswith("not attempted " + tally.rsplit(" ", 1)[1])
    counted = sum(int(part.split()[-1].replace(",", "")) for part in tally[11:].split(" · "))
    assert counted == 100  # unread rows count as not attempted


def test_a_spreadsheet_export_with_a_bom_semicolons_and_a_capitalised_header_dials(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed()
    csv = tmp_path / "export.csv"
    csv.write_bytes("\ufeffNumber;Name\r\n+14155550100;Ann\r\n+14155550101;Bob\r\n".encode())
    done = _dial(talkstack_server, seed, csv, api_key=seed.account.api_key)
    assert done.returncode == 0, done.stderr
    assert sorted(talkstack_server.placed_numbers()) == ["+14155550100", "+14155550101"]
    made = talkstack_server.requests.of("calls.make")
    assert {r.json["dynamicVariables"]["Name"] for r in made} == {"Ann", "Bob"}


def test_input_errors_name_the_command_lines_flags(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed()
    csv = tmp_path / "n.csv"
    csv.write_text("phone\n+14155550100\n")
    done = _dial(talkstack_server, seed, csv, api_key=seed.account.api_key)
    assert done.returncode == 2
    assert "talkstack: error: --file: the CSV needs a 'number' column" in done.stderr
    assert "path:" not in done.stderr


def test_errors_speak_of_flags_and_variables_not_sdk_arguments(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed()
    insecure = cli(
        talkstack_server, "voices", "list", "--base-url", "http://example.com",
        api_key=seed.account.api_key,
    )  # fmt: skip
    assert insecure.returncode == 2
    assert "talkstack: error: --base-url: plain http:// is only allowed" in insecure.stderr
    assert "allow_insecure_http" not in insecure.stderr
    anonymous = cli(talkstack_server, "voices", "list")
    assert anonymous.returncode == 2
    assert "set TALKSTACK_API_KEY" in anonymous.stderr
    assert "api_key=" not in anonymous.stderr
    numbers_csv(tmp_path / "n.csv", 1)
    missing = _dial(talkstack_server, seed, tmp_path / "nope.csv", api_key=seed.account.api_key)
    assert "talkstack: error: --file: cannot read" in missing.stderr


def test_a_calling_window_open_now_dials_and_a_bad_one_is_a_usage_error(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed()
    numbers_csv(tmp_path / "n.csv", 3)  # +1415: Los Angeles
    now = datetime.now(ZoneInfo("America/Los_Angeles"))
    start, end = (now - timedelta(hours=1)).time(), (now + timedelta(hours=2)).time()
    window = f"{start:%H:%M}-{end:%H:%M}"
    done = _dial(
        talkstack_server, seed, tmp_path / "n.csv", "--window", window,
        "--window-days", "mon-sun", api_key=seed.account.api_key,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(talkstack_server.placed_numbers()) == 3
    for bad in (("--window", "25:00-26:00"), ("--window-days", "mon-funday")):
        refused = _dial(
            talkstack_server, seed, tmp_path / "n.csv", *bad, api_key=seed.account.api_key
        )
        assert refused.returncode == 2
        assert bad[0] in refused.stderr
    assert len(talkstack_server.placed_numbers()) == 3


@pytest.mark.talkstack_emulator(status_interval=0)
def test_redials_follow_the_flags_and_campaigns_status_reads_the_journal(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    seed = talkstack_server.seed()
    numbers = numbers_csv(tmp_path / "n.csv", 3)
    for number in numbers:
        talkstack_server.call_outcomes(number, "busy", "completed")
    journal, out = tmp_path / "campaign.jsonl", tmp_path / "outcomes.jsonl"
    done = _dial(
        talkstack_server, seed, tmp_path / "n.csv", "--redial", "2", "--redial-after", "0.02",
        "--redial-on", "busy,no-answer", "--journal", str(journal), "--outcomes", str(out),
        api_key=seed.account.api_key,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(talkstack_server.placed_numbers()) == sorted(numbers * 2)
    for outcome in _outcomes(out):
        assert outcome["status"] == "placed"
        assert outcome["final_status"] == "completed"
        assert [a["ended"] for a in outcome["attempts"]] == ["busy", "completed"]
        assert len({a["sid"] for a in outcome["attempts"]}) == 2
    status = cli(talkstack_server, "campaigns", "status", "--journal", str(journal))
    assert status.returncode == 0, status.stderr
    assert "(no run holds it now): 6 placed, 0 in flight, 0 may have been placed" in status.stdout
    assert "6 calls ended" in status.stdout
    as_json = cli(
        talkstack_server, "campaigns", "status", "--journal", str(journal), "--format", "json"
    )
    counts = json.loads(as_json.stdout)
    assert (counts["placed"], counts["waiting_to_redial"], counts["running"]) == (6, 0, False)
    (tmp_path / "not-a-journal").write_text("number\n+14155550100\n")
    for path, says in ((tmp_path / "missing.jsonl", "No such file"),
                       (tmp_path / "not-a-journal", "not a talkstack dial journal")):  # fmt: skip
        unreadable = cli(talkstack_server, "campaigns", "status", "--journal", str(path))
        assert unreadable.returncode in (1, 2)
        assert says in unreadable.stderr
        assert "Traceback" not in unreadable.stderr
    usage_errors = [
        (("--redial-on", "completed"), "--redial-on"),
        (("--redial", "lots"), "--redial"),
        (("--redial", "1", "--redial-after", "0.001"), "--redial-after"),
    ]
    for bad, says in usage_errors:
        refused = _dial(
            talkstack_server, seed, tmp_path / "n.csv", *bad, api_key=seed.account.api_key
        )
        assert refused.returncode == 2
        assert says in refused.stderr
    assert len(talkstack_server.placed_numbers()) == 6
