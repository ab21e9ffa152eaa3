"""spiketime: timing-coded SNNs from lava-dl training to NetX, Lava and Loihi 2.

This folder is the shared core every stage may import and which imports no stage
(`errors`, `fileio`, `guards`, `readout`, `progress`, `loihi2`, `event_sums`), plus the
CLI on top (`cli`,
`commands/`). Stages, in the one direction data and imports flow: ``spiketime.data``
-> ``spiketime.train`` -> ``spiketime.export`` -> ``spiketime.sim`` -> ``spiketime.deploy`` ->
``spiketime.parity`` (tests/test_layers.py checks it). On top, beside the CLI, the Python
API (`api`, `testing`; docs/api.md).

The API's names are offered here lazily, so `import spiketime` imports no torch:
`spiketime.load_dataset`, `load_model`, `train`, `export`, `run`, `compare`,
`ComparisonReport`, `TrainResult`, `RunResult`, and the module `spiketime.testing`.
`spiketime.train` and `spiketime.export` are the stage subpackages, made callable
(spiketime/callable_package.py): `spiketime.train(...)` is `spiketime.api.train(...)`.
"""
from __future__ import annotations

import importlib
from typing import Any

from spiketime.errors import UserError

__version__ = "0.1.0"

_API = ("load_dataset", "load_model", "run", "compare", "ComparisonReport", "TrainResult",
        "RunResult")
_CALLABLE_PACKAGES = ("train", "export")  # subpackages that forward calls to the API
__all__ = ["UserError", "__version__", "testing", *_CALLABLE_PACKAGES, *_API]


def __getattr__(name: str) -> Any:  # PEP 562: imported on first use
    if name in _API:
        return getattr(importlib.import_module("spiketime.api"), name)
    if name == "testing":
        return importlib.import_module("spiketime.testing")
    if name in _CALLABLE_PACKAGES:  # a stage: its own layer is the one it imports
        return importlib.import_module(f"spiketime.{name}")
    raise AttributeError(f"module 'spiketime' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
