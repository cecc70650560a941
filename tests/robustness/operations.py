"""Every public resource method, with arguments that are valid, in an order that works live.

The robustness tests fuzz these arguments, feed these methods broken responses, and watch them
for leaked secrets. ``test_every_public_method_is_listed`` keeps the table complete.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from talkstack_async import AnalysisQuestion, AsyncTalkstack, RateLimitPolicy
from talkstack_sync._codegen import resource_classes


@dataclass
class Ids:
    """The ids and secrets the operations need; the live tour replaces them as it learns them."""

    email: str = "jo@example.com"
    password: str = "first password"
    new_email: str = "new@example.com"
    code: str = "123456"
    refresh_token: str = "refresh-token"
    reset_token: str = "reset-token"
    project: str = "p1"
    agent: str = "a1"
    sid: str = "CA1"
    voice: str = "v1"
    phone_number_id: str = "n1"


FAST_RATE_LIMITS = RateLimitPolicy(max_attempts=2, backoff=0.001, max_backoff=0.001, min_rate=50)


@dataclass(frozen=True)
class Arguments:
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def bound(self, method: Any) -> dict[str, Any]:
        """Every parameter of ``method`` by name, defaults included."""
        signature = inspect.signature(method)
        bound = signature.bind(*self.args, **self.kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        for parameter in signature.parameters.values():
            if parameter.kind is parameter.VAR_KEYWORD:  # **options: flattened
                arguments.update(arguments.pop(parameter.name, {}))
        return arguments


def a(*args: Any, **kwargs: Any) -> Arguments:
    return Arguments(args, kwargs)


# In the order the live tour runs them: each one's prerequisites come first.
OPERATIONS: dict[str, Callable[[Ids], Arguments]] = {
    "auth.signup": lambda i: a(email=i.new_email, password="pw-123456", name="Jo"),
    "auth.resend_verification_code": lambda i: a(email=i.new_email),
    "auth.verify_email": lambda i: a(email=i.new_email, code=i.code),
    "auth.login": lambda i: a(email=i.email, password=i.password),
    "auth.refresh": lambda i: a(refresh_token=i.refresh_token),
    "auth.change_password": lambda i: a(old_password=i.password, new_password=i.password + "!"),
    "auth.forgot_password": lambda i: a(email=i.email),
    "auth.reset_password": lambda i: a(token=i.reset_token, new_password=i.password),
    "projects.create": lambda i: a(name="Clinic", description="Reminders"),
    "projects.get": lambda i: a(i.project),
    "projects.list": lambda i: a(),
    "projects.update": lambda i: a(i.project, name="Clinic 2", description="Recalls"),
    "projects.set_webhook": lambda i: a(i.project, url="https://hooks.example.com/talkstack"),
    "user.set_active_project": lambda i: a(i.project),
    "user.get_active_project": lambda i: a(),
    "user.generate_api_key": lambda i: a(),
    "voices.list": lambda i: a(),
    "voices.get": lambda i: a(i.voice),
    "agents.create": lambda i: a(
        project_id=i.project,
        name="Ava",
        system_instruction="You remind patients of appointments.",
        phone_number="+14155550100",
        voice_id=i.voice,
    ),
    "agents.get": lambda i: a(i.agent, project_id=i.project),
    "agents.update": lambda i: a(i.agent, project_id=i.project, name="Eve"),
    "agents.list": lambda i: a(project_id=i.project),
    "projects.set_active_agent": lambda i: a(i.project, agent_id=i.agent),
    "projects.get_active_agent": lambda i: a(i.project),
    "projects.remove_active_agent": lambda i: a(i.agent),
    "phone_numbers.assign": lambda i: a("+14155550177", agent_id=i.agent, project_id=i.project),
    "phone_numbers.list": lambda i: a(project_id=i.project),
    "phone_numbers.get": lambda i: a(i.phone_number_id),
    "calls.make": lambda i: a(
        "+14155550123", project_id=i.project, agent_id=i.agent, dynamic_variables={"name": "Jo"}
    ),
    "calls.get": lambda i: a(i.sid, project_id=i.project),
    "calls.wait_until_finished": lambda i: a(
        i.sid, project_id=i.project, timeout=5.0, poll_interval=0.05, max_poll_interval=0.1
    ),
    "calls.dial_many": lambda i: a(
        [{"number": "+14155550124"}, "+14155550125"],
        project_id=i.project,
        agent_id=i.agent,
        concurrency=2,
        # A 429 is sent again: quickly here, where answers are junk by the hundred.
        on_rate_limit=FAST_RATE_LIMITS,
    ),
    "calls.history": lambda i: a(project_id=i.project, status="completed", page_size=2),
    "calls.history_pages": lambda i: a(
        project_id=i.project, started_after="2020-01-01", page_size=2
    ),
    "calls.analyze": lambda i: a(
        i.sid, questions=[AnalysisQuestion("Did they confirm?", "Boolean")]
    ),
    "calls.batch": lambda i: a(
        [{"number": "+14155550126"}, {"number": "+14155550127"}],
        project_id=i.project,
        agent_id=i.agent,
    ),
    "agents.delete": lambda i: a(i.agent, project_id=i.project),
    "projects.delete": lambda i: a(i.project, cascade=True),
}

# How many items of a generator an operation consumes: enough to page, never unbounded.
TAKE = 3


BEARER_ONLY = {"auth.change_password", "user.generate_api_key"}


def offline_client(operation: str) -> AsyncTalkstack:
    """A client with the credentials ``operation`` needs and no retries, for mocked HTTP."""
    if operation in BEARER_ONLY:
        later = datetime.now(timezone.utc) + timedelta(hours=2)
        return AsyncTalkstack(token="token", token_expires_at=later, max_retries=0)
    return AsyncTalkstack(api_key="k" * 64, max_retries=0)


def public_methods() -> set[str]:
    return {
        f"{attribute}.{name}"
        for attribute, cls in resource_classes().items()
        for name, member in vars(cls).items()
        if not name.startswith("_") and callable(member)
    }


def method_of(client: Any, operation: str) -> Any:
    resource, name = operation.split(".")
    return getattr(getattr(client, resource), name)


async def invoke(client: Any, operation: str, arguments: Arguments) -> Any:
    """Run one operation on an async client to completion; a generator gives ``TAKE`` items."""
    result = method_of(client, operation)(*arguments.args, **arguments.kwargs)
    if not hasattr(result, "__aiter__"):
        return await result
    items = []
    try:
        async for item in result:
            items.append(item)
            if len(items) == TAKE:
                break
    finally:
        await result.aclose()
    return items
