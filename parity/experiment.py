"""`spiketime experiment`: the paper's grid, tasks x {tau, tau+delay} x seeds, trained and deployed.

A *cell* is one (task, model, seed): generate the task's dataset for that seed,
audit it for rate and position shortcuts and train the non-spiking reference on it
(`spiketime.data.reference`: what the data allows), train, export to NetX, run the deployed
network on the emulator over the whole test set under every sweep condition
(original, reversed, per-spike jitter, per-neuron jitter, deletion, timing
randomization), rerun a seeded subset of the original and reversed samples on Lava
to confirm the emulator spike for spike, and evaluate the trained network on the
same inputs. Each finished cell is written atomically to `cells/<key>/cell.json`
under the output folder, with a fingerprint of everything that determines it; a
killed run restarted with the same command skips every finished cell and redoes
the rest from scratch (training is seeded and single-threaded, so a redone cell
equals an uninterrupted one).

Cells are independent: `workers` runs them in parallel processes; `shard=(i, n)`
runs only the cells whose index is i modulo n, so a cluster scheduler can spread
them over machines sharing the output folder, and `merge` assembles results.json,
results.md and the figures from whatever cells the folder holds.
"""
from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from spiketime.data.reference import ReferenceConfig
from spiketime.errors import UserError
from spiketime.fileio import atomic_path
from spiketime.records import Record
from spiketime.train.config import MODELS, ModelConfig, TrainConfig

CELL_VERSION = 1

# Tasks at the paper's scale: rate-free (every channel's count identical in every sample),
# circular placement (no position cue), 1-ms steps. Intervals in steps.
_PAPER_TIMING = dict(steps=1000, rate_range=(2.0, 10.0), circular=True)


@dataclass(frozen=True)
class TaskSpec:
    name: str
    generator: dict  # keyword arguments of data.synthetic.generate, seed aside
    n_per_class: int = 400
    neuron: dict = field(default_factory=dict)  # ModelConfig overrides (initial decays)


@dataclass(frozen=True)
class GridSpec:
    name: str
    tasks: tuple[TaskSpec, ...]
    models: tuple[str, ...] = ("tau", "tau+delay")
    seeds: tuple[int, ...] = (0, 1, 2)
    # the network every cell trains: inputs, outputs, delays (the model) and the seed are set
    # per cell, the task's `neuron` settings on top
    model: ModelConfig = ModelConfig(inputs=0, hidden=(64,), outputs=0)
    train: TrainConfig = TrainConfig()  # its seed is set per cell
    levels: dict = field(default_factory=dict)  # sweep family -> levels
    confirm_lava: int = 8  # original and reversed samples rerun on Lava per cell
    # the non-spiking reference trained beside each dataset's audit (None: skipped)
    reference: ReferenceConfig | None = ReferenceConfig()

    def training(self) -> dict:
        """The training settings as results.json and cell fingerprints have always held them
        (hidden as an int for one layer, epochs, loss), and under "settings" any other
        ModelConfig / TrainConfig field this grid sets away from its default."""
        hidden = self.model.hidden
        keys = {"hidden": hidden[0] if len(hidden) == 1 else list(hidden),
                "epochs": self.train.epochs, "loss": self.train.loss}
        per_cell = {"inputs", "hidden", "outputs", "delays", "seed", "epochs", "loss"}
        changed = {f.name: getattr(c, f.name) for c in (self.model, self.train)
                   for f in fields(c) if f.name not in per_cell
                   and getattr(c, f.name) != f.default}
        return {**keys, **({"settings": changed} if changed else {})}

    def to_json(self) -> dict:
        """The grid as results.json's "grid" holds it."""
        d = {}
        for k, v in asdict(self).items():
            if k == "model":
                d.update(self.training())  # in the place hidden, epochs and loss always had
            elif k != "train":
                d[k] = v
        return json.loads(json.dumps(d))

    def task(self, name: str) -> TaskSpec:
        for t in self.tasks:
            if t.name == name:
                return t
        raise UserError(f"grid {self.name} has no task {name!r}; it has "
                        f"{', '.join(t.name for t in self.tasks)}")


# Coincidence is read by neurons that forget within a step or two (measured: with the
# default slow voltage decay, 0.03, hidden activity dies out and training stays near chance).
_FAST_NEURONS = {"current_decay": 0.5, "voltage_decay": 0.5}
_LEVELS = {"jitter": (2.0, 5.0, 10.0), "neuron_jitter": (2.0, 5.0, 10.0),
           "deletion": (0.1, 0.3), "timing": (0.25, 0.5, 1.0)}

# The built-in task (`spiketime pipeline`'s default, the quick grid's CCISI): rate-free,
# cue-free CCISI in 250 steps of 4 ms (the paper's 1-s window): 10 channel pairs, every
# channel fires exactly 6 times in every sample, the second of a pair 1-10 steps
# (4-40 ms) after the first in one class and 15-25 steps in the other, events placed
# circularly so no channel's spike positions depend on the class (rate and position
# audits at chance). Intervals this short want a shorter memory than the default
# voltage decay's ~33 steps: from 0.1 (~10 steps) training moves faster
# (docs/experiments.md).
BUILTIN_CCISI = TaskSpec("ccisi", dict(task="ccisi", variant="ratefree", steps=250, dt_ms=4.0,
                                       rate_range=(2.0, 10.0), interval_range=(1, 25),
                                       circular=True), 400, {"voltage_decay": 0.1})

GRIDS: dict[str, GridSpec] = {
    # Minutes on 2 cores.
    "quick": GridSpec(
        name="quick",
        tasks=(replace(BUILTIN_CCISI, n_per_class=200),
               TaskSpec("coincidence", dict(task="coincidence", variant="ratefree"), 150,
                        _FAST_NEURONS)),
        seeds=(0, 1, 2), model=ModelConfig(inputs=0, hidden=(32,), outputs=0),
        train=TrainConfig(epochs=20), levels=_LEVELS, confirm_lava=4),
    # The paper's scale: 1,000 steps of 1 ms. Tasks in the order their claims matter most,
    # so a run cut short has the long-interval CCISI (the delay claim) first.
    "full": GridSpec(
        name="full",
        tasks=(TaskSpec("ccisi-long", dict(task="ccisi", variant="ratefree",
                                           interval_range=(1, 100), **_PAPER_TIMING)),
               TaskSpec("coincidence", dict(task="coincidence", variant="ratefree"),
                        neuron=_FAST_NEURONS),
               TaskSpec("isi", dict(task="isi", variant="ratefree", interval_range=(1, 50),
                                    **_PAPER_TIMING)),
               TaskSpec("ccisi", dict(task="ccisi", variant="ratefree", interval_range=(1, 50),
                                      **_PAPER_TIMING))),
        train=TrainConfig(epochs=20), levels=_LEVELS),
}


@dataclass(frozen=True)
class Cell:
    task: TaskSpec
    model: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.task.name}/{self.model.replace('+', '_')}/s{self.seed}"


# --- a finished cell, as cell.json holds it (typed records, the keys it has always had)


@dataclass(frozen=True)
class Confirmed(Record):
    backend: str  # the confirming backend (lava-cpu)
    samples: int  # samples it reran
    identical: bool  # every output spike identical to the emulator's


@dataclass(frozen=True)
class ConditionResult(Record):
    label: str
    name: str
    level: float | None
    trained: float  # accuracy of the trained network
    deployed: float  # and of the deployed one (the emulator, every test sample)
    spike_exact: float  # fraction of samples with every output spike identical
    silent_output: float  # fraction of samples with no deployed output spike
    predicted_classes: int
    confirm: Confirmed | None  # original and reversed only, when the grid confirms


@dataclass(frozen=True)
class CellTraining(Record):
    epochs: int
    final_loss: float
    final_train_accuracy: float
    seconds: float


@dataclass(frozen=True)
class CellResult(Record):
    key: str
    task: str
    model: str
    seed: int
    test_samples: int
    chance: float  # the majority class's share of the test set
    training: CellTraining
    conditions: tuple[ConditionResult, ...]
    seconds: float
    fingerprint: dict = field(default_factory=dict)  # what determined it (`fingerprint`)

    def deployed(self, label: str) -> float:
        """The deployed accuracy under the condition `label` (NaN when it did not run)."""
        return next((c.deployed for c in self.conditions if c.label == label), math.nan)


def cells(grid: GridSpec) -> list[Cell]:
    """Every cell of the grid in a fixed order (shards index into it): task by task, seed
    by seed, so a run cut short still holds paired (tau, tau+delay) seeds."""
    return [Cell(t, m, s) for t in grid.tasks for s in grid.seeds for m in grid.models]


def fingerprint(grid: GridSpec, cell: Cell) -> dict:
    """Everything that determines a cell's result; a cached cell must match it exactly."""
    return json.loads(json.dumps({
        "version": CELL_VERSION, "task": asdict(cell.task), "model": cell.model,
        "seed": cell.seed, **grid.training(), "levels": grid.levels,
        "confirm_lava": grid.confirm_lava}))


# ---------------------------------------------------------------- one cell

def _say(msg: str) -> None:
    print(f"[spiketime] {msg}", file=sys.stderr, flush=True)


def dataset_for(task: TaskSpec, seed: int, out: Path,
                reference: ReferenceConfig | None = None):
    """The task's dataset for this seed and its shortcut audit (with the non-spiking
    reference at `reference`'s budget), cached under out/data/; a cached audit without
    that reference gets it added."""
    from spiketime.data.audit import reference_audit, shortcut_audit
    from spiketime.data.dataset import load_dataset, save_dataset
    from spiketime.data.synthetic import generate

    path = out / "data" / f"{task.name}-s{seed}.h5"
    audit_path = path.with_suffix(".audit.json")
    if path.is_file():
        ds = load_dataset(path)
    else:
        ds = generate(seed=seed, n_per_class=task.n_per_class, **task.generator)
        save_dataset(ds, path)
    audit = read_audit(audit_path) if audit_path.is_file() else None
    if audit is None:
        audit = shortcut_audit(ds, seed=seed, reference=reference)
        _write_json(audit_path, audit.to_dict())
    elif reference is not None and not (audit.reference is not None
                                        and audit.reference.trained_at(reference)):
        audit = replace(audit, reference=reference_audit(ds, seed=seed, config=reference))
        _write_json(audit_path, audit.to_dict())
    return ds, audit


def read_audit(path: Path):
    """A cached audit (out/data/<task>-s<seed>.audit.json) as its record."""
    from spiketime.data.audit import AuditResult

    return AuditResult.from_dict(json.loads(path.read_text()))


def run_cell(grid: GridSpec, cell: Cell, out: Path) -> CellResult:
    """Run one cell (or read it back when finished with the same fingerprint)."""
    import torch

    done = out / "cells" / cell.key / "cell.json"
    expected = fingerprint(grid, cell)
    if done.is_file():
        cached = json.loads(done.read_text())
        if cached.get("fingerprint") == expected:
            return CellResult.from_dict(cached)
        _say(f"{cell.key}: cached result is from other settings; running it again")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: identical results whatever the worker count
    try:
        result = _compute_cell(grid, cell, out)
    finally:
        torch.set_num_threads(threads)
    result = replace(result, fingerprint=expected)
    _write_json(done, result.to_dict())
    return result


def _compute_cell(grid: GridSpec, cell: Cell, out: Path) -> CellResult:
    import time

    from spiketime.parity.build import train_and_export
    from spiketime.parity.conditions import ORIGINAL, REVERSED
    from spiketime.parity.harness import Deployment, Rows, confirm_subset, run_grid
    from spiketime.parity.sweep import derive_seed, sweep_conditions
    from spiketime.readout import predict
    from spiketime.sim.registry import get_backend

    start = time.perf_counter()
    ds, _ = dataset_for(cell.task, cell.seed, out, grid.reference)
    mcfg = replace(grid.model, inputs=ds.channels, outputs=ds.n_classes,
                   seed=cell.seed, **MODELS[cell.model], **cell.task.neuron)
    tcfg = replace(grid.train, seed=cell.seed)
    built = train_and_export(cell.model, ds, mcfg, tcfg, out / "cells" / cell.key,
                             desc=f"train {cell.key}")
    trained_s = time.perf_counter() - start
    X, y = ds.test.X, ds.test.y
    emulator = get_backend("emulator")
    dep = [Deployment(cell.model, built.model, built.netx)]
    seed = derive_seed(cell.seed, "experiment", cell.key)
    confirm = None
    if grid.confirm_lava:
        confirm = Rows(get_backend("lava-cpu"), confirm_subset(len(y), grid.confirm_lava, seed))
    sweep = [c for c in sweep_conditions(grid.levels, seed) if c.label not in
             (ORIGINAL.label, REVERSED.label)]
    results = run_grid(dep, X, y, [ORIGINAL, REVERSED], [Rows(emulator)], confirm=confirm)
    results[(cell.model, "emulator")] += run_grid(dep, X, y, sweep, [Rows(emulator)])[
        (cell.model, "emulator")]
    conditions = []
    for r in results[(cell.model, "emulator")]:
        conditions.append(ConditionResult(
            label=r.condition.label, name=r.condition.name, level=r.condition.level,
            trained=float((r.trained_pred == r.labels).mean()),
            deployed=float((r.deployed_pred == r.labels).mean()),
            spike_exact=float(r.spike_exact.mean()),
            silent_output=float((r.deployed.reshape(len(y), -1).sum(axis=1) == 0).mean()),
            predicted_classes=int(len(np.unique(predict(r.deployed)))),
            confirm=None if r.confirm is None else Confirmed(
                r.confirm.backend, r.confirm.samples, r.confirm.identical)))
    last = built.history[-1]
    return CellResult(
        key=cell.key, task=cell.task.name, model=cell.model, seed=cell.seed,
        test_samples=int(len(y)), chance=float(np.bincount(y).max() / len(y)),
        training=CellTraining(grid.train.epochs, last.loss, last.accuracy, trained_s),
        conditions=tuple(conditions), seconds=time.perf_counter() - start)


def _write_json(path: Path, obj: object) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1) + "\n")


# ---------------------------------------------------------------- the grid

@dataclass(frozen=True)
class ExperimentConfig:
    grid: GridSpec
    out: Path
    workers: int = 1
    shard: tuple[int, int] = (0, 1)  # (index, count)
    merge: bool = False  # only assemble results from the cells already in `out`

    def __post_init__(self) -> None:
        i, n = self.shard
        if not (isinstance(n, int) and n >= 1 and isinstance(i, int) and 0 <= i < n):
            raise UserError(f"shard must be I/N with 0 <= I < N, got {i}/{n}")
        if not (isinstance(self.workers, int) and self.workers >= 1):
            raise UserError(f"workers must be an integer >= 1, got {self.workers}")


def override(grid: GridSpec, *, tasks: Sequence[str] | None = None,
             seeds: Sequence[int] | None = None, epochs: int | None = None,
             samples_per_class: int | None = None, confirm_lava: int | None = None,
             reference: bool = True, reference_epochs: int | None = None) -> GridSpec:
    """The grid with some settings replaced (tests and quick looks use smaller grids);
    `reference=False` skips the non-spiking reference."""
    if tasks:
        grid = replace(grid, tasks=tuple(grid.task(t) for t in tasks))
    if samples_per_class is not None:
        grid = replace(grid, tasks=tuple(replace(t, n_per_class=samples_per_class)
                                         for t in grid.tasks))
    if seeds:
        if any(s < 0 for s in seeds):
            raise UserError("seeds must be integers >= 0")
        grid = replace(grid, seeds=tuple(seeds))
    if epochs is not None:
        if epochs < 1:
            raise UserError(f"epochs must be >= 1, got {epochs}")
        grid = replace(grid, train=replace(grid.train, epochs=epochs))
    if confirm_lava is not None:
        if confirm_lava < 0:
            raise UserError(f"confirm-lava must be >= 0, got {confirm_lava}")
        grid = replace(grid, confirm_lava=confirm_lava)
    if not reference:
        grid = replace(grid, reference=None)
    elif reference_epochs is not None and grid.reference is not None:
        grid = replace(grid, reference=replace(grid.reference, epochs=reference_epochs))
    return grid


def run_experiment(cfg: ExperimentConfig):
    """Run this shard's cells (unless merging), then assemble results from the cache."""
    from spiketime.parity.claims import assemble
    from spiketime.parity.report_files import write_experiment_results

    grid, out = cfg.grid, Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a folder")
    all_cells = cells(grid)
    if not cfg.merge:
        i, n = cfg.shard
        mine = [c for k, c in enumerate(all_cells) if k % n == i]
        _say(f"grid {grid.name}: {len(all_cells)} cells; running {len(mine)}"
             + (f" (shard {i}/{n})" if n > 1 else "")
             + (f" on {cfg.workers} workers" if cfg.workers > 1 else ""))
        _run_cells(grid, mine, out, cfg.workers)
        if n > 1:
            _say(f"shard {i}/{n} done; run with --merge once every shard has finished")
            return None
    found = {c.key: _read_cell(grid, c, out) for c in all_cells}
    missing = [k for k, v in found.items() if v is None]
    if len(missing) == len(all_cells):  # results of nothing would read as results
        raise UserError(f"--out {out} holds none of the grid's {len(all_cells)} finished "
                        f"cells (cells/<key>/cell.json); run the grid (or its shards) first")
    if missing:
        _say(f"{len(missing)} of {len(all_cells)} cells not finished yet "
             f"(first: {missing[0]}); results cover the rest")
    audits = {}
    for t in grid.tasks:
        for s in grid.seeds:
            p = out / "data" / f"{t.name}-s{s}.audit.json"
            if p.is_file():
                audits[(t.name, s)] = read_audit(p)
    results = assemble(grid, [v for v in found.values() if v is not None], audits, missing)
    write_experiment_results(out, results)
    return results


def _read_cell(grid: GridSpec, cell: Cell, out: Path) -> CellResult | None:
    p = out / "cells" / cell.key / "cell.json"
    if not p.is_file():
        return None
    data = json.loads(p.read_text())
    return CellResult.from_dict(data) if data.get("fingerprint") == fingerprint(grid, cell) \
        else None


def _run_cells(grid: GridSpec, todo: list[Cell], out: Path, workers: int) -> None:
    from spiketime.progress import progress

    pending = [c for c in todo if _read_cell(grid, c, out) is None]
    if len(pending) < len(todo):
        _say(f"{len(todo) - len(pending)} cells already finished (cached), "
             f"{len(pending)} to run")
    if workers == 1 or len(pending) <= 1:
        for cell in progress(pending, desc="cells", total=len(pending)):
            _say_done(run_cell(grid, cell, out))
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # fresh interpreters: no inherited torch threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {pool.submit(run_cell, grid, c, out): c for c in pending}
        for fut in progress(as_completed(futures), desc="cells", total=len(futures)):
            _say_done(fut.result())


def _say_done(cell: CellResult) -> None:
    _say(f"{cell.key}: deployed {cell.deployed('original'):.3f}, reversed "
         f"{cell.deployed('reversed'):.3f} ({cell.seconds:.0f} s)")
