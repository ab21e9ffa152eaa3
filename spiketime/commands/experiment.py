"""`spiketime experiment`: the paper's grid (tasks x tau/tau+delay x seeds), trained and deployed.

Exit 0 when every cell's deployed network matched its trained one spike for spike
(and Lava agreed on its confirming subset), 1 when one did not, 2 on bad input.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from spiketime import guards
from spiketime.errors import UserError


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N, e.g. 0/4, got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise argparse.ArgumentTypeError(f"need 0 <= I < N, got {text!r}")
    return i, n


def _ints(text: str) -> tuple[int, ...]:
    return guards.items(text, int, unique=True, what="integers")


def register(sub: argparse._SubParsersAction) -> None:
    from spiketime.parity.experiment import GRIDS

    p = sub.add_parser(
        "experiment", help="run the paper's grid: tasks x {tau, tau+delay} x seeds, "
                           "trained and deployed, with the perturbation sweep",
        description="Each cell (task, model, seed) is cached under OUT/cells when it "
                    "finishes; rerunning the same command resumes where a killed run "
                    "stopped. Cells are independent: --workers runs them in parallel, "
                    "--shard I/N runs one share of them (a SLURM array task, say) and "
                    "--merge assembles the results from a shared OUT.")
    p.add_argument("--grid", choices=sorted(GRIDS), default="quick",
                   help="preset (default %(default)s; 'full' is the paper's 1,000-step scale)")
    p.add_argument("--out", type=guards.path, help="output folder (default runs/experiment-GRID)")
    p.add_argument("--workers", type=int, default=1, help="parallel processes (default 1)")
    p.add_argument("--shard", type=_shard, default=(0, 1), metavar="I/N",
                   help="run only cells I, I+N, I+2N, ... (default: all)")
    p.add_argument("--merge", action="store_true",
                   help="run nothing; assemble results from the cells in OUT")
    p.add_argument("--tasks", type=lambda s: guards.items(s, unique=True, what="task names"),
                   metavar="NAMES",
                   help="only these tasks of the grid (comma-separated)")
    p.add_argument("--seeds", type=_ints, help="seeds, comma-separated (default: the grid's)")
    p.add_argument("--epochs", type=int, help="training epochs (default: the grid's)")
    p.add_argument("--samples-per-class", type=int, help="dataset size (default: the grid's)")
    p.add_argument("--confirm-lava", type=int, metavar="N",
                   help="original and reversed samples rerun on Lava per cell")
    p.add_argument("--no-reference", action="store_true",
                   help="skip the non-spiking reference (a GRU) beside each dataset's audit")
    p.add_argument("--reference-epochs", type=int, metavar="N",
                   help="the reference's training epochs (default: the grid's)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for seed in args.seeds or ():
        guards.seed(seed, "--seeds")
    if args.out is not None:
        guards.output_folder(args.out, (), "--out")

    from spiketime.parity.experiment import run_experiment

    cfg = experiment_config(args)
    out = cfg.out
    results = run_experiment(cfg)
    if results is None:  # a shard: results come from --merge
        return 0
    print(f"results: {out / 'results.md'} ({results.cells} cells"
          + (f", {len(results.missing)} missing" if results.missing else "") + ")")
    for c in results.claims + results.targets:
        print(f"  {c.status:>16}: {c.claim} [{c.task}, {c.model}] {c.effect.text(unit=' pts')}")
    return 0 if results.spike_exact else 1


def experiment_config(args: argparse.Namespace):
    """The job's one config from the options: the preset grid with the options' overrides
    (`parity.experiment.override`), where and how to run it."""
    from spiketime.parity.experiment import GRIDS, ExperimentConfig, override

    if args.workers < 1:
        raise UserError("--workers must be at least 1")
    if args.samples_per_class is not None and args.samples_per_class < 2:
        raise UserError("--samples-per-class must be at least 2")
    grid = override(GRIDS[args.grid], tasks=args.tasks, seeds=args.seeds, epochs=args.epochs,
                    samples_per_class=args.samples_per_class, confirm_lava=args.confirm_lava,
                    reference=not args.no_reference, reference_epochs=args.reference_epochs)
    out = args.out if args.out is not None else Path(f"runs/experiment-{args.grid}")
    return ExperimentConfig(grid, out, args.workers, args.shard, args.merge)
