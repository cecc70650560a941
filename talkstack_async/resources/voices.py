"""Voices an agent can speak with."""

from __future__ import annotations

from typing_extensions import Unpack

from talkstack_async import _endpoints as ep
from talkstack_async._options import RequestOptions
from talkstack_async._validation import check_id
from talkstack_async.models.voice import Voice
from talkstack_async.resources._base import AsyncResource

__all__ = ["AsyncVoicesResource"]


class AsyncVoicesResource(AsyncResource):
    """``client.voices``."""

    __slots__ = ()

    async def list(self, **options: Unpack[RequestOptions]) -> list[Voice]:
        """All available voices, with their labels and preview URLs."""
        return await self._get_list(ep.LIST_VOICES, Voice, options)

    async def get(self, voice_id: str, **options: Unpack[RequestOptions]) -> Voice:
        """One voice.

        Raises:
            NotFoundError: No such voice.
            ValidationError: An empty id (nothing is sent).
        """
        return await self._get_one(
            ep.GET_VOICE, Voice, options, voice_id=check_id("voice_id", voice_id)
        )
