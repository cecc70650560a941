"""Dialer input: request forms, keys, and CSV files read one row at a time."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from talkstack_async import CallRequest, CallRequestFile, ValidationError
from talkstack_async.campaigns._requests import check_call_request, request_digest

IDS = {"project_id": "p1", "agent_id": "a1"}


def test_every_request_form_becomes_the_same_checked_request() -> None:
    forms = [
        "+14155550100",
        {"number": "+14155550100"},
        {"number": "+14155550100", "projectId": "p1", "agentId": "a1", "dynamicVariables": ""},
        CallRequest("+14155550100"),
    ]
    requests = [check_call_request("r", form, **IDS) for form in forms]
    assert requests == [CallRequest("+14155550100", "p1", "a1", {})] * 4
    assert len({request_digest(r) for r in requests}) == 1


def test_keys_name_requests() -> None:
    base = check_call_request("r", "+14155550100", **IDS)
    other_vars = check_call_request(
        "r", {"number": "+14155550100", "dynamic_variables": {"a": 1}}, **IDS
    )
    keyed = check_call_request("r", {"number": "+14155550100", "key": "crm-17"}, **IDS)
    same_key = check_call_request("r", {"number": "+14155550199", "key": "crm-17"}, **IDS)
    assert request_digest(base) != request_digest(other_vars)
    assert request_digest(keyed) == request_digest(same_key)  # the key alone names it


def test_csv_rows_stream_with_extra_columns_as_variables(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text(
        "number,name,dynamicVariables,key\n"
        '+14155550100,Ada,"{""slot"": ""9am""}",k1\n'
        "\n"
        "+14155550101,,,\n"
        "+14155550102,Bob,{broken,\n",
        encoding="utf-8",
    )
    rows = list(CallRequestFile(path))
    assert rows == [
        {"number": "+14155550100", "key": "k1", "dynamicVariables": {"name": "Ada", "slot": "9am"}},
        {"number": "+14155550101"},
        {"number": "+14155550102", "dynamicVariables": "{broken"},
    ]
    assert list(CallRequestFile(path)) == rows  # re-iterable
    with pytest.raises(ValidationError, match="is not JSON"):
        check_call_request("requests[2]", rows[2], **IDS)


def test_a_csv_without_a_number_column_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text("phone\n+14155550100\n")
    with pytest.raises(ValidationError, match="'number' column"):
        CallRequestFile(path)
    with pytest.raises(ValidationError, match="cannot read"):
        CallRequestFile(tmp_path / "missing.csv")


def test_a_million_rows_are_never_in_memory_at_once(tmp_path: Path) -> None:
    path = tmp_path / "million.csv"
    with path.open("w") as file:
        file.write("number,name\n")
        file.writelines(f"+1415{i:07d},n{i}\n" for i in range(1_000_000))
    rows = iter(CallRequestFile(path))
    tracemalloc.start()  # over the first 100,000 rows only: tracing makes reading 5x slower
    try:
        count = sum(1 for _, _ in zip(range(100_000), rows, strict=False))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    count += sum(1 for _ in rows)
    assert count == 1_000_000
    assert peak < 200_000  # bytes: a few rows' worth, not the 22 MB file


@pytest.mark.parametrize("field", ["project_id", "agent_id"])
@pytest.mark.parametrize("empty", ["", "   ", "\t"])
@pytest.mark.parametrize("form", ["python", "api", "CallRequest"])
def test_an_empty_id_in_a_row_is_bad_input_not_the_runs_default(
    field: str, empty: str, form: str
) -> None:
    if form == "CallRequest":
        row: object = CallRequest("+14155550100", **{field: empty})  # type: ignore[arg-type]
    else:
        name = field if form == "python" else {"project_id": "projectId"}.get(field, "agentId")
        row = {"number": "+14155550100", name: empty}
    with pytest.raises(ValidationError) as caught:
        check_call_request("requests[4]", row, **IDS)
    assert caught.value.argument == f"requests[4].{field}"
    assert "is empty" in caught.value.problem


def test_a_row_without_ids_or_with_none_takes_the_runs() -> None:
    given = CallRequest("+14155550100", "p1", "a1", {})
    for row in (
        {"number": "+14155550100"},
        {"number": "+14155550100", "project_id": None, "agentId": None},
        CallRequest("+14155550100", project_id=None, agent_id=None),
    ):
        assert check_call_request("r", row, **IDS) == given
    own = check_call_request("r", {"number": "+14155550100", "projectId": "p9"}, **IDS)
    assert (own.project_id, own.agent_id) == ("p9", "a1")
    with pytest.raises(ValidationError, match=r"r\.agent_id: is missing"):
        check_call_request("r", "+14155550100", project_id="p1", agent_id=None)


def test_an_empty_csv_cell_still_means_not_given(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text(
        "number,projectId,agentId\n+14155550100,,\n+14155550101,  ,a7\n+14155550102,p7,\n",
        encoding="utf-8",
    )
    requests = [check_call_request("r", row, **IDS) for row in CallRequestFile(path)]
    assert [(r.project_id, r.agent_id) for r in requests] == [
        ("p1", "a1"),
        ("p1", "a7"),
        ("p7", "a1"),
    ]
