"""A trained network to a file: what `spiketime export` and `spiketime.export` do.

    network_of   a spiketime checkpoint, a factory (package.module:function) or a
                 network in memory (a SpikingNet, or lava-dl blocks in `network.blocks`)
                 -> a NetxNetwork with the metadata the file will carry, and its shape
    write        a NetxNetwork -> NetX HDF5 (values the chip cannot hold refused, or
                 clipped with `clip`) or a NIR graph at a time step: an `Exported`

Nothing is printed: the clips and the summary are in the `Exported` record.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import torch

from spiketime.errors import UserError
from spiketime.export.from_slayer import to_netx
from spiketime.export.netx import (
    NetxNetwork,
    clip_to_chip,
    range_violations,
    read_netx,
    write_netx,
)
from spiketime.export.nir_out import dt_of, to_nir, write_nir
from spiketime.train.foreign import ForeignNet, load_factory
from spiketime.train.model import (
    SpikingNet,
    architecture,
    config_of,
    load_checkpoint,
    read_checkpoint,
)

FORMATS = ("netx", "nir")


@dataclass(frozen=True)
class Exported:
    path: Path
    format: str  # "netx" or "nir"
    shape: str  # e.g. "12-16-3 with delays"
    layers: int
    max_delay: int  # steps
    dt_ms: float | None  # NIR graphs: the time step written
    clipped: tuple[str, ...] = ()  # with clip: each value clipped into range

    def summary(self) -> str:
        """The line `spiketime export` prints."""
        if self.format == "nir":
            return (f"wrote {self.path}: NIR graph {self.shape}, {self.layers} layers, "
                    f"dt {self.dt_ms:g} ms, max delay {self.max_delay} steps")
        return (f"wrote {self.path}: {self.shape}, {self.layers} layers, max delay "
                f"{self.max_delay} steps")


def network_of(source: str | os.PathLike | torch.nn.Module, *, factory: bool = False,
               netx: bool = False) -> tuple[NetxNetwork, str]:
    """The network to write and its shape. `source` is a checkpoint path, a factory's
    `package.module:function` (factory=True), a network in memory, or, with netx=True,
    a NetX file (to write as NIR)."""
    if isinstance(source, torch.nn.Module):
        return _from_module(source)
    if factory:
        model = load_factory(str(source))
        net = to_netx(model, {"model": str(source).partition(":")[2],
                              "source": f"factory {source}"})
        return net, _sizes(model.config.inputs, *model.config.hidden, model.config.outputs)
    path = Path(source)
    if netx:
        net = read_netx(path)
        return net, _sizes(net.input_size, *(lay.out_features for lay in net.layers))
    data = read_checkpoint(path)
    model = load_checkpoint(path)
    meta = {k: v for k, v in data["extra"].items() if k not in ("history", "threads",
                                                                  "world_size", "epoch")}
    meta.setdefault("model", path.stem)
    if "epoch" in data["extra"]:
        meta["epoch"] = data["extra"]["epoch"]
    return to_netx(model, meta), architecture(config_of(data, path))


def is_netx(path: str | os.PathLike) -> bool:
    """Is `path` an HDF5 file (a NetX network, where a checkpoint is a torch zip)?"""
    path = Path(path)
    return path.is_file() and h5py.is_hdf5(path)


def _from_module(module: torch.nn.Module) -> tuple[NetxNetwork, str]:
    name = type(module).__name__
    meta = {"model": name, "source": f"{name} in memory"}
    if isinstance(module, SpikingNet):
        return to_netx(module, meta), architecture(module.config)
    wrapped = module if isinstance(module, ForeignNet) else ForeignNet(module, f"the {name}")
    c = wrapped.config
    return to_netx(wrapped, meta), _sizes(c.inputs, *c.hidden, c.outputs)


def _sizes(*sizes: int) -> str:
    return "-".join(map(str, sizes))


def write(net: NetxNetwork, shape: str, out: str | os.PathLike, *, format: str = "netx",
          dt_ms: float | None = None, clip: bool = False) -> Exported:
    """Write `net` to `out` atomically as NetX HDF5 or a NIR graph (at `dt_ms`, else the
    time step its metadata records)."""
    if format not in FORMATS:
        raise UserError(f"unknown format {format!r}; choose {' or '.join(FORMATS)}")
    if dt_ms is not None and format != "nir":
        raise UserError("--dt applies to --format nir only")
    clipped: list[str] = []
    if clip:
        net, clipped = clip_to_chip(net)
    if format == "nir":
        problems = range_violations(net)
        if problems:
            raise UserError("cannot export: " + "; ".join(problems))
        dt = dt_of(net.metadata, dt_ms)
        path = write_nir(to_nir(net, dt), out)
        return Exported(path, format, shape, len(net.layers), net.max_delay, dt, tuple(clipped))
    path = write_netx(net, out)
    return Exported(path, format, shape, len(net.layers), net.max_delay, None, tuple(clipped))
