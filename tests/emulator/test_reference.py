"""The emulator against shared/talkstack-api.md: paths, methods, status codes, shapes, quirks.

Raw HTTP only (no SDK), so the emulator cannot drift into agreeing with an SDK bug.
"""

from __future__ import annotations

import asyncio
import re

import aiohttp
import attrs
import pytest

from talkstack_async.testing import Seed, TalkstackEmulator
from tests.emulator.conftest import Raw

ISO_MS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
RFC_2822 = re.compile(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000")
USER_KEYS = {"email", "name", "active_project", "created_at", "updated_at", "company_name"}
PROJECT_DATA_KEYS = {"name", "user_id", "status", "description", "call_status_webhook", "id"}
PROJECT_KEYS = PROJECT_DATA_KEYS | {"active_agent", "created_at", "updated_at", "is_deleted"}
CALL_KEYS = {"seconds", "cost", "status", "from", "to", "date", "recordingUrls", "phoneNumber",
             "callSid", "data"}  # fmt: skip


def success(body: dict, *payload: str) -> None:
    assert body["status"] == "success"
    assert isinstance(body["message"], str)
    for key in payload:
        assert key in body, key


# -- authentication ------------------------------------------------------------------------------
async def test_signup_verify_login_refresh_as_documented(
    raw: Raw, talkstack_server: TalkstackEmulator
) -> None:
    email, password = "jo@example.com", "pw-123456"
    status, body = await raw(
        "POST", "/auth/signup", {"email": email, "password": password, "name": "Jo"}
    )
    assert status == 200
    success(body, "user", "signupStatus")
    assert set(body["user"]) == USER_KEYS
    assert body["signupStatus"] == 3
    assert ISO_MS_Z.fullmatch(body["user"]["created_at"])
    assert body["user"]["updated_at"] is None

    status, body = await raw("POST", "/auth/login", {"email": email, "password": password})
    assert (status, body["loginStatus"]) == (400, 2)  # not verified yet (emulator's choice)
    assert (await raw("POST", "/auth/verify-email", {"email": email, "code": "x"}))[0] == 400
    assert (await raw("POST", "/auth/resend-code", {"email": email}))[0] == 200
    code = talkstack_server.mailbox(email)[-1].code
    status, body = await raw("POST", "/auth/verify-email", {"email": email, "code": code})
    assert status == 200
    success(body, "userData", "verificationStatus")
    assert body["verificationStatus"] == 2
    assert (await raw("POST", "/auth/verify-email", {"email": email, "code": code}))[0] == 400

    status, body = await raw("POST", "/auth/login", {"email": email, "password": password})
    assert status == 200
    success(body, "token", "refreshToken", "expirationTime", "user", "loginStatus")
    assert body["loginStatus"] == 7
    assert ISO_MS_Z.fullmatch(body["expirationTime"])

    status, refreshed = await raw(
        "POST", "/auth/refresh-token", {"refreshToken": body["refreshToken"]}
    )
    assert status == 200
    success(refreshed, "token", "resfreshToken", "expirationTime")  # sic
    assert "refreshToken" not in refreshed
    # Refresh tokens rotate: the used one is rejected with the documented 401.
    assert (await raw("POST", "/auth/refresh-token", {"refreshToken": body["refreshToken"]}))[
        0
    ] == 401
    assert (await raw("POST", "/auth/refresh-token", {}))[0] == 400


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/auth/signup", {"email": "a@b.co", "password": "p"}, 400),
        ("/auth/signup", {"email": "not-an-email", "password": "p", "name": "n"}, 400),
        ("/auth/verify-email", {"email": "nobody@b.co", "code": "1"}, 404),
        ("/auth/resend-code", {"email": "nobody@b.co"}, 404),
        ("/auth/resend-code", {}, 400),
        ("/auth/login", {"email": "nobody@b.co", "password": "p"}, 404),
        ("/auth/login", {"email": "a@b.co"}, 400),
        ("/auth/refresh-token", {"refreshToken": "bogus"}, 401),
        ("/auth/forgot-password", {"email": "nobody@b.co"}, 404),
        ("/auth/forgot-password", {}, 400),
        ("/auth/reset-password", {"token": "bogus", "newPassword": "x"}, 400),
    ],
)
async def test_auth_errors_use_the_documented_statuses(
    raw: Raw, path: str, body: dict, status: int
) -> None:
    got, answer = await raw("POST", path, body)
    assert got == status
    assert answer["status"] == "error"


async def test_duplicate_signup_and_wrong_password(raw: Raw, seed: Seed) -> None:
    email = seed.account.email
    status, body = await raw("POST", "/auth/signup", {"email": email, "password": "p", "name": "n"})
    assert (status, body["signupStatus"]) == (400, 1)
    assert (await raw("POST", "/auth/login", {"email": email, "password": "wrong"}))[0] == 401


async def test_password_change_forgot_and_reset(
    raw: Raw, keyed: Raw, seed: Seed, talkstack_server: TalkstackEmulator
) -> None:
    email, password = seed.account.email, seed.account.password
    change = {"oldPassword": "wrong", "newPassword": "new-1"}
    assert (await keyed("POST", "/auth/change-password", change))[0] == 401
    status, body = await keyed("POST", "/auth/change-password", {**change, "oldPassword": password})
    assert (status, body["message"]) == (200, "successfully updated password.")
    assert (await raw("POST", "/auth/forgot-password", {"email": email}))[0] == 200
    token = talkstack_server.mailbox(email)[-1].code
    assert (await raw("POST", "/auth/reset-password", {"token": token, "newPassword": "new-2"}))[
        0
    ] == 200
    assert (await raw("POST", "/auth/reset-password", {"token": token, "newPassword": "x"}))[
        0
    ] == 400
    assert (await raw("POST", "/auth/login", {"email": email, "password": "new-2"}))[0] == 200


async def test_credentials_are_checked(
    raw: Raw, seed: Seed, talkstack_server: TalkstackEmulator
) -> None:
    assert (await raw("GET", "/voices"))[0] == 401
    assert (await raw("GET", "/voices", headers={"x-api-key": "0" * 64}))[0] == 401
    assert (await raw("GET", "/voices", headers={"Authorization": "Bearer nope"}))[0] == 401
    _, login = await raw(
        "POST", "/auth/login", {"email": seed.account.email, "password": seed.account.password}
    )
    bearer = {"Authorization": f"Bearer {login['token']}"}
    assert (await raw("GET", "/voices", headers=bearer))[0] == 200
    talkstack_server.expire_tokens()
    status, body = await raw("GET", "/voices", headers=bearer)
    assert (status, body["message"]) == (401, "token expired.")


async def test_tokens_expire_after_the_configured_ttl() -> None:
    async with TalkstackEmulator(token_ttl=0.2) as emulator, aiohttp.ClientSession() as session:
        raw = Raw(emulator, session)
        account = emulator.create_account()
        _, login = await raw(
            "POST", "/auth/login", {"email": account.email, "password": account.password}
        )
        bearer = {"Authorization": f"Bearer {login['token']}"}
        assert (await raw("GET", "/voices", headers=bearer))[0] == 200
        await asyncio.sleep(0.25)
        assert (await raw("GET", "/voices", headers=bearer))[0] == 401


# -- user ----------------------------------------------------------------------------------------
async def test_generate_api_key_needs_a_bearer_token_and_rotates_the_key(
    raw: Raw, keyed: Raw, seed: Seed
) -> None:
    assert (await keyed("GET", "/user/generate-apikey"))[0] == 401
    _, login = await raw(
        "POST", "/auth/login", {"email": seed.account.email, "password": seed.account.password}
    )
    status, body = await raw(
        "GET", "/user/generate-apikey", headers={"Authorization": f"Bearer {login['token']}"}
    )
    assert status == 200
    success(body, "apiKey")
    assert re.fullmatch(r"[0-9a-f]{64}", body["apiKey"])
    assert (await keyed("GET", "/voices"))[0] == 401  # the old key stopped working
    assert (await raw("GET", "/voices", headers={"x-api-key": body["apiKey"]}))[0] == 200


async def test_active_project(keyed: Raw, seed: Seed) -> None:
    assert (await keyed("GET", "/user/get-active-project"))[0] == 404
    assert (await keyed("POST", "/user/set-active-project", {}))[0] == 400
    assert (await keyed("POST", "/user/set-active-project", {"projectId": "f" * 24}))[0] == 400
    status, body = await keyed("POST", "/user/set-active-project", {"projectId": seed.project_id})
    assert status == 200
    success(body, "userData", "projectData")
    assert {"id", "verified", "active_project"} <= set(body["userData"])
    assert set(body["projectData"]) == PROJECT_DATA_KEYS
    status, body = await keyed("GET", "/user/get-active-project")
    assert (status, body["projectData"]["id"]) == (200, seed.project_id)


# -- projects ------------------------------------------------------------------------------------
async def test_project_lifecycle(keyed: Raw, seed: Seed) -> None:
    status, created = await keyed(
        "POST", "/project/create-project", {"name": "P", "description": "d"}
    )
    assert status == 200
    success(created, "data")
    assert set(created["data"]) == PROJECT_KEYS - {"is_deleted"}  # as the documented example
    project_id = created["data"]["id"]
    assert (await keyed("POST", "/project/create-project", {"name": "P", "description": "d"}))[
        0
    ] == 400
    assert (await keyed("POST", "/project/create-project", {"name": "Q"}))[0] == 400

    status, got = await keyed("GET", f"/project/{project_id}")
    assert (status, got["status"]) == (200, "succcess")  # sic
    assert set(got["data"]) == PROJECT_KEYS
    assert (await keyed("GET", f"/project/{'0' * 24}"))[0] == 400  # "does not exist" is a 400

    status, listed = await keyed("GET", "/project")
    assert status == 200
    assert {p["id"] for p in listed["data"]} == {project_id, seed.project_id}

    update = {"name": "P2", "webhookUrl": "http://127.0.0.1:1/hook"}
    status, updated = await keyed("PUT", f"/project/{project_id}", update)
    assert (status, updated["data"]["name"], updated["data"]["call_status_webhook"]) == (
        200, "P2", "http://127.0.0.1:1/hook",
    )  # fmt: skip
    assert (await keyed("PUT", f"/project/{project_id}", {"webhookUrl": "x"}))[0] == 400
    assert (await keyed("PUT", f"/project/{'0' * 24}", {"name": "x"}))[0] == 404

    hook = {"projectId": project_id, "webhookURL": "http://127.0.0.1:2/h"}
    status, body = await keyed("POST", "/project/call-status/add-webhookurl", hook)
    assert (status, set(body)) == (200, {"message", "status"})
    assert (await keyed("POST", "/project/call-status/add-webhookurl", {"projectId": project_id}))[
        0
    ] == 400

    status, body = await keyed("DELETE", f"/project/{project_id}")
    assert (status, body["message"]) == (200, "successfully deleted project.")
    assert (await keyed("DELETE", f"/project/{project_id}"))[0] == 404


async def test_projects_list_is_a_404_when_empty(
    raw: Raw, talkstack_server: TalkstackEmulator
) -> None:
    account = talkstack_server.create_account()
    assert (await attrs.evolve(raw, api_key=account.api_key)("GET", "/project"))[0] == 404


async def test_delete_project_needs_cascade_when_it_has_agents(keyed: Raw, seed: Seed) -> None:
    assert (await keyed("DELETE", f"/project/{seed.project_id}", {"cascade": False}))[0] == 400
    assert (await keyed("DELETE", f"/project/{seed.project_id}", {"cascade": True}))[0] == 200
    assert (
        await keyed("POST", "/agent", {"projectId": seed.project_id, "agentId": seed.agent_id})
    )[0] == 400


async def test_active_agent(keyed: Raw, seed: Seed) -> None:
    pid = {"projectId": seed.project_id}
    assert (await keyed("POST", "/project/active-agent", pid))[0] == 404
    assert (await keyed("PATCH", "/project/active-agent", pid))[0] == 400
    status, body = await keyed(
        "PATCH", "/project/active-agent", {**pid, "active_agent": seed.agent_id}
    )
    assert status == 200
    # No id, as documented.
    assert set(body["project"]) == {"name", "description", "active_agent", "created_at",
                                    "call_status_webhook", "user_id"}  # fmt: skip
    status, body = await keyed("POST", "/project/active-agent", pid)
    assert (status, body["active_agent"], body["message"]) == (
        200,
        seed.agent_id,
        "added webhook url.",
    )
    assert (await keyed("PATCH", f"/project/active-agent/{seed.agent_id}"))[0] == 200
    assert (await keyed("POST", "/project/active-agent", pid))[0] == 404


# -- agents --------------------------------------------------------------------------------------
async def test_agent_lifecycle(keyed: Raw, seed: Seed) -> None:
    create = {"projectId": seed.project_id, "name": "A", "systemInstruction": "hi", "voice_id": "v"}
    assert (await keyed("POST", "/agent/create-agent", create))[0] == 400  # phoneNumber missing
    status, body = await keyed(
        "POST", "/agent/create-agent", {**create, "phoneNumber": "+14155550100"}
    )
    assert status == 200
    agent_id = body["data"]["id"]
    ids = {"projectId": seed.project_id, "agentId": agent_id}

    status, agent = await keyed("POST", "/agent", ids)
    assert status == 200
    assert "status" not in agent  # a bare object
    assert {"name", "projectId", "systemInstruction", "id"} <= set(agent)

    status, updated = await keyed("PUT", "/agent", {**ids, "name": "B"})
    assert status == 200
    assert set(updated) == {"systemInstruction", "name", "projectId", "agentId", "voice_id"}
    assert (await keyed("PUT", "/agent", ids))[0] == 400

    status, listed = await keyed("GET", f"/agent/{seed.project_id}")
    assert status == 200
    assert isinstance(listed, list)  # a bare array
    assert {a["id"] for a in listed} == {seed.agent_id, agent_id}

    for aid in (agent_id, seed.agent_id):
        status, body = await keyed(
            "DELETE", "/agent", {"projectId": seed.project_id, "agentId": aid}
        )
        assert (status, body["message"]) == (200, "Agent Deleted")
    assert (await keyed("POST", "/agent", ids))[0] == 404
    assert (await keyed("GET", f"/agent/{seed.project_id}"))[0] == 404  # "no agents"


# -- calls ---------------------------------------------------------------------------------------
async def test_make_call_lives_on_the_calls_host(keyed: Raw, seed: Seed) -> None:
    body = {"number": "+14155550123", "projectId": seed.project_id, "agentId": seed.agent_id,
            "dynamicVariables": {"name": "Jo", "partnerId": "p-1"}}  # fmt: skip
    assert (await keyed("POST", "/call/makeCall", body))[0] == 404  # wrong host
    status, answer = await keyed("POST", "/call/makeCall", body, host="calls")
    assert status == 200
    success(answer, "call")
    assert set(answer["call"]) == {"call_id", "to", "from"}
    assert re.fullmatch(r"CA[0-9a-f]{32}", answer["call"]["call_id"])
    assert (await keyed("POST", "/call/makeCall", {**body, "number": None}, host="calls"))[0] == 400
    assert (await keyed("POST", "/call/makeCall", {**body, "number": "555"}, host="calls"))[
        0
    ] == 400
    assert (await attrs.evolve(keyed, api_key=None)("POST", "/call/makeCall", body, host="calls"))[
        0
    ] == 401

    status, call = await keyed(
        "POST", "/call", {"sid": answer["call"]["call_id"], "projectId": seed.project_id}
    )
    assert status == 200
    assert set(call) >= CALL_KEYS
    assert "message" not in call  # a bare object
    assert RFC_2822.fullmatch(call["date"])
    assert call["partnerId"] == "p-1"  # free-form keys
    assert (await keyed("POST", "/call", {"projectId": seed.project_id}))[0] == 400
    assert (await keyed("POST", "/call", {"sid": "CA" + "0" * 32}))[0] == 404


async def test_history_pages_filters_and_empty_404(
    keyed: Raw, seed: Seed, talkstack_server: TalkstackEmulator
) -> None:
    pid = {"projectId": seed.project_id}
    status, body = await keyed("POST", "/call/get-call-history", pid)
    assert status == 200
    assert len(body["data"]) == 20  # pageSize defaults to 20
    assert (body["page"], body["totalPages"], body["total"]) == (1, 3, 50)
    assert set(body["data"][0]) >= CALL_KEYS
    last = await keyed("POST", "/call/get-call-history", {**pid, "page": 3})
    assert len(last[1]["data"]) == 10
    assert (await keyed("POST", "/call/get-call-history", {**pid, "page": 4}))[0] == 404
    assert (await keyed("POST", "/call/get-call-history", {}))[0] == 400

    status, busy = await keyed("POST", "/call/get-call-history", {**pid, "pageSize": 100},
                               params={"status": "busy"})  # fmt: skip
    assert {c["status"] for c in busy["data"]} == {"busy"}
    assert len(busy["data"]) == 5
    one = body["data"][0]
    status, to = await keyed("POST", "/call/get-call-history", pid, params={"to": one["to"]})
    assert [c["callSid"] for c in to["data"]] == [one["callSid"]]
    # The newest seeded call started 2025-05-31 23:59 UTC, 90 s apart: 50 fit in that day.
    on = await keyed(
        "POST",
        "/call/get-call-history",
        {**pid, "pageSize": 100},
        params={"startTime": "2025-05-31"},
    )
    assert on[1]["total"] == 50
    assert (
        await keyed("POST", "/call/get-call-history", pid, params={"startTimeAfter": "2025-06-01"})
    )[0] == 404
    before = await keyed(
        "POST", "/call/get-call-history", pid, params={"endTimeBefore": "2025-06-02"}
    )
    assert before[1]["total"] == 50
    assert (await keyed("POST", "/call/get-call-history", pid, params={"startTime": "2025-02-30"}))[
        0
    ] == 400
    assert (await keyed("POST", "/call/get-call-history", pid, params={"status": "bogus"}))[
        0
    ] == 400

    empty = talkstack_server.seed(account=seed.account, project_name="empty")
    status, body = await keyed("POST", "/call/get-call-history", {"projectId": empty.project_id})
    assert (status, body["message"]) == (404, "call list is empty.")


async def test_analysis_waits_for_the_end_of_the_call(keyed: Raw, seed: Seed) -> None:
    call_body = {"number": "+14155550123", "projectId": seed.project_id, "agentId": seed.agent_id}
    _, placed = await keyed("POST", "/call/makeCall", call_body, host="calls")
    questions = [{"question": "Confirmed?", "type": "Boolean"},
                 {"question": "Slot?", "type": "Selector", "options": ["am", "pm"]}]  # fmt: skip
    sid = placed["call"]["call_id"]
    assert (await keyed("POST", "/call/analysis", {"sid": sid, "questions": questions}))[0] == 400
    _, history = await keyed("POST", "/call/get-call-history", {"projectId": seed.project_id})
    seeded_sid = next(c["callSid"] for c in history["data"] if c["callSid"] != sid)
    status, body = await keyed(
        "POST", "/call/analysis", {"sid": seeded_sid, "questions": questions}
    )
    assert status == 200
    assert {"sentiment", "status", "summary", "custom_analysis_data"} <= set(body["data"])
    assert [a["answer"] for a in body["data"]["custom_analysis_data"]] == ["yes", "am"]
    bad = [{"question": "Slot?", "type": "Selector"}]
    assert (await keyed("POST", "/call/analysis", {"sid": seeded_sid, "questions": bad}))[0] == 400


async def test_batch_call_takes_a_multipart_csv(
    keyed: Raw, seed: Seed, talkstack_server: TalkstackEmulator
) -> None:
    form = aiohttp.FormData()
    form.add_field("projectId", seed.project_id)
    form.add_field("agentId", seed.agent_id)
    csv = 'number,dynamicVariables\n+14155550101,"{""name"": ""A""}"\n+14155550102,\nbad,\n'
    form.add_field("file", csv.encode(), filename="calls.csv", content_type="text/csv")
    status, body = await keyed("POST", "/call/batch-call", data=form)
    assert status == 200
    assert [c["to"] for c in body["data"]["placed"]] == ["+14155550101", "+14155550102"]
    assert [(f["row"], f["number"]) for f in body["data"]["failed"]] == [(4, "bad")]
    assert talkstack_server.placed_numbers() == ["+14155550101", "+14155550102"]


# -- voices and phone numbers --------------------------------------------------------------------
async def test_voices(keyed: Raw) -> None:
    status, body = await keyed("GET", "/voices")
    assert status == 200
    voice = body["voices"][0]
    assert set(voice) == {"name", "labels", "voice_id", "preview_url"}
    assert set(voice["labels"]) == {"accent", "description", "age", "gender", "use_case"}
    status, one = await keyed("GET", f"/voices/{voice['voice_id']}")
    assert (status, one["voice"]) == (200, voice)
    assert (await keyed("GET", "/voices/nope"))[0] == 404


async def test_phone_numbers_answer_status_error_on_success(keyed: Raw, seed: Seed) -> None:
    status, body = await keyed("POST", "/phone-number", {"agentId": seed.agent_id})
    assert (status, body["status"]) == (200, "error")  # sic, as documented
    assert set(body["data"]) == {"e164", "id", "status", "projectId", "agentId"}
    assert body["data"]["e164"] == seed.phone_number
    by_project = await keyed("POST", "/phone-number", {"projectId": seed.project_id})
    assert isinstance(by_project[1]["data"], list)
    by_id = await keyed(
        "POST", "/phone-number", {"phoneNumberId": body["data"]["id"], "projectId": "x"}
    )
    assert by_id[1]["data"]["id"] == body["data"]["id"]  # phoneNumberId takes precedence
    assert (await keyed("POST", "/phone-number", {}))[0] == 400
    assert (await keyed("POST", "/phone-number", {"phoneNumberId": "nope"}))[0] == 404

    assign = {"e164": "+14155550177", "agentId": seed.agent_id, "projectId": seed.project_id}
    status, body = await keyed("POST", "/phone-number/add-number", assign)
    assert (status, body["message"]) == (200, "PhoneNumber assigned successfully.")
    assert (await keyed("POST", "/phone-number/add-number", {"e164": "+14155550177"}))[0] == 400
    listed = await keyed("POST", "/phone-number", {"projectId": seed.project_id})
    assert {n["e164"] for n in listed[1]["data"]} == {seed.phone_number, "+14155550177"}


async def test_bad_bodies_are_400s(keyed: Raw) -> None:
    status, _ = await keyed(
        "POST", "/agent", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert (await keyed("POST", "/agent", [1, 2]))[0] == 400
