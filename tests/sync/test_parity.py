"""The blocking surface mirrors the async one exactly, and the generated code is current."""

from __future__ import annotations

import inspect

from talkstack_async import AsyncTalkstack
from talkstack_async.resources import AsyncCallsResource
from talkstack_sync import CallsResource, Talkstack
from talkstack_sync._codegen import TARGET, render
from tests.sync.parity import async_resources, compare_classes, compare_clients


def test_every_async_member_has_an_identical_blocking_twin() -> None:
    assert compare_clients(AsyncTalkstack, Talkstack, async_resources()) == []


def test_the_generated_module_is_up_to_date() -> None:
    assert TARGET.read_text() == render(), (
        "talkstack_sync/_generated.py is stale: run python -m talkstack_sync._codegen"
    )


def test_the_parity_check_catches_a_missing_and_a_drifted_method() -> None:
    members = dict(vars(CallsResource))
    del members["analyze"]

    def make(self, number: str, *, project_id: str) -> None:  # agent_id dropped
        """Place an outbound call."""

    members["make"] = make
    members.pop("__slots__", None)
    broken = type("CallsResource", (object,), members)
    problems = compare_classes(AsyncCallsResource, broken)
    assert "CallsResource.analyze: missing" in problems
    assert any(p.startswith("CallsResource.make: parameters differ") for p in problems)
    assert "CallsResource.make: docstrings differ" in problems


def test_the_parity_check_catches_an_async_generator_mirrored_as_a_list() -> None:
    members = {k: v for k, v in vars(CallsResource).items() if k != "__slots__"}

    def history_pages(self, *args: object, **kwargs: object) -> list[object]:
        return list(members["history_pages"](self, *args, **kwargs))

    history_pages.__doc__ = AsyncCallsResource.history_pages.__doc__
    history_pages.__signature__ = inspect.signature(members["history_pages"])  # type: ignore[attr-defined]
    members["history_pages"] = history_pages
    broken = type("CallsResource", (object,), members)
    assert compare_classes(AsyncCallsResource, broken) == [
        "CallsResource.history_pages: an async generator's twin must be a generator"
    ]


def test_the_parity_check_catches_a_missing_resource() -> None:
    class Incomplete(Talkstack):
        pass

    Incomplete.__annotations__ = {
        k: v for k, v in inspect.get_annotations(Talkstack, eval_str=True).items() if k != "voices"
    }
    assert "Incomplete.voices: missing resource" in compare_clients(
        AsyncTalkstack, Incomplete, async_resources()
    )


def test_the_sync_package_exports_the_same_models_errors_and_constants() -> None:
    import talkstack_async
    import talkstack_sync

    shared = [n for n in talkstack_async.__all__ if n != "AsyncTalkstack"]
    assert all(getattr(talkstack_sync, n) is getattr(talkstack_async, n) for n in shared)
    assert set(shared) <= set(talkstack_sync.__all__)
    assert "AsyncTalkstack" not in talkstack_sync.__all__
