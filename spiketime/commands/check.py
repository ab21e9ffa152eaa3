"""`spiketime check NETX`: is the network legal on Loihi 2, and how many cores would it take?

Exit 0 when legal, 1 when not (2 for a file that is not a NetX network). With
--clip OUT, out-of-range values are clipped into a copy (never in place, never
silently) and the copy is checked.
"""
from __future__ import annotations

import argparse
import json
import sys

from spiketime import guards
from spiketime.errors import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "check", help="check a NetX network against Loihi 2's limits and estimate its cores")
    p.add_argument("netx", type=guards.input_path, help="NetX HDF5 file")
    p.add_argument("--chips", type=int, default=1, help="Loihi 2 chips available (default 1)")
    p.add_argument("--clip", metavar="OUT",
                   help="write a copy with out-of-range values clipped to OUT (each clip is "
                        "printed and recorded in the file's metadata), then check that copy")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spiketime.deploy.chip_check import ChipLimits, check_network
    from spiketime.export.netx import clip_to_chip, read_netx, write_netx

    if args.chips < 1:
        raise UserError(f"--chips must be at least 1, got {args.chips}")
    if args.clip is not None:
        guards.output_file(args.clip, "--clip")
    net = read_netx(args.netx, validate=False)  # out-of-range values are findings here
    name, clipped = str(args.netx), None
    if args.clip is not None:
        net, clipped = clip_to_chip(net)
        write_netx(net, args.clip)
        for line in clipped or ["nothing was out of range"]:
            print(f"clipped: {line}", file=sys.stderr)
        name = str(args.clip)
    report = check_network(net, ChipLimits(chips=args.chips))
    if args.json:
        extra = {} if clipped is None else {"clipped": clipped}
        print(json.dumps({"file": name, **extra, **report.to_dict()}))
    else:
        print(render(name, report))
    return 0 if report.legal else 1


def render(name: str, report) -> str:
    """The human-readable report."""
    lines = []
    if report.legal:
        lines.append(f"{name}: legal on Loihi 2; needs an estimated {report.cores} of "
                     f"{report.cores_available} neuro cores")
    else:
        n = len(report.violations)
        lines.append(f"{name}: NOT legal on Loihi 2: {n} violation{'s' if n > 1 else ''}")
        lines += [f"  {v.message}" for v in report.violations]
    header = ("layer", "neurons", "fan-in", "w-bits", "w-exp", "d-bits", "bits/neuron",
              "neurons/core", "cores", "bound by")
    rows = [header] + [
        (str(lay.layer), str(lay.neurons), str(lay.fan_in), _opt(lay.weight_bits),
         _opt(lay.weight_exponent),
         str(lay.delay_bits), str(lay.synaptic_bits_per_neuron), str(lay.neurons_per_core),
         str(lay.cores), lay.bound_by)
        for lay in report.layers]
    widths = [max(len(r[c]) for r in rows) for c in range(len(header) - 1)]
    for r in rows:
        lines.append("  ".join(cell.rjust(w) for cell, w in zip(r, widths)) + "  " + r[-1])
    lines.append(f"total: {report.cores} neuro cores (estimate)")
    lines.append("estimates (figures lava-nc and lava-dl do not state for Loihi 2):")
    lines += [f"  {lim.meaning}: {lim.value} ({lim.source})" for lim in report.estimates]
    return "\n".join(lines)


def _opt(value: int | None) -> str:
    return "-" if value is None else str(value)
