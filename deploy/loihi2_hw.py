"""The Loihi 2 hardware backend: netx.hdf5.Network under Loihi2HwCfg.

Written against Lava's documented API and lava-dl's own Loihi 2 tests
(`tests/lava/lib/dl/netx/test_hdf5_nx.py`): spikes go in through lava-loihi's
`embedded_io.spike.PyToNxAdapter` and come out through `NxToPyAdapter` into a
host-side RingBuffer. It has NOT been run on a chip here (no lava-loihi, no
Loihi 2 system); its orchestration is tested with the chip parts replaced.

Sample protocol, the same as the Lava CPU backend's: all samples stream through
one compiled network; each sample's T steps are followed by `io_latency` silent
steps (time for spikes still inside the IO adapters), then every neuron's u and
v and every synapse buffer is set back to zero, so each sample starts from rest.
Output step t of sample k is read at stream step k * (T + io_latency) + io_latency + t.
"""
from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from spiketime.errors import UserError
from spiketime.export.netx import NetxNetwork, read_netx
from spiketime.sim import lava_runtime
from spiketime.sim.backend import RunResult, check_input
from spiketime.sim.lava_stream import LavaParts, run_streamed

# Output offset of the IO adapters relative to Lava's CPU simulation. lava-dl's
# netx tests read the same output steps on CPU (test_hdf5.py) and on Loihi 2
# (test_hdf5_nx.py), so 0; unverified here. A chip run that shows a constant
# shift against `--backend lava-cpu` sets it.
IO_LATENCY = 0

# lava-loihi modules the chip path needs besides lava.utils.loihi's own check.
_LAVA_LOIHI_MODULES = (
    "lava.proc.embedded_io",  # the spike IO adapters
    # the Loihi 2 compiler (as Loihi2.is_loihi2_available checks it)
    "lava.magma.compiler.subcompilers.nc.ncproc_compiler",
)


@dataclass(frozen=True)
class Availability:
    ok: bool
    missing: str = ""  # what is missing, one sentence; empty when ok


def availability() -> Availability:
    """Whether lava-loihi is installed and a Loihi 2 system is reachable, as Lava checks it."""
    from lava.utils import loihi

    if not loihi.is_installed():
        return Availability(False, "lava-loihi is not installed (lava.utils.loihi.is_installed() "
                                   "is False; Intel distributes it to INRC members)")
    for module in _LAVA_LOIHI_MODULES:
        if not _importable(module):
            return Availability(False, f"lava-loihi is installed but {module} cannot be imported")
    if _slurm_available() or os.environ.get("NXSDKHOST"):
        return Availability(True)
    return Availability(False, "no Loihi 2 system reachable: no SLURM controller answers `sinfo` "
                               "and NXSDKHOST (an Oheo Gulch / Kapoho Point host) is not set")


def require_loihi2() -> None:
    status = availability()
    if not status.ok:
        raise UserError(f"cannot use Loihi 2: {status.missing}")


def connect_host() -> None:
    """Point Lava at the Loihi 2 system: SLURM when it answers, else the NXSDKHOST board.

    Reads Lava's own settings from the environment: PARTITION, BOARD, LOIHI_GEN
    (default N3B3) and NXSDKHOST."""
    from lava.utils import loihi

    try:
        gen = loihi.ChipGeneration(os.environ.get("LOIHI_GEN", loihi.ChipGeneration.N3B3.value))
        if _slurm_available():
            loihi.use_slurm_host(partition=os.environ.get("PARTITION"),
                                 board=os.environ.get("BOARD"), loihi_gen=gen)
        else:
            loihi.use_ethernet_host(os.environ["NXSDKHOST"], loihi_gen=gen)
    except (ImportError, ValueError, KeyError) as exc:
        raise UserError(f"cannot reach the Loihi 2 system: {exc}") from None


def _slurm_available() -> bool:
    from lava.utils import slurm

    try:
        return slurm.is_available()
    except OSError:  # no `sinfo` binary: Lava only catches SubprocessError
        return False


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def hardware_parts() -> LavaParts:
    lava_runtime.load()
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2HwCfg
    from lava.proc import embedded_io as eio
    from lava.proc import io

    return LavaParts(network=netx.hdf5.Network, source=io.source.RingBuffer,
                     sink=io.sink.RingBuffer, run_steps=RunSteps, run_cfg=Loihi2HwCfg,
                     in_adapter=eio.spike.PyToNxAdapter, out_adapter=eio.spike.NxToPyAdapter)


class Loihi2Backend:
    name = "loihi2"

    def __init__(self, parts: Callable[[], LavaParts] | None = None,
                 io_latency: int = IO_LATENCY) -> None:
        """parts=None runs on the chip (after checking it is there); anything else
        runs the same protocol on the given parts (e.g. Lava's CPU simulator)."""
        if io_latency < 0:
            raise ValueError(f"io_latency must be >= 0, got {io_latency}")
        self.parts = parts
        self.io_latency = io_latency

    def run(self, netx_file: str | os.PathLike, X: np.ndarray, *,
            hidden: bool = False) -> RunResult:
        net = read_netx(netx_file)
        X = check_input(net, X, "input")
        if X.shape[0] == 0 or X.shape[2] == 0:
            raise UserError("Loihi 2 needs at least one sample and one step")
        refuse_illegal(net, netx_file)
        if self.parts is None:
            require_loihi2()
            connect_host()
            parts = hardware_parts()
        else:
            parts = self.parts()
        return run_streamed(parts, netx_file, X, hidden=hidden, io_latency=self.io_latency,
                            desc=self.name)


def refuse_illegal(net: NetxNetwork, netx_file: str | os.PathLike) -> None:
    """Refuse a network the chip cannot hold; resource estimates are left to Lava's compiler."""
    from spiketime.deploy.chip_check import check_network

    hard = [v for v in check_network(net).violations if not v.estimate]
    if hard:
        more = f" (and {len(hard) - 1} more)" if len(hard) > 1 else ""
        raise UserError(f"{netx_file} is not legal on Loihi 2: {hard[0].message}{more}; "
                        f"see `spiketime check {netx_file}`")
