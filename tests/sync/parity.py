"""Compares the blocking surface with the async one, member by member."""

from __future__ import annotations

import inspect
from typing import Any

from talkstack_sync._codegen import resource_classes, sync_annotation

# Async-only spellings and their blocking counterparts (the async client's ``close`` is an
# alias of ``aclose``; both are the blocking client's hand-written ``close``).
_RENAMED = {"aclose": "close", "close": "close"}


def _normalise(annotation: Any) -> Any:
    if not isinstance(annotation, str):
        return annotation
    return sync_annotation(annotation.replace("'", '"'))


def _public(cls: type) -> dict[str, Any]:
    return {n: m for n, m in vars(cls).items() if not n.startswith("_")}


def _params(signature: inspect.Signature) -> list[tuple[Any, ...]]:
    return [
        (p.name, p.kind, p.default, _normalise(p.annotation)) for p in signature.parameters.values()
    ]


def _compare_callables(where: str, async_fn: Any, sync_fn: Any) -> list[str]:
    problems = []
    a, s = inspect.signature(async_fn), inspect.signature(sync_fn)
    a_params = [
        (p.name, p.kind, p.default, _normalise(p.annotation)) for p in a.parameters.values()
    ]
    s_params = [
        (p.name, p.kind, p.default, _normalise(p.annotation)) for p in s.parameters.values()
    ]
    if a_params != s_params:
        problems.append(f"{where}: parameters differ: {a} vs {s}")
    if _normalise(a.return_annotation) != _normalise(s.return_annotation):
        problems.append(
            f"{where}: return types differ: {a.return_annotation} vs {s.return_annotation}"
        )
    if inspect.getdoc(async_fn) != inspect.getdoc(sync_fn):
        problems.append(f"{where}: docstrings differ")
    if inspect.iscoroutinefunction(sync_fn) or inspect.isasyncgenfunction(sync_fn):
        problems.append(f"{where}: the blocking twin is asynchronous")
    if inspect.isasyncgenfunction(async_fn) and not inspect.isgeneratorfunction(sync_fn):
        problems.append(f"{where}: an async generator's twin must be a generator")
    return problems


def compare_classes(async_cls: type, sync_cls: type) -> list[str]:
    """Every public member of ``async_cls`` needs a twin of the same shape in ``sync_cls``."""
    problems: list[str] = []
    for name, member in _public(async_cls).items():
        twin_name = _RENAMED.get(name, name)
        where = f"{sync_cls.__name__}.{twin_name}"
        twin = inspect.getattr_static(sync_cls, twin_name, None)
        if twin is None:
            problems.append(f"{where}: missing")
        elif isinstance(member, property):
            if not isinstance(twin, property):
                problems.append(f"{where}: should be a property")
            elif inspect.getdoc(member) != inspect.getdoc(twin):
                problems.append(f"{where}: docstrings differ")
        elif callable(member) and name not in _RENAMED:
            problems += _compare_callables(where, member, twin)
    return problems


def compare_clients(async_client: type, sync_client: type, resources: dict[str, type]) -> list[str]:
    """The clients, their constructors, and every resource class reachable from them."""
    problems = compare_classes(async_client, sync_client)
    problems += _compare_callables(
        f"{sync_client.__name__}.__init__", async_client.__init__, sync_client.__init__
    )
    sync_hints = inspect.get_annotations(sync_client, eval_str=True)
    for attribute, async_resource in resources.items():
        sync_resource = sync_hints.get(attribute)
        if sync_resource is None:
            problems.append(f"{sync_client.__name__}.{attribute}: missing resource")
            continue
        problems += compare_classes(async_resource, sync_resource)
    for name in ("close", "__enter__", "__exit__"):
        if not hasattr(sync_client, name):
            problems.append(f"{sync_client.__name__}.{name}: missing")
    return problems


def async_resources() -> dict[str, type]:
    return resource_classes()
