"""`spiketime deploy NETX --data FILE`: run a NetX network on a backend and report its accuracy.

The work is `spiketime.parity.deployment.deploy`; this module parses and prints. A
degenerate network (`spiketime.parity.verdict`) is INCONCLUSIVE and the command exits 3
(with --allow-degenerate: a warning, exit 0). Exit 2 on bad input.
"""
from __future__ import annotations

import argparse
import json
import sys

from spiketime import guards


def register(subparsers: argparse._SubParsersAction) -> None:
    from spiketime.deploy.registry import BACKENDS

    p = subparsers.add_parser("deploy", help="run a NetX network on Loihi 2 or a simulator and "
                                             "report its accuracy on a dataset split")
    p.add_argument("netx", type=guards.input_path, help="NetX HDF5 file")
    p.add_argument("--data", type=guards.input_path, required=True,
                   help="dataset file (HDF5, as `spiketime` writes it)")
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="auto (default): Loihi 2 when reachable, else lava-cpu")
    p.add_argument("--split", choices=("train", "test"), default="test", help="default: test")
    p.add_argument("--limit", type=int, default=None, help="use only the first N samples")
    p.add_argument("--allow-degenerate", action="store_true",
                   help="warn instead of INCONCLUSIVE (exit 3) when the network is degenerate")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spiketime.parity import verdict
    from spiketime.parity.deployment import deploy

    report = deploy(args.netx, args.data, backend=args.backend, split=args.split,
                    limit=args.limit, allow_degenerate=args.allow_degenerate,
                    on_note=lambda line: print(line, file=sys.stderr))
    decision = report.decision
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(f"{args.netx} on {report.backend}: accuracy {report.accuracy:.4f} "
              f"({report.correct}/{report.samples} {args.split} samples)")
        if decision.verdict != verdict.PASSED:
            print(f"{decision.verdict}: the network is degenerate, its accuracy is no "
                  f"evidence that it works")
        for line in verdict.describe(decision):
            print(line, file=sys.stderr if decision.warnings else sys.stdout)
    return verdict.exit_code(decision)
