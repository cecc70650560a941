"""Projects: create, read, update, delete, the call-status webhook and the active agent."""

from __future__ import annotations

from typing_extensions import Unpack

from talkstack_async import _endpoints as ep
from talkstack_async._errors import ValidationError
from talkstack_async._options import RequestOptions
from talkstack_async._validation import check_bool, check_id, check_text, check_url
from talkstack_async.models.project import Project
from talkstack_async.resources._base import AsyncResource, parse_as

__all__ = ["AsyncProjectsResource"]


class AsyncProjectsResource(AsyncResource):
    """``client.projects``."""

    __slots__ = ()

    async def create(
        self, *, name: str, description: str, **options: Unpack[RequestOptions]
    ) -> Project:
        """Create a project. Names are unique per user; both fields are required by the API.

        Raises:
            BadRequestError: A field is missing or the name is taken.
            ValidationError: An argument is empty (nothing is sent).
        """
        return await self._get_one(
            ep.CREATE_PROJECT,
            Project,
            options,
            name=check_text("name", name, max_length=200),
            description=check_text("description", description, max_length=10_000),
        )

    async def get(self, project_id: str, **options: Unpack[RequestOptions]) -> Project:
        """Get a project.

        Raises:
            NotFoundError: The project does not exist (the API answers 400 for this).
            ValidationError: ``project_id`` is empty (nothing is sent).
        """
        return await self._get_one(
            ep.GET_PROJECT, Project, options, project_id=check_id("project_id", project_id)
        )

    async def list(self, **options: Unpack[RequestOptions]) -> list[Project]:
        """All projects of the account; an empty list when there are none.

        Inferred: the list-projects page is missing from the docs; this calls ``GET /project``
        and reads the projects from ``data`` (or a bare array).
        """
        return await self._get_list(ep.LIST_PROJECTS, Project, options)

    async def update(
        self,
        project_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        webhook_url: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> Project:
        """Change a project's name, description and/or webhook URL (None leaves a field as is).

        The API needs ``name`` or ``description`` in every update; to change only the webhook,
        use ``set_webhook``.

        Raises:
            NotFoundError: The project does not exist.
            ValidationError: Neither name nor description given, or a malformed argument.
        """
        if name is None and description is None:
            raise ValidationError(
                "name", "update needs name or description (use set_webhook for the webhook alone)"
            )
        return await self._get_one(
            ep.UPDATE_PROJECT,
            Project,
            options,
            project_id=check_id("project_id", project_id),
            name=None if name is None else check_text("name", name, max_length=200),
            description=None
            if description is None
            else check_text("description", description, max_length=10_000),
            webhook_url=None if webhook_url is None else check_url("webhook_url", webhook_url),
        )

    async def delete(
        self, project_id: str, *, cascade: bool = False, **options: Unpack[RequestOptions]
    ) -> None:
        """Delete a project.

        Args:
            project_id: The project.
            cascade: Also delete its agents and phone numbers. Without it, the API refuses to
                delete a project that still has any.

        Raises:
            NotFoundError: The project does not exist.
            BadRequestError: The project still has agents or numbers and ``cascade`` is False.
        """
        await self._send(
            ep.DELETE_PROJECT,
            options,
            project_id=check_id("project_id", project_id),
            cascade=check_bool("cascade", cascade),
        )

    async def set_webhook(
        self, project_id: str, *, url: str, **options: Unpack[RequestOptions]
    ) -> None:
        """Set the URL Talkstack POSTs call-status changes to (``call_status_webhook``).

        Raises:
            BadRequestError: A field is missing.
            ValidationError: ``url`` is not an absolute http(s) URL (nothing is sent).
        """
        await self._send(
            ep.SET_WEBHOOK,
            options,
            project_id=check_id("project_id", project_id),
            url=check_url("url", url),
        )

    async def get_active_agent(
        self, project_id: str, **options: Unpack[RequestOptions]
    ) -> str | None:
        """The id of the project's active agent, or None when none is set (the API's 404)."""
        payload = await self._send(
            ep.GET_ACTIVE_AGENT, options, project_id=check_id("project_id", project_id)
        )
        return None if payload is None else parse_as(ep.GET_ACTIVE_AGENT, payload, str)

    async def set_active_agent(
        self, project_id: str, *, agent_id: str, **options: Unpack[RequestOptions]
    ) -> Project:
        """Make ``agent_id`` the project's active agent.

        Returns:
            The project (the API omits its id; it is filled in from ``project_id``).
        """
        project_id = check_id("project_id", project_id)
        payload = await self._send(
            ep.SET_ACTIVE_AGENT,
            options,
            project_id=project_id,
            agent_id=check_id("agent_id", agent_id),
        )
        if isinstance(payload, dict) and "id" not in payload:
            payload = {**payload, "id": project_id}
        return parse_as(ep.SET_ACTIVE_AGENT, payload, Project)

    async def remove_active_agent(self, agent_id: str, **options: Unpack[RequestOptions]) -> None:
        """Stop ``agent_id`` being its project's active agent."""
        await self._send(ep.REMOVE_ACTIVE_AGENT, options, agent_id=check_id("agent_id", agent_id))
