"""What every resource shares: sending an endpoint and reading its result into models."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from talkstack_async._convert import StructureError, structure, structure_list
from talkstack_async._endpoints import Endpoint
from talkstack_async._errors import APIResponseError
from talkstack_async._response import RawResponses

if TYPE_CHECKING:
    from talkstack_async._client import AsyncTalkstack

__all__ = ["AsyncResource", "parse_as", "parse_list_as"]

T = TypeVar("T")


class AsyncResource:
    __slots__ = ("_client",)

    def __init__(self, client: AsyncTalkstack) -> None:
        self._client = client

    @property
    def with_raw_response(self) -> Any:
        """This resource's methods, each returning an ``APIResponse``: ``.status``,
        ``.headers`` (case-insensitive), ``.request_id``, ``.elapsed`` and ``.parse()`` for the
        usual result. ``await client.projects.with_raw_response.get(pid)``."""
        return RawResponses(self)

    async def _send(self, endpoint: Endpoint, options: Mapping[str, Any], /, **args: Any) -> Any:
        """The endpoint's unwrapped result (None for message-only endpoints and "absent" 404s).

        ``options`` are the caller's per-call options (``_options.RequestOptions``)."""
        return await self._client._transport.call(endpoint, args, options)

    # The getters call the transport themselves rather than through _send: one coroutine and
    # one keyword-argument copy fewer on every request.
    async def _get_one(
        self, endpoint: Endpoint, model: type[T], options: Mapping[str, Any], /, **args: Any
    ) -> T:
        return parse_as(
            endpoint, await self._client._transport.call(endpoint, args, options), model
        )

    async def _get_optional(
        self, endpoint: Endpoint, model: type[T], options: Mapping[str, Any], /, **args: Any
    ) -> T | None:
        payload = await self._client._transport.call(endpoint, args, options)
        return None if payload is None else parse_as(endpoint, payload, model)

    async def _get_list(
        self, endpoint: Endpoint, model: type[T], options: Mapping[str, Any], /, **args: Any
    ) -> list[T]:
        payload = await self._client._transport.call(endpoint, args, options)
        return [] if payload is None else parse_list_as(endpoint, payload, model)


def parse_as(endpoint: Endpoint, payload: Any, model: type[T]) -> T:
    """``payload`` as a ``model``; a mismatch is the server's fault, reported as such."""
    try:
        return structure(payload, model)
    except StructureError as exc:
        raise _unexpected(endpoint, exc) from exc


def parse_list_as(endpoint: Endpoint, payload: Any, model: type[T]) -> list[T]:
    """``payload`` as a list of ``model``."""
    try:
        return structure_list(payload, model)
    except StructureError as exc:
        raise _unexpected(endpoint, exc) from exc


def _unexpected(endpoint: Endpoint, exc: StructureError) -> APIResponseError:
    return APIResponseError(
        f"unexpected response from {endpoint.method} {endpoint.path}: {exc}",
        method=endpoint.method,
        path=endpoint.path,
        status=200,
        body=None,
    )
