"""The ``talkstack`` logger; ``TALKSTACK_LOG=info|debug`` attaches a stderr handler to it."""

from __future__ import annotations

import logging
import os

__all__ = ["configure_from_env", "logger"]

logger = logging.getLogger("talkstack")

_configured = False


def configure_from_env() -> None:
    """Honour ``TALKSTACK_LOG`` once per process; a library never configures logging otherwise."""
    global _configured
    if _configured:
        return
    _configured = True
    level = os.environ.get("TALKSTACK_LOG", "").strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
