"""Progress bars that show on a terminal and stay quiet in CI or when piped."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(items: Iterable[T], desc: str, total: int | None = None) -> Iterable[T]:
    quiet = bool(os.environ.get("CI")) or not sys.stderr.isatty()
    return tqdm(items, desc=desc, total=total, disable=quiet, leave=False)
