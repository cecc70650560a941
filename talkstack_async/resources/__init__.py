"""One module per API resource; each method validates, names its endpoint, and builds models."""

from talkstack_async.resources.agents import AsyncAgentsResource
from talkstack_async.resources.auth import AsyncAuthResource
from talkstack_async.resources.calls import AsyncCallsResource
from talkstack_async.resources.phone_numbers import AsyncPhoneNumbersResource
from talkstack_async.resources.projects import AsyncProjectsResource
from talkstack_async.resources.user import AsyncUserResource
from talkstack_async.resources.voices import AsyncVoicesResource

__all__ = [
    "AsyncAgentsResource",
    "AsyncAuthResource",
    "AsyncCallsResource",
    "AsyncPhoneNumbersResource",
    "AsyncProjectsResource",
    "AsyncUserResource",
    "AsyncVoicesResource",
]
