"""``talkstack``: the command line, built on the blocking client.

``main(argv)`` runs one command and returns its exit code: 0 ok, 1 the API or the run failed,
2 bad usage or input (nothing was sent), 130 interrupted. Errors are one line on stderr; the
SDK's errors never contain credentials.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from talkstack_async import (
    APIConnectionError,
    MissingCredentialsError,
    TalkstackError,
    ValidationError,
)

__all__ = ["main"]


# The SDK's argument names as this command line spells them.
_FLAGS = {
    "base_url": "--base-url",
    "calls_base_url": "--calls-base-url",
    "path": "--file",
    "project_id": "--project",
    "agent_id": "--agent",
    "concurrency": "--concurrency",
    "rate": "--rate",
    "journal": "--journal",
    "ledger": "--ledger",
    "campaign": "--campaign",
    "page_size": "--page-size",
    "timeout": "--timeout",
    "max_retries": "--max-retries",
    "finish_timeout": "--finish-timeout",
    "api_key": "--api-key",
    "email": "--email",
}


def _in_cli_terms(error: ValidationError) -> str:
    """A ValidationError naming the command line's flags, not the SDK's arguments."""
    flag = _FLAGS.get(error.argument, error.argument)
    problem = error.problem.replace(
        "pass allow_insecure_http=True to send credentials unencrypted",
        "use https:// (the command line never sends credentials unencrypted to another host)",
    )
    return f"{flag}: {problem}"


def main(argv: Sequence[str] | None = None) -> int:
    from talkstack_sync.cli._parser import build_parser

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except ValidationError as exc:
        parser.exit(2, f"talkstack: error: {_in_cli_terms(exc)}\n")
    except MissingCredentialsError:
        parser.exit(
            2,
            "talkstack: error: no credentials for this command: set TALKSTACK_API_KEY (or "
            "pass --api-key), or TALKSTACK_EMAIL and TALKSTACK_PASSWORD, or run "
            "'talkstack login --save'\n",
        )
    except APIConnectionError as exc:
        parser.exit(1, f"talkstack: error: {exc} (is --base-url right?)\n")
    except TalkstackError as exc:
        parser.exit(1, f"talkstack: error: {exc}\n")
    except KeyboardInterrupt:
        parser.exit(130, "talkstack: interrupted\n")
    except BrokenPipeError:
        # `talkstack calls history | head`: the reader left. Point stdout at /dev/null so the
        # interpreter's final flush does not fail again, and exit as a killed writer would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:
        parser.exit(1, f"talkstack: error: {exc}\n")
