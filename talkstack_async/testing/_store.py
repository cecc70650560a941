"""The emulator's state: projects, agents, phone numbers and calls of every account.

Every method expects the caller to hold ``lock`` (the routes do; so do the emulator's
helpers, which tests may call from another thread).
"""

from __future__ import annotations

import collections
import math
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from talkstack_async.testing._accounts import Accounts
from talkstack_async.testing._errors import Refusal
from talkstack_async.testing._history import HistoryFilter
from talkstack_async.testing._records import (
    FINAL_STATUSES,
    AgentRecord,
    CallRecord,
    NumberRecord,
    ProjectRecord,
    UserRecord,
    call_sid,
    new_id,
)
from talkstack_async.testing._seeded import SeededCalls

__all__ = ["VOICES", "Store"]

_NUMBER = re.compile(r"\+[1-9]\d{7,14}")
_DEFAULT_CALLER_ID = "+18005550100"
_QUESTION_TYPES = frozenset({"Boolean", "Text", "Number", "Selector"})

VOICES: tuple[dict[str, Any], ...] = tuple(
    {
        "name": name,
        "labels": {
            "accent": accent,
            "description": description,
            "age": age,
            "gender": gender,
            "use_case": "conversational",
        },
        "voice_id": voice_id,
        "preview_url": f"https://storage.talkstack.test/voices/{voice_id}.mp3",
    }
    for name, voice_id, accent, description, age, gender in (
        ("Ava", "21m00Tcm4TlvDq8ikWAM", "american", "calm", "young", "female"),
        ("Noah", "29vD33N1CtxCmqQRPOHJ", "american", "warm", "middle aged", "male"),
        ("Isla", "EXAVITQu4vr4xnSDxMaL", "british", "soft", "young", "female"),
        ("Ravi", "ErXwobaYiN019PkySvjV", "indian", "well-rounded", "middle aged", "male"),
    )
)


@attrs.define
class Store:
    clock: Callable[[], float]
    monotonic: Callable[[], float]
    status_interval: float
    accounts: Accounts
    lock: threading.RLock = attrs.field(factory=threading.RLock)
    projects: dict[str, ProjectRecord] = attrs.field(factory=dict)
    agents: dict[str, AgentRecord] = attrs.field(factory=dict)
    numbers: dict[str, NumberRecord] = attrs.field(factory=dict)
    calls: dict[str, CallRecord] = attrs.field(factory=dict)
    seeded: dict[str, SeededCalls] = attrs.field(factory=dict)
    on_call_placed: list[Callable[[CallRecord], None]] = attrs.field(factory=list)
    history_page_cap: int | None = None  # serve at most this many calls a history page
    history_hints: bool = True  # send page, pageSize, totalPages and total with each page
    # At most this many placements per account in any one second; more get a 429 with
    # Retry-After (a server-side rate limit, which the real API may have: undocumented).
    make_call_rate: float | None = None
    _placed_at: dict[str, collections.deque[float]] = attrs.field(factory=dict)
    rate_limited: int = 0  # placements refused by make_call_rate
    # How the next calls to a number end, in turn (``call_outcomes``); then by its last digit.
    scripted: dict[str, collections.deque[str]] = attrs.field(factory=dict)

    # -- projects ---------------------------------------------------------------------------
    def project(self, user: UserRecord, project_id: str, *, missing: int = 400) -> ProjectRecord:
        project = self.projects.get(project_id)
        if project is None or project.user_id != user.id:
            raise Refusal(missing, "project does not exist.")
        return project

    def create_project(self, user: UserRecord, name: str, description: str) -> ProjectRecord:
        if any(p.user_id == user.id and p.name == name for p in self.projects.values()):
            raise Refusal(400, "a project with this name already exists.")
        project = ProjectRecord(new_id(), user.id, name, description, created_at=self.clock())
        self.projects[project.id] = project
        return project

    def user_projects(self, user: UserRecord) -> list[ProjectRecord]:
        return [p for p in self.projects.values() if p.user_id == user.id]

    def update_project(
        self, project: ProjectRecord, name: Any, description: Any, webhook: Any
    ) -> None:
        if name is None and description is None:
            raise Refusal(400, "name or description is required.")
        project.name = name if isinstance(name, str) else project.name
        project.description = description if isinstance(description, str) else project.description
        project.webhook = webhook if isinstance(webhook, str) else project.webhook
        project.updated_at = self.clock()

    def delete_project(self, user: UserRecord, project: ProjectRecord, cascade: bool) -> None:
        agents = [a for a in self.agents.values() if a.project_id == project.id]
        numbers = [n for n in self.numbers.values() if n.project_id == project.id]
        if (agents or numbers) and not cascade:
            raise Refusal(400, "project has agents or phone numbers; delete with cascade.")
        for agent in agents:
            del self.agents[agent.id]
        for number in numbers:
            del self.numbers[number.id]
        del self.projects[project.id]
        self.seeded.pop(project.id, None)
        if user.active_project == project.id:
            user.active_project = None

    # -- agents -----------------------------------------------------------------------------
    def agent(self, project: ProjectRecord, agent_id: str) -> AgentRecord:
        agent = self.agents.get(agent_id)
        if agent is None or agent.project_id != project.id:
            raise Refusal(404, "agent not found.")
        return agent

    def create_agent(
        self, project: ProjectRecord, name: str, instruction: str, phone: str, voice_id: Any
    ) -> AgentRecord:
        _check_number("phoneNumber", phone)
        agent = AgentRecord(new_id(), project.id, name, instruction, phone, _opt_str(voice_id))
        self.agents[agent.id] = agent
        self.assign_number(project, agent, phone)
        return agent

    def delete_agent(self, project: ProjectRecord, agent: AgentRecord) -> None:
        del self.agents[agent.id]
        if project.active_agent == agent.id:
            project.active_agent = None
        for number in self.numbers.values():
            if number.agent_id == agent.id:
                number.agent_id = None

    def project_agents(self, project: ProjectRecord) -> list[AgentRecord]:
        return [a for a in self.agents.values() if a.project_id == project.id]

    # -- phone numbers ----------------------------------------------------------------------
    def assign_number(self, project: ProjectRecord, agent: AgentRecord, e164: str) -> NumberRecord:
        _check_number("e164", e164)
        for number in self.numbers.values():
            if number.e164 == e164 and number.project_id == project.id:
                number.agent_id = agent.id
                return number
        number = NumberRecord(new_id(), e164, project.id, agent.id)
        self.numbers[number.id] = number
        return number

    def find_numbers(self, user: UserRecord, key: str, value: str) -> list[NumberRecord]:
        owned = {p.id for p in self.user_projects(user)}
        attribute = {"phoneNumberId": "id", "agentId": "agent_id", "projectId": "project_id"}[key]
        return [
            n
            for n in self.numbers.values()
            if n.project_id in owned and getattr(n, attribute) == value
        ]

    # -- calls ------------------------------------------------------------------------------
    def admit_placement(self, user: UserRecord) -> None:
        """Refuse with 429 when the account placed ``make_call_rate`` calls in the last second."""
        if self.make_call_rate is None:
            return
        now = self.monotonic()
        recent = self._placed_at.setdefault(user.id, collections.deque())
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        if len(recent) >= self.make_call_rate:
            self.rate_limited += 1
            wait = recent[0] + 1.0 - now
            raise Refusal(
                429,
                "too many requests.",
                headers={"Retry-After": str(max(1, math.ceil(wait))),
                         "Retry-After-Ms": str(max(1, round(wait * 1000)))},
            )  # fmt: skip
        recent.append(now)

    def place_call(
        self, project: ProjectRecord, agent: AgentRecord, number: str, variables: Any
    ) -> CallRecord:
        _check_number("number", number)
        if variables is not None and not isinstance(variables, dict):
            raise Refusal(400, "dynamicVariables must be an object.")
        call = CallRecord(
            sid=call_sid(),
            project_id=project.id,
            agent_id=agent.id,
            to=number,
            from_=agent.phone_number or _DEFAULT_CALLER_ID,
            variables=dict(variables or {}),
            placed_at=self.clock(),
            placed_mono=self.monotonic(),
            path=self._path(number),
        )
        self.calls[call.sid] = call
        for listener in self.on_call_placed:
            listener(call)
        return call

    def _path(self, number: str) -> tuple[str, ...]:
        script = self.scripted.get(number)
        if script:
            return CallRecord.path_ending(script.popleft())
        return CallRecord.outcome_path(number)

    def call_wire(self, user: UserRecord, sid: str, project_id: str | None) -> dict[str, Any]:
        """Get-call-data's object for a placed or seeded call of this user."""
        call = self.calls.get(sid)
        projects = {p.id for p in self.user_projects(user)}
        if (
            call is not None
            and call.project_id in projects
            and project_id in (None, call.project_id)
        ):
            return call.wire(self.monotonic(), self.status_interval)
        for seeded in self.seeded.values():
            if seeded.project_id in projects and (project_id in (None, seeded.project_id)):
                found = seeded.find(sid)
                if found is not None:
                    return dict(found)
        raise Refusal(404, "call not found.")

    def history(
        self, project: ProjectRecord, query: HistoryFilter, page: int, size: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the project's calls, newest first, and how many match in all."""
        now, interval = self.monotonic(), self.status_interval
        # Filter the records and render only the page: every page of a paging run would
        # otherwise render every live call of the project.
        live = [
            call
            for call in reversed(self.calls.values())
            if call.project_id == project.id
            and (query.is_empty or _accepts(query, call, now, interval))
        ]
        seeded = self.seeded.get(project.id)
        indexes: Sequence[int] = range(0)
        if seeded is not None:
            keep = None if query.is_empty else query.predicate(_seeded_fields(seeded))
            indexes = seeded.indexes(query.key, keep)
        total = len(live) + len(indexes)
        start = (page - 1) * size
        items = [call.wire(now, interval) for call in live[start : start + size]]
        if seeded is not None and len(items) < size:
            first = max(0, start - len(live))
            wanted = size - len(items)
            items.extend(seeded.item(i) for i in indexes[first : first + wanted])
        return items, total

    def analyze(self, user: UserRecord, sid: str, questions: Any) -> dict[str, Any]:
        call = self.call_wire(user, sid, None)
        if call["status"] not in FINAL_STATUSES:
            raise Refusal(400, "analysis is available once the call has ended.")
        answers = [_answer(index, question) for index, question in enumerate(questions)]
        return {
            "sentiment": "positive" if call["status"] == "completed" else "neutral",
            "status": call["status"],
            "summary": f"Emulated call to {call['to']}: {call['status']}.",
            "custom_analysis_data": answers,
        }

    def seed_calls(self, project: ProjectRecord, count: int) -> None:
        agents = self.project_agents(project)
        caller = agents[0].phone_number if agents else _DEFAULT_CALLER_ID
        self.seeded[project.id] = SeededCalls(project.id, count, caller)


def _check_number(field: str, number: Any) -> None:
    if not isinstance(number, str) or not _NUMBER.fullmatch(number):
        raise Refusal(400, f"{field} must be a phone number with country code, like +14155550123.")


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _accepts(query: HistoryFilter, call: CallRecord, now: float, interval: float) -> bool:
    return query.accepts(
        to=call.to,
        from_=call.from_,
        status=call.status_at(now, interval),
        started=call.placed_at,
        ended=call.ended_at(now, interval),
    )


def _seeded_fields(
    seeded: SeededCalls,
) -> Callable[[int], tuple[str, str, str, float, float | None]]:
    def fields(index: int) -> tuple[str, str, str, float, float | None]:
        return (
            seeded.to(index),
            seeded.from_number,
            seeded.status(index),
            seeded.started_at(index),
            seeded.ended_at(index),
        )

    return fields


def _answer(index: int, question: Any) -> dict[str, Any]:
    if not isinstance(question, dict) or not isinstance(question.get("question"), str):
        raise Refusal(400, f"questions[{index}].question is required.")
    kind = question.get("type")
    if kind not in _QUESTION_TYPES:
        raise Refusal(400, f"questions[{index}].type must be Boolean, Text, Number or Selector.")
    options = question.get("options")
    if kind == "Selector" and (not isinstance(options, list) or not options):
        raise Refusal(400, f"questions[{index}].options is required for Selector questions.")
    answer: Any = {"Boolean": "yes", "Text": "Emulated answer.", "Number": 1}.get(kind)
    if kind == "Selector":
        answer = options[0]  # type: ignore[index]
    return {"question": question["question"], "type": kind, "answer": answer}
