"""The backend registry with the chip: sim's simulators plus "loihi2" and "auto".

"auto" takes the chip when lava-loihi is installed and a Loihi 2 system is
reachable, and otherwise Lava's CPU simulator, with a note saying why.
Nothing heavy is imported until a backend is asked for.
"""
from __future__ import annotations

from spiketime.sim.backend import Backend
from spiketime.sim.registry import SIMULATORS, Selection

FALLBACK = "lava-cpu"


def _loihi2() -> Selection:
    from spiketime.deploy.loihi2_hw import Loihi2Backend, require_loihi2

    require_loihi2()  # fail before any work, naming what is missing
    return Selection(Loihi2Backend())


def _auto() -> Selection:
    from spiketime.deploy.loihi2_hw import Loihi2Backend, availability

    status = availability()
    if status.ok:
        return Selection(Loihi2Backend(), "auto: using the Loihi 2 chip")
    return Selection(SIMULATORS.get(FALLBACK),
                     f"note: Loihi 2 not available ({status.missing}); using {FALLBACK} instead")


REGISTRY = SIMULATORS.extended({"auto": _auto, "loihi2": _loihi2})
BACKENDS = REGISTRY.names  # ("auto", "loihi2", "emulator", "lava-cpu")


def select_backend(name: str) -> Selection:
    """The backend called `name`; for "auto", also the reason for the choice."""
    return REGISTRY.select(name)


def get_backend(name: str) -> Backend:
    return REGISTRY.get(name)
