"""spiketime as a library: the jobs of the command line as Python functions.

    load_dataset(path)                       -> Dataset (X, y per split, metadata)
    load_model(checkpoint)                   -> torch.nn.Module (a SpikingNet)
    train(data, out, **options)              -> TrainResult (the `spiketime train` job)
    export(model_or_checkpoint, out, ...)    -> Path (NetX HDF5, or a NIR graph)
    run(netx, X, backend="emulator")         -> RunResult (output spikes, hidden layers)
    compare(model=..., netx=..., data=...)   -> ComparisonReport (the `spiketime compare` job)

`spiketime.testing.assert_parity` wraps `compare` for a user's pytest. Every function
takes keyword options with the command's names and defaults (the configs' defaults:
`spiketime.train.config`, `spiketime.parity.comparison.CompareConfig`), accepts path-like
inputs, raises `spiketime.errors.UserError` (a ValueError) on bad input, prints nothing
on stdout and draws no progress bar unless `progress=True`. docs/api.md has a worked
example of each. This module imports torch: `import spiketime` exposes these names
lazily, so it stays light.
"""
from __future__ import annotations

import os
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spiketime import guards
from spiketime.data.dataset import Dataset, OpenDataset, open_dataset
from spiketime.data.dataset import load_dataset as _load_dataset
from spiketime.data.sources import ArraySource
from spiketime.deploy.registry import get_backend
from spiketime.errors import UserError
from spiketime.export import writing
from spiketime.export.netx import read_netx
from spiketime.parity import compare_job
from spiketime.parity.compare_job import ComparisonReport
from spiketime.progress import bars
from spiketime.sim.backend import RunResult, check_input
from spiketime.train import config as job
from spiketime.train.config import model_name
from spiketime.train.model import ModelConfig, load_checkpoint
from spiketime.train.run import FILES, metadata, resolve_device, train_run
from spiketime.train.run import RunResult as TrainResult
from spiketime.train.trainer import TrainConfig

__all__ = ["ComparisonReport", "RunResult", "TrainResult", "compare", "export", "load_dataset",
           "load_model", "run", "train"]

PathLike = str | os.PathLike


def load_dataset(path: PathLike) -> Dataset:
    """A dataset file (as `spiketime data` writes it), dense in memory: `.train.X` uint8
    [N, C, T], `.train.y`, `.test`, `.meta` (task, class names, dt_ms, ...)."""
    return _load_dataset(path)


def load_model(checkpoint: PathLike) -> torch.nn.Module:
    """A trained checkpoint (best.pt, last.pt, model.pt) as a SpikingNet in eval mode."""
    return load_checkpoint(guards.input_file(checkpoint, "checkpoint")).eval()


# --- train -------------------------------------------------------------------------------

_SET_ELSEWHERE = ("inputs", "outputs")  # the data's channels and classes


def train_options() -> dict[str, Any]:
    """Every option `train` takes and its default: the configs' own, and the training job's
    where the configs leave it to the job (`spiketime.train.config.TRAIN_JOB_*`). These are
    the base recipe's values; on speech data `recipe="auto"` takes the speech recipe's
    (`spiketime.train.config.RECIPES`) for the options it sets."""
    found: dict[str, Any] = {}
    for config in (ModelConfig, TrainConfig):
        for f in fields(config):
            if f.name not in _SET_ELSEWHERE and f.name not in found:
                found[f.name] = None if f.default is MISSING else f.default
    return found | {"hidden": job.TRAIN_JOB_HIDDEN, "val_fraction": job.TRAIN_JOB_VAL_FRACTION,
                    "device": "auto", "resume": False, "overwrite": False, "recipe": "auto"}


def train(data: PathLike | Dataset, out: PathLike, *, progress: bool = False,
          recipe: str = "auto", **options: Any) -> TrainResult:
    """Train one network on `data`'s train split into the run folder `out` (best.pt,
    last.pt, history.json, curve.png), as `spiketime train` does. `options` are the
    fields of `spiketime.train.config.ModelConfig` and `TrainConfig` (hidden=(128,),
    delays=True, epochs=..., seed=... sets both seeds), plus device ("auto", "cpu",
    "cuda"), resume and overwrite; `recipe` ("auto", "base", "speech":
    `spiketime.train.config.RECIPES`) fills the ones left out, "auto" by the data's task.
    Returns the last epoch's model, the history and the checkpoint paths."""
    known = train_options()
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise UserError(f"unknown train option {unknown[0]!r}; the options are "
                        f"{', '.join(known)}")
    job.recipe_for(recipe, None)  # an unknown recipe is refused before the data is read
    guards.seed(int(options.get("seed", known["seed"])), "seed")
    ds = _open(data)
    chosen = known | job.RECIPES[job.recipe_for(recipe, ds.meta.task)] | options
    if isinstance(chosen["hidden"], int):
        chosen["hidden"] = (chosen["hidden"],)
    guards.output_folder(out, FILES, "out")
    split = {f.name for f in fields(TrainConfig)}
    mcfg = ModelConfig(inputs=ds.channels, outputs=ds.n_classes,
                       **{k: v for k, v in chosen.items()
                          if k in {f.name for f in fields(ModelConfig)}})
    tcfg = TrainConfig(**{k: v for k, v in chosen.items() if k in split})
    name = model_name(mcfg)
    with bars(progress):
        return train_run(ds.train, mcfg, tcfg, out, meta=metadata(name, ds, mcfg, tcfg),
                         resume=bool(chosen["resume"]), overwrite=bool(chosen["overwrite"]),
                         device=resolve_device(str(chosen["device"])), desc=f"train {name}")


def _open(data: PathLike | Dataset) -> OpenDataset:
    """A dataset file (events stay on disk) or a Dataset in memory, its splits as sources."""
    if isinstance(data, Dataset):
        return OpenDataset(data.meta, ArraySource(data.train.X, data.train.y),
                           ArraySource(data.test.X, data.test.y))
    if isinstance(data, (str, os.PathLike)):
        return open_dataset(data)
    raise UserError(f"data must be a dataset file or a spiketime Dataset, got "
                    f"{type(data).__name__}")


# --- export ------------------------------------------------------------------------------

def export(model_or_checkpoint: PathLike | torch.nn.Module, out: PathLike, *,
           format: str = "netx", clip: bool = False, dt_ms: float | None = None) -> Path:
    """Write a trained network as NetX HDF5 for Lava / Loihi 2 (or, format="nir", a NIR
    graph at `dt_ms` or the time step it records), as `spiketime export` does. The model
    is a checkpoint path, a SpikingNet, or a lava-dl network in memory (slayer CUBA Dense
    blocks in `network.blocks`); with format="nir" it may also be a NetX file. Values
    the chip cannot hold are refused (UserError) unless `clip`, which clips them and
    records each clip in the file's metadata. Returns the path written."""
    source = model_or_checkpoint
    if not isinstance(source, torch.nn.Module):
        source = guards.input_file(source, "checkpoint")
        if Path(out).resolve() == source.resolve():
            raise UserError("out would replace the checkpoint; give the output file a new name")
    guards.output_file(out, "out", announce=False)
    net, shape = writing.network_of(
        source, netx=format == "nir" and not isinstance(source, torch.nn.Module)
        and writing.is_netx(source))
    return writing.write(net, shape, out, format=format, dt_ms=dt_ms, clip=clip).path


# --- run ---------------------------------------------------------------------------------

def run(netx: PathLike, X: np.ndarray, backend: str = "emulator", *,
        hidden: bool = False) -> RunResult:
    """Run a NetX network on spike trains X (0/1, [samples, channels, steps]) on
    "emulator" (bit-exact, fast), "lava-cpu", "loihi2" or "auto". Every sample starts
    from rest. Returns `.output` uint8 [N, classes, T] and, with hidden=True, `.hidden`
    (one array per hidden layer)."""
    net = read_netx(netx)
    X = check_input(net, X, "X")
    with bars(False):
        return get_backend(backend).run(netx, X, hidden=hidden)


# --- compare -----------------------------------------------------------------------------

def compare(model: Any = None, netx: PathLike | None = None, data: PathLike | None = None, *,
            backends: Any = None, report: PathLike | None = None, progress: bool = False,
            **options: Any) -> ComparisonReport:
    """Trained vs deployed under time reversal, jitter and deletion, as `spiketime
    compare` does; nothing is written until `.save(folder)`.

    `model` is a checkpoint path, a network in memory (a SpikingNet or a lava-dl network),
    or a NIR graph (a .nir path or a `nir.NIRGraph`, judged by the statistics alone);
    `netx` its deployment and `data` the dataset file. Or `report`: a pipeline report.json,
    every model it names (data= overrides its dataset). `backends`: a list (default
    ["emulator", "lava-cpu"]; with NIR ["emulator"]). `options`: CompareConfig's fields
    (tolerance_pp=1.0, lava_subset, seed, resamples, confidence, split, limit, exact,
    allow_degenerate) and the perturbation levels (jitter=(1, 2, 4), neuron_jitter,
    deletion, timing)."""
    if report is not None:
        if model is not None or netx is not None:
            raise UserError("give either report= or model= and netx=, not both")
        models, data = compare_job.report_models(guards.input_file(report, "report"), data)
    else:
        missing = [n for n, v in (("model", model), ("netx", netx), ("data", data)) if v is None]
        if missing:
            raise UserError(f"compare needs {', '.join(missing)} (or report=)")
        models = (compare_job.model_spec(guards.input_file(netx, "netx"), **_trained(model)),)
    cfg = compare_job.config(models, guards.input_file(data, "data"), backends=backends,
                             **options)
    with bars(progress):
        return compare_job.compare(cfg)


def _trained(model: Any) -> dict[str, Any]:
    """`model_spec`'s keyword for the trained side `model`."""
    if isinstance(model, torch.nn.Module):
        return {"module": model}
    if isinstance(model, (str, os.PathLike)):
        path = guards.input_file(model, "model")
        return {"nir": path} if _is_nir(path) else {"checkpoint": path}
    if type(model).__name__ == "NIRGraph":
        return {"nir": model}
    raise UserError(f"model must be a checkpoint path, a torch.nn.Module or a NIR graph, got "
                    f"{type(model).__name__}")


def _is_nir(path: Path) -> bool:
    """A NIR graph file (HDF5 with a 'node' group); a checkpoint is a torch zip."""
    import h5py

    if path.suffix == ".nir":
        return True
    if not h5py.is_hdf5(path):
        return False
    with h5py.File(path, "r") as f:
        return "node" in f
