"""The recipe scripts' bookkeeping (scripts/recipe_table.py, scripts/recipe_claims.py):
rows kept across machines, runs grouped by setting and paired by seed."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _script(name: str):
    sys.path.insert(0, str(SCRIPTS))  # the scripts import their siblings
    try:
        spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(SCRIPTS))


def test_a_table_keeps_the_rows_of_runs_whose_folders_are_gone(tmp_path):
    table = tmp_path / "ablations.json"
    earlier_rows = _script("recipe_table").earlier_rows
    assert earlier_rows(table) == {}
    table.write_text(json.dumps([{"run": "a", "deployed_accuracy": 0.5}]))
    assert earlier_rows(table) == {"a": {"run": "a", "deployed_accuracy": 0.5}}


def _row(options: str, accuracy: float, val: float = 0.5) -> dict:
    return {"options": options, "deployed_accuracy": accuracy, "val_accuracy_best": val}


def test_runs_group_by_setting_and_pair_by_seed():
    claims = _script("recipe_claims")
    base = "--epochs 40 --dropout 0.2"
    rows = [_row(f"--delays synapses {base} --seed {s}", a) for s, a in
            [(0, 0.80), (1, 0.82), (2, 0.81)]]
    rows += [_row(f"--delays none {base} --seed {s}", a) for s, a in
             [(0, 0.70), (1, 0.65), (2, 0.72), (3, 0.60)]]
    rows += [_row(f"--delays hidden --epochs 80 --dropout 0.2 --seed {s}", 0.7) for s in (0, 1)]
    summary = claims.summarise(rows)
    groups = {(g["setting"], g["model"]): g for g in summary["groups"]}
    assert set(groups) == {(base, "tau+per-synapse"), (base, "tau"),
                           ("--epochs 80 --dropout 0.2", "tau+axonal")}
    assert groups[base, "tau"]["seeds"] == [0, 1, 2, 3]
    assert groups[base, "tau"]["deployed"].mean == pytest.approx(0.6675)
    (pair,) = summary["pairs"]  # the 80-epoch setting has one model: nothing to pair
    assert pair["effect"] == "tau+per-synapse minus tau" and pair["seeds"] == [0, 1, 2]
    assert pair["per_seed"] == pytest.approx([0.10, 0.17, 0.09])
    assert pair["paired"].lo > 0 and pair["status"] == "reproduced"
    (best,) = summary["best"]  # the 80-epoch setting has too few seeds to be chosen
    assert best["per_seed"] == pair["per_seed"] and best["setting"] == f"{base} / {base}"
    rows += [_row(f"--delays none --epochs 9 --seed {s}", 0.5, val=0.9) for s in (0, 1, 2)]
    (best,) = claims.summarise(rows)["best"]  # tau's validation now picks 9 epochs
    assert best["setting"] == f"{base} / --epochs 9" and best["per_seed"] == pytest.approx(
        [0.30, 0.32, 0.31])
    rows[4]["deployed_accuracy"] = 0.90  # seed 1: tau ahead, the interval now spans 0
    assert claims.summarise(rows)["pairs"][0]["status"] == "inconclusive"
