"""``talkstack projects|agents|voices ...``: list, get and create, printed in a chosen format."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from talkstack_sync.cli._credentials import open_client
from talkstack_sync.cli._output import records_for, write_records

__all__ = [
    "agents_get",
    "agents_list",
    "projects_create",
    "projects_get",
    "projects_list",
    "voices_list",
]


def _print(models: list[Any], fmt: str) -> int:
    write_records(records_for(models, fmt), sys.stdout, fmt)
    return 0


def projects_list(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        return _print(client.projects.list(), args.format)


def projects_get(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        return _print([client.projects.get(args.project_id)], args.format)


def projects_create(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        project = client.projects.create(name=args.name, description=args.description)
    return _print([project], args.format)


def agents_list(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        return _print(client.agents.list(project_id=args.project), args.format)


def agents_get(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        return _print([client.agents.get(args.agent_id, project_id=args.project)], args.format)


def voices_list(args: argparse.Namespace) -> int:
    with open_client(args) as client:
        return _print(client.voices.list(), args.format)
