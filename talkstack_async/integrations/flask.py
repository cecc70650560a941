"""A Flask view for call-status webhooks (``talkstack[flask]``)::

    from talkstack_async.integrations.flask import call_status_view

    app.add_url_rule("/talkstack", view_func=call_status_view(on_event, token=SECRET),
                     methods=["POST"])

``on_event`` is a plain function (Flask views are blocking; from one, use ``talkstack_sync``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, request

from talkstack_async._errors import WebhookPayloadError, WebhookTooLargeError
from talkstack_async._webhooks import _MAX_BODY, unwrap_call_status_event
from talkstack_async.models.webhook import CallStatusEvent

__all__ = ["call_status_view"]


def call_status_view(
    on_event: Callable[[CallStatusEvent], Any], *, token: str | None = None
) -> Callable[[], Any]:
    def view() -> Any:
        try:
            if request.content_length is not None and request.content_length > _MAX_BODY:
                raise WebhookTooLargeError("body too large")
            body = request.stream.read(_MAX_BODY + 1)
            event = unwrap_call_status_event(
                body, dict(request.headers), query=request.args, token=token
            )
        except WebhookPayloadError as exc:
            return jsonify({"error": str(exc)}), exc.status
        on_event(event)
        return Response(status=204)

    view.__name__ = "talkstack_call_status"
    return view
