"""The session's recorded tour (see ``tour.py``), run once on its own loop in a worker thread."""

from __future__ import annotations

import asyncio
import concurrent.futures

import pytest

from tests.robustness.tour import WireSamples, record_tour


@pytest.fixture(scope="session")
def wire_samples() -> WireSamples:
    """Real response bodies for every operation."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, record_tour()).result(timeout=60)
