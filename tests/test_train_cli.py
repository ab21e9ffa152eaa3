"""`spiketime train`'s options reach the configs, and its defaults are the configs' own."""
from __future__ import annotations

import argparse
from dataclasses import fields

import pytest

from spiketime.commands import train as train_cmd
from spiketime.errors import UserError
from spiketime.train.model import ModelConfig
from spiketime.train.trainer import TrainConfig


def _args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    train_cmd.register(parser.add_subparsers())
    return parser.parse_args(["train", "--data", "d.h5", "--out", "run", *extra])


def _default(cls, name):
    return next(f.default for f in fields(cls) if f.name == name)


def test_the_cli_defaults_are_the_configs_defaults():
    mcfg, tcfg = train_cmd.configs(_args(), 10, 2)
    assert mcfg == ModelConfig(inputs=10, hidden=(128,), outputs=2)
    assert tcfg == TrainConfig(val_fraction=0.1)  # train's one default of its own
    assert _default(TrainConfig, "loss") == "count"  # the documented loss


def test_initial_decays_reach_the_model_and_bad_ones_are_refused():
    mcfg, _ = train_cmd.configs(_args("--current-decay", "0.5", "--voltage-decay", "0.1"), 10, 2)
    assert (mcfg.current_decay, mcfg.voltage_decay) == (0.5, 0.1)
    for bad in ("1.5", "-0.1", "nan"):
        with pytest.raises(UserError, match=r"voltage_decay must lie in \[0, 1\]"):
            train_cmd.configs(_args("--voltage-decay", bad), 10, 2)
