"""Run the emulator on its own event loop in a background thread, for blocking code."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Any

from talkstack_async.testing._server import TalkstackEmulator

__all__ = ["EmulatorThread"]


class EmulatorThread:
    """``with EmulatorThread(token_ttl=1) as emulator:`` - a running ``TalkstackEmulator``.

    Works from sync tests, from scripts, and beside any event loop (the emulator has its own),
    so a client on another loop or thread reaches it over loopback like a real server.
    Arguments are those of ``TalkstackEmulator``.
    """

    def __init__(self, **options: Any) -> None:
        self.emulator = TalkstackEmulator(**options)
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="talkstack-emulator", daemon=True)

    def start(self) -> TalkstackEmulator:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error
        return self.emulator

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join()

    def __enter__(self) -> TalkstackEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.emulator.start()
        except BaseException as exc:  # reported to the thread that called start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.emulator.stop()
