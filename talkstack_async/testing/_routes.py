"""Every Talkstack endpoint, emulated: one small synchronous function per operation.

Each function gets the decoded request (``Incoming``) and returns the JSON to answer with
(status 200), or raises ``Refusal``. Route names are the SDK's endpoint names, so fault rules
and the request log speak the same language as ``talkstack_async._endpoints``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from talkstack_async.testing._errors import Refusal
from talkstack_async.testing._history import HistoryFilter, page_bounds
from talkstack_async.testing._records import UserRecord
from talkstack_async.testing._spreadsheet import read_rows
from talkstack_async.testing._store import VOICES, Store

__all__ = ["ROUTES", "Incoming", "Route"]


@attrs.frozen
class Incoming:
    store: Store
    user: UserRecord | None
    body: Mapping[str, Any]
    query: Mapping[str, str]
    params: Mapping[str, str]
    form: Mapping[str, Any]

    @property
    def me(self) -> UserRecord:
        assert self.user is not None, "authenticated routes always have a user"
        return self.user


Handler = Callable[[Incoming], Any]


@attrs.frozen
class Route:
    name: str
    method: str
    path: str
    handler: Handler
    auth: str  # "none", "any" (bearer or x-api-key) or "bearer"
    host: str  # "api" or "calls"
    multipart: bool


ROUTES: list[Route] = []


def route(
    name: str,
    method: str,
    path: str,
    *,
    auth: str = "any",
    host: str = "api",
    multipart: bool = False,
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(name, method, path, handler, auth, host, multipart))
        return handler

    return register


def ok(message: str, **payload: Any) -> dict[str, Any]:
    return {"message": message, "status": "success", **payload}


def need(body: Mapping[str, Any], *names: str) -> list[str]:
    """The named string fields, or a 400 naming the first one missing."""
    values = []
    for name in names:
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            raise Refusal(400, f"{name} is required.")
        values.append(value)
    return values


# -- authentication ------------------------------------------------------------------------------
@route("auth.signup", "POST", "/auth/signup", auth="none")
def signup(r: Incoming) -> Any:
    email, password, name = need(r.body, "email", "password", "name")
    user = r.store.accounts.signup(email, password, name)
    return ok("User registered successfully", user=user.public(), signupStatus=3)


@route("auth.verify_email", "POST", "/auth/verify-email", auth="none")
def verify_email(r: Incoming) -> Any:
    email, code = need(r.body, "email", "code")
    user = r.store.accounts.verify(email, code)
    return ok("email verification successful.", userData=user.public(), verificationStatus=2)


@route("auth.resend_verification_code", "POST", "/auth/resend-code", auth="none")
def resend_code(r: Incoming) -> Any:
    r.store.accounts.resend(*need(r.body, "email"))
    return ok("successfully sent verification code to mail")


@route("auth.login", "POST", "/auth/login", auth="none")
def login(r: Incoming) -> Any:
    email, password = need(r.body, "email", "password")
    user = r.store.accounts.check_password(email, password)
    token, refresh, expires = r.store.accounts.issue_tokens(user)
    return ok(
        "successfully logged in.",
        token=token,
        refreshToken=refresh,
        expirationTime=expires,
        user=user.public(),
        loginStatus=7,
    )


@route("auth.refresh", "POST", "/auth/refresh-token", auth="none")
def refresh(r: Incoming) -> Any:
    if not isinstance(r.body.get("refreshToken"), str):
        raise Refusal(400, "resfreshToken is required.")  # sic, as documented
    token, new_refresh, expires = r.store.accounts.refresh(r.body["refreshToken"])
    # The documented example spells the key "resfreshToken".
    return ok("token refreshed.", token=token, resfreshToken=new_refresh, expirationTime=expires)


@route("auth.change_password", "POST", "/auth/change-password")
def change_password(r: Incoming) -> Any:
    old, new = need(r.body, "oldPassword", "newPassword")
    r.store.accounts.change_password(r.me, old, new)
    return ok("successfully updated password.")


@route("auth.forgot_password", "POST", "/auth/forgot-password", auth="none")
def forgot_password(r: Incoming) -> Any:
    r.store.accounts.forgot(*need(r.body, "email"))
    return ok("If the email is registered, a reset link has been sent.")


@route("auth.reset_password", "POST", "/auth/reset-password", auth="none")
def reset_password(r: Incoming) -> Any:
    r.store.accounts.reset(*need(r.body, "token", "newPassword"))
    return ok("Password has been reset successfully.")


# -- user ----------------------------------------------------------------------------------------
@route("user.generate_api_key", "GET", "/user/generate-apikey", auth="bearer")
def generate_api_key(r: Incoming) -> Any:
    return ok(
        "API key successfully generated and updated.", apiKey=r.store.accounts.new_api_key(r.me)
    )


@route("user.set_active_project", "POST", "/user/set-active-project")
def set_active_project(r: Incoming) -> Any:
    (project_id,) = need(r.body, "projectId")
    project = r.store.project(r.me, project_id)
    r.me.active_project = project.id
    return ok(
        "active project updated.", userData=r.me.user_data(), projectData=project.project_data()
    )


@route("user.get_active_project", "GET", "/user/get-active-project")
def get_active_project(r: Incoming) -> Any:
    if r.me.active_project is None:
        raise Refusal(404, "no active project.")
    project = r.store.project(r.me, r.me.active_project, missing=404)
    return ok("fetched active project data.", projectData=project.project_data())


# -- projects ------------------------------------------------------------------------------------
@route("projects.create", "POST", "/project/create-project")
def create_project(r: Incoming) -> Any:
    name, description = need(r.body, "name", "description")
    project = r.store.create_project(r.me, name, description)
    return ok("successfully created project.", data=project.wire(with_is_deleted=False))


@route("projects.get", "GET", "/project/{projectId}")
def get_project(r: Incoming) -> Any:
    project = r.store.project(r.me, r.params["projectId"])  # a 400, as documented
    # "succcess" (sic), as documented: clients must judge by the HTTP status.
    return {
        "message": "successfully fetched project data.",
        "status": "succcess",
        "data": project.wire(),
    }


# Not in the stored docs: the route and shape are the SDK's inference (see the reference).
@route("projects.list", "GET", "/project")
def list_projects(r: Incoming) -> Any:
    projects = r.store.user_projects(r.me)
    if not projects:
        raise Refusal(404, "no projects found.")
    return ok("successfully fetched projects.", data=[p.wire() for p in projects])


@route("projects.update", "PUT", "/project/{projectId}")
def update_project(r: Incoming) -> Any:
    project = r.store.project(r.me, r.params["projectId"], missing=404)
    r.store.update_project(
        project, r.body.get("name"), r.body.get("description"), r.body.get("webhookUrl")
    )
    return ok("successfully updated project info.", data=project.wire())


@route("projects.delete", "DELETE", "/project/{projectId}")
def delete_project(r: Incoming) -> Any:
    project = r.store.project(r.me, r.params["projectId"], missing=404)
    cascade = r.body.get("cascade", False)
    if not isinstance(cascade, bool):
        raise Refusal(400, "cascade must be a boolean.")
    r.store.delete_project(r.me, project, cascade)
    return ok("successfully deleted project.")


@route("projects.set_webhook", "POST", "/project/call-status/add-webhookurl")
def set_webhook(r: Incoming) -> Any:
    project_id, url = need(r.body, "projectId", "webhookURL")
    r.store.project(r.me, project_id).webhook = url
    return ok("added webhook url.")


@route("projects.get_active_agent", "POST", "/project/active-agent")
def get_active_agent(r: Incoming) -> Any:
    (project_id,) = need(r.body, "projectId")
    project = r.store.project(r.me, project_id)
    if project.active_agent is None:
        raise Refusal(404, "no active agent.")
    return ok("added webhook url.", active_agent=project.active_agent)  # sic: copy-pasted


@route("projects.set_active_agent", "PATCH", "/project/active-agent")
def set_active_agent(r: Incoming) -> Any:
    project_id, agent_id = need(r.body, "projectId", "active_agent")
    project = r.store.project(r.me, project_id)
    project.active_agent = r.store.agent(project, agent_id).id
    return ok("updated active agent successfully.", project=project.after_set_active_agent())


@route("projects.remove_active_agent", "PATCH", "/project/active-agent/{agentId}")
def remove_active_agent(r: Incoming) -> Any:
    for project in r.store.user_projects(r.me):
        if project.active_agent == r.params["agentId"]:
            project.active_agent = None
    return ok("Removed active agent from project successfully.")


# -- agents --------------------------------------------------------------------------------------
@route("agents.create", "POST", "/agent/create-agent")
def create_agent(r: Incoming) -> Any:
    project_id, name, instruction, phone = need(
        r.body, "projectId", "name", "systemInstruction", "phoneNumber"
    )
    project = r.store.project(r.me, project_id)
    agent = r.store.create_agent(project, name, instruction, phone, r.body.get("voice_id"))
    return ok("agent created successfully.", data=agent.wire())


@route("agents.get", "POST", "/agent")
def get_agent(r: Incoming) -> Any:
    project_id, agent_id = need(r.body, "projectId", "agentId")
    return r.store.agent(r.store.project(r.me, project_id), agent_id).wire()  # bare


@route("agents.update", "PUT", "/agent")
def update_agent(r: Incoming) -> Any:
    project_id, agent_id = need(r.body, "projectId", "agentId")
    agent = r.store.agent(r.store.project(r.me, project_id), agent_id)
    name, instruction, voice = (r.body.get(k) for k in ("name", "systemInstruction", "voice_id"))
    if not isinstance(name, str) and not isinstance(instruction, str):
        raise Refusal(400, "name or systemInstruction is required.")
    agent.name = name if isinstance(name, str) else agent.name
    agent.system_instruction = (
        instruction if isinstance(instruction, str) else agent.system_instruction
    )
    agent.voice_id = voice if isinstance(voice, str) else agent.voice_id
    return agent.after_update()  # bare, as in the page's success example


@route("agents.delete", "DELETE", "/agent")
def delete_agent(r: Incoming) -> Any:
    project_id, agent_id = need(r.body, "projectId", "agentId")
    project = r.store.project(r.me, project_id)
    r.store.delete_agent(project, r.store.agent(project, agent_id))
    return ok("Agent Deleted")


@route("agents.list", "GET", "/agent/{projectId}")
def list_agents(r: Incoming) -> Any:
    agents = r.store.project_agents(r.store.project(r.me, r.params["projectId"]))
    if not agents:
        raise Refusal(404, "no agents found.")
    return [agent.wire() for agent in agents]  # a bare array


# -- calls ---------------------------------------------------------------------------------------
@route("calls.make", "POST", "/call/makeCall", host="calls")
def make_call(r: Incoming) -> Any:
    number, project_id, agent_id = need(r.body, "number", "projectId", "agentId")
    project = r.store.project(r.me, project_id)
    agent = r.store.agent(project, agent_id)
    r.store.admit_placement(r.me)
    call = r.store.place_call(project, agent, number, r.body.get("dynamicVariables"))
    return ok(
        "call made successfully.", call={"call_id": call.sid, "to": call.to, "from": call.from_}
    )


@route("calls.get", "POST", "/call")
def get_call(r: Incoming) -> Any:
    (sid,) = need(r.body, "sid")
    project_id = r.body.get("projectId")
    return r.store.call_wire(r.me, sid, project_id if isinstance(project_id, str) else None)


@route("calls.history", "POST", "/call/get-call-history")
def call_history(r: Incoming) -> Any:
    (project_id,) = need(r.body, "projectId")
    project = r.store.project(r.me, project_id)
    page, size = page_bounds(r.body)
    if r.store.history_page_cap is not None:
        size = min(size, r.store.history_page_cap)
    items, total = r.store.history(project, HistoryFilter.from_query(r.query), page, size)
    if not items:
        raise Refusal(404, "call list is empty.")
    if not r.store.history_hints:
        return ok("successfully fetched call history.", data=items)
    pages = -(-total // size)
    return ok("successfully fetched call history.", data=items, page=page, pageSize=size,
              totalPages=pages, total=total)  # fmt: skip


@route("calls.analyze", "POST", "/call/analysis")
def analyze_call(r: Incoming) -> Any:
    (sid,) = need(r.body, "sid")
    questions = r.body.get("questions")
    if not isinstance(questions, list) or not questions:
        raise Refusal(400, "questions is required.")
    return ok("call analysis fetched successfully.", data=r.store.analyze(r.me, sid, questions))


@route("calls.batch", "POST", "/call/batch-call", multipart=True)
def batch_call(r: Incoming) -> Any:
    project_id, agent_id = need(r.form, "projectId", "agentId")
    upload = r.form.get("file")
    if not isinstance(upload, tuple):
        raise Refusal(400, "file is required.")
    project = r.store.project(r.me, project_id)
    agent = r.store.agent(project, agent_id)
    placed, failed = [], []
    for row_number, row in enumerate(read_rows(*upload), start=2):
        try:
            variables = json.loads(row["dynamicVariables"]) if row.get("dynamicVariables") else None
            call = r.store.place_call(project, agent, row["number"], variables)
        except (Refusal, ValueError) as exc:
            failed.append({"row": row_number, "number": row["number"], "error": str(exc)})
        else:
            placed.append({"call_id": call.sid, "to": call.to, "from": call.from_})
    # The batch answer is not documented: this shape is the emulator's choice.
    return ok("batch calls initiated.", data={"total": len(placed) + len(failed),
              "placed": placed, "failed": failed})  # fmt: skip


# -- voices --------------------------------------------------------------------------------------
@route("voices.list", "GET", "/voices")
def list_voices(r: Incoming) -> Any:
    return ok("successfully fetched voice list.", voices=list(VOICES))


@route("voices.get", "GET", "/voices/{voice_id}")
def get_voice(r: Incoming) -> Any:
    for voice in VOICES:
        if voice["voice_id"] == r.params["voice_id"]:
            return ok("successfully fetched voice list.", voice=voice)
    raise Refusal(404, "voice not found.")


# -- phone numbers -------------------------------------------------------------------------------
@route("phone_numbers.get", "POST", "/phone-number")
def get_phone_number(r: Incoming) -> Any:
    for key in ("phoneNumberId", "agentId", "projectId"):  # the documented precedence
        value = r.body.get(key)
        if isinstance(value, str) and value:
            break
    else:
        raise Refusal(400, "one of phoneNumberId, agentId or projectId is required.")
    found = r.store.find_numbers(r.me, key, value)
    if not found:
        raise Refusal(404, "phone number not found.")
    data: Any = [n.wire() for n in found] if key == "projectId" else found[0].wire()
    # "status": "error" on a 200, as documented: clients must judge by the HTTP status.
    return {
        "message": "Phone number details fetched successfully.",
        "status": "error",
        "data": data,
    }


@route("phone_numbers.assign", "POST", "/phone-number/add-number")
def assign_phone_number(r: Incoming) -> Any:
    e164, agent_id, project_id = need(r.body, "e164", "agentId", "projectId")
    project = r.store.project(r.me, project_id)
    r.store.assign_number(project, r.store.agent(project, agent_id), e164)
    return ok("PhoneNumber assigned successfully.")
