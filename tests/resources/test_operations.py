"""Every modelled operation: what goes on the wire, and how the documented answer is read.

Each case calls one SDK method against aioresponses and asserts the exact method, URL, query,
auth header and JSON body sent, then checks the model built from the documented example
response (hand-corrected where the docs' JSON is invalid).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timezone
from typing import Any

import attrs
import pytest
from aioresponses import aioresponses
from yarl import URL

from talkstack_async import (
    AnalysisQuestion,
    AsyncTalkstack,
    CallStatus,
    EmailVerificationStatus,
    LoginStatus,
    SignupStatus,
)
from tests.conftest import API, API_KEY, CALLS

PROJECT = {
    "name": "Support",
    "user_id": "u1",
    "status": "ACTIVE",
    "description": "Inbound support line",
    "is_deleted": False,
    "call_status_webhook": None,
    "id": "p1",
    "active_agent": None,
    "created_at": "2025-03-05T11:04:49.875Z",
    "updated_at": None,
}
USER = {
    "email": "john@example.com",
    "name": "John",
    "active_project": None,
    "created_at": "2025-03-05T11:04:49.875Z",
    "updated_at": "2025-03-05T11:04:49.875Z",
    "company_name": None,
}
AGENT = {"name": "Ava", "projectId": "p1", "systemInstruction": "Be kind to {{name}}", "id": "a1"}
VOICE = {
    "name": "Rachel",
    "labels": {
        "accent": "american",
        "description": "calm",
        "age": "young",
        "gender": "female",
        "use_case": "narration",
    },
    "voice_id": "v1",
    "preview_url": "https://example.com/rachel.mp3",
}
CALL_DATA = {
    "seconds": 42,
    "cost": 0.12,
    "status": "completed",
    "from": "+14155550100",
    "to": "+14155550123",
    "date": "Tue, 30 Jan 2024 13:39:53 +0000",
    "recordingUrls": ["https://api.twilio.com/rec/RE1"],
    "phoneNumber": "+14155550100",
    "callSid": "CA123",
    "partnerId": "partner-7",
    "data": {"appointment": "Tuesday"},
}
ENVELOPE = {"message": "ok", "status": "success"}


def _returns_nothing(result: Any) -> None:
    assert result is None


@attrs.frozen
class Case:
    name: str
    call: Callable[[AsyncTalkstack], Awaitable[Any]]
    method: str
    url: str
    response: Any
    body: Any = None
    auth: str = "api-key"  # "api-key", "none", or "bearer"
    check: Callable[[Any], None] = _returns_nothing
    multipart: bool = False


def _that(predicate: Callable[[Any], bool]) -> Callable[[Any], None]:
    def check(result: Any) -> None:
        assert predicate(result), repr(result)

    return check


class _Has:
    """Equal to any object whose named attributes have these values."""

    def __init__(self, **attributes: Any) -> None:
        self.attributes = attributes

    def __eq__(self, other: object) -> bool:
        return all(getattr(other, k, object()) == v for k, v in self.attributes.items())

    def __repr__(self) -> str:
        return f"_Has({self.attributes})"


def _Id(value: str) -> _Has:
    return _Has(id=value)


def _check(**expected: Any) -> Callable[[Any], None]:
    def check(result: Any) -> None:
        for name, value in expected.items():
            assert getattr(result, name) == value, name

    return check


CASES = [
    # -- auth --------------------------------------------------------------------------------
    Case(
        "auth.signup",
        lambda c: c.auth.signup(email="john@example.com", password="pw-1", name="John"),
        "POST",
        f"{API}/auth/signup",
        {**ENVELOPE, "user": USER, "signupStatus": 3},
        body={"email": "john@example.com", "password": "pw-1", "name": "John"},
        auth="none",
        check=_that(lambda r: r.status is SignupStatus.SUCCESS and r.user.email == USER["email"]),
    ),
    Case(
        "auth.verify_email",
        lambda c: c.auth.verify_email(email="john@example.com", code="123456"),
        "POST",
        f"{API}/auth/verify-email",
        {**ENVELOPE, "userData": USER, "verificationStatus": 2},
        body={"email": "john@example.com", "code": "123456"},
        auth="none",
        check=_check(status=EmailVerificationStatus.SUCCESS),
    ),
    Case(
        "auth.resend_verification_code",
        lambda c: c.auth.resend_verification_code(email="john@example.com"),
        "POST",
        f"{API}/auth/resend-code",
        ENVELOPE,
        body={"email": "john@example.com"},
        auth="none",
        check=_that(lambda r: r is None),
    ),
    Case(
        "auth.login",
        lambda c: c.auth.login(email="john@example.com", password="pw-1"),
        "POST",
        f"{API}/auth/login",
        {
            "message": "successfully logged in.",
            "status": "success",
            "token": "tok-1",
            "refreshToken": "ref-1",
            "expirationTime": "2025-03-11T17:49:38.925Z",
            "user": USER,
            "loginStatus": 7,
        },
        body={"email": "john@example.com", "password": "pw-1"},
        auth="none",
        check=_check(
            access_token="tok-1",
            refresh_token="ref-1",
            status=LoginStatus.SUCCESS,
            expires_at=datetime(2025, 3, 11, 17, 49, 38, 925000, tzinfo=timezone.utc),
        ),
    ),
    Case(
        "auth.refresh",
        lambda c: c.auth.refresh(refresh_token="ref-1"),
        "POST",
        f"{API}/auth/refresh-token",
        {
            **ENVELOPE,
            "token": "tok-2",
            "resfreshToken": "ref-2",
            "expirationTime": "2025-03-11T19:49:38.925Z",
        },
        body={"refreshToken": "ref-1"},
        auth="none",
        check=_check(access_token="tok-2", refresh_token="ref-2"),
    ),
    Case(
        "auth.change_password",
        lambda c: c.auth.change_password(old_password="old-1", new_password="new-1"),
        "POST",
        f"{API}/auth/change-password",
        ENVELOPE,
        body={"oldPassword": "old-1", "newPassword": "new-1"},
    ),
    Case(
        "auth.forgot_password",
        lambda c: c.auth.forgot_password(email="john@example.com"),
        "POST",
        f"{API}/auth/forgot-password",
        ENVELOPE,
        body={"email": "john@example.com"},
        auth="none",
    ),
    Case(
        "auth.reset_password",
        lambda c: c.auth.reset_password(token="reset-tok", new_password="new-2"),
        "POST",
        f"{API}/auth/reset-password",
        ENVELOPE,
        body={"token": "reset-tok", "newPassword": "new-2"},
        auth="none",
    ),
    # -- user --------------------------------------------------------------------------------
    Case(
        "user.generate_api_key",
        lambda c: c.user.generate_api_key(),
        "GET",
        f"{API}/user/generate-apikey",
        {**ENVELOPE, "apiKey": "a" * 64},
        auth="bearer",
        check=_that(lambda r: r == "a" * 64),
    ),
    Case(
        "user.set_active_project",
        lambda c: c.user.set_active_project("p1"),
        "POST",
        f"{API}/user/set-active-project",
        {
            **ENVELOPE,
            "userData": {**USER, "id": "u1", "verified": True, "active_project": "p1"},
            "projectData": {
                k: PROJECT[k]
                for k in ("name", "user_id", "status", "description", "call_status_webhook", "id")
            },
        },
        body={"projectId": "p1"},
        check=_that(
            lambda r: (
                (r.project.id, r.user.active_project_id, r.user.verified) == ("p1", "p1", True)
            )
        ),
    ),
    Case(
        "user.get_active_project",
        lambda c: c.user.get_active_project(),
        "GET",
        f"{API}/user/get-active-project",
        {**ENVELOPE, "projectData": PROJECT},
        check=_check(id="p1", name="Support"),
    ),
    # -- projects ----------------------------------------------------------------------------
    Case(
        "projects.create",
        lambda c: c.projects.create(name="Support", description="Inbound support line"),
        "POST",
        f"{API}/project/create-project",
        {**ENVELOPE, "data": {k: v for k, v in PROJECT.items() if k != "is_deleted"}},
        body={"name": "Support", "description": "Inbound support line"},
        check=_check(id="p1", is_deleted=False, status="ACTIVE"),
    ),
    Case(
        "projects.get",
        lambda c: c.projects.get("p1"),
        "GET",
        f"{API}/project/p1",
        {"message": "successfully fetched project data.", "status": "succcess", "data": PROJECT},
        check=_check(
            id="p1",
            user_id="u1",
            webhook_url=None,
            created_at=datetime(2025, 3, 5, 11, 4, 49, 875000, tzinfo=timezone.utc),
            updated_at=None,
        ),
    ),
    Case(
        "projects.list",
        lambda c: c.projects.list(),
        "GET",
        f"{API}/project",
        {**ENVELOPE, "data": [PROJECT, {**PROJECT, "id": "p2"}]},
        check=_that(lambda r: [p.id for p in r] == ["p1", "p2"]),
    ),
    Case(
        "projects.update",
        lambda c: c.projects.update(
            "p1", name="Sales", webhook_url="https://hooks.example.com/calls"
        ),
        "PUT",
        f"{API}/project/p1",
        {
            **ENVELOPE,
            "data": {
                **PROJECT,
                "name": "Sales",
                "call_status_webhook": "https://hooks.example.com/calls",
            },
        },
        body={"name": "Sales", "webhookUrl": "https://hooks.example.com/calls"},
        check=_check(name="Sales", webhook_url="https://hooks.example.com/calls"),
    ),
    Case(
        "projects.delete",
        lambda c: c.projects.delete("p1", cascade=True),
        "DELETE",
        f"{API}/project/p1",
        {**ENVELOPE, "message": "successfully deleted project."},
        body={"cascade": True},
    ),
    Case(
        "projects.set_webhook",
        lambda c: c.projects.set_webhook("p1", url="https://hooks.example.com/calls"),
        "POST",
        f"{API}/project/call-status/add-webhookurl",
        ENVELOPE,
        body={"projectId": "p1", "webhookURL": "https://hooks.example.com/calls"},
    ),
    Case(
        "projects.get_active_agent",
        lambda c: c.projects.get_active_agent("p1"),
        "POST",
        f"{API}/project/active-agent",
        {"message": "added webhook url.", "status": "success", "active_agent": "a1"},
        body={"projectId": "p1"},
        check=_that(lambda r: r == "a1"),
    ),
    Case(
        "projects.set_active_agent",
        lambda c: c.projects.set_active_agent("p1", agent_id="a1"),
        "PATCH",
        f"{API}/project/active-agent",
        {
            **ENVELOPE,
            "project": {
                "name": "Support",
                "description": "Inbound support line",
                "active_agent": "a1",
                "created_at": "2025-03-05T11:04:49.875Z",
                "call_status_webhook": None,
                "user_id": "u1",
            },
        },
        body={"projectId": "p1", "active_agent": "a1"},
        check=_check(id="p1", active_agent_id="a1"),
    ),
    Case(
        "projects.remove_active_agent",
        lambda c: c.projects.remove_active_agent("a1"),
        "PATCH",
        f"{API}/project/active-agent/a1",
        ENVELOPE,
    ),
    # -- agents ------------------------------------------------------------------------------
    Case(
        "agents.create",
        lambda c: c.agents.create(
            project_id="p1",
            name="Ava",
            system_instruction="Be kind to {{name}}",
            phone_number="+14155550100",
            voice_id="v1",
        ),
        "POST",
        f"{API}/agent/create-agent",
        {**ENVELOPE, "data": {**AGENT, "voice_id": "v1", "phoneNumber": "+14155550100"}},
        body={
            "projectId": "p1",
            "name": "Ava",
            "systemInstruction": "Be kind to {{name}}",
            "phoneNumber": "+14155550100",
            "voice_id": "v1",
        },
        check=_check(id="a1", voice_id="v1", phone_number="+14155550100"),
    ),
    Case(
        "agents.get",
        lambda c: c.agents.get("a1", project_id="p1"),
        "POST",
        f"{API}/agent",
        AGENT,
        body={"projectId": "p1", "agentId": "a1"},
        check=_check(id="a1", project_id="p1", system_instruction="Be kind to {{name}}"),
    ),
    Case(
        "agents.update",
        lambda c: c.agents.update("a1", project_id="p1", name="Ava 2"),
        "PUT",
        f"{API}/agent",
        {
            "systemInstruction": "Be kind",
            "name": "Ava 2",
            "projectId": "p1",
            "agentId": "a1",
            "voice_id": "v1",
        },
        body={"projectId": "p1", "agentId": "a1", "name": "Ava 2"},
        check=_check(id="a1", name="Ava 2", voice_id="v1"),
    ),
    Case(
        "agents.delete",
        lambda c: c.agents.delete("a1", project_id="p1"),
        "DELETE",
        f"{API}/agent",
        {"message": "Agent Deleted", "status": "success"},
        body={"projectId": "p1", "agentId": "a1"},
    ),
    Case(
        "agents.list",
        lambda c: c.agents.list(project_id="p1"),
        "GET",
        f"{API}/agent/p1",
        [AGENT, {**AGENT, "id": "a2"}],
        check=_that(lambda r: [a.id for a in r] == ["a1", "a2"]),
    ),
    # -- calls -------------------------------------------------------------------------------
    Case(
        "calls.make",
        lambda c: c.calls.make(
            "+14155550123", project_id="p1", agent_id="a1", dynamic_variables={"name": "Jo"}
        ),
        "POST",
        f"{CALLS}/call/makeCall",
        {
            "message": "call made successfully.",
            "status": "success",
            "call": {"call_id": "CA123", "to": "+14155550123", "from": "+14155550100"},
        },
        body={
            "number": "+14155550123",
            "projectId": "p1",
            "agentId": "a1",
            "dynamicVariables": {"name": "Jo"},
        },
        check=_check(sid="CA123", to="+14155550123", from_="+14155550100"),
    ),
    Case(
        "calls.get",
        lambda c: c.calls.get("CA123", project_id="p1"),
        "POST",
        f"{API}/call",
        CALL_DATA,
        body={"sid": "CA123", "projectId": "p1"},
        check=_check(
            sid="CA123",
            status=CallStatus.COMPLETED,
            duration_seconds=42.0,
            cost=0.12,
            date=datetime(2024, 1, 30, 13, 39, 53, tzinfo=timezone.utc),
            recording_urls=("https://api.twilio.com/rec/RE1",),
            data={"appointment": "Tuesday"},
            extra={"partnerId": "partner-7"},
        ),
    ),
    Case(
        "calls.analyze",
        lambda c: c.calls.analyze(
            "CA123",
            questions=[
                AnalysisQuestion("Booked?", "Boolean"),
                {"question": "Which day?", "type": "Selector", "options": ["Mon", "Tue"]},
            ],
        ),
        "POST",
        f"{API}/call/analysis",
        {
            **ENVELOPE,
            "data": {
                "sentiment": "positive",
                "status": "completed",
                "summary": "Booked for Tuesday",
                "custom_analysis_data": {"Booked?": "yes", "Which day?": "Tue"},
            },
        },
        body={
            "sid": "CA123",
            "questions": [
                {"question": "Booked?", "type": "Boolean"},
                {"question": "Which day?", "type": "Selector", "options": ["Mon", "Tue"]},
            ],
        },
        check=_check(sentiment="positive", answers={"Booked?": "yes", "Which day?": "Tue"}),
    ),
    Case(
        "calls.batch",
        lambda c: c.calls.batch(
            [{"number": "+14155550123", "dynamic_variables": {"name": "Jo"}}],
            project_id="p1",
            agent_id="a1",
        ),
        "POST",
        f"{API}/call/batch-call",
        {"message": "batch started", "status": "success", "batchId": "b1"},
        multipart=True,
        check=_check(message="batch started", extra={"status": "success", "batchId": "b1"}),
    ),
    # -- voices ------------------------------------------------------------------------------
    Case(
        "voices.list",
        lambda c: c.voices.list(),
        "GET",
        f"{API}/voices",
        {"message": "successfully fetched voice list.", "status": "success", "voices": [VOICE]},
        check=_that(lambda r: (r[0].id, r[0].labels.use_case) == ("v1", "narration")),
    ),
    Case(
        "voices.get",
        lambda c: c.voices.get("v1"),
        "GET",
        f"{API}/voices/v1",
        {"message": "successfully fetched voice list.", "status": "success", "voice": VOICE},
        check=_check(id="v1", name="Rachel", preview_url="https://example.com/rachel.mp3"),
    ),
    # -- phone numbers -----------------------------------------------------------------------
    Case(
        "phone_numbers.get",
        lambda c: c.phone_numbers.get("n1"),
        "POST",
        f"{API}/phone-number",
        {
            "message": "Phone number details fetched successfully.",
            "status": "error",  # sic: the documented 200 says "error"
            "data": {
                "e164": "+14155550100",
                "id": "n1",
                "status": "AVAILABLE",
                "projectId": "p1",
                "agentId": "a1",
            },
        },
        body={"phoneNumberId": "n1"},
        check=_check(id="n1", number="+14155550100", status="AVAILABLE", agent_id="a1"),
    ),
    Case(
        "phone_numbers.assign",
        lambda c: c.phone_numbers.assign("+14155550100", agent_id="a1", project_id="p1"),
        "POST",
        f"{API}/phone-number/add-number",
        {"message": "PhoneNumber assigned successfully.", "status": "success"},
        body={"e164": "+14155550100", "agentId": "a1", "projectId": "p1"},
    ),
]


def _only_request(mocked: aioresponses) -> tuple[str, URL, dict[str, Any]]:
    assert len(mocked.requests) == 1, list(mocked.requests)
    (method, url), calls = next(iter(mocked.requests.items()))
    assert len(calls) == 1
    return method, url, calls[0].kwargs


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_operation_sends_documented_request_and_reads_documented_answer(
    case: Case, mocked: aioresponses
) -> None:
    mocked.add(case.url, case.method, payload=case.response)
    credentials: dict[str, Any] = (
        {"token": "tok-0", "refresh_token": "ref-0"} if case.auth == "bearer" else {}
    )
    async with AsyncTalkstack(**(credentials or {"api_key": API_KEY})) as client:
        result = await case.call(client)

    method, url, kwargs = _only_request(mocked)
    assert (method, str(url)) == (case.method, case.url)
    headers = kwargs["headers"]
    expected_auth = {
        "api-key": {"x-api-key": API_KEY},
        "bearer": {"Authorization": "Bearer tok-0"},
        "none": {},
    }[case.auth]
    assert {k: v for k, v in headers.items() if k in ("x-api-key", "Authorization")} == (
        expected_auth
    )
    assert headers["Accept"] == "application/json"
    assert kwargs["params"] is None
    if case.multipart:
        assert kwargs["json"] is None
        assert kwargs["data"] is not None
    else:
        assert kwargs["json"] == case.body
        assert kwargs["data"] is None
    case.check(result)


def test_every_operation_of_the_reference_is_covered() -> None:
    # 34 operations in the reference; history is covered in test_calls_history.py.
    names = {c.name for c in CASES} | {"calls.history"}
    assert len(names) == 34


async def test_batch_upload_is_multipart_with_the_documented_fields(
    mocked: aioresponses, tmp_path: Any
) -> None:
    csv_file = tmp_path / "numbers.csv"
    csv_file.write_text('number,dynamicVariables\n+14155550123,"{""name"":""Jo""}"\n')
    mocked.post(f"{API}/call/batch-call", payload={"message": "ok"})
    async with AsyncTalkstack(api_key=API_KEY) as client:
        await client.calls.batch(csv_file, project_id="p1", agent_id="a1")
    _, _, kwargs = _only_request(mocked)
    form = kwargs["data"]
    fields = {f[0]["name"]: f for f in form._fields}
    assert set(fields) == {"projectId", "agentId", "file"}
    assert fields["file"][0]["filename"] == "numbers.csv"
    assert fields["file"][1]["Content-Type"] == "text/csv"
    assert fields["file"][2] == csv_file.read_bytes()


async def test_batch_rows_are_rendered_to_the_documented_csv(mocked: aioresponses) -> None:
    mocked.post(f"{API}/call/batch-call", payload={"message": "ok"})
    async with AsyncTalkstack(api_key=API_KEY) as client:
        await client.calls.batch(
            [
                {"number": "+14155550123", "dynamic_variables": {"name": "Jo, Jr."}},
                {"number": "+14155550124"},
            ],
            project_id="p1",
            agent_id="a1",
        )
    _, _, kwargs = _only_request(mocked)
    file_field = next(f for f in kwargs["data"]._fields if f[0]["name"] == "file")
    assert file_field[2].decode() == (
        'number,dynamicVariables\n+14155550123,"{""name"":""Jo, Jr.""}"\n+14155550124,\n'
    )


async def test_history_filters_reach_the_query_in_the_documented_form(
    mocked: aioresponses,
) -> None:
    history = re.compile(rf"^{API}/call/get-call-history.*")
    mocked.post(history, payload=[CALL_DATA])
    mocked.post(history, status=404, payload={"message": "call list is empty."})  # page 2
    async with AsyncTalkstack(api_key=API_KEY) as client:
        calls = [
            call
            async for call in client.calls.history(
                project_id="p1",
                to="+14155550123",
                from_="+14155550100",
                status=CallStatus.NO_ANSWER,
                started_on=date(2024, 1, 30),
                started_before=datetime(2024, 2, 1, 1, 0, tzinfo=timezone.utc),
                started_after="2024-01-01",
                ended_on=date(2024, 1, 30),
                ended_before=date(2024, 2, 2),
                ended_after=date(2024, 1, 2),
                page_size=50,
            )
        ]
    assert [c.sid for c in calls] == ["CA123"]
    (((_, url), sent_calls),) = mocked.requests.items()
    assert [c.kwargs["json"]["page"] for c in sent_calls] == [1, 2]  # a short page 1, then the end
    kwargs = sent_calls[0].kwargs
    assert url.path == "/call/get-call-history"
    assert kwargs["params"] == {
        "to": "+14155550123",
        "from": "+14155550100",
        "status": "no-answer",
        "startTime": "2024-01-30",
        "startTimeBefore": "2024-02-01",
        "startTimeAfter": "2024-01-01",
        "endTime": "2024-01-30",
        "endTimeBefore": "2024-02-02",
        "endTimeAfter": "2024-01-02",
    }
    assert kwargs["json"] == {"projectId": "p1", "pageSize": 50, "page": 1}
