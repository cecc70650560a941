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


def main(argv: Sequence[str] | None = None) -> int:
    from talkstack_sync.cli._parser import build_parser

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except ValidationError as exc:
        parser.exit(2, f"talkstack: error: {exc}\n")
    except MissingCredentialsError as exc:
        hint = "set TALKSTACK_API_KEY (or run 'talkstack login --save')"
        parser.exit(2, f"talkstack: error: {exc}; {hint}\n")
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
