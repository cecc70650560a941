"""Calling windows in the recipient's time, under a fake clock (over real sockets, the
emulator): three time zones, a weekend, numbers without a zone or without a common moment,
per-input zones, and a stop and resume in the middle with the journal."""

from __future__ import annotations

import collections
from contextlib import aclosing
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from talkstack_async import (
    AsyncTalkstack,
    CallingWindow,
    DialProgress,
    DialStatus,
    ValidationError,
)
from talkstack_async.campaigns.policies._windows import zones_for
from talkstack_async.testing import FakeClock, TalkstackEmulator
from tests.clocks import HeldClock

pytestmark = pytest.mark.talkstack_emulator(status_interval=600)

LOS_ANGELES = [f"+1415{7_600_000 + i:07d}" for i in range(3)]
NEW_YORK = [f"+1212{7_600_000 + i:07d}" for i in range(3)]
LONDON = [f"+44207{946_0000 + i:07d}"[:13] for i in range(3)]
NINE_TO_EIGHT = CallingWindow(start=time(9), end=time(20))
# Monday 2026-12-07 15:00 UTC: 07:00 in Los Angeles, 10:00 in New York, 15:00 in London.
MONDAY_3PM_UTC = datetime(2026, 12, 7, 15, 0, tzinfo=timezone.utc)


async def _dial(
    server: TalkstackEmulator,
    requests: list[Any],
    clock: FakeClock | HeldClock,
    window: CallingWindow = NINE_TO_EIGHT,
    **options: Any,
) -> tuple[list[Any], dict[str, datetime], list[DialProgress]]:
    seed = server.seed()
    placed_at: dict[str, datetime] = {}
    seen: list[DialProgress] = []

    def progress(update: DialProgress) -> None:
        seen.append(update)
        if update.last.status is DialStatus.PLACED:
            placed_at[update.last.number] = clock.now()

    async with AsyncTalkstack(api_key=seed.account.api_key, **server.client_options()) as client:
        run = client.calls.dial_many(
            requests,
            project_id=seed.project_id,
            agent_id=seed.agent_id,
            window=window,
            clock=clock,
            progress=progress,
            concurrency=2,
            **options,
        )
        outcomes = [outcome async for outcome in run]
    return outcomes, placed_at, seen


async def test_each_number_is_called_inside_the_window_of_its_own_time_zone(
    talkstack_server: TalkstackEmulator,
) -> None:
    # Time moves once the six open now are placed (real time may not be enough, on a busy
    # machine, for them to go before the clock jumps two hours).
    clock = HeldClock(MONDAY_3PM_UTC, until=lambda: len(talkstack_server.placed_numbers()) >= 6)
    numbers = LOS_ANGELES + NEW_YORK + LONDON
    outcomes, placed_at, seen = await _dial(talkstack_server, numbers, clock)
    assert collections.Counter(o.status for o in outcomes) == {DialStatus.PLACED: 9}
    assert collections.Counter(talkstack_server.placed_numbers()) == collections.Counter(numbers)
    for number in NEW_YORK + LONDON:  # inside their window already: at once
        assert placed_at[number] == MONDAY_3PM_UTC
    la_opens = datetime(2026, 12, 7, 17, 0, tzinfo=timezone.utc)  # 09:00 in Los Angeles
    for number in LOS_ANGELES:
        assert la_opens <= placed_at[number] < la_opens + timedelta(minutes=1)
    waiting = [p for p in seen if p.waiting_for_window]
    assert max(p.waiting_for_window for p in waiting) == 3
    assert {p.next_window for p in waiting} == {la_opens}
    # Concurrency slots were given back while they waited: New York and London went first.
    assert max(placed_at[n] for n in NEW_YORK + LONDON) < min(placed_at[n] for n in LOS_ANGELES)


async def test_a_friday_evening_campaign_waits_for_monday_morning(
    talkstack_server: TalkstackEmulator,
) -> None:
    friday_night = datetime(2026, 12, 12, 2, 0, tzinfo=timezone.utc)  # Fri 21:00 New York
    clock = FakeClock(friday_night)
    outcomes, placed_at, _ = await _dial(talkstack_server, NEW_YORK[:1], clock)
    assert [o.status for o in outcomes] == [DialStatus.PLACED]
    monday_9am_new_york = datetime(2026, 12, 14, 14, 0, tzinfo=timezone.utc)
    assert (
        monday_9am_new_york <= placed_at[NEW_YORK[0]] < monday_9am_new_york + timedelta(minutes=1)
    )


async def test_numbers_without_a_zone_or_a_common_moment_fail_before_sending(
    talkstack_server: TalkstackEmulator,
) -> None:
    clock = FakeClock(MONDAY_3PM_UTC)
    unknown_zone = "+15555550123"
    # Toll free spans Pago Pago (UTC-11) to Guam (UTC+10) and Newfoundland: no moment is
    # inside 09-17 in all of them (09-20 would leave half an hour).
    toll_free = "+18005550111"
    tokyo = {"number": unknown_zone, "timezone": "Asia/Tokyo", "key": "tokyo"}
    nine_to_five = CallingWindow(start=time(9), end=time(17))
    outcomes, placed_at, _ = await _dial(
        talkstack_server, [unknown_zone, toll_free, tokyo], clock, nine_to_five
    )
    by_input = {o.index: o for o in outcomes}
    for index in (0, 1):
        assert by_input[index].status is DialStatus.FAILED
        assert isinstance(by_input[index].error, ValidationError)
        assert "timezone" in str(by_input[index].error)
    # Tokyo: Monday 15:00 UTC is 00:00 Tuesday there; it opens at 09:00 Tokyo (00:00 UTC).
    assert by_input[2].status is DialStatus.PLACED
    tokyo_opens = datetime(2026, 12, 8, 0, 0, tzinfo=timezone.utc)
    assert tokyo_opens <= placed_at[unknown_zone] < tokyo_opens + timedelta(minutes=1)
    assert talkstack_server.requests.count("calls.make") == 1


async def test_a_run_stopped_while_numbers_wait_resumes_the_schedule_from_its_journal(
    talkstack_server: TalkstackEmulator, tmp_path: Path
) -> None:
    journal = tmp_path / "campaign.jsonl"
    seed = talkstack_server.seed()
    numbers = NEW_YORK + LOS_ANGELES
    clock = FakeClock(MONDAY_3PM_UTC)
    window = CallingWindow(start=time(9), end=time(20))
    async with AsyncTalkstack(
        api_key=seed.account.api_key, **talkstack_server.client_options()
    ) as client:
        first: list[Any] = []
        run = client.calls.dial_many(
            numbers, project_id=seed.project_id, agent_id=seed.agent_id, window=window,
            clock=FakeClock(MONDAY_3PM_UTC), journal=journal, concurrency=6,
        )  # fmt: skip
        async with aclosing(run):
            async for outcome in run:
                first.append(outcome)
                if len(first) == len(NEW_YORK):  # New York done; Los Angeles waits: stop
                    break
        assert {o.number for o in first} == set(NEW_YORK)
        assert "scheduled" in journal.read_text()

        clock = FakeClock(MONDAY_3PM_UTC + timedelta(minutes=5))
        second = [
            outcome
            async for outcome in client.calls.dial_many(
                numbers, project_id=seed.project_id, agent_id=seed.agent_id, window=window,
                clock=clock, journal=journal, concurrency=6,
            )
        ]  # fmt: skip
    made = collections.Counter(talkstack_server.placed_numbers())
    assert made == collections.Counter(numbers), "every number once"
    resumed = {o.number: o.status for o in second}
    assert all(resumed[n] in (DialStatus.PLACED, DialStatus.SKIPPED) for n in NEW_YORK)
    assert all(resumed[n] is DialStatus.PLACED for n in LOS_ANGELES)


def test_windows_and_zones_are_checked() -> None:
    with pytest.raises(ValidationError, match="days"):
        CallingWindow(days={7})
    with pytest.raises(ValidationError, match="end"):
        CallingWindow(start=time(9), end=time(9))
    with pytest.raises(ValidationError, match="start"):
        CallingWindow(start="09:00")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="IANA"):
        zones_for("+14155550123", "Mars/Olympus")
    overnight = CallingWindow(start=time(22), end=time(6), days={4})  # Friday night shift
    (berlin,) = zones_for("+4930123456", None)
    saturday_3am = datetime(2026, 12, 12, 2, 0, tzinfo=timezone.utc)  # 03:00 Berlin
    assert overnight.contains(saturday_3am, berlin)
    assert not overnight.contains(saturday_3am + timedelta(days=1), berlin)
