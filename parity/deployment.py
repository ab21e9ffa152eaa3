"""`spiketime deploy`'s job: run a NetX network on a backend over a dataset split, and say
whether its accuracy is evidence that it works.

The decision is `spiketime.readout.predict` (most output spikes; ties go to the lowest
class index), the same for every backend. The run also records every layer's
activity; when the network is degenerate (no output spikes on most samples, one class
for every sample, accuracy within the chance interval, a hidden layer silent or
saturated: `parity.verdict`) the verdict is INCONCLUSIVE (with `allow_degenerate`: a
warning, PASSED). `deploy` prints nothing: notes go to `on_note` as they arise and
into the report.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from spiketime import guards
from spiketime.data import dataset
from spiketime.data.dataset import open_dataset
from spiketime.deploy.registry import select_backend
from spiketime.errors import UserError
from spiketime.export.netx import NetxNetwork, read_netx
from spiketime.parity import verdict
from spiketime.parity.activity import ActivityTally
from spiketime.parity.reports import Activity, Decision
from spiketime.readout import predict
from spiketime.records import Record, json_field
from spiketime.sim.backend import Backend, check_input

CONFIDENCE = 0.95  # the chance interval's level


@dataclass(frozen=True)
class DeployReport(Record):
    """One deployed run: accuracy, activity and the verdict on the evidence."""

    netx: str
    data: str
    split: str
    backend: str
    samples: int
    correct: int
    accuracy: float
    note: str  # why "auto" chose this backend (empty otherwise)
    chance: tuple[float, float]
    confidence: float
    activity: Activity
    data_notes: tuple[str, ...]  # where the data differs from what the network was trained on
    decision: Decision = json_field(flatten=True)

    @property
    def verdict(self) -> str:
        return self.decision.verdict

    @property
    def passed(self) -> bool:
        return self.decision.verdict == verdict.PASSED


def deploy(netx: str | os.PathLike, data: str | os.PathLike, *, backend: str = "auto",
           split: str = "test", limit: int | None = None, allow_degenerate: bool = False,
           on_note: Callable[[str], None] | None = None) -> DeployReport:
    """Run `netx` on the first `limit` samples (default: all) of `data`'s `split`."""
    if split not in ("train", "test"):
        raise UserError(f"split must be train or test, got {split!r}")
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be at least 1, got {limit}")
    say = on_note or (lambda _line: None)
    net = read_netx(netx)  # files first: a bad one is refused before the heavy imports
    ds = open_dataset(data)  # an events file stays on disk
    src = getattr(ds, split)
    if ds.n_classes != net.output_size:
        raise UserError(f"{data} has {ds.n_classes} classes but {netx} has "
                        f"{net.output_size} outputs")
    notes = mismatches(net.metadata, ds, str(netx), str(data))
    for line in notes:
        say(f"note: {line}")
    where = f"{data} ({split} split)"
    check_input(net, np.zeros((0, src.channels, src.steps), np.uint8), where)  # channels
    n = len(src) if limit is None else min(limit, len(src))
    y = src.labels[:n]

    selection = select_backend(backend)
    if selection.note:
        say(selection.note)
    predicted, activity = _run_backend(selection.backend, netx, net, src, n, where)
    correct = int((predicted == y).sum())
    chance = verdict.chance_interval(y, CONFIDENCE)
    degenerate = verdict.degenerate_reasons("deployed", correct / len(y), activity, chance,
                                            ds.n_classes)
    return DeployReport(
        netx=str(netx), data=str(data), split=split, backend=selection.backend.name,
        samples=int(len(y)), correct=correct, accuracy=correct / len(y), note=selection.note,
        chance=chance, confidence=CONFIDENCE, activity=activity, data_notes=tuple(notes),
        decision=verdict.decide((), (), degenerate, allow_degenerate=allow_degenerate))


def mismatches(meta: dict, data: Any, netx: str, data_path: str) -> list[str]:
    """Where the data differs from what the network was trained on, as its metadata says
    (steps per sample, task, class names): each a sentence. Not refused (a network may be
    run on longer samples on purpose), but never silent."""
    found = []
    steps = meta.get("steps")
    if isinstance(steps, int) and steps != data.steps:
        found.append(f"{data_path} has {data.steps} steps per sample but {netx} was trained "
                     f"on {steps}")
    task = meta.get("task")
    name = task.get("name") if isinstance(task, dict) else None
    if isinstance(name, str) and name != data.meta.task:
        found.append(f"{data_path} holds task {data.meta.task!r} but {netx} was trained on "
                     f"{name!r}")
    classes = meta.get("classes")
    if isinstance(classes, list) and [str(c) for c in classes] != list(data.meta.class_names):
        found.append(f"{data_path}'s classes {list(data.meta.class_names)} differ from those "
                     f"{netx} was trained on {classes}")
    return found


def _run_backend(backend: Backend, netx: str | os.PathLike, net: NetxNetwork, src: Any,
                 n: int, where: str) -> tuple[np.ndarray, Activity]:
    """Predictions [n] and activity of the first n samples of `src`. A backend with
    `run_batches` (the emulator) gets them a batch at a time, so an events file is
    never dense whole and memory stays bounded; any other backend gets them dense
    at once, up to `DENSE_LIMIT_BYTES`."""
    tally = ActivityTally()
    if hasattr(backend, "run_batches"):
        size = backend.batch_size
        batches = (src.batch(np.arange(lo, min(lo + size, n))) for lo in range(0, n, size))
        predicted = []
        for result in backend.run_batches(netx, batches, hidden=True, source=where):
            predicted.append(predict(result.output))
            tally.add(result.output, result.hidden)
        return np.concatenate(predicted), tally.result()
    dense = n * src.channels * src.steps
    shape = f"{where}: {n} samples x {src.channels} channels x {src.steps} steps"
    guards.memory(dense, f"{shape} read at once by --backend {backend.name}")
    if dense > dataset.DENSE_LIMIT_BYTES:  # read at call time: the one limit, patchable
        raise UserError(f"{shape} are {dense / 2**30:.1f} GB dense; --backend {backend.name} "
                        f"reads them at once: use --backend emulator (a batch at a time) or "
                        f"--limit")
    X = check_input(net, src.batch(np.arange(n)), where)
    result = backend.run(netx, X, hidden=True)
    tally.add(result.output, result.hidden)
    return predict(result.output), tally.result()
