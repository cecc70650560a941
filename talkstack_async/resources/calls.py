"""Calls: place one or a batch, read a call, page through the history, analyse a call."""

from __future__ import annotations

import functools
import os
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Callable,
    Iterable,
    Mapping,
)
from contextlib import aclosing
from datetime import date
from typing import Any

import attrs
from typing_extensions import Unpack

from talkstack_async import _endpoints as ep
from talkstack_async._batch_file import BatchSource, batch_file
from talkstack_async._options import ExtraOptions, RequestOptions
from talkstack_async._pagination import items_of, iterate_history_pages
from talkstack_async._polling import check_wait_options, poll_until_final
from talkstack_async._validation import (
    check_analysis_questions,
    check_call_status,
    check_day,
    check_dynamic_variables,
    check_id,
    check_page_size,
    check_phone_number,
)
from talkstack_async.campaigns._run import DialSettings, dial
from talkstack_async.campaigns.ledgers._protocol import Ledger
from talkstack_async.campaigns.policies._rate_limit import (
    DEFAULT_RATE_LIMIT_POLICY,
    RateLimitPolicy,
)
from talkstack_async.campaigns.policies._redial import RedialPolicy
from talkstack_async.campaigns.policies._windows import CallingWindow, Clock
from talkstack_async.models.call import (
    AnalysisQuestion,
    BatchCallResult,
    Call,
    CallAnalysis,
    CallHistoryPage,
    PlacedCall,
)
from talkstack_async.models.dial import CallRequest, CallRequestLike, DialOutcome, DialProgress
from talkstack_async.models.enums import CallStatus
from talkstack_async.resources._base import AsyncResource, parse_as

__all__ = ["AsyncCallsResource"]


class AsyncCallsResource(AsyncResource):
    """``client.calls``."""

    __slots__ = ()

    async def make(
        self,
        number: str,
        *,
        project_id: str,
        agent_id: str,
        dynamic_variables: Mapping[str, Any] | None = None,
        **options: Unpack[RequestOptions],
    ) -> PlacedCall:
        """Place an outbound call from an agent (on the calls host).

        Never retried once the request may have reached the server, so a call is never
        placed twice; on a failure, decide yourself whether to call again.

        Args:
            number: The E.164 number to call, e.g. ``"+14155550123"``.
            project_id: The project.
            agent_id: The agent that talks.
            dynamic_variables: Values for the ``{{placeholders}}`` in the agent's prompt.

        Returns:
            The placed call (its ``sid``, ``to`` and ``from_``); it has not finished yet.

        Raises:
            BadRequestError: A field is missing.
            APIConnectionError: The outcome is unknown (the call may or may not be placed).
            ValidationError: A malformed argument (nothing is sent).
        """
        return await self._get_one(
            ep.MAKE_CALL,
            PlacedCall,
            options,
            number=check_phone_number("number", number),
            project_id=check_id("project_id", project_id),
            agent_id=check_id("agent_id", agent_id),
            dynamic_variables=check_dynamic_variables("dynamic_variables", dynamic_variables),
        )

    async def get(self, sid: str, *, project_id: str, **options: Unpack[RequestOptions]) -> Call:
        """A call's data: status, duration, cost, recordings and extracted values.

        Raises:
            NotFoundError: No such call.
            ValidationError: An empty id (nothing is sent).
        """
        sid = check_id("sid", sid)
        payload = await self._send(
            ep.GET_CALL, options, sid=sid, project_id=check_id("project_id", project_id)
        )
        call = parse_as(ep.GET_CALL, payload, Call)
        # History items may lack the sid; get's answer is documented with it, but be sure.
        return call if call.sid else attrs.evolve(call, sid=sid)

    async def wait_until_finished(
        self,
        sid: str,
        *,
        project_id: str,
        timeout: float = 900.0,
        poll_interval: float = 2.0,
        max_poll_interval: float = 30.0,
        **options: Unpack[ExtraOptions],
    ) -> Call:
        """Poll the call until its status is final (completed, busy, failed, no-answer,
        voicemail, silence) and return it. A placed call may take minutes to finish.

        The wait between polls starts at ``poll_interval`` and grows 1.5x (with jitter) up to
        ``max_poll_interval``. A 404 right after placing is taken as "not recorded yet".

        Raises:
            CallWaitTimeoutError: Not final after ``timeout`` seconds; ``.last`` is the call
                as last seen.
            ValidationError: A malformed argument (nothing is sent).
        """
        sid = check_id("sid", sid)
        project_id = check_id("project_id", project_id)
        check_wait_options(timeout, poll_interval, max_poll_interval)
        return await poll_until_final(
            lambda: self.get(sid, project_id=project_id, **options),
            sid=sid,
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
        )

    async def dial_many(
        self,
        requests: Iterable[CallRequestLike] | AsyncIterable[CallRequestLike],
        *,
        project_id: str | None = None,
        agent_id: str | None = None,
        concurrency: int = 10,
        rate: float | None = None,
        journal: str | os.PathLike[str] | None = None,
        progress: Callable[[DialProgress], object] | None = None,
        wait_until_finished: bool = False,
        finish_timeout: float = 900.0,
        ledger: str | Ledger | None = None,
        campaign: str | None = None,
        on_rate_limit: RateLimitPolicy | None = DEFAULT_RATE_LIMIT_POLICY,
        window: CallingWindow | None = None,
        clock: Clock | None = None,
        redial: RedialPolicy | None = None,
        **options: Unpack[ExtraOptions],
    ) -> AsyncGenerator[DialOutcome, None]:
        """Place many calls, at most ``concurrency`` at once and ``rate`` per second, and yield
        one ``DialOutcome`` per input as each completes (not in input order; ``index`` says
        which input it is).

        Each request is placed at most once: placements are never retried, the same request
        twice in a run is placed once, and with a ``journal`` a re-run after a crash skips
        what an earlier run placed or may have placed. Outcomes: ``PLACED``; ``FAILED``
        (certainly not placed: invalid, refused, or no connection); ``UNKNOWN`` (may have
        been placed: decide before dialling again); ``SKIPPED``; ``NOT_ATTEMPTED`` (the run
        stopped first). The input is read lazily (``CallRequestFile`` streams a CSV).

        To leave the loop early, iterate inside ``contextlib.aclosing(...)`` (blocking:
        ``contextlib.closing``) so the run stops at once, not when Python collects it. Stopped
        early (break, cancellation, Ctrl-C), in-flight placements are cancelled and end
        ``UNKNOWN``; outcomes that can no longer be yielded still reach ``progress`` and the
        journal. If the run itself fails (say the journal's disk is
        full, the Redis ledger cannot be reached, ``progress`` raises, or a placement is
        refused as every other would be: 401, 403, the run's project or agent does not
        exist), no new call is placed, in-flight ones finish and are yielded with their real
        result, every remaining input is yielded as ``NOT_ATTEMPTED`` and then the error is
        raised. An input iterator that raises ends the input there: what was read is still
        dialled, then its error is raised. Every call passes one gate immediately before it
        leaves (run alive, window open now, the server's pause over, the rate, the claim):
        none leaves outside its window, after the run failed, or during a pause.

        Args:
            requests: ``CallRequest``s, E.164 numbers, or mappings (see ``CallRequestLike``),
                from a plain or an async iterable.
            project_id: The project of requests that do not name one.
            agent_id: The agent of requests that do not name one.
            concurrency: Placements in flight at once (with ``wait_until_finished``, calls
                in progress at once), 1-10,000.
            rate: At most this many placements per second, evenly spaced; None: no limit.
            journal: A JSON-lines file recording each attempt durably before it is sent and
                its result before it is yielded; created if missing, resumed if present.
            progress: Called with a ``DialProgress`` after every outcome (on the event loop:
                keep it quick). An exception from it stops the run.
            wait_until_finished: Also poll each placed call until it ends and report it in
                ``final`` (or ``final_error``).
            finish_timeout: With ``wait_until_finished``, seconds to wait for each call.
            ledger: A campaign shared by many processes instead of a journal file: a
                ``redis://`` URL (``talkstack[redis]``), with ``campaign``; each request is
                claimed by exactly one process, and ``rate`` and ``concurrency`` hold for the
                campaign as a whole. Or a ``Ledger`` object you opened (not closed by the run).
            campaign: The campaign's name in a Redis ledger.
            on_rate_limit: What a 429 (or a 503 with ``Retry-After``) on make-call does: the
                request was certainly not placed, so it is sent again after the server's
                ``Retry-After`` while the whole campaign slows down (AIMD around ``rate``),
                at most ``max_attempts`` times, then it is ``FAILED``. None: a refusal is the
                request's ``FAILED`` outcome at once.
            window: Place each call only inside this ``CallingWindow`` of the recipient's
                local time (the input's ``timezone``, else the number's zones, the most
                conservative when it has several); inputs outside it wait for it.
            clock: Where the window's time comes from (``now()``, ``async sleep()``); tests
                pass a fake one.
            redial: A ``RedialPolicy``: an input whose call ended ``busy``, ``no-answer``,
                ``voicemail`` or ``failed`` (as configured) is dialled again, up to ``times``
                times, each at least ``after`` its last call ended (and inside ``window``).
                Each attempt is its own placement in the journal (exactly once per attempt; a
                resume continues the schedule); the outcome lists them in ``attempts``.
                Implies ``wait_until_finished``.

        Yields:
            One ``DialOutcome`` per input.

        Raises:
            ValidationError: Bad options, a configuration that cannot work (a ``window``
                without ``talkstack[windows]``, a ``redial`` on a ledger without
                ``ended()``, a ledger object another run is using) or a ``requests`` that is
                not an iterable: before any input is read or anything is sent. A bad single
                request (an invalid number, an empty ``project_id``, variables that are not
                JSON) is its ``FAILED`` outcome instead.
            LedgerUnavailableError: The Redis ledger could not be reached (after every
                outcome, as any failure of the run).
        """
        settings = DialSettings(
            project_id=project_id,
            agent_id=agent_id,
            concurrency=concurrency,
            rate=rate,
            journal=journal,
            progress=progress,
            ledger=ledger,
            campaign=campaign,
            on_rate_limit=on_rate_limit,
            window=window,
            clock=clock,
            redial=redial,
        )
        watch = None
        if wait_until_finished or redial is not None:
            check_wait_options(finish_timeout, 2.0, 30.0)

            async def watch(request: CallRequest, sid: str) -> Call:
                assert request.project_id is not None
                return await self.wait_until_finished(
                    sid, project_id=request.project_id, timeout=finish_timeout, **options
                )

        # Closed with this generator, not when Python collects it: leaving aclosing() stops
        # the run there and then (tasks ended, journal released).
        async with aclosing(
            dial(requests, settings, place=functools.partial(self._place, options), watch=watch)
        ) as run:
            async for outcome in run:
                yield outcome

    async def _place(self, options: ExtraOptions, request: CallRequest) -> PlacedCall:
        assert request.project_id is not None
        assert request.agent_id is not None
        return await self.make(
            request.number,
            project_id=request.project_id,
            agent_id=request.agent_id,
            dynamic_variables=request.dynamic_variables or None,
            **options,
        )

    @items_of("history_pages")
    async def history(
        self,
        *,
        project_id: str,
        to: str | None = None,
        from_: str | None = None,
        status: CallStatus | str | None = None,
        started_on: date | str | None = None,
        started_before: date | str | None = None,
        started_after: date | str | None = None,
        ended_on: date | str | None = None,
        ended_before: date | str | None = None,
        ended_after: date | str | None = None,
        page_size: int = 20,
        **options: Unpack[RequestOptions],
    ) -> AsyncGenerator[Call, None]:
        """Iterate over the project's calls, page after page, one request ahead.

        The next page is asked for while you work through the current one, so at most two
        pages are held; breaking out of the loop cancels that request (one extra read may
        have reached the server). Dates are ``date``/``datetime`` objects or ``YYYY-MM-DD``
        strings, sent as UTC days. Arguments are checked before the first request.

        Args:
            project_id: The project.
            to, from_: Only calls to / from this E.164 number.
            status: Only calls in this status.
            started_on, started_before, started_after: Filters on the start day.
            ended_on, ended_before, ended_after: Filters on the end day.
            page_size: Calls per request (1-1000; the API's default is 20).

        Yields:
            Each ``Call``; none when the history is empty.

        Raises:
            ValidationError: A malformed filter (before any request).
            PaginationError: The server repeated a page (see ``talkstack_async._pagination``).
        """
        pages = self.history_pages(
            project_id=project_id,
            to=to,
            from_=from_,
            status=status,
            started_on=started_on,
            started_before=started_before,
            started_after=started_after,
            ended_on=ended_on,
            ended_before=ended_before,
            ended_after=ended_after,
            page_size=page_size,
            **options,
        )
        async with aclosing(pages):
            async for page in pages:
                for call in page.items:
                    yield call

    async def history_pages(
        self,
        *,
        project_id: str,
        to: str | None = None,
        from_: str | None = None,
        status: CallStatus | str | None = None,
        started_on: date | str | None = None,
        started_before: date | str | None = None,
        started_after: date | str | None = None,
        ended_on: date | str | None = None,
        ended_before: date | str | None = None,
        ended_after: date | str | None = None,
        page_size: int = 20,
        **options: Unpack[RequestOptions],
    ) -> AsyncGenerator[CallHistoryPage, None]:
        """Like ``history``, one ``CallHistoryPage`` at a time (same arguments)."""
        filters = _history_filters(
            to=to,
            from_=from_,
            status=status,
            started_on=started_on,
            started_before=started_before,
            started_after=started_after,
            ended_on=ended_on,
            ended_before=ended_before,
            ended_after=ended_after,
        )
        filters["project_id"] = check_id("project_id", project_id)
        filters["page_size"] = check_page_size("page_size", page_size)

        async def fetch(paging: Mapping[str, Any]) -> Any:
            return await self._send(ep.CALL_HISTORY, options, **filters, **paging)

        async with aclosing(iterate_history_pages(fetch, page_size=page_size)) as pages:
            async for page in pages:
                yield page

    async def analyze(
        self,
        sid: str,
        *,
        questions: Iterable[AnalysisQuestion | Mapping[str, Any]],
        **options: Unpack[RequestOptions],
    ) -> CallAnalysis:
        """Post-call analysis (available once the call ended): sentiment, summary, answers.

        Args:
            sid: The call.
            questions: ``AnalysisQuestion``s (or mappings with ``question``, ``type``,
                ``options``); ``type`` is Boolean, Text, Number or Selector, and a Selector
                question needs ``options``.

        Raises:
            ValidationError: A malformed question (nothing is sent).
        """
        return await self._get_one(
            ep.ANALYZE_CALL,
            CallAnalysis,
            options,
            sid=check_id("sid", sid),
            questions=check_analysis_questions("questions", questions),
        )

    async def batch(
        self,
        source: BatchSource,
        *,
        project_id: str,
        agent_id: str,
        **options: Unpack[RequestOptions],
    ) -> BatchCallResult:
        """Place one call per row of a file (multipart upload). Never retried.

        Args:
            source: A path to a .csv/.xlsx/.xls file with a ``number`` column and an optional
                ``dynamicVariables`` column; its raw bytes; or rows like
                ``{"number": "+1...", "dynamic_variables": {...}}``, which are checked (all
                bad rows are reported at once) and sent as CSV.
            project_id: The project.
            agent_id: The agent that talks.

        Returns:
            The API's answer; its shape is not documented, so it is kept whole in ``extra``.

        Raises:
            ValidationError: A bad file or row (nothing is sent).
        """
        return await self._get_one(
            ep.BATCH_CALL,
            BatchCallResult,
            options,
            project_id=check_id("project_id", project_id),
            agent_id=check_id("agent_id", agent_id),
            file=batch_file("source", source),
        )


def _history_filters(**given: Any) -> dict[str, Any]:
    """The history filters, checked and in wire form (E.164 numbers, status values, days)."""
    filters: dict[str, Any] = {}
    for name, value in given.items():
        if value is None:
            continue
        if name in ("to", "from_"):
            filters[name] = check_phone_number(name, value)
        elif name == "status":
            filters[name] = check_call_status(name, value)
        else:
            filters[name] = check_day(name, value)
    return filters
