"""``talkstack calls history|make|dial``."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import IO, Any

from talkstack_async import CallRequestFile, DialOutcome, DialProgress
from talkstack_sync.cli._credentials import open_client
from talkstack_sync.cli._output import record, write_records
from talkstack_sync.cli._progress import bar_wanted, progress_bar

__all__ = ["dial", "history", "make"]

_FILTERS = (
    "to",
    "from_",
    "status",
    "started_on",
    "started_before",
    "started_after",
    "ended_on",
    "ended_before",
    "ended_after",
)


def history(args: argparse.Namespace) -> int:
    filters = {name: getattr(args, name) for name in _FILTERS if getattr(args, name) is not None}
    with open_client(args) as client, _output(args.output) as out:
        bar = progress_bar(args.progress, total=args.limit, unit="call", description="calls")
        try:
            # closing(): a --limit that stops mid-page ends the iteration before the client.
            with contextlib.closing(
                client.calls.history(project_id=args.project, page_size=args.page_size, **filters)
            ) as calls:
                count = write_records(_limited(calls, args.limit, bar), out, args.format)
        finally:
            bar.close()
    print(f"talkstack: exported {count:,} call(s)", file=sys.stderr)
    return 0


def _limited(calls: Any, limit: int | None, bar: Any) -> Iterator[dict[str, Any]]:
    for number, call in enumerate(calls, 1):
        yield record(call)
        bar.update()
        if limit is not None and number >= limit:
            return


def make(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        placed = client.calls.make(
            args.number,
            project_id=args.project,
            agent_id=args.agent,
            dynamic_variables=dict(args.var) or None,
        )
    if args.format == "json":
        print(json.dumps(record(placed)))
    else:
        print(f"placed call {placed.sid} to {placed.to or args.number}")
    return 0


class _Latest:
    """Keeps the run's latest totals (set on the client's thread, read on this one)."""

    value: DialProgress | None = None

    def __call__(self, progress: DialProgress) -> None:
        self.value = progress


def dial(args: argparse.Namespace) -> int:
    requests = CallRequestFile(args.file)
    total = _count_rows(args.file) if bar_wanted(args.progress) else None
    latest = _Latest()
    bar = progress_bar(args.progress, total=total, unit="call", description="dialling")
    interrupted = False
    try:
        with open_client(args) as client, _output(args.outcomes, default=None) as out:
            # closing(): on Ctrl-C the run stops (in-flight calls journalled UNKNOWN) while
            # the client is still open, not when the generator is collected after it closed.
            outcomes = client.calls.dial_many(
                requests,
                project_id=args.project,
                agent_id=args.agent,
                concurrency=args.concurrency,
                rate=args.rate,
                journal=args.journal,
                progress=latest,
                wait_until_finished=args.wait,
                finish_timeout=args.finish_timeout,
            )
            with contextlib.closing(outcomes):
                for outcome in outcomes:
                    if out is not None:
                        out.write(json.dumps(_outcome_record(outcome)) + "\n")
                    bar.update()
                    if latest.value is not None:
                        bar.set_postfix_str(_tally(latest.value))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    summary = latest.value
    print(f"talkstack: {_tally(summary) if summary else 'nothing to dial'}", file=sys.stderr)
    if interrupted:
        print("talkstack: interrupted; re-run with the same --journal to resume", file=sys.stderr)
        return 130
    if summary is None:
        return 0
    return 0 if summary.failed + summary.unknown + summary.not_attempted == 0 else 1


def _tally(progress: DialProgress) -> str:
    return (
        f"placed {progress.placed:,} · failed {progress.failed:,} · unknown {progress.unknown:,}"
        f" · skipped {progress.skipped:,} · not attempted {progress.not_attempted:,}"
    )


def _outcome_record(outcome: DialOutcome) -> dict[str, Any]:
    data: dict[str, Any] = {
        "index": outcome.index,
        "number": outcome.number,
        "status": outcome.status.value,
        "sid": outcome.call.sid if outcome.call else None,
        "detail": outcome.detail,
        "error": f"{type(outcome.error).__name__}: {outcome.error}" if outcome.error else None,
    }
    if outcome.final is not None:
        data["final_status"] = str(outcome.final.status)
    if outcome.final_error is not None:
        data["final_error"] = str(outcome.final_error)
    return data


def _count_rows(path: str) -> int:
    """Lines after the header, for the bar's total (a quick byte count, not a CSV parse)."""
    with open(path, "rb") as file:
        return max(
            0, sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 20), b"")) - 1
        )


@contextlib.contextmanager
def _output(path: str | None, default: IO[str] | None = sys.stdout) -> Iterator[Any]:
    """``path`` opened for writing; ``-`` is stdout; None is ``default``."""
    if path is None:
        yield default
    elif path == "-":
        yield sys.stdout
    else:
        with open(path, "w", encoding="utf-8", newline="") as file:
            yield file
