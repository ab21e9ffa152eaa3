"""`spiketime export CHECKPOINT --out model.net [--clip]`: a trained checkpoint to NetX HDF5.

Refuses values the chip cannot hold (one `error:` line naming them, exit 2, no
file); with --clip it clips them into range instead, prints each clip and records
it in the file's metadata. Exit 0 on success.

`--format nir` writes a NIR graph instead (`export.nir_out`), from a checkpoint or
from a NetX file given in its place, at the time step --dt or the one recorded.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
    from spiketime.export.from_slayer import to_netx
    from spiketime.train.foreign import load_factory
    from spiketime.train.model import architecture, config_of, load_checkpoint, read_checkpoint
    if args.format == "nir" and args.checkpoint is not None and _is_netx(args.checkpoint):
        from spiketime.export.netx import read_netx

        net = read_netx(args.checkpoint)
        return _write(args, net, "-".join(map(str, (net.input_size, *(
            lay.out_features for lay in net.layers)))))
    if args.model_factory:
        model = load_factory(args.model_factory)
        net = to_netx(model, {"model": args.model_factory.partition(":")[2],
                              "source": f"factory {args.model_factory}"})
        return _write(args, net, f"{model.config.inputs}-"
                      + "-".join(map(str, (*model.config.hidden, model.config.outputs))))
    data = read_checkpoint(args.checkpoint)
    model = load_checkpoint(args.checkpoint)
    meta = {k: v for k, v in data["extra"].items() if k not in ("history", "threads",
                                                                  "world_size", "epoch")}
    meta.setdefault("model", args.checkpoint.stem)
    if "epoch" in data["extra"]:
        meta["epoch"] = data["extra"]["epoch"]
    return _write(args, to_netx(model, meta), architecture(config_of(data, args.checkpoint)))


def _is_netx(path: Path) -> bool:
    import h5py

    return path.is_file() and h5py.is_hdf5(path)


def _write(args: argparse.Namespace, net, shape: str) -> int:
    from spiketime.export.netx import clip_to_chip, range_violations, write_netx
    from spiketime.export.nir_out import dt_of, to_nir, write_nir

    if args.clip:
        net, clipped = clip_to_chip(net)
        for line in clipped or ["nothing was out of range"]:
            print(f"clipped: {line}", file=sys.stderr)
    if args.format == "nir":
        problems = range_violations(net)
        if problems:
            raise UserError("cannot export: " + "; ".join(problems))
        dt_ms = dt_of(net.metadata, args.dt)
        path = write_nir(to_nir(net, dt_ms), args.out)
        print(f"wrote {path}: NIR graph {shape}, {len(net.layers)} layers, dt {dt_ms:g} ms, "
              f"max delay {net.max_delay} steps")
        return 0
    path = write_netx(net, args.out)
    print(f"wrote {path}: {shape}, {len(net.layers)} layers, max delay {net.max_delay} steps")
    return 0
