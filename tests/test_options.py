"""Every option of every command that builds a job config reaches the field it names.

The walk reads the real parser (`spiketime.cli.build_parser`): an option that is neither
routed to a config field here nor declared a run setting (a file, a device, a thread
count) fails the test, so a new option is wired before it ships.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest

from spiketime.cli import build_parser
from spiketime.commands.pipeline import pipeline_config
from spiketime.commands.train import configs

REQUIRED = {"train": ["--data", "d.h5", "--out", "run"], "pipeline": [], "experiment": []}


def _train(args: argparse.Namespace) -> dict:
    model, train = configs(args, 20, 2)
    return {"model": model, "train": train}


def _pipeline(args: argparse.Namespace) -> dict:
    cfg = pipeline_config(args)
    return {"job": cfg, "model": cfg.model_for(20, 2), "train": cfg.train}


def _experiment(args: argparse.Namespace) -> dict:
    from types import SimpleNamespace

    from spiketime.commands.experiment import experiment_config

    cfg = experiment_config(args)
    tasks = SimpleNamespace(names=tuple(t.name for t in cfg.grid.tasks),
                            n_per_class=cfg.grid.tasks[0].n_per_class)
    return {"job": cfg, "grid": cfg.grid, "train": cfg.grid.train, "tasks": tasks,
            "reference": cfg.grid.reference or SimpleNamespace(epochs=None)}


BUILD = {"train": _train, "pipeline": _pipeline, "experiment": _experiment}

# (option, its value on the command line, the config field it sets, the value there)
SHARED = [
    ("--hidden", "7,5", "model.hidden", (7, 5)),
    ("--current-decay", "0.9", "model.current_decay", 0.9),
    ("--voltage-decay", "0.2", "model.voltage_decay", 0.2),
    ("--surrogate", "fast-sigmoid", "model.surrogate", "fast-sigmoid"),
    ("--batch-size", "8", "train.batch_size", 8),
    ("--lr", "0.01", "train.lr", 0.01),
    ("--delay-lr", "0.5", "train.delay_lr", 0.5),
    ("--decay-lr", "0.7", "train.decay_lr", 0.7),
    ("--schedule", "cosine", "train.schedule", "cosine"),
    ("--dropout", "0.3", "model.dropout", 0.3),
    ("--channel-shift", "7", "train.channel_shift", 7),
    ("--val-fraction", "0.25", "train.val_fraction", 0.25),
    ("--loss", "spikemax", "train.loss", "spikemax"),
    ("--temperature", "3", "train.temperature", 3.0),
    ("--epochs", "4", "train.epochs", 4),
    ("--seed", "5", "train.seed", 5),
    ("--seed", "5", "model.seed", 5),
]
ROUTES = {
    "train": SHARED + [
        ("--delays", "hidden", "model.delays", True),
        ("--delays", "synapses", "model.synaptic_delays", True),
        ("--delay-sigma", "6", "model.delay_sigma", 6.0),
        ("--delay-anneal", "0.3", "model.delay_anneal", 0.3),
        ("--delay-init-max", "12", "model.delay_init_max", 12.0),
        ("--checkpoint-every", "3", "train.checkpoint_every", 3),
        ("--recipe", "speech", "train.channel_shift", 20),
    ],
    "pipeline": SHARED + [
        ("--out", "elsewhere", "job.out", Path("elsewhere")),
        ("--data", "d.h5", "job.data", Path("d.h5")),
        ("--samples-per-class", "9", "job.samples_per_class", 9),
        ("--steps", "80", "job.steps", 80),
        ("--backend", "lava-cpu", "job.backend", "lava-cpu"),
        ("--confirm-lava", "3", "job.confirm_lava", 3),
        ("--models", "tau,tau+syndelay", "job.models", ("tau", "tau+syndelay")),
        ("--allow-degenerate", None, "job.allow_degenerate", True),
        ("--seed", "5", "job.seed", 5),
        ("--recipe", "speech", "train.channel_shift", 20),
    ],
    "experiment": [
        ("--grid", "full", "grid.name", "full"),
        ("--out", "elsewhere", "job.out", Path("elsewhere")),
        ("--workers", "2", "job.workers", 2),
        ("--shard", "1/3", "job.shard", (1, 3)),
        ("--merge", None, "job.merge", True),
        ("--tasks", "coincidence", "tasks.names", ("coincidence",)),
        ("--seeds", "4,5", "grid.seeds", (4, 5)),
        ("--epochs", "3", "train.epochs", 3),
        ("--samples-per-class", "9", "tasks.n_per_class", 9),
        ("--confirm-lava", "0", "grid.confirm_lava", 0),
        ("--no-reference", None, "grid.reference", None),
        ("--reference-epochs", "2", "reference.epochs", 2),
    ],
}
# Options that set how or where a job runs, not what it computes.
RUN_SETTINGS = {"train": {"--data", "--out", "--resume", "--device", "--threads"},
                "pipeline": {"--device", "--threads"}, "experiment": set()}


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {max(a.option_strings, key=len) for a in parser._actions
            if a.option_strings and not isinstance(a, argparse._HelpAction)}


def _get(built: dict, path: str):
    head, field = path.split(".")
    return getattr(built[head], field)


@pytest.mark.parametrize("command", sorted(BUILD))
def test_every_option_is_routed_or_declared(command):
    options = _options(_commands()[command])
    routed = {option for option, *_ in ROUTES[command]}
    assert options - routed - RUN_SETTINGS[command] == set(), \
        "options that reach no config field: route them in ROUTES (or RUN_SETTINGS)"
    assert routed <= options and RUN_SETTINGS[command] <= options  # no stale rows


@pytest.mark.parametrize("command,option,value,path,expected",
                         [(c, *row) for c in sorted(ROUTES) for row in ROUTES[c]])
def test_each_option_reaches_its_field(command, option, value, path, expected):
    parser = build_parser()
    given = [option] + ([] if value is None else [value])
    before = _get(BUILD[command](parser.parse_args([command, *REQUIRED[command]])), path)
    after = _get(BUILD[command](parser.parse_args([command, *REQUIRED[command], *given])), path)
    assert after == expected and before != expected  # the option changed the field


def test_the_pipeline_decays_reach_the_exported_network(tmp_path, capsys):
    from support import call

    out = tmp_path / "run"
    proc = call(capsys, "pipeline", "--out", out, "--samples-per-class", "6", "--epochs", "1",
                "--hidden", "6", "--steps", "60", "--confirm-lava", "0", "--allow-degenerate",
                "--current-decay", "0.9", "--voltage-decay", "0.2", "--decay-lr", "0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for folder in ("tau", "tau_delay"):
        with h5py.File(out / folder / "model.net") as f:
            for i in range(len(f["layer"])):
                neuron = f[f"layer/{i}/neuron"]
                # 12-bit decays: round(4096 x decay), untouched at decay step size 0
                assert np.all(neuron["iDecay"][()] == 3686), (folder, i)
                assert np.all(neuron["vDecay"][()] == 819), (folder, i)


def _train_configs(*given: str, task: str | None):
    args = build_parser().parse_args(["train", *REQUIRED["train"], *given])
    return configs(args, 700, 20, task=task)


def test_the_speech_recipe_is_what_the_measured_runs_set_by_hand():
    """`--recipe auto` on SHD-layout data builds the very configs of the recipe runs in
    docs/speech.md (scripts/recipe_ablate.sh's options written out), and base elsewhere."""
    by_hand = _train_configs("--delays", "hidden", "--hidden", "128,128", "--batch-size", "32",
                             "--temperature", "1", "--epochs", "80", "--lr", "0.005",
                             "--schedule", "cosine", "--dropout", "0.2", "--channel-shift",
                             "20", task="isi")
    for task in ("shd", "ssc"):
        assert _train_configs("--delays", "hidden", task=task) == by_hand
    assert _train_configs("--delays", "hidden", "--recipe", "speech", task="isi") == by_hand
    model, train = _train_configs("--delays", "hidden", task="isi")  # synthetic: base
    assert model.hidden == (128,) and train.epochs == 30 and train.channel_shift == 0
    assert _train_configs("--delays", "hidden", "--recipe", "base", task="shd") == (model, train)


def test_the_pipeline_takes_the_same_recipe_by_the_datas_task():
    """`pipeline --data` on SHD-layout data trains both networks with the speech recipe,
    the very settings `train` takes there; on the built-in task the pipeline's own."""
    parser = build_parser()
    args = parser.parse_args(["pipeline", "--data", "d.h5"])
    cfg = pipeline_config(args, task="shd")
    model, train = _train_configs("--delays", "hidden", task="shd")
    assert cfg.train == replace(train, val_fraction=0.0)  # the pipeline's own: no validation
    assert cfg.model_for(700, 20, delays=True) == model
    builtin = pipeline_config(parser.parse_args(["pipeline"]))
    assert builtin.model_for(20, 2).hidden == (32,) and builtin.train.epochs == 30
    assert builtin.train.channel_shift == 0 and builtin.train.schedule == "constant"
    given = pipeline_config(parser.parse_args(["pipeline", "--epochs", "3"]), task="shd")
    assert given.train.epochs == 3 and given.model_for(700, 20).dropout == 0.2  # the rest: speech


def test_an_option_given_beats_the_recipe():
    model, train = _train_configs("--epochs", "3", "--dropout", "0", "--hidden", "16",
                                  task="shd")
    assert (train.epochs, model.dropout, model.hidden) == (3, 0.0, (16,))
    assert train.channel_shift == 20 and train.schedule == "cosine"  # the rest: the recipe's


def test_the_api_takes_the_recipe_and_refuses_an_unknown_one(tmp_path):
    from spiketime import api
    from spiketime.errors import UserError

    with pytest.raises(UserError, match="unknown recipe 'fast'"):
        api.train(tmp_path / "missing.h5", tmp_path / "run", recipe="fast")


@pytest.mark.parametrize("command", sorted(_commands()))
def test_every_commands_help_formats(command):
    """--help renders (argparse formats every option's help only then), and train's recipe
    options name the recipes' values rather than an unset default."""
    text = _commands()[command].format_help()
    assert "None" not in text
    if command in ("train", "pipeline"):
        assert "(recipe base: 30; speech: 80)" in " ".join(text.split())
