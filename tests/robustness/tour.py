"""The live tour: every operation once against the emulator, recording what the server said.

``learn_before``/``learn_after`` carry ids and secrets from one operation to the next; the
secret sweep runs the same sequence.
"""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

from talkstack_async import AsyncTalkstack
from talkstack_async._transport import RequestSpec, Transport
from talkstack_async.testing import TalkstackEmulator
from tests.robustness.operations import OPERATIONS, Ids, invoke


class WireSamples(dict[str, list[tuple[int, Any]]]):
    """operation -> the (status, decoded JSON body) of each response it received, in order.

    Its repr is short: the bodies hold the tour's tokens and keys, and hypothesis prints its
    test's arguments when an example fails.
    """

    def __repr__(self) -> str:
        return f"<wire samples of {len(self)} operations>"


async def learn_before(operation: str, ids: Ids, emulator: TalkstackEmulator) -> None:
    if operation == "auth.verify_email":
        ids.code = emulator.mailbox(ids.new_email)[-1].code
    elif operation == "auth.reset_password":
        ids.reset_token = emulator.mailbox(ids.email)[-1].code
    elif operation == "calls.wait_until_finished":
        await asyncio.sleep(0.1)  # let the emulated call move past "queued"


def learn_after(operation: str, ids: Ids, result: Any) -> None:
    if operation == "auth.login":
        ids.refresh_token = result.tokens.refresh_token
    elif operation == "auth.change_password":
        ids.password += "!"
    elif operation == "auth.reset_password":
        ids.password = ids.password.removesuffix("!")
    elif operation == "projects.create":
        ids.project = result.id
    elif operation == "voices.list":
        ids.voice = result[0].id
    elif operation == "agents.create":
        ids.agent = result.id
    elif operation == "phone_numbers.list":
        ids.phone_number_id = result[0].id
    elif operation == "calls.make":
        ids.sid = result.sid


async def record_tour() -> WireSamples:
    samples = WireSamples()
    current = [""]
    send = Transport._send

    async def recording(self: Transport, spec: RequestSpec) -> tuple[int, Any]:
        status, decoded = await send(self, spec)
        samples.setdefault(current[0], []).append((status, decoded))
        return status, decoded

    async with TalkstackEmulator(status_interval=0.01) as emulator:
        account = emulator.create_account()
        ids = Ids(email=account.email, password=account.password)
        options = emulator.client_options()
        with mock.patch.object(Transport, "_send", recording):
            async with AsyncTalkstack(
                email=account.email, password=account.password, **options
            ) as client:
                for operation, arguments in OPERATIONS.items():
                    await learn_before(operation, ids, emulator)
                    current[0] = operation
                    result = await invoke(client, operation, arguments(ids))
                    learn_after(operation, ids, result)
    return samples
