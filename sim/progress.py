"""Progress bars that show on a terminal and stay quiet in CI or when piped."""
from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterable[T]:
    # tqdm's default lock is a multiprocessing lock, which fixes the process start
    # method; Lava sets it itself on import and fails if it is already set.
    tqdm.set_lock(threading.RLock())
    quiet = bool(os.environ.get("CI")) or not sys.stderr.isatty()
    return tqdm(items, desc=desc, total=total, disable=quiet, leave=False)
