"""The main job, end to end, with ``talkstack_async`` against the bundled emulator.

``python -m talkstack_async.testing.demo`` (or ``nox -s demo``): sign up and log in, create a
project and an agent, receive call-status webhooks, place calls and a batch, watch the calls
end, page through the filtered history, analyse a call, and ride out a token expiry. Nothing
leaves this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import sys
import tempfile
from collections import Counter
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

from talkstack_async import (
    AnalysisQuestion,
    AsyncTalkstack,
    CallingWindow,
    CallStatus,
    CallStatusEvent,
    DialOutcome,
    DialStatus,
    RedialPolicy,
    ValidationError,
    call_status_webhook_handler,
)
from talkstack_async.testing import FakeClock, TalkstackEmulator

EMAIL, PASSWORD = "ada@example.com", "correct horse battery staple"
WEBHOOK_TOKEN = "demo-webhook-token"  # noqa: S105 - shared with the emulator in the URL


def say(text: str) -> None:
    print(text, flush=True)


async def webhook_receiver(events: list[CallStatusEvent]) -> tuple[web.AppRunner, str]:
    """Your service's endpoint for Talkstack's call-status webhook, on loopback."""
    app = web.Application()
    app.router.add_post(
        "/hooks/talkstack", call_status_webhook_handler(events.append, token=WEBHOOK_TOKEN)
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/hooks/talkstack?token={WEBHOOK_TOKEN}"


async def main() -> int:
    async with TalkstackEmulator(status_interval=0.25) as emulator:
        say(f"emulator: API {emulator.base_url}, calls {emulator.calls_base_url}")
        where = emulator.client_options()

        say("\n1. Sign up, verify the email, log in")
        async with AsyncTalkstack(**where) as anonymous:
            signup = await anonymous.auth.signup(email=EMAIL, password=PASSWORD, name="Ada")
            say(f"   signed up {signup.user.email if signup.user else '?'}: {signup.status!r}")
            code = emulator.mailbox(EMAIL)[-1].code  # the emulator's outbox stands in for email
            verification = await anonymous.auth.verify_email(email=EMAIL, code=code)
            say(f"   verified: {verification.status!r}")

        events: list[CallStatusEvent] = []
        receiver, hook_url = await webhook_receiver(events)
        try:
            async with AsyncTalkstack(email=EMAIL, password=PASSWORD, **where) as client:
                await run_job(client, emulator, hook_url, events)
        finally:
            await receiver.cleanup()
    say("\nasync demo finished")
    return 0


async def run_job(
    client: AsyncTalkstack,
    emulator: TalkstackEmulator,
    hook_url: str,
    events: list[CallStatusEvent],
) -> None:
    say("\n2. Project, voice, agent, webhook")
    project = await client.projects.create(name="Clinic", description="Appointment reminders")
    voices = await client.voices.list()
    agent = await client.agents.create(
        project_id=project.id,
        name="Ava",
        system_instruction="Remind {{name}} of the appointment on {{day}}.",
        phone_number="+14155550100",
        voice_id=voices[0].id,
    )
    await client.projects.set_webhook(project.id, url=hook_url)
    await client.projects.set_active_agent(project.id, agent_id=agent.id)
    say(f"   project {project.id} '{project.name}', agent {agent.id} with voice {voices[0].name}")
    say(f"   webhook -> {hook_url}")

    say("\n3. Place calls (the emulator picks the outcome from the last digit)")
    placed = []
    for number, name in (("+14155550123", "Jo"), ("+14155550126", "Sam"), ("+14155550128", "Li")):
        call = await client.calls.make(
            number,
            project_id=project.id,
            agent_id=agent.id,
            dynamic_variables={"name": name, "day": "Tuesday"},
        )
        placed.append(call)
        say(f"   placed {call.sid} to {call.to}")
    batch = await client.calls.batch(
        [{"number": f"+1415555020{i}", "dynamic_variables": {"name": f"P{i}"}} for i in range(5)],
        project_id=project.id,
        agent_id=agent.id,
    )
    say(f"   batch: {batch.message} ({len(batch.extra['data']['placed'])} calls)")

    say("\n4. Watch the calls until each one ends")
    for placed_call in placed:
        seen: list[str] = []
        while True:
            details = await client.calls.get(placed_call.sid, project_id=project.id)
            if details.status is not None and (not seen or seen[-1] != details.status.value):
                seen.append(details.status.value)
            if details.status is not None and details.status.is_final:
                break
            await asyncio.sleep(0.1)
        say(f"   {placed_call.to}: {' -> '.join(seen)} ({details.duration_seconds:g} s)")
    await asyncio.sleep(0.3)
    finals = Counter(str(e.status) for e in events if e.is_final)
    say(f"   webhook events received: {len(events)}; final statuses {dict(finals)}")

    say("\n4b. A campaign: 30 calls, 10 at a time, journalled; stopped after 12, then resumed")
    journal = Path(tempfile.mkdtemp(prefix="talkstack-demo-")) / "campaign.jsonl"
    campaign = [
        {"number": f"+1415555{3000 + i:04d}", "dynamic_variables": {"name": f"C{i}"}}
        for i in range(30)
    ]
    dial = functools.partial(
        client.calls.dial_many, project_id=project.id, agent_id=agent.id, journal=journal
    )
    first: Counter[str] = Counter()
    # aclosing: leaving the loop early stops the run now, not whenever Python collects it.
    async with contextlib.aclosing(dial(campaign, concurrency=10)) as outcomes:
        async for outcome in outcomes:
            first[outcome.status.value] += 1
            if first.total() == 12:
                break  # stands in for a crash or Ctrl-C: in-flight placements end UNKNOWN
    say(f"   first run: {dict(first)}")
    resumed = [o async for o in dial(campaign)]
    tally = dict(Counter(o.status.value for o in resumed))
    say(f"   resumed:   {tally} (skipped: placed, or in flight at the stop)")
    dialled = Counter(emulator.placed_numbers())
    placed_now = sum(o.status is DialStatus.PLACED for o in resumed)
    twice = sum(count > 1 for count in dialled.values())
    say(f"   placed on resume: {placed_now}; numbers dialled twice: {twice}")

    say("\n4c. Calling windows (09:00-20:00 the recipient's time) and redials, on a fake clock")
    await windows_and_redials(client, emulator, project.id, agent.id)

    say("\n5. Call history, filtered and paged lazily")
    async for page in client.calls.history_pages(project_id=project.id, page_size=10):
        on_page = [c.status.value if c.status else None for c in page.items]
        say(f"   page {page.page_number}: {on_page}")
    completed = [
        c async for c in client.calls.history(project_id=project.id, status=CallStatus.COMPLETED)
    ]
    say(f"   completed calls: {len(completed)}")

    say("\n6. Post-call analysis")
    analysis = await client.calls.analyze(
        placed[0].sid,
        questions=[
            AnalysisQuestion("Did they confirm?", "Boolean"),
            AnalysisQuestion("Which slot?", "Selector", ["morning", "afternoon"]),
        ],
    )
    say(f"   {analysis.summary} sentiment={analysis.sentiment} answers={analysis.answers}")

    say("\n7. A large history: 20,000 seeded calls, filtered by start day")
    seed = emulator.seed(calls=20_000)
    async with AsyncTalkstack(**emulator.client_options(seed.account)) as keyed:
        statuses: Counter[str] = Counter()
        async for past in keyed.calls.history(
            project_id=seed.project_id, started_after="2025-05-20", page_size=500
        ):
            statuses[past.status.value if past.status else "?"] += 1
        say(f"   since 2025-05-20: {sum(statuses.values())} calls, {dict(statuses)}")

    say("\n8. Every bearer token expires; the client refreshes once and carries on")
    emulator.expire_tokens()
    before = emulator.refresh_count
    results = await asyncio.gather(*(client.projects.get(project.id) for _ in range(20)))
    refreshes = emulator.refresh_count - before
    say(f"   20 concurrent requests: {len(results)} answers, {refreshes} refresh")

    make_calls = len(emulator.requests.of("calls.make"))
    say(f"\nthe emulator saw {len(emulator.requests)} requests, {make_calls} make-call requests")


# 4c's numbers: the zone each one's calls keep to (the SDK takes it from the number; shown
# here to print local times and to check every call against them) and how its calls end, in
# turn (the emulator is told).
SCRIPTED = {
    "+14155553100": ("America/Los_Angeles", ("busy", "completed")),
    "+12125553101": ("America/New_York", ("no-answer",) * 3),
    "+442079463102": ("Europe/London", ("completed",)),
}


async def windows_and_redials(
    client: AsyncTalkstack, emulator: TalkstackEmulator, project_id: str, agent_id: str
) -> None:
    """Section 4c, and its proof: each number's wait, redials and end are printed, then
    checked; a window or a redial that did not work ends the demo with an error."""
    # Monday 15:00 UTC: 07:00 in Los Angeles (opens at 09:00), 10:00 in New York, 15:00 in
    # London.
    start = datetime(2026, 12, 7, 15, 0, tzinfo=timezone.utc)
    clock = FakeClock(start, real_seconds=0.01)
    window = CallingWindow(start=time(9), end=time(20))
    redial = RedialPolicy(times=2, after=timedelta(minutes=30))
    for number, (_, ends) in SCRIPTED.items():
        emulator.call_outcomes(number, *ends)
    outcomes: list[DialOutcome] = []
    try:
        async for outcome in client.calls.dial_many(
            list(SCRIPTED),
            project_id=project_id,
            agent_id=agent_id,
            window=window,
            redial=redial,
            clock=clock,
        ):
            outcomes.append(outcome)
            say(f"   {describe(outcome, start, window)}")
    except ValidationError as exc:  # e.g. talkstack[windows] is not installed
        raise SystemExit(f"demo, 4c: the campaign was refused: {exc}") from None
    problems = windows_and_redials_problems(outcomes, start, window, redial)
    if problems:
        raise SystemExit("demo, 4c: windows and redials did not work: " + "; ".join(problems))
    waited = sum(_waited(o, start, window) for o in outcomes)
    redialled = sum(len(o.attempts) - 1 for o in outcomes)
    say(f"   checked: {waited} waited for a window, {redialled} redials, every call in its window")


def describe(outcome: DialOutcome, start: datetime, window: CallingWindow) -> str:
    """One number's run: its wait, its redials, its end (local times in its zone)."""
    number = outcome.number or "?"
    zone = ZoneInfo(SCRIPTED[number][0]) if number in SCRIPTED else timezone.utc
    first = outcome.attempts[0].placed_at if outcome.attempts else None
    if first is None:
        wait = "never called"
    elif _waited(outcome, start, window):
        wait = f"waited for its window until {first.astimezone(zone):%a %H:%M} local"
    else:
        wait = f"called at once ({first.astimezone(zone):%a %H:%M} local)"
    redials = max(len(outcome.attempts) - 1, 0)
    ended = outcome.attempts[-1].ended if outcome.attempts else None
    final = outcome.status.value + (f", last call {ended}" if ended else "")
    if outcome.error is not None:
        final += f" ({outcome.error})"
    calls = ", ".join(
        f"{a.placed_at.astimezone(zone):%H:%M} {a.ended}" for a in outcome.attempts if a.placed_at
    )
    return (
        f"{number} ({zone}): {wait}; redialled {redials} time{'s' * (redials != 1)}; "
        f"final status {final}" + (f" (calls at {calls})" if calls else "")
    )


def _waited(outcome: DialOutcome, start: datetime, window: CallingWindow) -> bool:
    """The number was called, and its window was shut when the run started (so its first
    call had to wait; that it was placed inside the window is checked apart)."""
    number = outcome.number or ""
    called = bool(outcome.attempts) and outcome.attempts[0].placed_at is not None
    return (
        called and number in SCRIPTED and not window.contains(start, ZoneInfo(SCRIPTED[number][0]))
    )


def windows_and_redials_problems(
    outcomes: list[DialOutcome], start: datetime, window: CallingWindow, redial: RedialPolicy
) -> list[str]:
    """What 4c's run did that windows and redials should not have (empty: it all worked)."""
    problems: list[str] = []
    seen = {o.number for o in outcomes}
    problems += [f"{n}: no outcome" for n in SCRIPTED if n not in seen]
    for outcome in outcomes:
        number = outcome.number or "?"
        if outcome.status is not DialStatus.PLACED:
            problems.append(f"{number}: {outcome.status.value} ({outcome.error or outcome.detail})")
            continue
        zone_name, ends = SCRIPTED[number]
        zone = ZoneInfo(zone_name)
        for attempt in outcome.attempts:
            if attempt.placed_at is None or not window.contains(attempt.placed_at, zone):
                at = f"{attempt.placed_at.astimezone(zone):%a %H:%M}" if attempt.placed_at else "?"
                problems.append(
                    f"{number}: call {attempt.attempt} at {at} local, not in the window"
                )
        if tuple(a.ended for a in outcome.attempts) != ends:
            got = [a.ended for a in outcome.attempts]
            problems.append(f"{number}: calls ended {got}, the emulator was told {list(ends)}")
        for before, after in itertools.pairwise(outcome.attempts):
            gap = (after.placed_at or start) - (before.ended_at or start)
            if gap < redial.after:
                problems.append(f"{number}: redial {after.attempt} came {gap} after the call")
    if not any(_waited(o, start, window) for o in outcomes):
        problems.append("no number waited for its window")
    if not any(len(o.attempts) > 1 for o in outcomes):
        problems.append("no number was redialled")
    return problems


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
