"""A Django view for call-status webhooks (``talkstack[django]``)::

    from talkstack_async.integrations.django import call_status_view

    urlpatterns = [path("talkstack", call_status_view(on_event, token=SECRET))]

The view is exempt from CSRF (the sender is Talkstack, not a browser; the token is the check)
and accepts POST only. ``on_event`` is a plain function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from talkstack_async._errors import WebhookPayloadError, WebhookTooLargeError
from talkstack_async._webhooks import _MAX_BODY, unwrap_call_status_event
from talkstack_async.models.webhook import CallStatusEvent

__all__ = ["call_status_view"]


def call_status_view(
    on_event: Callable[[CallStatusEvent], Any], *, token: str | None = None
) -> Callable[[HttpRequest], HttpResponse]:
    @csrf_exempt
    @require_POST
    def view(request: HttpRequest) -> HttpResponse:
        try:
            declared = request.META.get("CONTENT_LENGTH")
            if declared and declared.isdigit() and int(declared) > _MAX_BODY:
                raise WebhookTooLargeError("body too large")
            body = request.read(_MAX_BODY + 1)
            event = unwrap_call_status_event(
                body, dict(request.headers), query=request.GET, token=token
            )
        except WebhookPayloadError as exc:
            return JsonResponse({"error": str(exc)}, status=exc.status)
        on_event(event)
        return HttpResponse(status=204)

    return view  # type: ignore[no-any-return]
