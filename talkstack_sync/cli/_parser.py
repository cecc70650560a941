"""The command line's grammar: every command, its flags, and the function that runs it."""

from __future__ import annotations

import argparse
from datetime import date, time
from typing import Any

from talkstack_async import CallStatus, RedialPolicy, __version__
from talkstack_async.campaigns.policies._redial import REDIALABLE
from talkstack_sync.cli import _calls, _campaigns, _login, _resources
from talkstack_sync.cli._output import FORMATS, LIST_FORMATS

__all__ = ["build_parser"]

_CREDENTIALS_HELP = """\
credentials, in order: --api-key; the environment (TALKSTACK_API_KEY, or TALKSTACK_TOKEN with
TALKSTACK_REFRESH_TOKEN, or TALKSTACK_EMAIL with TALKSTACK_PASSWORD); the file written by
'talkstack login --save'. Secrets are never printed. Exit codes: 0 ok, 1 the API or the run
failed, 2 bad usage or input, 130 interrupted."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="talkstack",
        description="The Talkstack voice-AI API from the command line.",
        epilog=_CREDENTIALS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"talkstack {__version__}")
    _add_connection_flags(parser, default=None)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_calls(commands)
    _add_projects(commands)
    _add_agents(commands)
    _add_voices(commands)
    _add_campaigns(commands)
    login = commands.add_parser(
        "login", help="check an account's credentials; --save keeps a token"
    )
    login.add_argument("--email", help="the account's email (else TALKSTACK_EMAIL, else asked)")
    login.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )
    login.add_argument("--save", action="store_true", help="store a refresh token (mode 0600)")
    login.set_defaults(handler=_login.login)
    return parser


def _add_connection_flags(parser: argparse.ArgumentParser, *, default: object) -> None:
    """The flags every command takes. On a command they default to SUPPRESS, so a flag given
    before the command (``talkstack --base-url U calls ...``) is not reset by the command's
    own default, and either place works."""
    group = parser.add_argument_group("connection")
    add = group.add_argument
    add(
        "--api-key", default=default, help="an API key (prefer TALKSTACK_API_KEY: flags show in ps)"
    )
    add("--base-url", default=default, help="the API host (env TALKSTACK_BASE_URL)")
    add("--calls-base-url", default=default, help="the make-call host (TALKSTACK_CALLS_BASE_URL)")
    add("--credentials-file", default=default, help="where 'login --save' keeps its token")
    add("--timeout", default=default, type=_positive_float, help="seconds per request")
    add("--max-retries", default=default, type=_non_negative_int, help="retries of safe requests")


def _command(
    parent: argparse._SubParsersAction[argparse.ArgumentParser], name: str, **options: Any
) -> argparse.ArgumentParser:
    command = parent.add_parser(name, **options)
    _add_connection_flags(command, default=argparse.SUPPRESS)
    return command


def _add_calls(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    calls = commands.add_parser("calls", help="place calls, dial a list, export call history")
    sub = calls.add_subparsers(dest="action", metavar="ACTION", required=True)

    history = _command(sub, "history", help="export a project's call history, page by page")
    history.add_argument("--project", required=True, help="the project's id")
    history.add_argument("--to", help="only calls to this E.164 number")
    history.add_argument("--from", dest="from_", help="only calls from this E.164 number")
    history.add_argument("--status", choices=[s.value for s in CallStatus], help="only this status")
    for name in ("started", "ended"):
        for when in ("on", "before", "after"):
            history.add_argument(
                f"--{name}-{when}",
                dest=f"{name}_{when}",
                type=_day,
                metavar="YYYY-MM-DD",
                help=f"calls {name} {when} this UTC day",
            )
    history.add_argument("--format", choices=FORMATS, default="table", help="default: table")
    history.add_argument("-o", "--output", help="write to this file (default: stdout)")
    history.add_argument("--page-size", type=_page_size, default=100, help="1-1000 (default 100)")
    history.add_argument("--limit", type=_positive_int, help="stop after this many calls")
    _add_progress_flag(history)
    history.set_defaults(handler=_calls.history)

    make = _command(sub, "make", help="place one call")
    make.add_argument("number", help="the E.164 number to call, e.g. +14155550123")
    make.add_argument("--project", required=True, help="the project's id")
    make.add_argument("--agent", required=True, help="the agent's id")
    make.add_argument(
        "--var",
        action="append",
        type=_variable,
        default=[],
        metavar="KEY=VALUE",
        help="a dynamic variable for the agent's prompt (repeatable)",
    )
    make.add_argument("--format", choices=("text", "json"), default="text")
    make.set_defaults(handler=_calls.make)

    dial = _command(
        sub,
        "dial",
        help="dial every row of a CSV (a 'number' column), each at most once",
        description="Dial every row of a CSV file: a 'number' column, optional "
        "'dynamicVariables' (a JSON object) and 'key'; other columns become dynamic variables. "
        "With --journal, a re-run after a crash or Ctrl-C skips what was already dialled.",
    )
    dial.add_argument("--file", required=True, help="the CSV file")
    dial.add_argument("--project", required=True, help="the project's id")
    dial.add_argument("--agent", required=True, help="the agent's id")
    dial.add_argument("--concurrency", type=_positive_int, default=10, help="default 10")
    dial.add_argument("--rate", type=_positive_float, help="at most this many calls per second")
    dial.add_argument("--journal", help="a file that makes the campaign resumable (recommended)")
    dial.add_argument("--outcomes", help="write each outcome as a JSON line here ('-': stdout)")
    dial.add_argument("--wait", action="store_true", help="also wait for each call to end")
    dial.add_argument(
        "--finish-timeout", type=_positive_float, default=900.0, help="with --wait (seconds)"
    )
    _add_ledger_flags(dial)
    dial.add_argument(
        "--window",
        type=_window,
        metavar="HH:MM-HH:MM",
        help="call only between these hours of each recipient's local time (e.g. 09:00-20:00)",
    )
    dial.add_argument(
        "--window-days",
        type=_days,
        default=_days("mon-fri"),
        metavar="DAYS",
        help="the days of --window, e.g. mon-fri (the default), mon-sat, mon,wed,fri",
    )
    dial.add_argument(
        "--redial",
        type=_count,
        default=0,
        metavar="N",
        help="dial again, up to N times, a number whose call ended busy, no-answer, voicemail "
        "or failed (implies --wait)",
    )
    dial.add_argument(
        "--redial-after",
        type=_positive_float,
        default=30.0,
        metavar="MINUTES",
        help="with --redial: at least this long after the last call ended (default 30)",
    )
    dial.add_argument(
        "--redial-on",
        type=_redial_statuses,
        default=sorted(RedialPolicy().statuses),
        metavar="STATUSES",
        help="with --redial: the call statuses to redial, comma-separated "
        "(default busy,failed,no-answer,voicemail; silence may be added)",
    )
    _add_progress_flag(dial)
    dial.set_defaults(handler=_calls.dial)

    reconcile = _command(
        sub,
        "reconcile",
        help="settle the calls a crash left as 'may have been placed'",
        description="Look each request a dial run left as 'may have been placed' up in the "
        "call history: found, it is recorded as placed; absent GRACE minutes after the attempt, "
        "as not placed, so a re-run dials it.",
    )
    reconcile.add_argument("--project", required=True, help="the project the campaign used")
    reconcile.add_argument("--journal", help="the campaign's journal file")
    _add_ledger_flags(reconcile)
    reconcile.add_argument(
        "--from", dest="from_number", help="the agent's number, to narrow the lookup"
    )
    reconcile.add_argument(
        "--grace-minutes",
        type=_positive_float,
        default=15.0,
        help="how long a placed call may take to appear in the history (default 15)",
    )
    reconcile.set_defaults(handler=_campaigns.reconcile_command)


_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _window(text: str) -> tuple[time, time]:
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not HH:MM-HH:MM") from None
    return start, end


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count 0-100")
    return value


def _redial_statuses(text: str) -> list[str]:
    statuses = [part.strip() for part in text.split(",") if part.strip()]
    wrong = [s for s in statuses if s not in REDIALABLE]
    if wrong or not statuses:
        raise argparse.ArgumentTypeError(f"{text!r}: choose among {','.join(sorted(REDIALABLE))}")
    return statuses


def _days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in text.lower().split(","):
        first, _, last = part.strip().partition("-")
        if first not in _DAY_NAMES or (last and last not in _DAY_NAMES):
            raise argparse.ArgumentTypeError(f"{text!r}: days are mon, tue, ... sun")
        a, b = _DAY_NAMES.index(first), _DAY_NAMES.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(b + 1)])
    return frozenset(days)


def _add_ledger_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--ledger",
        help="a redis:// URL: a campaign shared by processes on any machines (with --campaign)",
    )
    command.add_argument("--campaign", help="the campaign's name in the --ledger")


def _add_campaigns(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    campaigns = commands.add_parser("campaigns", help="campaigns shared on a Redis ledger")
    sub = campaigns.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = sub.add_parser(
        "status",
        help="counts of a campaign while it runs: a Redis one from any machine, or a journal",
    )
    status.add_argument("campaign", nargs="?", help="the campaign's name (with --ledger)")
    status.add_argument("--ledger", help="the redis:// URL")
    status.add_argument("--journal", help="or: the campaign's journal file")
    status.add_argument("--format", choices=("text", "json"), default="text")
    status.set_defaults(handler=_campaigns.status_command)


def _add_projects(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    projects = commands.add_parser("projects", help="list, show and create projects")
    sub = projects.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = _command(sub, "list", help="the account's projects")
    listing.set_defaults(handler=_resources.projects_list)
    get = _command(sub, "get", help="one project")
    get.add_argument("project_id")
    get.set_defaults(handler=_resources.projects_get)
    create = _command(sub, "create", help="a new project")
    create.add_argument("--name", required=True)
    create.add_argument("--description", required=True)
    create.set_defaults(handler=_resources.projects_create)
    for command in (listing, get, create):
        _add_list_format(command)


def _add_agents(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agents = commands.add_parser("agents", help="list and show a project's agents")
    sub = agents.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = _command(sub, "list", help="the project's agents")
    listing.add_argument("--project", required=True, help="the project's id")
    listing.set_defaults(handler=_resources.agents_list)
    get = _command(sub, "get", help="one agent")
    get.add_argument("agent_id")
    get.add_argument("--project", required=True, help="the project's id")
    get.set_defaults(handler=_resources.agents_get)
    for command in (listing, get):
        _add_list_format(command)


def _add_voices(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    voices = commands.add_parser("voices", help="the voices agents can speak with")
    sub = voices.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = _command(sub, "list", help="every voice")
    listing.set_defaults(handler=_resources.voices_list)
    _add_list_format(listing)


def _add_list_format(command: argparse.ArgumentParser) -> None:
    command.add_argument("--format", choices=LIST_FORMATS, default="table", help="default: table")


def _add_progress_flag(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="a progress bar on stderr (auto: only on a terminal; needs talkstack[cli])",
    )


# Argument types: a bad value is a usage error (exit 2) before anything is sent.


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _non_negative_int(text: str) -> int:
    return 0 if text.strip() == "0" else _positive_int(text)


def _page_size(text: str) -> int:
    value = _positive_int(text)
    if value > 1000:
        raise argparse.ArgumentTypeError(f"must be at most 1000, not {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from None


def _variable(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value
