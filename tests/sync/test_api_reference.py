"""api.md lists every method of both facades with its route, and is never stale."""

from __future__ import annotations

from talkstack_sync import _apidoc
from talkstack_sync._codegen import resource_classes


def test_api_md_is_current() -> None:
    written = _apidoc.TARGET.read_text(encoding="utf-8")
    assert written == _apidoc.render(), "api.md is stale: run python -m talkstack_sync._apidoc"


def test_every_public_method_is_in_the_reference_with_a_route() -> None:
    text = _apidoc.render()
    for attribute, cls in resource_classes().items():
        for name, member in vars(cls).items():
            if name.startswith("_") or not callable(member):
                continue
            heading = f"### `client.{attribute}.{name}`"
            assert heading in text, heading
            section = text.split(heading, 1)[1].split("\n### ", 1)[0]
            assert "- route: `" in section, f"{attribute}.{name} has no route"
    assert "`POST /call/makeCall` (calls host), never retried" in text
