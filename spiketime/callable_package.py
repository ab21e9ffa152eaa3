"""Two stage packages that are also functions: `spiketime.train(...)`, `spiketime.export(...)`.

`spiketime.train` and `spiketime.export` are subpackages (the folders train/ and export/),
and the Python API has functions of the same names (`spiketime.api.train`, `.export`).
Once anything imports `spiketime.train.model`, the attribute `spiketime.train` is the
subpackage, whatever `spiketime/__init__.py` offers. So the subpackage is made callable:
its module object gets a `ModuleType` subclass whose `__call__` imports `spiketime.api`
at call time and forwards to the function. The package stays importable and light (no
torch until the call), and `spiketime.train` is one object whatever was imported first.
This is the one sanctioned edge from a stage to a later layer (tests/test_layers.py).
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import Any


def _forward(function: str) -> type[types.ModuleType]:
    class CallablePackage(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return getattr(importlib.import_module("spiketime.api"), function)(*args, **kwargs)

    CallablePackage.__name__ = CallablePackage.__qualname__ = f"CallablePackage[{function}]"
    return CallablePackage


def make_callable(package: str, function: str) -> None:
    """Calling the module `package` calls `spiketime.api.<function>` with the same arguments."""
    module = sys.modules[package]
    module.__class__ = _forward(function)
    module.__doc__ = ((module.__doc__ or "").rstrip() + f"\n\nCalled, `{package}(...)` is "
                      f"`spiketime.api.{function}(...)` (spiketime/callable_package.py).\n")
