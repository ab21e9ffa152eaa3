"""The one backend registry: every backend by name, built only when it is selected.

sim/ registers the simulators ("emulator", "lava-cpu") in `SIMULATORS`; deploy/
adds the chip ("loihi2", "auto") with `Registry.extended` (`deploy/registry.py`),
so sim never imports deploy. Nothing heavy is imported until a backend is asked for.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from spiketime.errors import UserError
from spiketime.sim.backend import Backend


@dataclass(frozen=True)
class Selection:
    backend: Backend
    note: str = ""  # why the registry chose this backend (e.g. "auto"); empty otherwise


@dataclass(frozen=True)
class Registry:
    """Backend names -> functions that build the backend (and say why, when they choose)."""

    selectors: Mapping[str, Callable[[], Selection]]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.selectors)

    def extended(self, selectors: Mapping[str, Callable[[], Selection]]) -> Registry:
        """A registry with `selectors` listed first, then this one's."""
        return Registry({**selectors, **self.selectors})

    def select(self, name: str) -> Selection:
        """The backend called `name`, with the note its selector gives."""
        if name not in self.selectors:
            raise UserError(f"unknown backend '{name}'; choose from {', '.join(self.names)}")
        return self.selectors[name]()

    def get(self, name: str) -> Backend:
        return self.select(name).backend


def _emulator() -> Selection:
    from spiketime.sim.emulator import EmulatorBackend

    return Selection(EmulatorBackend())


def _lava_cpu() -> Selection:
    from spiketime.sim.lava_cpu import LavaCpuBackend

    return Selection(LavaCpuBackend())


SIMULATORS = Registry({"emulator": _emulator, "lava-cpu": _lava_cpu})
SIM_BACKENDS = SIMULATORS.names  # the bit-exact simulators


def get_backend(name: str) -> Backend:
    """A simulator by name (the chip's names are in `spiketime.deploy.registry`)."""
    return SIMULATORS.get(name)
