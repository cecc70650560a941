"""Every resource through the SDK against the emulator, async and blocking."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest

from talkstack_async import (
    AnalysisQuestion,
    AuthenticationError,
    BadRequestError,
    CallStatus,
    NotFoundError,
    ValidationError,
)
from talkstack_async.testing import TalkstackEmulator
from tests.e2e.conftest import collect, run


async def test_account_lifecycle(connect: Any, talkstack_server: TalkstackEmulator) -> None:
    email, password = "ada@example.com", "first password"
    anonymous = connect()
    signup = await run(anonymous.auth.signup(email=email, password=password, name="Ada"))
    assert signup.user.email == email
    await run(anonymous.auth.resend_verification_code(email=email))
    code = talkstack_server.mailbox(email)[-1].code
    verified = await run(anonymous.auth.verify_email(email=email, code=code))
    assert verified.status == 2

    login = await run(anonymous.auth.login(email=email, password=password))
    assert login.user.email == email
    assert login.expires_at is not None
    tokens = await run(anonymous.auth.refresh(refresh_token=login.refresh_token))
    assert tokens.refresh_token  # read from the misspelt resfreshToken
    assert tokens.refresh_token != login.refresh_token

    client = connect(token=tokens.access_token, refresh_token=tokens.refresh_token)
    await run(client.auth.change_password(old_password=password, new_password="second password"))
    with pytest.raises(AuthenticationError):  # old password wrong: a 401 that is not renewed
        await run(client.auth.change_password(old_password=password, new_password="x"))
    api_key = await run(client.user.generate_api_key())
    assert len(api_key) == 64

    keyed = connect(api_key=api_key)
    assert await run(keyed.user.get_active_project()) is None
    project = await run(keyed.projects.create(name="P", description="d"))
    update = await run(keyed.user.set_active_project(project.id))
    assert update.user.active_project_id == project.id
    assert (await run(keyed.user.get_active_project())).id == project.id

    await run(anonymous.auth.forgot_password(email=email))
    reset_token = talkstack_server.mailbox(email)[-1].code
    await run(anonymous.auth.reset_password(token=reset_token, new_password="third password"))
    relogin = await run(anonymous.auth.login(email=email, password="third password"))
    assert relogin.status == 7


async def test_projects_agents_voices_and_numbers(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    client = connect(api_key=talkstack_server.create_account().api_key)
    assert await run(client.projects.list()) == []  # the API's 404 for "none"
    project = await run(client.projects.create(name="Clinic", description="Reminders"))
    assert (await run(client.projects.get(project.id))).name == "Clinic"  # body says "succcess"
    with pytest.raises(NotFoundError) as missing:
        await run(client.projects.get("0" * 24))
    assert missing.value.status == 400  # "does not exist" is documented as a 400
    assert [p.id for p in await run(client.projects.list())] == [project.id]
    updated = await run(
        client.projects.update(project.id, name="Clinic 2", webhook_url="http://127.0.0.1:9/h")
    )
    assert (updated.name, updated.webhook_url) == ("Clinic 2", "http://127.0.0.1:9/h")
    await run(client.projects.set_webhook(project.id, url="http://127.0.0.1:9/hooks"))
    assert (await run(client.projects.get(project.id))).webhook_url == "http://127.0.0.1:9/hooks"

    voices = await run(client.voices.list())
    voice = await run(client.voices.get(voices[1].id))
    assert voice == voices[1]
    assert await run(client.agents.list(project_id=project.id)) == []
    agent = await run(
        client.agents.create(
            project_id=project.id,
            name="Ava",
            system_instruction="Hi",
            phone_number="+14155550100",
            voice_id=voice.id,
        )
    )
    assert (await run(client.agents.get(agent.id, project_id=project.id))).voice_id == voice.id
    renamed = await run(client.agents.update(agent.id, project_id=project.id, name="Eve"))
    assert (renamed.id, renamed.name) == (agent.id, "Eve")
    assert [a.name for a in await run(client.agents.list(project_id=project.id))] == ["Eve"]

    assert await run(client.projects.get_active_agent(project.id)) is None
    after = await run(client.projects.set_active_agent(project.id, agent_id=agent.id))
    assert (after.id, after.active_agent_id) == (project.id, agent.id)  # id filled in by the SDK
    assert await run(client.projects.get_active_agent(project.id)) == agent.id
    await run(client.projects.remove_active_agent(agent.id))
    assert await run(client.projects.get_active_agent(project.id)) is None

    await run(client.phone_numbers.assign("+14155550177", agent_id=agent.id, project_id=project.id))
    numbers = await run(client.phone_numbers.list(project_id=project.id))
    assert {n.number for n in numbers} == {"+14155550100", "+14155550177"}
    one = await run(client.phone_numbers.get(numbers[0].id))
    assert one == numbers[0]  # "status": "error" on a 200 is not an error
    assert len(await run(client.phone_numbers.list(agent_id=agent.id))) == 1

    with pytest.raises(BadRequestError):  # it still has an agent and numbers
        await run(client.projects.delete(project.id))
    await run(client.agents.delete(agent.id, project_id=project.id))
    await run(client.projects.delete(project.id, cascade=True))
    assert await run(client.projects.list()) == []


async def test_calls_end_to_end(connect: Any, talkstack_server: TalkstackEmulator) -> None:
    seed = talkstack_server.seed()
    client = connect(api_key=seed.account.api_key)
    ids = {"project_id": seed.project_id, "agent_id": seed.agent_id}
    placed = await run(client.calls.make("+14155550123", **ids, dynamic_variables={"name": "Jo"}))
    assert placed.sid.startswith("CA")
    assert (placed.to, placed.from_) == ("+14155550123", seed.phone_number)

    call = await run(client.calls.get(placed.sid, project_id=seed.project_id))
    while not call.status.is_final:
        await asyncio.sleep(0.05)
        call = await run(client.calls.get(placed.sid, project_id=seed.project_id))
    assert call.status is CallStatus.COMPLETED
    assert call.date is not None
    assert call.extra["name"] == "Jo"  # free-form keys land in extra

    analysis = await run(
        client.calls.analyze(placed.sid, questions=[AnalysisQuestion("Ok?", "Boolean")])
    )
    assert analysis.answers[0]["answer"] == "yes"

    batch = await run(
        client.calls.batch([{"number": "+14155550124"}, {"number": "+14155550126"}], **ids)
    )
    assert len(batch.extra["data"]["placed"]) == 2
    history = await collect(client.calls.history(project_id=seed.project_id))
    assert [c.to for c in history] == ["+14155550126", "+14155550124", "+14155550123"]
    assert [
        c.sid
        for c in await collect(client.calls.history(project_id=seed.project_id, to="+14155550123"))
    ] == [placed.sid]

    requests_before = talkstack_server.requests.count()
    with pytest.raises(ValidationError):
        await run(client.calls.make("555-0123", **ids))
    with pytest.raises(ValidationError):
        await collect(client.calls.history(project_id=seed.project_id, started_after="2025-02-30"))
    assert talkstack_server.requests.count() == requests_before  # nothing was sent
    with pytest.raises(BadRequestError):
        await run(client.calls.make("+14155550125", project_id="0" * 24, agent_id=seed.agent_id))
    assert talkstack_server.placed_numbers() == ["+14155550123", "+14155550124", "+14155550126"]
    assert len(talkstack_server.requests.of("calls.make")) == 2


async def test_raw_requests_reach_undocumented_endpoints(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    client = connect(api_key=talkstack_server.create_account().api_key)
    body = await run(client.request("GET", "/voices", retry_safe=True))
    assert len(body["voices"]) == 4
    with pytest.raises(NotFoundError):
        await run(client.request("GET", "/hubspot/status"))


async def test_pagination_over_ten_thousand_seeded_calls(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    seed = talkstack_server.seed(calls=10_000)
    client = connect(api_key=seed.account.api_key)
    calls = await collect(client.calls.history(project_id=seed.project_id, page_size=250))
    assert len(calls) == 10_000
    assert len({c.sid for c in calls}) == 10_000
    assert all(a.date > b.date for a, b in itertools.pairwise(calls))  # newest first, no repeats
    pages = await collect(client.calls.history_pages(project_id=seed.project_id, page_size=1000))
    assert [len(p.items) for p in pages] == [1000] * 10
    assert talkstack_server.requests.count("calls.history") == 40 + 10
    busy = await collect(
        client.calls.history(project_id=seed.project_id, status="busy", page_size=1000)
    )
    assert len(busy) == sum(1 for c in calls if c.status is CallStatus.BUSY) == 1000
    day = await collect(
        client.calls.history(project_id=seed.project_id, started_on="2025-05-30", page_size=1000)
    )
    assert len(day) == sum(1 for c in calls if c.date.date().isoformat() == "2025-05-30") == 960


@pytest.mark.talkstack_emulator(token_ttl=1.0)
async def test_tokens_expiring_mid_run_are_renewed_transparently(
    connect: Any, talkstack_server: TalkstackEmulator
) -> None:
    account = talkstack_server.create_account()
    client = connect(email=account.email, password=account.password)
    project = await run(client.projects.create(name="P", description="d"))
    deadline = time.monotonic() + 2.6
    done = 0
    while time.monotonic() < deadline:
        assert (await run(client.projects.get(project.id))).id == project.id
        done += 1
        await asyncio.sleep(0.02)
    assert done > 20
    assert talkstack_server.refresh_count >= 2  # a 1 s token, renewed again and again
    rejected = [r for r in talkstack_server.requests.all() if r.status == 401]
    assert rejected == []  # renewed before expiry, not after a failure
