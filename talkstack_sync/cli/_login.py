"""``talkstack login``: check an account's credentials, and keep a refresh token if asked."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from talkstack_async._config import ENV_EMAIL, ENV_PASSWORD
from talkstack_sync.cli._credentials import credentials_path, open_client, save_tokens

__all__ = ["login"]


def login(args: argparse.Namespace) -> int:
    email = args.email or os.environ.get(ENV_EMAIL) or _ask("Email: ", secret=False)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = os.environ.get(ENV_PASSWORD) or _ask("Password: ", secret=True)
    with open_client(args, authenticated=False) as client:
        result = client.auth.login(email=email, password=password)
    who = result.user.name if result.user and result.user.name else email
    print(f"Logged in as {who}.")
    if args.save:
        path = credentials_path(args)
        save_tokens(path, result.tokens)
        print(f"Saved a refresh token to {path} (mode 0600); delete the file to forget it.")
    else:
        print(
            "Nothing was stored. Commands read TALKSTACK_API_KEY or TALKSTACK_EMAIL and "
            "TALKSTACK_PASSWORD from the environment; or run 'talkstack login --save' to keep "
            "a refresh token in a file only you can read."
        )
    return 0


def _ask(prompt: str, *, secret: bool) -> str:
    if not sys.stdin.isatty():
        what = "password (use --password-stdin or TALKSTACK_PASSWORD)" if secret else "email"
        raise SystemExit(f"talkstack: error: no {what} given and no terminal to ask on")
    return getpass.getpass(prompt) if secret else input(prompt)
