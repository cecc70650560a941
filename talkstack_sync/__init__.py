"""Talkstack SDK, blocking facade: the same API as ``talkstack_async``, without ``await``.

::

    with Talkstack(api_key="...") as client:
        project = client.projects.create(name="Demo", description="...")
        for call in client.calls.history(project_id=project.id, status="completed"):
            print(call.sid, call.status)

The client runs ``talkstack_async`` on an event loop in a background thread; models and
errors are the very same classes.
"""

# The very same models, errors and constants as talkstack_async (not copies).
from talkstack_async import *  # noqa: F403
from talkstack_async import __all__ as _async_all
from talkstack_sync._generated import *  # noqa: F403
from talkstack_sync._generated import __all__ as _sync_all

__all__ = [name for name in _async_all if name != "AsyncTalkstack"] + _sync_all
