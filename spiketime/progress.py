"""Progress bars that show on a terminal and stay quiet in CI or when piped.

The one rule for every bar (`shown`): on a terminal, not in CI. The Python API
(`spiketime.api`) runs its work inside `bars(False)` (or `bars(True)` when a caller
passes progress=True), which overrides the rule for that call only: a context
variable, set and reset around the call, so threads and other calls are unaffected.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")

_SHOW: contextvars.ContextVar[bool | None] = contextvars.ContextVar("spiketime_bars",
                                                                     default=None)


def shown() -> bool:
    """Is a progress bar drawn here and now?"""
    forced = _SHOW.get()
    if forced is not None:
        return forced
    return not os.environ.get("CI") and sys.stderr.isatty()


@contextlib.contextmanager
def bars(show: bool) -> Iterator[None]:
    """Draw (True) or hide (False) every progress bar while the block runs."""
    token = _SHOW.set(bool(show))
    try:
        yield
    finally:
        _SHOW.reset(token)


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterable[T]:
    return tqdm(items, desc=desc, total=total, disable=not shown(), leave=False)
