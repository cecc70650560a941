"""Which credentials a command uses, and the optional stored refresh token of ``login --save``.

Order: ``--api-key``; then the environment (``TALKSTACK_API_KEY``, ``TALKSTACK_TOKEN`` with
``TALKSTACK_REFRESH_TOKEN``, ``TALKSTACK_EMAIL`` with ``TALKSTACK_PASSWORD``), read by the
client itself; then the credentials file that ``talkstack login --save`` wrote. Nothing is
stored unless asked, and the file is created with mode 0600 and rewritten (atomically) each
time the client rotates the tokens.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from talkstack_async import TokenSet
from talkstack_async._config import ENV_API_KEY, ENV_EMAIL, ENV_TOKEN
from talkstack_sync import Talkstack

__all__ = ["ENV_CREDENTIALS_FILE", "credentials_path", "open_client", "save_tokens"]

ENV_CREDENTIALS_FILE = "TALKSTACK_CREDENTIALS_FILE"


def credentials_path(args: argparse.Namespace) -> Path:
    given = getattr(args, "credentials_file", None) or os.environ.get(ENV_CREDENTIALS_FILE)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "talkstack" / "credentials.json"


def open_client(args: argparse.Namespace, *, authenticated: bool = True) -> Talkstack:
    """A client for this command line's flags and environment."""
    given = {
        "base_url": args.base_url,
        "calls_base_url": args.calls_base_url,
        "timeout": args.timeout,
        "max_retries": args.max_retries,
    }
    options: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if args.api_key:
        return Talkstack(api_key=args.api_key, **options)
    in_env = any(os.environ.get(name) for name in (ENV_API_KEY, ENV_TOKEN, ENV_EMAIL))
    stored = credentials_path(args)
    if authenticated and not in_env and stored.is_file():
        tokens = _load(stored)
        return Talkstack(
            token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            token_expires_at=tokens.expires_at,
            on_tokens=lambda fresh: save_tokens(stored, fresh),
            **options,
        )
    return Talkstack(**options)


def save_tokens(path: Path, tokens: TokenSet) -> None:
    """Write ``tokens`` to ``path`` (mode 0600) through a temporary file, so a crash never
    leaves half a file and the secret is never readable by others, not even briefly."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = {
        "token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_at": tokens.expires_at.isoformat() if tokens.expires_at else None,
    }
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(data, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def _load(path: Path) -> TokenSet:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        expires = data.get("expires_at")
        return TokenSet(
            str(data["token"]),
            data.get("refresh_token"),
            datetime.fromisoformat(expires) if expires else None,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise SystemExit(
            f"talkstack: error: {path} is not a credentials file; "
            "run 'talkstack login --save' again or delete it"
        ) from None
