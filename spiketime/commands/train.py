"""`spiketime train --data FILE --out DIR`: train one network, resumably, into a run folder.

Writes DIR/best.pt (best validation accuracy), DIR/last.pt (the latest state, with
everything `--resume` needs), DIR/history.json and DIR/curve.png. Under
`torchrun --nproc-per-node N -m spiketime train ...` it trains data-parallel on N
processes (gloo on CPU, NCCL on GPU); rank 0 alone writes and reports.
Exit 0 on success, 2 on bad input.
"""
from __future__ import annotations

import argparse
import contextlib
import re
from dataclasses import fields
from pathlib import Path

from spiketime import guards
from spiketime.errors import UserError
from spiketime.train import config as job
from spiketime.train.config import (
    LOSSES,
    SCHEDULES,
    SURROGATES,
    ModelConfig,
    TrainConfig,
    default,
    model_name,
)

# The options that set a ModelConfig or TrainConfig field of the same name (argparse dest);
# every default below is the config's own (tests/test_options.py walks the parsers).
MODEL_OPTIONS = ("hidden", "delay_init_max", "delay_sigma", "delay_anneal", "current_decay",
                 "voltage_decay", "surrogate", "dropout", "seed")
TRAIN_OPTIONS = ("epochs", "batch_size", "lr", "delay_lr", "decay_lr", "schedule", "loss",
                 "temperature", "seed", "checkpoint_every", "channel_shift")
RECIPE_OPTIONS = tuple(sorted({name for r in job.RECIPES.values() for name in r}))


def hidden_sizes(text: str) -> tuple[int, ...]:
    """argparse type: '128,128' -> (128, 128); every size at least 1."""
    sizes = guards.items(text.replace("-", ","), int, what="sizes like 128,128")
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"hidden sizes must be at least 1, got {text!r}")
    return sizes


def add_architecture(p: argparse.ArgumentParser, *, hidden: str, delays: bool = True,
                     val_fraction: float = 0.1, task_decays: dict | None = None) -> None:
    """The options `train` and `pipeline` share: architecture, loss and step sizes. The
    initial decays default to None, the model's own (ModelConfig's, or the built-in task's
    `task_decays`), so that only a decay given on the command line overrides it."""
    m, t = (lambda name: default(ModelConfig, name)), (lambda name: default(TrainConfig, name))

    def decay(name: str) -> str:
        task = (task_decays or {}).get(name)
        return f"{m(name)}" + ("" if task is None else f"; the built-in task's: {task:g}")
    p.add_argument("--hidden", type=hidden_sizes, default=hidden_sizes(hidden), metavar="N[,N...]",
                   help=f"hidden layer sizes, any depth (default {hidden}; the paper's speech "
                        f"network is 128,128)")
    if delays:
        p.add_argument("--delays", choices=("none", "hidden", "synapses"), default="none",
                       help="trainable delays (0-62 steps, Loihi 2's range): none, axonal "
                            "after every hidden layer, or one per synapse in every layer "
                            "(DCLS-style, docs/train.md) (default %(default)s)")
    p.add_argument("--current-decay", type=float, default=None,
                   help=f"initial synaptic current decay per step, a fraction in [0, 1]; "
                        f"learnable (default {decay('current_decay')})")
    p.add_argument("--voltage-decay", type=float, default=None,
                   help=f"initial membrane voltage decay per step, a fraction in [0, 1]; "
                        f"learnable (default {decay('voltage_decay')})")
    p.add_argument("--batch-size", type=int, default=t("batch_size"),
                   help="global batch (default %(default)s)")
    p.add_argument("--lr", type=float, default=t("lr"),
                   help="weight step size (default %(default)s)")
    p.add_argument("--delay-lr", type=float, default=t("delay_lr"),
                   help="delay step size, in steps (default %(default)s)")
    p.add_argument("--decay-lr", type=float, default=t("decay_lr"),
                   help="decay step size, slayer's 1/4096 units (default %(default)s)")
    p.add_argument("--schedule", choices=SCHEDULES, default=t("schedule"),
                   help="every step size over the run: constant, or cosine from the given "
                        "value down to 0 at the last batch (default %(default)s)")
    p.add_argument("--surrogate", choices=SURROGATES, default=m("surrogate"),
                   help="surrogate gradient: slayer's exponential (default) or the paper's "
                        "fast sigmoid 1/(100|v-theta|+1)^2")
    p.add_argument("--dropout", type=float, default=m("dropout"),
                   help="share of hidden-layer spikes dropped in training, a regulariser; "
                        "off at evaluation and export (default %(default)g)")
    p.add_argument("--channel-shift", type=int, default=t("channel_shift"), metavar="N",
                   help="augmentation, training only: move each sample's input channels by a "
                        "random whole number in [-N, N], zero-filled; for inputs whose channel "
                        "order means something, like a cochlea's frequencies (default %(default)s)")
    p.add_argument("--val-fraction", type=float, default=None,
                   help=f"seeded per-class share of the training set held out for validation "
                        f"and best-checkpoint selection (default {val_fraction:g})")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto (default): CUDA when present, else the CPU")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's choice); results are bit-identical "
                        "only at the same thread count")


def add_loss(p: argparse.ArgumentParser) -> None:
    p.add_argument("--loss", choices=LOSSES, default=default(TrainConfig, "loss"),
                   help="count: cross-entropy over output spike counts / --temperature; "
                        "spikemax: slayer's SpikeMax, the same over counts / T, whose gradient "
                        "shrinks like 1/T (measured: it stays at chance on 1,000-step tasks "
                        "where count learns) (default %(default)s)")
    p.add_argument("--temperature", type=float, default=default(TrainConfig, "temperature"),
                   help="count loss: output spikes per unit of logit (default %(default)g)")


def add_training(p: argparse.ArgumentParser) -> None:
    """--epochs and --seed, as `train` and `pipeline` take them."""
    p.add_argument("--epochs", type=int, default=default(TrainConfig, "epochs"),
                   help="default %(default)s")
    p.add_argument("--seed", type=int, default=default(TrainConfig, "seed"),
                   help="initialisation, split and data order (default %(default)s)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a network on a dataset file into a run folder "
                                     "(best.pt, last.pt, history.json, curve.png); resumable")
    p.add_argument("--data", type=guards.input_path, required=True,
                   help="dataset file (its train split)")
    p.add_argument("--out", type=guards.path, required=True, help="run folder")
    add_architecture(p, hidden=",".join(map(str, job.TRAIN_JOB_HIDDEN)),
                     val_fraction=job.TRAIN_JOB_VAL_FRACTION)
    add_loss(p)
    add_training(p)
    p.add_argument("--checkpoint-every", type=int, default=default(TrainConfig, "checkpoint_every"),
                   metavar="BATCHES",
                   help="also save last.pt every BATCHES batches inside an epoch (default: at "
                        "epoch ends only)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last.pt (same options; --epochs "
                        "may grow); ends bit-identical to an uninterrupted run")
    p.add_argument("--delay-init-max", type=float, default=default(ModelConfig, "delay_init_max"),
                   help="initial delays ~ U[0, this) steps (default %(default)s)")
    p.add_argument("--delay-sigma", type=float, default=default(ModelConfig, "delay_sigma"),
                   help="--delays synapses: the initial width in steps of the Gaussian that "
                        "spreads each weight over neighbouring delays (default %(default)s)")
    p.add_argument("--delay-anneal", type=float, default=default(ModelConfig, "delay_anneal"),
                   help="--delays synapses: the share of epochs over which the width shrinks; "
                        "delays are whole steps after it (default %(default)s)")
    add_recipe(p, hidden=job.TRAIN_JOB_HIDDEN)
    p.set_defaults(func=run, val_fraction_default=job.TRAIN_JOB_VAL_FRACTION)


def add_recipe(p: argparse.ArgumentParser, *, hidden: tuple[int, ...]) -> None:
    """--recipe, as `train` and `pipeline` take it (after their other options): the
    recipe's options (RECIPE_OPTIONS) stay unset (None) unless given, so that the recipe
    fills them (`with_recipe`); their help names each recipe's value. `hidden`: the
    command's own hidden layers, the base recipe's."""
    speech = " ".join(f"--{n.replace('_', '-')} {_shown(v)}"
                      for n, v in job.RECIPES["speech"].items())
    p.add_argument("--recipe", choices=job.RECIPE_CHOICES, default="auto",
                   help=f"the settings for what the command line leaves out: base (each "
                        f"option's 'recipe base' value), speech ({speech}: the spoken-digit "
                        f"ablations' best, docs/speech.md), or auto (default): speech for "
                        f"SHD/SSC-layout data (`data prepare`), base otherwise")
    p.set_defaults(hidden_default=hidden, **{name: None for name in RECIPE_OPTIONS})
    for action in p._actions:
        if action.dest in RECIPE_OPTIONS:
            what = re.sub(r"\s*\(default (?:%\(default\)[a-z]|[^)])*\)$", "", action.help)
            what = "training epochs" if what.startswith("default") else what
            base = hidden if action.dest == "hidden" else _base_value(action.dest)
            action.help = (f"{what} (recipe base: {_shown(base)}; speech: "
                           f"{_shown(job.RECIPES['speech'][action.dest])})")


def _base_value(name: str):
    """What the base recipe leaves a config option at: the config's default."""
    config = ModelConfig if name in {f.name for f in fields(ModelConfig)} else TrainConfig
    return default(config, name)


def _shown(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else f"{value:g}" \
        if isinstance(value, float) else str(value)


def settings(args: argparse.Namespace, names: tuple[str, ...]) -> dict:
    """The config fields `names` as the command line set them; an option the command does
    not have, or left at None, leaves the field to the config's own default."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def with_recipe(args: argparse.Namespace, task: str | None) -> argparse.Namespace:
    """The options with the recipe's settings (`--recipe`, "auto" by the data's `task`)
    where the command line left them unset, and the job's own defaults after that; a
    command without --recipe is returned as it is."""
    if not hasattr(args, "recipe"):
        return args
    recipe = job.RECIPES[job.recipe_for(args.recipe, task)]
    filled = dict(vars(args))
    for name in RECIPE_OPTIONS:
        if filled.get(name) is None:
            filled[name] = recipe.get(name, args.hidden_default if name == "hidden" else None)
    return argparse.Namespace(**filled)


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig the options name, with errors that name the options."""
    for name in ("epochs", "batch_size"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")
    val = args.val_fraction if args.val_fraction is not None else args.val_fraction_default
    if not 0 <= val < 1:
        raise UserError(f"--val-fraction must lie in [0, 1), got {val:g}")
    return TrainConfig(**settings(args, TRAIN_OPTIONS), val_fraction=val)


def configs(args: argparse.Namespace, channels: int, classes: int, *, delays: bool | None = None,
            task: str | None = None):
    """ModelConfig and TrainConfig from the shared options (and the recipe, `with_recipe`,
    for the data's `task`)."""
    args = with_recipe(args, task)
    tcfg = train_config(args)
    mcfg = ModelConfig(inputs=channels, outputs=classes,
                       delays=(args.delays == "hidden") if delays is None else delays,
                       synaptic_delays=delays is None and args.delays == "synapses",
                       **settings(args, MODEL_OPTIONS))
    return mcfg, tcfg


def set_threads(args: argparse.Namespace) -> None:
    import torch

    if args.threads is not None:
        if args.threads < 1:
            raise UserError(f"--threads must be at least 1, got {args.threads}")
        torch.set_num_threads(args.threads)


def run(args: argparse.Namespace) -> int:
    guards.seed(args.seed)
    from spiketime.data.dataset import dataset_path

    dataset_path(args.data)
    guards.output_folder(args.out, (), "--out")  # the folder itself, before the heavy imports

    from spiketime.data.dataset import open_dataset
    from spiketime.train.distributed import from_environment, launched, shutdown
    from spiketime.train.run import FILES, metadata, resolve_device, train_run

    guards.output_folder(args.out, FILES, "--out")
    set_threads(args)
    ds = open_dataset(args.data)  # an events file stays on disk, read a batch at a time
    mcfg, tcfg = configs(args, ds.channels, ds.n_classes, task=ds.meta.task)
    device = resolve_device(args.device)
    comm = from_environment(device) if launched() else None
    main_rank = comm is None or comm.is_main  # one lock per run, held by rank 0
    try:
        with guards.folder_lock(args.out, "--out") if main_rank else contextlib.nullcontext():
            name = model_name(mcfg)
            result = train_run(ds.train, mcfg, tcfg, args.out,
                               meta=metadata(name, ds, mcfg, tcfg), resume=args.resume,
                               device=device, comm=comm, desc=f"train {name}")
    finally:
        if comm is not None:
            shutdown(comm)
    if comm is None or comm.is_main:
        _summary(args.out, result, mcfg, job.recipe_for(args.recipe, ds.meta.task))
    return 0


def _summary(out: Path, result, mcfg, recipe: str) -> None:
    from spiketime.train.model import architecture

    best = next(r for r in result.history if r.epoch == result.best_epoch)
    last = result.history[-1]

    def acc(r) -> str:
        return (f"train {100 * r.accuracy:.1f}%" + ("" if r.val_accuracy is None else
                                                   f", validation {100 * r.val_accuracy:.1f}%"))

    print(f"trained {architecture(mcfg)}, {last.epoch} epochs (recipe {recipe}): last epoch "
          f"{acc(last)}; best epoch {best.epoch} ({acc(best)})")
    print(f"wrote {out / 'best.pt'}, {out / 'last.pt'}, {out / 'history.json'}, "
          f"{out / 'curve.png'}")
