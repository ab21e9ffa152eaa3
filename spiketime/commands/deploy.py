"""`spiketime deploy NETX --data FILE`: run a NetX network on a backend and report its accuracy.

The decision is `spiketime.readout.predict` (most output spikes; ties go to
the lowest class index), the same for every backend. The run also records every
layer's activity; when the network is degenerate (no output spikes on most
samples, one class for every sample, accuracy within the chance interval, a
hidden layer silent or saturated: `spiketime.parity.verdict`) the result is
INCONCLUSIVE and the command exits 3 (with --allow-degenerate: a warning, exit 0).
Exit 2 on bad input.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from spiketime import guards
from spiketime.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    from spiketime.deploy.registry import BACKENDS

    p = subparsers.add_parser("deploy", help="run a NetX network on Loihi 2 or a simulator and "
                                             "report its accuracy on a dataset split")
    p.add_argument("netx", help="NetX HDF5 file")
    p.add_argument("--data", required=True, help="dataset file (HDF5, as `spiketime` writes it)")
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="auto (default): Loihi 2 when reachable, else lava-cpu")
    p.add_argument("--split", choices=("train", "test"), default="test", help="default: test")
    p.add_argument("--limit", type=int, default=None, help="use only the first N samples")
    p.add_argument("--allow-degenerate", action="store_true",
                   help="warn instead of INCONCLUSIVE (exit 3) when the network is degenerate")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from spiketime.data.dataset import open_dataset
    from spiketime.export.netx import read_netx

    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be at least 1, got {args.limit}")
    net = read_netx(args.netx)  # files first: a bad one is refused before the heavy imports
    data = open_dataset(args.data)  # an events file stays on disk

    from spiketime.deploy.registry import select_backend
    from spiketime.parity import verdict
    from spiketime.sim.backend import check_input

    src = getattr(data, args.split)
    if data.n_classes != net.output_size:
        raise UserError(f"{args.data} has {data.n_classes} classes but {args.netx} has "
                        f"{net.output_size} outputs")
    notes = mismatches(net.metadata, data, args.netx, args.data)
    for line in notes:
        print(f"note: {line}", file=sys.stderr)
    where = f"{args.data} ({args.split} split)"
    check_input(net, np.zeros((0, src.channels, src.steps), np.uint8), where)  # channels
    n = len(src) if args.limit is None else min(args.limit, len(src))
    y = src.labels[:n]

    selection = select_backend(args.backend)
    if selection.note:
        print(selection.note, file=sys.stderr)
    backend = selection.backend
    predicted, activity = _run_backend(backend, args, net, src, n, where)
    correct = int((predicted == y).sum())
    confidence = 0.95
    chance = verdict.chance_interval(y, confidence)
    degenerate = verdict.degenerate_reasons("deployed", correct / len(y), activity, chance,
                                            data.n_classes)
    decision = verdict.decide((), (), degenerate, allow_degenerate=args.allow_degenerate)
    summary = {
        "netx": str(args.netx), "data": str(args.data), "split": args.split,
        "backend": backend.name, "samples": int(len(y)), "correct": correct,
        "accuracy": correct / len(y), "note": selection.note,
        "chance": list(chance), "confidence": confidence, "activity": activity.to_dict(),
        "data_notes": notes,
        **decision.to_dict(),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{args.netx} on {backend.name}: accuracy {summary['accuracy']:.4f} "
              f"({correct}/{len(y)} {args.split} samples)")
        if decision.verdict != verdict.PASSED:
            print(f"{decision.verdict}: the network is degenerate, its accuracy is no "
                  f"evidence that it works")
        for line in verdict.describe(decision):
            print(line, file=sys.stderr if decision.warnings else sys.stdout)
    return verdict.exit_code(decision)


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


def _run_backend(backend: Any, args: argparse.Namespace, net: Any, src: Any, n: int,
                 where: str) -> tuple[Any, Any]:
    """Predictions [n] and activity of the first n samples of `src`. A backend with
    `run_batches` (the emulator) gets them a batch at a time, so an events file is
    never dense whole and memory stays bounded; any other backend gets them dense
    at once, up to `DENSE_LIMIT_BYTES`."""
    import numpy as np

    from spiketime.data.dataset import DENSE_LIMIT_BYTES
    from spiketime.parity.activity import ActivityTally
    from spiketime.readout import predict
    from spiketime.sim.backend import check_input

    tally = ActivityTally()
    if hasattr(backend, "run_batches"):
        size = backend.batch_size
        batches = (src.batch(np.arange(lo, min(lo + size, n))) for lo in range(0, n, size))
        predicted = []
        for result in backend.run_batches(args.netx, batches, hidden=True, source=where):
            predicted.append(predict(result.output))
            tally.add(result.output, result.hidden)
        return np.concatenate(predicted), tally.result()
    dense = n * src.channels * src.steps
    guards.memory(dense, f"{where}: {n} samples x {src.channels} channels x {src.steps} steps "
                         f"read at once by --backend {backend.name}")
    if dense > DENSE_LIMIT_BYTES:
        raise UserError(f"{where}: {n} samples x {src.channels} channels x {src.steps} steps "
                        f"are {dense / 2**30:.1f} GB dense; --backend {backend.name} reads "
                        f"them at once: use --backend emulator (a batch at a time) or --limit")
    X = check_input(net, src.batch(np.arange(n)), where)
    result = backend.run(args.netx, X, hidden=True)
    tally.add(result.output, result.hidden)
    return predict(result.output), tally.result()
