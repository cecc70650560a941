"""Phone numbers: look them up, assign one to an agent."""

from __future__ import annotations

from typing_extensions import Unpack

from talkstack_async import _endpoints as ep
from talkstack_async._errors import ValidationError
from talkstack_async._options import RequestOptions
from talkstack_async._validation import check_id, check_phone_number
from talkstack_async.models.phone_number import PhoneNumber
from talkstack_async.resources._base import AsyncResource, parse_as, parse_list_as

__all__ = ["AsyncPhoneNumbersResource"]


class AsyncPhoneNumbersResource(AsyncResource):
    """``client.phone_numbers``. ``get`` and ``list`` use the same endpoint, which answers with
    one number or an array depending on the lookup key."""

    __slots__ = ()

    async def get(self, phone_number_id: str, **options: Unpack[RequestOptions]) -> PhoneNumber:
        """One phone number by its id.

        Raises:
            NotFoundError: No such number.
        """
        payload = await self._send(
            ep.GET_PHONE_NUMBER,
            options,
            phone_number_id=check_id("phone_number_id", phone_number_id),
        )
        if isinstance(payload, list) and len(payload) == 1:
            payload = payload[0]  # "phone number(s)": the lookup may answer an array
        return parse_as(ep.GET_PHONE_NUMBER, payload, PhoneNumber)

    async def list(
        self,
        *,
        agent_id: str | None = None,
        project_id: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> list[PhoneNumber]:
        """The numbers of an agent or of a project (give exactly one); empty when none.

        Raises:
            ValidationError: Neither or both of ``agent_id`` and ``project_id`` given.
        """
        if (agent_id is None) == (project_id is None):
            raise ValidationError("agent_id", "give exactly one of agent_id and project_id")
        payload = await self._send(
            ep.LIST_PHONE_NUMBERS,
            options,
            agent_id=None if agent_id is None else check_id("agent_id", agent_id),
            project_id=None if project_id is None else check_id("project_id", project_id),
        )
        if isinstance(payload, dict):
            payload = [payload]  # one number comes back as a bare object
        return parse_list_as(ep.LIST_PHONE_NUMBERS, [] if payload is None else payload, PhoneNumber)

    async def assign(
        self, number: str, *, agent_id: str, project_id: str, **options: Unpack[RequestOptions]
    ) -> None:
        """Assign a number (verified or bought on Twilio) to an agent.

        Args:
            number: The E.164 number.
            agent_id: The agent that will use it.
            project_id: The agent's project.

        Raises:
            BadRequestError: A field is missing or the number cannot be assigned.
            ValidationError: A malformed argument (nothing is sent).
        """
        await self._send(
            ep.ASSIGN_PHONE_NUMBER,
            options,
            number=check_phone_number("number", number),
            agent_id=check_id("agent_id", agent_id),
            project_id=check_id("project_id", project_id),
        )
