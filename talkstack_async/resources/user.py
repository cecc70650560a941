"""The authenticated user: API key, active project."""

from __future__ import annotations

from typing_extensions import Unpack

from talkstack_async import _endpoints as ep
from talkstack_async._options import RequestOptions
from talkstack_async._validation import check_id
from talkstack_async.models.project import Project
from talkstack_async.models.user import ActiveProjectUpdate
from talkstack_async.resources._base import AsyncResource

__all__ = ["AsyncUserResource"]


class AsyncUserResource(AsyncResource):
    """``client.user``."""

    __slots__ = ()

    async def generate_api_key(self, **options: Unpack[RequestOptions]) -> str:
        """Generate a new API key, replacing the previous one (which stops working).

        Needs bearer-token credentials (email/password or tokens), not an API key. Never
        retried: a repeated request would rotate the key again.

        Returns:
            The new API key (64 hex characters). Store it as a secret.

        Raises:
            MissingCredentialsError: The client has no bearer-token credentials.
            AuthenticationError: The token is invalid.
        """
        return await self._get_one(ep.GENERATE_API_KEY, str, options)

    async def set_active_project(
        self, project_id: str, **options: Unpack[RequestOptions]
    ) -> ActiveProjectUpdate:
        """Make ``project_id`` the account's active project.

        Returns:
            The updated user and the project.

        Raises:
            BadRequestError: The project does not exist.
            ValidationError: ``project_id`` is empty (nothing is sent).
        """
        return await self._get_one(
            ep.SET_ACTIVE_PROJECT,
            ActiveProjectUpdate,
            options,
            project_id=check_id("project_id", project_id),
        )

    async def get_active_project(self, **options: Unpack[RequestOptions]) -> Project | None:
        """The account's active project, or None when none is set (the API's 404)."""
        return await self._get_optional(ep.GET_ACTIVE_PROJECT, Project, options)
