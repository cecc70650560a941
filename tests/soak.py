"""Soak sizes: the full ones for the main test run, smaller ones where CI repeats the whole
suite on the oldest and newest interpreters (``TALKSTACK_TEST_SOAK=small``): there they check
that everything works on that Python, and the full soak has already run once."""

from __future__ import annotations

import os

SMALL = os.environ.get("TALKSTACK_TEST_SOAK") == "small"


def soak(full: int, small: int) -> int:
    return small if SMALL else full
