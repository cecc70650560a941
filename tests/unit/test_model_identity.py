"""What makes two models, or two enum values, the same: decided once, held here."""

from __future__ import annotations

import pickle

import pytest

from talkstack_async import Agent, Call, CallStatus, LoginStatus, PlacedCall, QuestionType
from talkstack_async._convert import converter


def _call(**fields: object) -> Call:
    return converter.structure({"callSid": "CA1", "status": "completed", **fields}, Call)


def test_models_hash_by_content_even_with_dict_fields() -> None:
    a = _call(data={"slot": ["9am", "10am"]}, partnerId="p1")
    b = _call(data={"slot": ["9am", "10am"]}, partnerId="p1")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert {a: "first"}[b] == "first"


def test_models_that_differ_only_in_unknown_fields_are_different() -> None:
    assert _call(partnerId="p1") != _call(partnerId="p2")
    assert _call(partnerId="p1") != _call()
    assert len({_call(partnerId="p1"), _call(partnerId="p2")}) == 2


def test_every_model_class_is_hashable() -> None:
    import talkstack_async.models as models
    from talkstack_async.models._base import Model

    classes = [c for c in vars(models).values() if isinstance(c, type) and issubclass(c, Model)]
    assert len(classes) >= 10
    for cls in classes:
        assert cls.__hash__ is not None, cls


@pytest.mark.parametrize("spelling", ["COMPLETED", "Completed", "completed"])
def test_statuses_match_whatever_the_casing(spelling: str) -> None:
    status = CallStatus(spelling)
    assert status is CallStatus.COMPLETED
    assert status.is_final
    assert status.value == "completed"  # the API's own spelling


def test_question_types_match_whatever_the_casing() -> None:
    assert QuestionType("boolean") is QuestionType.BOOLEAN
    assert QuestionType("SELECTOR") is QuestionType.SELECTOR


def test_an_unknown_value_is_one_object_kept_as_sent_and_not_final() -> None:
    first, second = CallStatus("on-hold"), CallStatus("on-hold")
    assert first is second
    assert not first.is_known
    assert not first.is_final
    assert first == "on-hold"
    assert first.value == "on-hold"
    assert pickle.loads(pickle.dumps(first)) is first  # noqa: S301 - our own bytes
    assert CallStatus("On-Hold") is not first  # unknown: kept exactly as the server spelt it
    assert LoginStatus(99) is LoginStatus(99)
    assert not LoginStatus(99).name.startswith("SUCCESS")


def test_a_model_is_still_frozen_and_reads_the_same() -> None:
    placed = converter.structure({"call_id": "CA9", "to": "+1", "from": "+2"}, PlacedCall)
    assert hash(placed) == hash(PlacedCall(sid="CA9", to="+1", from_="+2"))
    with pytest.raises(AttributeError):
        placed.sid = "x"  # type: ignore[misc]
    agent = converter.structure({"id": "a1", "name": "Ava"}, Agent)
    assert hash(agent) == hash(converter.structure({"id": "a1", "name": "Ava"}, Agent))


def test_a_missing_project_reads_as_not_found_though_the_api_said_400() -> None:
    from talkstack_async import NotFoundError

    error = NotFoundError("project does not exist.", method="GET", path="/project/p9", status=400)
    assert "400 from GET /project/p9 (the API's answer when it does not exist)" in str(error)
    assert str(NotFoundError("x", method="POST", path="/call", status=404)) == (
        "404 from POST /call: x"
    )


def test_every_resource_takes_its_own_id_first_and_its_parent_as_a_keyword() -> None:
    import inspect

    from talkstack_sync._codegen import resource_classes

    for resource in resource_classes().values():
        for name, method in vars(resource).items():
            if name.startswith("_") or not callable(method):
                continue
            for parameter in inspect.signature(method).parameters.values():
                if parameter.name in ("project_id", "agent_id") and not name.startswith(
                    ("set_active", "get_active", "remove_active")
                ):
                    own = resource.__name__.lower().startswith(
                        "asyncprojects" if parameter.name == "project_id" else "asyncagents"
                    )
                    if own and name != "create" and name != "list":
                        continue  # the resource's own id comes first
                    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, (
                        f"{resource.__name__}.{name}({parameter.name}) must be keyword-only"
                    )
