"""Every backend by name: the simulators from sim/, plus "loihi2" and "auto".

"auto" takes the chip when lava-loihi is installed and a Loihi 2 system is
reachable, and otherwise Lava's CPU simulator, with a note saying why.
Nothing heavy is imported until a backend is asked for.
"""
from __future__ import annotations

from dataclasses import dataclass

from spiketime.errors import UserError
from spiketime.sim.backend import Backend
from spiketime.sim.backends import SIM_BACKENDS

BACKENDS = ("auto", "loihi2", *SIM_BACKENDS)
FALLBACK = "lava-cpu"


@dataclass(frozen=True)
class Selection:
    backend: Backend
    note: str = ""  # why "auto" chose what it chose; empty otherwise


def select_backend(name: str) -> Selection:
    """The backend called `name`; for "auto", also the reason for the choice."""
    from spiketime.sim import backends as sim

    if name == "loihi2":
        from spiketime.deploy.loihi2_hw import Loihi2Backend, require_loihi2

        require_loihi2()  # fail before any work, naming what is missing
        return Selection(Loihi2Backend())
    if name == "auto":
        from spiketime.deploy.loihi2_hw import Loihi2Backend, availability

        status = availability()
        if status.ok:
            return Selection(Loihi2Backend(), "auto: using the Loihi 2 chip")
        return Selection(sim.get_backend(FALLBACK),
                         f"note: Loihi 2 not available ({status.missing}); using {FALLBACK} instead")
    if name in SIM_BACKENDS:
        return Selection(sim.get_backend(name))
    raise UserError(f"unknown backend '{name}'; choose from {', '.join(BACKENDS)}")


def get_backend(name: str) -> Backend:
    return select_backend(name).backend
