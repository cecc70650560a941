"""A Starlette / FastAPI endpoint for call-status webhooks (``talkstack[starlette]``)::

    from talkstack_async.integrations.starlette import call_status_endpoint

    app.add_route("/talkstack", call_status_endpoint(on_event, token=SECRET), methods=["POST"])
    # FastAPI: app.add_api_route("/talkstack", call_status_endpoint(...), methods=["POST"])

``on_event`` may be a function or a coroutine function.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from talkstack_async._errors import WebhookPayloadError, WebhookTooLargeError
from talkstack_async._webhooks import _MAX_BODY, unwrap_call_status_event
from talkstack_async.models.webhook import CallStatusEvent

__all__ = ["call_status_endpoint"]


def call_status_endpoint(
    on_event: Callable[[CallStatusEvent], Any], *, token: str | None = None
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > _MAX_BODY:
                    raise WebhookTooLargeError("body too large")
            event = unwrap_call_status_event(
                bytes(body), request.headers, query=request.query_params, token=token
            )
        except WebhookPayloadError as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        result = on_event(event)
        if inspect.isawaitable(result):
            await result
        return Response(status_code=204)

    return endpoint
