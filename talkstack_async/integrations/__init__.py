"""Ready webhook endpoints for web frameworks (each an optional extra).

- ``talkstack_async.integrations.starlette`` (``talkstack[starlette]``): Starlette and FastAPI.
- ``talkstack_async.integrations.flask`` (``talkstack[flask]``).
- ``talkstack_async.integrations.django`` (``talkstack[django]``).

Each checks the shared token, reads at most 1 MiB, parses the body with
``unwrap_call_status_event`` and passes the ``CallStatusEvent`` to your callback; it answers
204 when handled, 400 for a body that is not an event, 401 for a bad token, 413 for a body over
1 MiB, and lets an exception of your callback become the framework's 500 (so a retrying sender
tries again).
"""
