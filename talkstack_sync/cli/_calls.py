"""``talkstack calls history|make|dial``."""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import signal
import sys
import threading
from array import array
from collections.abc import Iterator
from datetime import timedelta
from typing import IO, Any

from talkstack_async import (
    CallingWindow,
    CallRequestFile,
    DialOutcome,
    DialProgress,
    DialStatus,
    RedialPolicy,
    TalkstackError,
    ValidationError,
)
from talkstack_sync.cli._credentials import open_client
from talkstack_sync.cli._output import record, write_records
from talkstack_sync.cli._progress import progress_bar

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
        counter: _Counted | None = None
        try:
            # closing(): a --limit that stops mid-page ends the iteration before the client.
            with (
                contextlib.closing(
                    client.calls.history(
                        project_id=args.project, page_size=args.page_size, **filters
                    )
                ) as calls,
                _interrupts() as interrupt,
            ):
                rows = _limited(calls, args.limit, bar, flatten=args.format != "csv")
                counter = _Counted(rows, interrupt)
                count = write_records(counter, out, args.format)
        except KeyboardInterrupt:
            where = f"to {args.output}" if args.output not in (None, "-") else "so far"
            print(
                f"talkstack: interrupted: the export is partial, "
                f"{counter.count if counter else 0:,} call(s) "
                f"written {where}; run the command again to export them all",
                file=sys.stderr,
            )
            return 130
        finally:
            bar.close()
    print(f"talkstack: exported {count:,} call(s)", file=sys.stderr)
    return 0


class _Counted:
    """Counts the records that went by, so an interrupted export can say how many."""

    def __init__(self, records: Iterator[dict[str, Any]], interrupt: _Interrupt) -> None:
        self.records = records
        self.interrupt = interrupt
        self.count = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for item in self.records:
            yield item
            self.count += 1
            self.interrupt.check()  # a Ctrl-C Python swallowed still stops the export


def _limited(calls: Any, limit: int | None, bar: Any, *, flatten: bool) -> Iterator[dict[str, Any]]:
    for number, call in enumerate(calls, 1):
        yield record(call, flatten_extra=flatten)
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


class _Outcomes:
    """Every outcome of the run, as the dialler reports it (on the client's thread), yielded
    or not: those of placements stopped by Ctrl-C arrive only here. Drained on this thread."""

    def __init__(self) -> None:
        self.latest: DialProgress | None = None
        self.pending: collections.deque[DialOutcome] = collections.deque()

    def __call__(self, progress: DialProgress) -> None:
        self.latest = progress
        self.pending.append(progress.last)


class _Tally:
    """What the summary says: counts, the failures' reasons and rows, the rows to decide on."""

    def __init__(self) -> None:
        self.counts: collections.Counter[DialStatus] = collections.Counter()
        self.reasons: collections.Counter[str] = collections.Counter()
        self.failed_rows: list[str] = []
        self.maybe_skipped = 0

    def add(self, outcome: DialOutcome, line: int | None) -> None:
        self.counts[outcome.status] += 1
        if outcome.status is DialStatus.FAILED:
            self.reasons[_reason(outcome)] += 1
            if len(self.failed_rows) < _SHOWN_ROWS:
                self.failed_rows.append(f"line {line} ({_number(outcome) or 'no number'})")
        elif outcome.status is DialStatus.SKIPPED and "may have been placed" in outcome.detail:
            self.maybe_skipped += 1


_SHOWN_ROWS = 5
_SHOWN_REASONS = 3


def dial(args: argparse.Namespace) -> int:
    try:
        source = CallRequestFile(args.file)
    except ValidationError as exc:
        raise ValidationError("--file", exc.problem) from None
    total = source.count()
    lines: array[int] = array("L")  # the CSV line of each input, by index

    def rows() -> Iterator[dict[str, Any]]:
        for line, row in source.numbered():
            lines.append(line)
            yield row

    reported = _Outcomes()
    tally = _Tally()
    bar = progress_bar(args.progress, total=total, unit="call", description="dialling")
    interrupted = False
    failure: TalkstackError | None = None

    def drain(out: IO[str] | None) -> None:
        while reported.pending:
            outcome = reported.pending.popleft()
            line = lines[outcome.index] if outcome.index < len(lines) else None
            tally.add(outcome, line)
            if out is not None:
                out.write(json.dumps(_outcome_record(outcome, line)) + "\n")
            bar.update()
        if reported.latest is not None:
            bar.set_postfix_str(_tally(tally, total, short=True) + _waits(reported.latest))

    try:
        with open_client(args) as client, _output(args.outcomes, default=None) as out:
            outcomes = client.calls.dial_many(
                rows(),
                project_id=args.project,
                agent_id=args.agent,
                concurrency=args.concurrency,
                rate=args.rate,
                journal=args.journal,
                ledger=args.ledger,
                campaign=args.campaign,
                window=None
                if args.window is None
                else CallingWindow(start=args.window[0], end=args.window[1], days=args.window_days),
                progress=reported,
                wait_until_finished=args.wait,
                finish_timeout=args.finish_timeout,
                redial=_redial_policy(args),
            )
            try:
                # closing(): on Ctrl-C the run stops (in-flight calls journalled UNKNOWN) while
                # the client is still open, not when the generator is collected after it closed.
                with contextlib.closing(outcomes), _interrupts() as interrupt:
                    for _ in outcomes:
                        drain(out)
                        interrupt.check()
            except KeyboardInterrupt:
                interrupted = True
            except TalkstackError as exc:  # the run itself failed (a refusal for every row)
                failure = exc
            finally:
                drain(out)  # what stopping left behind reaches the outcomes file too
                if interrupted or failure is not None:
                    _never_read(source, len(lines), out, tally)
    finally:
        bar.close()
    return _summarise(args, tally, total, failure=failure, interrupted=interrupted)


class _Interrupt:
    """Remembers a Ctrl-C, so that one Python swallowed is still acted on.

    A KeyboardInterrupt raised while the main thread runs a weakref callback or a ``__del__``
    (an object freed at that moment) is printed as "Exception ignored" and lost; the run would
    go on to the end. The handler records the signal as well as raising, and the loop checks
    the record after every outcome."""

    def __init__(self) -> None:
        self.seen = False

    def handler(self, signum: int, frame: Any) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def check(self) -> None:
        if self.seen:
            raise KeyboardInterrupt


@contextlib.contextmanager
def _interrupts() -> Iterator[_Interrupt]:
    interrupt = _Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield interrupt  # signals are the main thread's: nothing to install
        return
    previous = signal.signal(signal.SIGINT, interrupt.handler)
    try:
        yield interrupt
    finally:
        signal.signal(signal.SIGINT, previous)


def _never_read(source: CallRequestFile, read: int, out: IO[str] | None, tally: _Tally) -> None:
    """The rows a stopped run never read get their NOT_ATTEMPTED outcome too."""
    detail = "not read: the run stopped before this row"
    for index, (line, row) in enumerate(source.numbered()):
        if index < read:
            continue
        outcome = DialOutcome(
            index=index, request=row, status=DialStatus.NOT_ATTEMPTED, detail=detail
        )
        tally.add(outcome, line)
        if out is not None:
            out.write(json.dumps(_outcome_record(outcome, line)) + "\n")


def _summarise(
    args: argparse.Namespace,
    tally: _Tally,
    total: int,
    *,
    failure: TalkstackError | None,
    interrupted: bool,
) -> int:
    def say(text: str) -> None:
        print(f"talkstack: {text}", file=sys.stderr)

    if failure is not None:
        say(f"the run stopped: {failure}")
    say(_tally(tally, total) if total else "nothing to dial")
    where = f"in {args.outcomes}" if args.outcomes else "with --outcomes FILE to list them all"
    if tally.reasons:
        reasons = tally.reasons.most_common(_SHOWN_REASONS)
        say("failed: " + "; ".join(f"{count:,} x {reason}" for reason, count in reasons))
        more = tally.counts[DialStatus.FAILED] - len(tally.failed_rows)
        rows = ", ".join(tally.failed_rows) + (f" and {more:,} more" if more > 0 else "")
        say(f"failed rows: {rows} ({where})")
    unknown = tally.counts[DialStatus.UNKNOWN]
    decide = unknown + tally.maybe_skipped
    if decide:
        parts = [f"{unknown:,} in flight or unanswered"] if unknown else []
        if tally.maybe_skipped:
            parts.append(f"{tally.maybe_skipped:,} skipped from an earlier run")
        say(
            f"{decide:,} row(s) may have been placed ({', '.join(parts)}): check them in the "
            f"call history (talkstack calls history --to NUMBER) before dialling them again; "
            f"they are the unknown / skipped rows {where}"
        )
        if args.journal or args.ledger:
            say(
                "'talkstack calls reconcile' with the same --journal/--ledger settles them from "
                "the call history, so that a re-run dials only those that were not placed"
            )
    if interrupted:
        if args.ledger:
            say("interrupted; re-run with the same --ledger and --campaign to resume")
        elif args.journal:
            say("interrupted; re-run with the same --journal to resume")
        else:
            placed = tally.counts[DialStatus.PLACED]
            say(
                f"interrupted; no --journal was given, so a re-run dials every row again "
                f"({placed:,} placed ones included): pass --journal FILE to make runs resumable"
            )
        return 130
    if failure is not None:
        return 1
    not_placed = sum(tally.counts[s] for s in (DialStatus.FAILED, DialStatus.UNKNOWN))
    return 0 if not_placed == 0 and _not_attempted(tally, total) == 0 else 1


def _redial_policy(args: argparse.Namespace) -> RedialPolicy | None:
    if not args.redial:
        return None
    try:
        return RedialPolicy(
            times=args.redial, after=timedelta(minutes=args.redial_after), statuses=args.redial_on
        )
    except ValidationError as exc:  # the only one the parser cannot check: at least 1 s
        raise ValidationError("--redial-after", exc.problem) from None


def _waits(progress: DialProgress) -> str:
    """What the bar adds while inputs wait: for a window, a redial, the server's rate."""
    parts = []
    if progress.waiting_for_window:
        parts.append(f"window {progress.waiting_for_window:,}")
    if progress.waiting_to_redial:
        parts.append(f"redial {progress.waiting_to_redial:,}")
    if progress.backing_off:
        parts.append(f"backoff {progress.backing_off:,}")
    if progress.rate is not None and (progress.backing_off or parts):
        parts.append(f"{progress.rate:.3g}/s")
    return (" · " + " ".join(parts)) if parts else ""


def _not_attempted(tally: _Tally, total: int) -> int:
    """Rows the run never tried: reported as not attempted, or never even read."""
    seen = sum(tally.counts.values())
    return tally.counts[DialStatus.NOT_ATTEMPTED] + max(0, total - seen)


def _tally(tally: _Tally, total: int, *, short: bool = False) -> str:
    counts = tally.counts
    if short:  # the bar's postfix: fits beside the bar in 80 columns
        return (
            f"ok {counts[DialStatus.PLACED]:,} fail {counts[DialStatus.FAILED]:,} "
            f"unk {counts[DialStatus.UNKNOWN]:,} skip {counts[DialStatus.SKIPPED]:,}"
        )
    return (
        f"placed {counts[DialStatus.PLACED]:,} · failed {counts[DialStatus.FAILED]:,} · "
        f"unknown {counts[DialStatus.UNKNOWN]:,} · skipped {counts[DialStatus.SKIPPED]:,} · "
        f"not attempted {_not_attempted(tally, total):,}"
    )


def _number(outcome: DialOutcome) -> str | None:
    if outcome.number is not None:
        return outcome.number
    request = outcome.request
    number = request.get("number") if isinstance(request, dict) else None
    return number if isinstance(number, str) and number else None


def _reason(outcome: DialOutcome) -> str:
    error = outcome.error
    if error is None:
        return outcome.detail or "not placed"
    if isinstance(error, ValidationError):  # grouped by the field, not the row
        return f"invalid {error.argument.rsplit('.', 1)[-1]}"
    return f"{type(error).__name__}: {error}"


def _outcome_record(outcome: DialOutcome, line: int | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "line": line,
        "number": _number(outcome),
        "status": outcome.status.value,
        "sid": outcome.call.sid if outcome.call else None,
        "detail": outcome.detail,
        "error": f"{type(outcome.error).__name__}: {outcome.error}" if outcome.error else None,
    }
    if outcome.final is not None:
        data["final_status"] = str(outcome.final.status)
    if outcome.final_error is not None:
        data["final_error"] = str(outcome.final_error)
    if outcome.attempts:
        data["attempts"] = [
            {
                "attempt": a.attempt,
                "status": a.status.value,
                "sid": a.call.sid if a.call else None,
                "ended": a.ended,
                "ended_at": a.ended_at.isoformat() if a.ended_at else None,
            }
            for a in outcome.attempts
        ]
    if outcome.redial_at is not None:
        data["redial_at"] = outcome.redial_at.isoformat()
    return data


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
