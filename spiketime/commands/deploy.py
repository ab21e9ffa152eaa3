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
    from spiketime.deploy.registry import select_backend
    from spiketime.export.netx import read_netx
    from spiketime.parity import verdict
    from spiketime.parity.activity import measure
    from spiketime.readout import predict
    from spiketime.sim.backend import check_input
    from spiketime.train.dataset import load_dataset

    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be at least 1, got {args.limit}")
    net = read_netx(args.netx)
    data = load_dataset(args.data)
    split = data.splits()[args.split]
    if data.n_classes != net.output_size:
        raise UserError(f"{args.data} has {data.n_classes} classes but {args.netx} has "
                        f"{net.output_size} outputs")
    X, y = split.X[:args.limit], split.y[:args.limit]
    check_input(net, X, f"{args.data} ({args.split} split)")

    selection = select_backend(args.backend)
    if selection.note:
        print(selection.note, file=sys.stderr)
    backend = selection.backend
    result = backend.run(args.netx, X, hidden=True)
    predicted = predict(result.output)
    correct = int((predicted == y).sum())
    activity = measure(result.output, result.hidden)
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
