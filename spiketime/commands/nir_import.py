"""`spiketime import model.nir --out model.net [--dt MS] [--clip]`: a NIR graph to Loihi 2.

Reads a feed-forward NIR chain (Affine/Linear -> CubaLIF/LIF [-> Delay], from
snnTorch, Norse, Rockpool, lava-dl or `spiketime export --format nir`), quantizes it
to the chip's integers (`export.nir_in`) and writes a NetX file. Prints, per layer,
the threshold mantissa and weight scale it chose and the weight error left. Refuses
what the chip cannot hold, and node types it does not support, with one `error:`
line (exit 2, no file); --clip clips out-of-range values instead, each reported.
"""
from __future__ import annotations

import argparse
import sys

from spiketime import guards


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="quantize a NIR graph (model.nir) to a NetX file for "
                                      "Lava / Loihi 2")
    p.add_argument("nir", type=guards.input_path, help="NIR HDF5 file")
    p.add_argument("--out", type=guards.path, required=True,
                   help="NetX file to write (e.g. model.net)")
    p.add_argument("--dt", type=float, metavar="MS",
                   help="time step in ms (default: the graph's metadata 'dt', in seconds)")
    p.add_argument("--clip", action="store_true",
                   help="clip values Loihi 2 cannot hold (delays over 62 steps, decays, "
                        "weights) into range, each clip printed, instead of refusing them")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from spiketime.errors import UserError

    guards.input_file(args.nir, "nir file")
    guards.output_file(args.out, "--out")
    from spiketime.export.netx import write_netx
    from spiketime.export.nir_graph import read_nir
    from spiketime.export.nir_in import quantize

    graph = read_nir(args.nir)
    if args.dt is None and graph.dt is None:
        raise UserError(f"{args.nir} does not record its time step (metadata 'dt'); give "
                        f"--dt MS")
    dt_ms = args.dt if args.dt is not None else graph.dt * 1000
    meta = {"model": args.nir.stem, "source": f"NIR {args.nir.name}"}
    net, choices, notes = quantize(graph, dt_ms, clip=args.clip, metadata=meta)
    for note in notes:
        print(note, file=sys.stderr)
    path = write_netx(net, args.out)
    for choice in choices:
        print(choice.describe())
    sizes = "-".join(map(str, (net.input_size, *(lay.out_features for lay in net.layers))))
    print(f"wrote {path}: {sizes}, {len(net.layers)} layers, dt {dt_ms:g} ms, "
          f"max delay {net.max_delay} steps")
    return 0
