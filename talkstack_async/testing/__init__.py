"""A local, stateful Talkstack for tests, demos and benchmarks: no network, no account.

::

    from talkstack_async import AsyncTalkstack
    from talkstack_async.testing import TalkstackEmulator

    async with TalkstackEmulator() as emulator:
        seed = emulator.seed(calls=1_000)
        async with AsyncTalkstack(**emulator.client_options(seed.account)) as client:
            async for call in client.calls.history(project_id=seed.project_id):
                ...

Every endpoint of the API reference is served with its documented paths, status codes and
quirks; state lives in memory. ``EmulatorThread`` runs it beside blocking code, the pytest
plugin provides the ``talkstack_server`` fixture, and ``python -m talkstack_async.testing``
serves it on fixed ports.
"""

from talkstack_async.testing._accounts import Mail
from talkstack_async.testing._clock import FakeClock
from talkstack_async.testing._faults import Fault, FaultKind, FaultRule
from talkstack_async.testing._log import RecordedRequest, RequestLog
from talkstack_async.testing._server import Account, Seed, TalkstackEmulator
from talkstack_async.testing._thread import EmulatorThread
from talkstack_async.testing._webhooks import WebhookDelivery

__all__ = [
    "Account",
    "EmulatorThread",
    "FakeClock",
    "Fault",
    "FaultKind",
    "FaultRule",
    "Mail",
    "RecordedRequest",
    "RequestLog",
    "Seed",
    "TalkstackEmulator",
    "WebhookDelivery",
]
