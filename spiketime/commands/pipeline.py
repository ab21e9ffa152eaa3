"""`spiketime pipeline`: the end-to-end job on the built-in task or a dataset file.

Exit 0 when parity PASSED, 1 when it FAILED, 3 when it is INCONCLUSIVE (a network
is degenerate: see `spiketime.parity.verdict`), 2 on bad input.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from spiketime import guards
from spiketime.commands.train import (
    MODEL_OPTIONS,
    add_architecture,
    add_loss,
    add_recipe,
    add_training,
    settings,
    train_config,
    with_recipe,
)
from spiketime.errors import UserError
from spiketime.parity.experiment import BUILTIN_CCISI
from spiketime.parity.pipeline_config import HIDDEN, PipelineConfig, pipeline_model
from spiketime.train.config import MODELS, default, recipe_for

OUT = Path("runs/demo")  # the command's output folder when --out is not given


def model_names(text: str) -> tuple[str, ...]:
    """argparse type: 'tau,tau+syndelay' -> ('tau', 'tau+syndelay'), names from MODELS."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names or len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(f"expected distinct names from {', '.join(MODELS)}, "
                                         f"got {text!r}")
    return names


def register(sub: argparse._SubParsersAction) -> None:
    def d(name: str):
        return default(PipelineConfig, name)

    p = sub.add_parser("pipeline", help="train tau and tau+delay, export to NetX, run deployed, "
                                        "report parity")
    p.add_argument("--out", type=guards.path, default=OUT,
                   help="output folder (default %(default)s)")
    p.add_argument("--data", type=guards.input_path,
                   help="dataset file (default: the built-in rate-free CCISI task)")
    p.add_argument("--samples-per-class", type=int, default=d("samples_per_class"))
    p.add_argument("--steps", type=int,
                   help="time steps of the built-in task (default 250, of 4 ms)")
    # the architecture and training options of `spiketime train` (delays: both models)
    add_training(p)
    add_architecture(p, hidden=",".join(map(str, HIDDEN)), delays=False, val_fraction=0.0,
                     task_decays=BUILTIN_CCISI.neuron)
    add_loss(p)
    p.add_argument("--models", type=model_names, default=d("models"), metavar="NAME[,NAME...]",
                   help=f"the networks to train and deploy, from {', '.join(MODELS)} "
                        f"(default {','.join(d('models'))})")
    p.add_argument("--backend", choices=["emulator", "lava-cpu"], default=d("backend"),
                   help="backend for the whole test set (default %(default)s)")
    p.add_argument("--confirm-lava", type=int, default=d("confirm_lava"), metavar="N",
                   help="samples per condition rerun on Lava to confirm the emulator "
                        "(default %(default)s; 0 = none)")
    p.add_argument("--allow-degenerate", action="store_true",
                   help="warn instead of INCONCLUSIVE (exit 3) when a network is degenerate "
                        "(silent, one class, at chance): for parity of a deliberately "
                        "trivial network")
    add_recipe(p, hidden=HIDDEN)
    p.set_defaults(func=run, val_fraction_default=0.0)


def run(args: argparse.Namespace) -> int:
    guards.seed(args.seed)
    task = None  # the built-in task's: the base recipe
    if args.data is not None:
        from spiketime.data.dataset import dataset_meta

        task = dataset_meta(args.data).task
    args = with_recipe(args, task)
    train_config(args)  # its errors (--epochs, --batch-size, ...) before any work
    if args.samples_per_class < 2:  # a train and a test sample of each class
        raise UserError(f"--samples-per-class must be at least 2, got {args.samples_per_class}")
    if args.confirm_lava < 0:
        raise UserError("--confirm-lava must be 0 or more")
    if args.data is not None and args.steps is not None:
        raise UserError("--steps applies to the built-in task only, not to --data")
    guards.output_folder(args.out, (), "--out")  # the folder itself, before the heavy imports
    shortest = BUILTIN_CCISI.generator["interval_range"][1] + 1
    if args.steps is not None and args.steps < shortest:
        raise UserError(f"--steps must be at least {shortest} for the built-in task (its "
                        f"intervals reach {shortest - 1} steps), got {args.steps}")

    from spiketime.commands.train import set_threads
    from spiketime.parity.pipeline import output_files, run_pipeline
    from spiketime.parity.verdict import announce
    from spiketime.train.run import resolve_device

    guards.output_folder(args.out, output_files(args.data is None, args.models), "--out")
    set_threads(args)
    cfg = pipeline_config(args, device=str(resolve_device(args.device)))
    with guards.undo_on_failure(args.out):  # a failed run leaves nothing new behind
        report = run_pipeline(cfg)
    print(f"trained with recipe {recipe_for(args.recipe, task)} (docs/train.md, \"Recipes\")")
    for m in report.models:
        t, dep = m.summary.trained, m.summary.deployed
        print(f"{m.name:>10}: accuracy trained {100 * t.accuracy:.1f}% / deployed "
              f"{100 * dep.accuracy:.1f}%, reversed {100 * t.accuracy_reversed:.1f}% / "
              f"{100 * dep.accuracy_reversed:.1f}%, "
              f"spike-exact {100 * m.summary.spike_exact_fraction:.1f}%")
    return announce(report.parity.decision, args.out / "report.md")


def pipeline_config(args: argparse.Namespace, device: str = "cpu",
                    task: str | None = None) -> PipelineConfig:
    """The job's one config, from the options and the recipe (`--recipe`; "auto" by the
    data's `task`): the model's and the trainer's settings go into the ModelConfig and
    TrainConfig it holds (a decay left out stays the task's own)."""
    args = with_recipe(args, task)
    train = train_config(args)  # first: its errors name the options
    return PipelineConfig(
        out=args.out, data=args.data, samples_per_class=args.samples_per_class,
        steps=args.steps, model=pipeline_model(args.data is None, **settings(args, MODEL_OPTIONS)),
        train=train, device=device, backend=args.backend, confirm_lava=args.confirm_lava,
        allow_degenerate=args.allow_degenerate, models=args.models)
