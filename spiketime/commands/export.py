"""`spiketime export CHECKPOINT --out model.net [--clip]`: a trained checkpoint to NetX HDF5.

Refuses values the chip cannot hold (one `error:` line naming them, exit 2, no
file); with --clip it clips them into range instead, prints each clip and records
it in the file's metadata. Exit 0 on success.

`--format nir` writes a NIR graph instead (`export.nir_out`), from a checkpoint or
from a NetX file given in its place, at the time step --dt or the one recorded. The work
is `spiketime.export.writing`'s (also `spiketime.export(...)`'s); this module parses and
prints.
"""
from __future__ import annotations

import argparse
import sys

from spiketime import guards
from spiketime.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a trained checkpoint (best.pt, last.pt, model.pt) "
                                      "to a NetX HDF5 file for Lava / Loihi 2")
    p.add_argument("checkpoint", type=guards.input_path, nargs="?",
                   help="spiketime checkpoint (with --format nir: or a NetX file)")
    p.add_argument("--model-factory", metavar="MODULE:FUNCTION",
                   help="instead of a checkpoint: your own lava-dl SLAYER network, returned by "
                        "FUNCTION() in MODULE (CUBA Dense blocks in network.blocks)")
    p.add_argument("--out", type=guards.path, required=True,
                   help="file to write (model.net; model.nir with --format nir)")
    p.add_argument("--format", choices=("netx", "nir"), default="netx",
                   help="netx: NetX HDF5 for Lava / Loihi 2 (default); nir: a NIR graph "
                        "(CubaLIF + Delay nodes, docs/nir.md) for other frameworks and chips")
    p.add_argument("--dt", type=float, metavar="MS",
                   help="with --format nir: the time step in ms (default: the one the model "
                        "records, e.g. its dataset's)")
    p.add_argument("--clip", action="store_true",
                   help="clip out-of-range values into Loihi 2's ranges (each clip printed and "
                        "recorded in the metadata) instead of refusing them")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if (args.checkpoint is None) == (args.model_factory is None):
        raise UserError("give a checkpoint or --model-factory MODULE:FUNCTION (one of them)")
    guards.output_file(args.out, "--out")
    if args.dt is not None and args.format != "nir":
        raise UserError("--dt applies to --format nir only")
    from spiketime.export import writing

    from_netx = (args.format == "nir" and args.checkpoint is not None
                 and writing.is_netx(args.checkpoint))
    net, shape = writing.network_of(args.model_factory or args.checkpoint,
                                    factory=args.model_factory is not None, netx=from_netx)
    done = writing.write(net, shape, args.out, format=args.format, dt_ms=args.dt,
                         clip=args.clip)
    if args.clip:
        for line in done.clipped or ["nothing was out of range"]:
            print(f"clipped: {line}", file=sys.stderr)
    print(done.summary())
    return 0
