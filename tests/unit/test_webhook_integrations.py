"""Webhooks beyond aiohttp: the framework-agnostic unwrap, and the ready endpoints for
Starlette/FastAPI, Flask and Django, each driven by its framework's own test client."""

from __future__ import annotations

import json
from typing import Any

import pytest

from talkstack_async import (
    CallStatusEvent,
    WebhookPayloadError,
    WebhookTokenError,
    WebhookTooLargeError,
    unwrap_call_status_event,
)

TOKEN = "hook-secret-1"
EVENT = json.dumps({"callSid": "CA77", "status": "completed", "to": "+14155550123"})
JSON = {"Content-Type": "application/json"}


def test_unwrap_checks_the_token_the_size_and_the_body() -> None:
    event = unwrap_call_status_event(EVENT, {"content-type": "application/json"}, token=None)
    assert (event.sid, str(event.status)) == ("CA77", "completed")
    assert unwrap_call_status_event(EVENT, {"x-talkstack-token": TOKEN}, token=TOKEN).sid
    assert unwrap_call_status_event(EVENT, {}, query={"token": TOKEN}, token=TOKEN).sid
    with pytest.raises(WebhookTokenError) as bad:
        unwrap_call_status_event(EVENT, {}, query={"token": "nope"}, token=TOKEN)
    assert bad.value.status == 401
    with pytest.raises(WebhookTooLargeError) as big:
        unwrap_call_status_event(b"x" * (1 << 20 | 1), {})
    assert big.value.status == 413
    with pytest.raises(WebhookPayloadError) as junk:
        unwrap_call_status_event(b'{"hello": 1}', JSON)
    assert junk.value.status == 400
    form = unwrap_call_status_event(
        "CallSid=CA9&CallStatus=busy", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert (form.sid, str(form.status)) == ("CA9", "busy")


def _expectations(post: Any, seen: list[CallStatusEvent]) -> None:
    """The same answers from every framework: 204, 401, 400, 413."""
    assert post(f"/hook?token={TOKEN}", EVENT) == 204
    assert [e.sid for e in seen] == ["CA77"]
    assert post("/hook?token=wrong", EVENT) == 401
    assert post(f"/hook?token={TOKEN}", '{"no": "call"}') == 400
    assert post(f"/hook?token={TOKEN}", "x" * ((1 << 20) + 10)) == 413
    assert len(seen) == 1


def test_the_starlette_endpoint() -> None:
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from talkstack_async.integrations.starlette import call_status_endpoint

    seen: list[CallStatusEvent] = []

    async def on_event(event: CallStatusEvent) -> None:
        seen.append(event)

    app = Starlette()
    app.add_route("/hook", call_status_endpoint(on_event, token=TOKEN), methods=["POST"])
    with TestClient(app) as client:
        _expectations(
            lambda url, body: client.post(url, content=body, headers=JSON).status_code, seen
        )


def test_the_fastapi_route() -> None:
    fastapi = pytest.importorskip("fastapi")
    from starlette.testclient import TestClient

    from talkstack_async.integrations.starlette import call_status_endpoint

    seen: list[CallStatusEvent] = []
    app = fastapi.FastAPI()
    app.add_route("/hook", call_status_endpoint(seen.append, token=TOKEN), methods=["POST"])
    with TestClient(app) as client:
        _expectations(
            lambda url, body: client.post(url, content=body, headers=JSON).status_code, seen
        )


def test_the_flask_view() -> None:
    from flask import Flask

    from talkstack_async.integrations.flask import call_status_view

    seen: list[CallStatusEvent] = []
    app = Flask(__name__)
    app.add_url_rule(
        "/hook", view_func=call_status_view(seen.append, token=TOKEN), methods=["POST"]
    )
    client = app.test_client()
    _expectations(lambda url, body: client.post(url, data=body, headers=JSON).status_code, seen)


urlpatterns: list[Any] = []  # the Django test's URLconf (this module)
_DJANGO_SEEN: list[CallStatusEvent] = []


def test_the_django_view() -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False, SECRET_KEY="test", ROOT_URLCONF=__name__, ALLOWED_HOSTS=["testserver"],
            MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"], USE_TZ=True,
            DATA_UPLOAD_MAX_MEMORY_SIZE=None,
        )  # fmt: skip
        django.setup()
    from django.test import Client
    from django.urls import path

    from talkstack_async.integrations.django import call_status_view

    urlpatterns[:] = [path("hook", call_status_view(_DJANGO_SEEN.append, token=TOKEN))]
    client = Client(enforce_csrf_checks=True)
    _expectations(
        lambda url, body: client.post(url, data=body, content_type="application/json").status_code,
        _DJANGO_SEEN,
    )
    assert client.get(f"/hook?token={TOKEN}").status_code == 405
