"""Backend registry for the simulators in sim/ (deploy/ adds the chip)."""
from __future__ import annotations

from spiketime.errors import UserError
from spiketime.sim.backend import Backend

SIM_BACKENDS = ("emulator", "lava-cpu")


def get_backend(name: str) -> Backend:
    if name == "lava-cpu":
        from spiketime.sim.lava_cpu import LavaCpuBackend

        return LavaCpuBackend()
    if name == "emulator":
        from spiketime.sim.emulator import EmulatorBackend

        return EmulatorBackend()
    raise UserError(f"unknown backend '{name}'; choose from {', '.join(SIM_BACKENDS)}")
