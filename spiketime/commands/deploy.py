"""`spiketime deploy NETX --data FILE`: run a NetX network on a backend and report its accuracy.

The decision is `spiketime.readout.predict` (most output spikes; ties go to
the lowest class index), the same for every backend.
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
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spiketime.deploy.registry import select_backend
    from spiketime.export.netx import read_netx
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
    result = backend.run(args.netx, X)
    predicted = predict(result.output)
    correct = int((predicted == y).sum())
    summary = {
        "netx": str(args.netx), "data": str(args.data), "split": args.split,
        "backend": backend.name, "samples": int(len(y)), "correct": correct,
        "accuracy": correct / len(y), "note": selection.note,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{args.netx} on {backend.name}: accuracy {summary['accuracy']:.4f} "
              f"({correct}/{len(y)} {args.split} samples)")
    return 0
