"""Progress bars (tqdm, from the optional ``talkstack[cli]`` extra) on a terminal only."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["NoProgress", "bar_wanted", "progress_bar"]


class NoProgress:
    """Stands in for a bar when stderr is not a terminal or tqdm is not installed."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def bar_wanted(mode: str) -> bool:
    """``mode``: auto (a bar when stderr is a terminal), always, or never."""
    return mode == "always" or (mode == "auto" and sys.stderr.isatty())


def progress_bar(mode: str, *, total: int | None, unit: str, description: str) -> Any:
    """A tqdm bar on stderr, or a ``NoProgress`` (see ``bar_wanted``)."""
    if not bar_wanted(mode):
        return NoProgress()
    try:
        from tqdm import tqdm
    except ImportError:
        if mode == "always":
            print("talkstack: no progress bar: pip install 'talkstack[cli]'", file=sys.stderr)
        return NoProgress()
    # Counts with thousands separators and the unit as a word ("8,749 calls", not "8749call");
    # the bar itself takes what is left of the terminal's width.
    if total is None:
        layout = "{desc}: {n:,} " + unit + "s [{elapsed}, {rate_noinv_fmt}]{postfix}"
    else:
        layout = (
            "{desc}: {percentage:3.0f}%|{bar}| {n:,}/{total:,} [{elapsed}<{remaining}]{postfix}"
        )
    return tqdm(
        total=total,
        unit=f" {unit}s",
        desc=description,
        file=sys.stderr,
        dynamic_ncols=True,
        bar_format=layout,
    )
