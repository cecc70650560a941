"""Agents: the AI that talks on a call."""

from __future__ import annotations

from typing_extensions import Unpack

from talkstack_async import _endpoints as ep
from talkstack_async._errors import ValidationError
from talkstack_async._options import RequestOptions
from talkstack_async._validation import check_id, check_phone_number, check_text
from talkstack_async.models.agent import Agent
from talkstack_async.resources._base import AsyncResource

__all__ = ["AsyncAgentsResource"]

_MAX_INSTRUCTION = 100_000


class AsyncAgentsResource(AsyncResource):
    """``client.agents``. As everywhere in the SDK, a method takes the resource's own id first
    and its parent (the project) as a keyword: ``agents.get(agent_id, project_id=...)``."""

    __slots__ = ()

    async def create(
        self,
        *,
        project_id: str,
        name: str,
        system_instruction: str,
        phone_number: str,
        voice_id: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Agent:
        """Create an agent in a project.

        Args:
            project_id: The project.
            name: The agent's name.
            system_instruction: Its prompt; ``{{placeholders}}`` are filled per call from
                ``dynamic_variables``.
            phone_number: The E.164 number it calls from (the API requires it).
            voice_id: A voice from ``client.voices.list()``.

        Raises:
            BadRequestError: A required field is missing.
            ValidationError: A malformed argument (nothing is sent).
        """
        return await self._get_one(
            ep.CREATE_AGENT,
            Agent,
            options,
            project_id=check_id("project_id", project_id),
            name=check_text("name", name, max_length=200),
            system_instruction=check_text(
                "system_instruction", system_instruction, max_length=_MAX_INSTRUCTION
            ),
            phone_number=check_phone_number("phone_number", phone_number),
            voice_id=None if voice_id is None else check_id("voice_id", voice_id),
        )

    async def get(
        self, agent_id: str, *, project_id: str, **options: Unpack[RequestOptions]
    ) -> Agent:
        """Get an agent (the API reads it with a POST; it is retried like any read).

        Raises:
            NotFoundError: No such agent.
        """
        return await self._get_one(
            ep.GET_AGENT,
            Agent,
            options,
            project_id=check_id("project_id", project_id),
            agent_id=check_id("agent_id", agent_id),
        )

    async def update(
        self,
        agent_id: str,
        *,
        project_id: str,
        name: str | None = None,
        system_instruction: str | None = None,
        voice_id: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Agent:
        """Change an agent's name, instruction and/or voice (None leaves a field as is).

        Whether the API accepts ``voice_id`` here is not documented; it is sent when given.

        Raises:
            NotFoundError: No such agent.
            ValidationError: Nothing to change, or a malformed argument.
        """
        if name is None and system_instruction is None and voice_id is None:
            raise ValidationError("name", "update needs name, system_instruction or voice_id")
        return await self._get_one(
            ep.UPDATE_AGENT,
            Agent,
            options,
            project_id=check_id("project_id", project_id),
            agent_id=check_id("agent_id", agent_id),
            name=None if name is None else check_text("name", name, max_length=200),
            system_instruction=None
            if system_instruction is None
            else check_text("system_instruction", system_instruction, max_length=_MAX_INSTRUCTION),
            voice_id=None if voice_id is None else check_id("voice_id", voice_id),
        )

    async def delete(
        self, agent_id: str, *, project_id: str, **options: Unpack[RequestOptions]
    ) -> None:
        """Delete an agent.

        Raises:
            NotFoundError: No such agent.
        """
        await self._send(
            ep.DELETE_AGENT,
            options,
            project_id=check_id("project_id", project_id),
            agent_id=check_id("agent_id", agent_id),
        )

    async def list(self, *, project_id: str, **options: Unpack[RequestOptions]) -> list[Agent]:
        """The project's active agents; an empty list when it has none (the API's 404)."""
        return await self._get_list(
            ep.LIST_AGENTS, Agent, options, project_id=check_id("project_id", project_id)
        )
