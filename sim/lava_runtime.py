"""Import Lava's runtime safely, whatever fixed the multiprocessing start method first.

Lava calls `multiprocessing.set_start_method('fork')` when its runtime is first
imported, which raises if anything before it (scikit-learn, a tqdm lock, the user's
own code) already fixed the start method. Call `load()` before importing Lava.
"""
from __future__ import annotations

import functools
import importlib
import multiprocessing
import sys

_LAVA_MP = "lava.magma.runtime.message_infrastructure.multiprocessing"


def load() -> None:
    if _LAVA_MP in sys.modules:
        return
    original = multiprocessing.set_start_method
    multiprocessing.set_start_method = functools.partial(original, force=True)
    try:
        importlib.import_module(_LAVA_MP)
    finally:
        multiprocessing.set_start_method = original
