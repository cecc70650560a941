"""``python -m talkstack_async.testing --port 8765``: serve the emulator until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from talkstack_async.testing._server import TalkstackEmulator


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m talkstack_async.testing",
        description="A local Talkstack API emulator on loopback (no network, no account).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="API host port (default: 8765)")
    parser.add_argument(
        "--calls-port", type=int, default=None, help="make-call host port (default: port + 1)"
    )
    parser.add_argument("--token-ttl", type=float, default=7200.0, help="bearer token lifetime, s")
    parser.add_argument(
        "--status-interval", type=float, default=2.0, help="seconds between call status changes"
    )
    parser.add_argument(
        "--seed-calls",
        type=int,
        default=0,
        metavar="N",
        help="create an account and a project with N past calls, and print their ids",
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    calls_port = (
        args.calls_port if args.calls_port is not None else (args.port + 1 if args.port else 0)
    )
    async with TalkstackEmulator(
        host=args.host,
        port=args.port,
        calls_port=calls_port,
        token_ttl=args.token_ttl,
        status_interval=args.status_interval,
    ) as emulator:
        print(f"TALKSTACK_BASE_URL={emulator.base_url}")
        print(f"TALKSTACK_CALLS_BASE_URL={emulator.calls_base_url}")
        if args.seed_calls:
            seed = emulator.seed(calls=args.seed_calls)
            # A throwaway key of a throwaway local account: printing it is the point.
            print(f"TALKSTACK_API_KEY={seed.account.api_key}")
            print(f"# project {seed.project_id}, agent {seed.agent_id}, {args.seed_calls} calls")
        print("# serving; Ctrl-C to stop", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
