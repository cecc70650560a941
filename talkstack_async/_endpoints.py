"""Every Talkstack operation in one table: route, host, auth, where its result sits, retry safety.

The API's quirks live here, in plain sight, instead of in resource code:

* ``body`` / ``query`` map Python argument names to the API's mixed wire names
  (``project_id`` -> ``projectId`` but ``voice_id`` stays; ``webhookURL`` vs ``webhookUrl``).
* ``envelope`` lists the keys that may wrap the result (``data``, ``projectData``, ``call``, ...);
  an empty tuple means the body itself is the result (bare objects and arrays).
* ``retry_safe`` is declared, not guessed from the method: several reads are POSTs, generate-API-key
  is a GET that rotates the key, and the call-placing endpoints must never be sent twice.
* ``absent_on_404``: list endpoints answer 404 for "no items", getters for "none set".
"""

from __future__ import annotations

import enum
import string
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import attrs

from talkstack_async._errors import APIResponseError, ValidationError

__all__ = ["AuthKind", "Endpoint", "Host", "unwrap"]


class Host(enum.Enum):
    API = "api"
    CALLS = "calls"

    # Enum's own __hash__ is a Python method, and the transport's URL cache hashes a host on
    # every request; members are singletons, so identity serves.
    __hash__ = object.__hash__


class AuthKind(enum.Enum):
    NONE = "none"  # signup, login, refresh, ...: credentials are not sent at all
    ANY = "any"  # bearer token or x-api-key
    BEARER = "bearer"  # bearer token only (generate API key)


@attrs.frozen
class Endpoint:
    name: str
    method: str
    path: str  # "{python_name}" placeholders are filled from the call's arguments
    host: Host = Host.API
    auth: AuthKind = AuthKind.ANY
    retry_safe: bool = False
    envelope: tuple[str, ...] = ()
    bare_fallback: bool = False  # the body itself is the result when no envelope key is present
    returns_nothing: bool = False  # message-only responses
    absent_on_404: bool = False
    not_found_on_400: bool = False  # "does not exist" documented as a 400
    renew_on_401: bool = True  # False where a 401 is about the request, not the credentials
    multipart: bool = False  # the body is sent as multipart/form-data instead of JSON
    body: Mapping[str, str] = attrs.field(factory=dict)
    query: Mapping[str, str] = attrs.field(factory=dict)
    # The path split once into (literal, placeholder) pairs and the literal after the last
    # placeholder: joining pieces costs a third of what str.format_map does on every request.
    path_pieces: tuple[tuple[str, str], ...] = attrs.field(init=False)
    path_tail: str = attrs.field(init=False)

    @path_pieces.default
    def _split_path(self) -> tuple[tuple[str, str], ...]:
        parsed = string.Formatter().parse(self.path)
        return tuple((literal, name) for literal, name, _, _ in parsed if name)

    @path_tail.default
    def _path_after_placeholders(self) -> str:
        return self.path.rpartition("}")[2] if self.path_pieces else ""

    def render(self, args: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, str]]:
        """The path, body and query for these arguments; ``None`` arguments are left out."""
        if self.path_pieces:
            # Ids are percent-encoded so that "a/../b" cannot walk to another route.
            path = ""
            for literal, name in self.path_pieces:
                path += literal + _path_segment(args[name])
            path += self.path_tail
        else:
            path = self.path
        # Most endpoints have a path or a body, rarely both: skip the comprehensions they lack.
        body = (
            {wire: args[py] for py, wire in self.body.items() if args.get(py) is not None}
            if self.body
            else {}
        )
        query = (
            {wire: str(args[py]) for py, wire in self.query.items() if args.get(py) is not None}
            if self.query
            else {}
        )
        return path, body, query


def _path_segment(value: Any) -> str:
    text = value if value.__class__ is str else str(value)
    # Typical ids are alphanumeric: nothing to encode, and quote() costs microseconds.
    if text.isascii() and text.isalnum():
        return text
    if not text.strip("."):  # "." and ".." stay dots when encoded, and walk the path
        raise ValidationError("id", f"{text!r} is not an id (in a path it names another route)")
    return quote(text, safe="")


def unwrap(endpoint: Endpoint, body: Any, *, status: int) -> Any:
    """The endpoint's result inside a decoded success body."""
    if endpoint.returns_nothing or not endpoint.envelope:
        return None if endpoint.returns_nothing else body
    if isinstance(body, dict):
        for key in endpoint.envelope:
            if key in body:
                return body[key]
    if endpoint.bare_fallback:
        return body
    raise APIResponseError(
        f"expected the result under {' or '.join(map(repr, endpoint.envelope))} in the response",
        method=endpoint.method,
        path=endpoint.path,
        status=status,
        body=None,
    )


_ID = {"project_id": "projectId", "agent_id": "agentId"}

# -- authentication ------------------------------------------------------------------------------
SIGNUP = Endpoint(
    "auth.signup", "POST", "/auth/signup", auth=AuthKind.NONE,
    body={"email": "email", "password": "password", "name": "name"},
)  # fmt: skip
VERIFY_EMAIL = Endpoint(
    "auth.verify_email", "POST", "/auth/verify-email", auth=AuthKind.NONE,
    body={"email": "email", "code": "code"},
)  # fmt: skip
RESEND_CODE = Endpoint(
    "auth.resend_verification_code", "POST", "/auth/resend-code", auth=AuthKind.NONE,
    returns_nothing=True, body={"email": "email"},
)  # fmt: skip
LOGIN = Endpoint(
    "auth.login", "POST", "/auth/login", auth=AuthKind.NONE, retry_safe=True,
    body={"email": "email", "password": "password"},
)  # fmt: skip
# Refresh tokens rotate: a refresh that reached the server consumed its token, so it is never
# re-sent (the auth logs in again or says the token is spent).
REFRESH = Endpoint(
    "auth.refresh", "POST", "/auth/refresh-token", auth=AuthKind.NONE,
    body={"refresh_token": "refreshToken"},
)  # fmt: skip
# Its 401 means "old password wrong": renewing the token and sending it again would not help.
CHANGE_PASSWORD = Endpoint(
    "auth.change_password", "POST", "/auth/change-password", returns_nothing=True,
    renew_on_401=False,
    body={"old_password": "oldPassword", "new_password": "newPassword"},
)  # fmt: skip
FORGOT_PASSWORD = Endpoint(
    "auth.forgot_password", "POST", "/auth/forgot-password", auth=AuthKind.NONE,
    returns_nothing=True, body={"email": "email"},
)  # fmt: skip
RESET_PASSWORD = Endpoint(
    "auth.reset_password", "POST", "/auth/reset-password", auth=AuthKind.NONE,
    returns_nothing=True, body={"token": "token", "new_password": "newPassword", "email": "email"},
)  # fmt: skip

# -- user ----------------------------------------------------------------------------------------
GENERATE_API_KEY = Endpoint(
    "user.generate_api_key", "GET", "/user/generate-apikey", auth=AuthKind.BEARER,
    envelope=("apiKey",),
)  # fmt: skip
SET_ACTIVE_PROJECT = Endpoint(
    "user.set_active_project", "POST", "/user/set-active-project", retry_safe=True,
    body={"project_id": "projectId"},
)  # fmt: skip
GET_ACTIVE_PROJECT = Endpoint(
    "user.get_active_project", "GET", "/user/get-active-project", retry_safe=True,
    envelope=("projectData",), absent_on_404=True,
)  # fmt: skip

# -- projects ------------------------------------------------------------------------------------
CREATE_PROJECT = Endpoint(
    "projects.create", "POST", "/project/create-project", envelope=("data",),
    body={"name": "name", "description": "description"},
)  # fmt: skip
GET_PROJECT = Endpoint(
    "projects.get", "GET", "/project/{project_id}", retry_safe=True, envelope=("data",),
    not_found_on_400=True,
)  # fmt: skip
# Not in the stored docs: the route and the ``data`` array are inferred (see the reference).
LIST_PROJECTS = Endpoint(
    "projects.list", "GET", "/project", retry_safe=True, envelope=("data",), bare_fallback=True,
    absent_on_404=True,
)  # fmt: skip
UPDATE_PROJECT = Endpoint(
    "projects.update", "PUT", "/project/{project_id}", retry_safe=True, envelope=("data",),
    body={"name": "name", "description": "description", "webhook_url": "webhookUrl"},
)  # fmt: skip
DELETE_PROJECT = Endpoint(
    "projects.delete", "DELETE", "/project/{project_id}", retry_safe=True, returns_nothing=True,
    body={"cascade": "cascade"},
)  # fmt: skip
SET_WEBHOOK = Endpoint(
    "projects.set_webhook", "POST", "/project/call-status/add-webhookurl", retry_safe=True,
    returns_nothing=True, body={"project_id": "projectId", "url": "webhookURL"},
)  # fmt: skip
GET_ACTIVE_AGENT = Endpoint(
    "projects.get_active_agent", "POST", "/project/active-agent", retry_safe=True,
    envelope=("active_agent",), absent_on_404=True, body={"project_id": "projectId"},
)  # fmt: skip
SET_ACTIVE_AGENT = Endpoint(
    "projects.set_active_agent", "PATCH", "/project/active-agent", retry_safe=True,
    envelope=("project", "data"), body={"project_id": "projectId", "agent_id": "active_agent"},
)  # fmt: skip
REMOVE_ACTIVE_AGENT = Endpoint(
    "projects.remove_active_agent", "PATCH", "/project/active-agent/{agent_id}", retry_safe=True,
    returns_nothing=True,
)  # fmt: skip

# -- agents --------------------------------------------------------------------------------------
CREATE_AGENT = Endpoint(
    "agents.create", "POST", "/agent/create-agent", envelope=("data", "agent"), bare_fallback=True,
    body={
        "project_id": "projectId", "name": "name", "system_instruction": "systemInstruction",
        "phone_number": "phoneNumber", "voice_id": "voice_id",
    },
)  # fmt: skip
GET_AGENT = Endpoint("agents.get", "POST", "/agent", retry_safe=True, body=_ID)
UPDATE_AGENT = Endpoint(
    "agents.update", "PUT", "/agent", retry_safe=True, envelope=("data",), bare_fallback=True,
    body={**_ID, "name": "name", "system_instruction": "systemInstruction", "voice_id": "voice_id"},
)  # fmt: skip
DELETE_AGENT = Endpoint(
    "agents.delete", "DELETE", "/agent", retry_safe=True, returns_nothing=True, body=_ID
)
LIST_AGENTS = Endpoint(
    "agents.list", "GET", "/agent/{project_id}", retry_safe=True, envelope=("data",),
    bare_fallback=True, absent_on_404=True,
)  # fmt: skip

# -- calls ---------------------------------------------------------------------------------------
MAKE_CALL = Endpoint(
    "calls.make", "POST", "/call/makeCall", host=Host.CALLS, envelope=("call",),
    body={**_ID, "number": "number", "dynamic_variables": "dynamicVariables"},
)  # fmt: skip
GET_CALL = Endpoint(
    "calls.get", "POST", "/call", retry_safe=True, body={"sid": "sid", "project_id": "projectId"}
)
CALL_HISTORY = Endpoint(
    "calls.history", "POST", "/call/get-call-history", retry_safe=True, absent_on_404=True,
    body={"project_id": "projectId", "page_size": "pageSize", "page": "page",
          "page_token": "pageToken"},
    query={
        "to": "to", "from_": "from", "status": "status",
        "started_on": "startTime", "started_before": "startTimeBefore",
        "started_after": "startTimeAfter", "ended_on": "endTime",
        "ended_before": "endTimeBefore", "ended_after": "endTimeAfter",
    },
)  # fmt: skip
ANALYZE_CALL = Endpoint(
    "calls.analyze", "POST", "/call/analysis", retry_safe=True, envelope=("data", "analysis"),
    bare_fallback=True, body={"sid": "sid", "questions": "questions"},
)  # fmt: skip
BATCH_CALL = Endpoint(
    "calls.batch", "POST", "/call/batch-call", multipart=True,
    body={**_ID, "file": "file"},
)  # fmt: skip

# -- voices --------------------------------------------------------------------------------------
LIST_VOICES = Endpoint("voices.list", "GET", "/voices", retry_safe=True, envelope=("voices",))
GET_VOICE = Endpoint(
    "voices.get", "GET", "/voices/{voice_id}", retry_safe=True, envelope=("voice",)
)

# -- phone numbers -------------------------------------------------------------------------------
_PHONE_LOOKUP = {"phone_number_id": "phoneNumberId", **_ID}
GET_PHONE_NUMBER = Endpoint(
    "phone_numbers.get", "POST", "/phone-number", retry_safe=True, envelope=("data",),
    body=_PHONE_LOOKUP,
)  # fmt: skip
LIST_PHONE_NUMBERS = Endpoint(
    "phone_numbers.list", "POST", "/phone-number", retry_safe=True, envelope=("data",),
    absent_on_404=True, body=_PHONE_LOOKUP,
)  # fmt: skip
ASSIGN_PHONE_NUMBER = Endpoint(
    "phone_numbers.assign", "POST", "/phone-number/add-number", returns_nothing=True,
    body={"number": "e164", **_ID},
)  # fmt: skip
