"""Do trained networks use their delays? Test accuracy with the delays replaced.

    .venv/bin/python scripts/delay_ablation.py [--runs runs/recipe] [--out docs/results/recipe]

For every delayed run of runs/recipe/plan.txt that finished (deploy.json present), the
trained network (weights and decays as trained) is scored on the test split four ways:
with its learned delays; with its initial delays restored (the fresh model of the same
config and seed); with every delay 0; and with the learned delays shuffled among the
layer's neurons (per-synapse delays: among its synapses; a seeded permutation); a run
whose folder is gone keeps its row from OUT/delay_ablation.json. Writes
OUT/delay_ablation.md and .json. Scored with the trained model's forward pass, which the
recipe runs show spike-exact with the deployed network (scripts/recipe_table.py).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from spiketime.data.dataset import load_dataset
from spiketime.readout import predict
from spiketime.train.evaluate import run_trained
from spiketime.train.model import SpikingNet, load_checkpoint

VARIANTS = ("learned", "initial", "zero", "shuffled")


def _delay_keys(state: dict) -> list[str]:
    return [k for k in state if k.endswith("delay.delay") or k.endswith("synaptic_delay.position")]


def ablate(checkpoint: Path, X, y) -> dict[str, float]:
    """Test accuracy per variant (VARIANTS) of the network in `checkpoint`."""
    model = load_checkpoint(checkpoint)
    with torch.random.fork_rng(devices=[]):  # building a model seeds torch's generator
        initial = SpikingNet(model.config).state_dict()
    state = model.state_dict()
    learned = {k: state[k].clone() for k in _delay_keys(state)}
    scores = {}
    for variant in VARIANTS:
        for k, value in learned.items():
            if variant == "learned":
                state[k].copy_(value)
            elif variant == "initial":
                state[k].copy_(initial[k])
            elif variant == "zero":
                state[k].zero_()
            else:
                order = torch.randperm(value.numel(), generator=torch.Generator().manual_seed(0))
                state[k].copy_(value.flatten()[order].reshape(value.shape))
        scores[variant] = float((predict(run_trained(model, X)) == y).mean())
    return scores


def main() -> None:
    from recipe_table import earlier_rows, plan_arguments  # its siblings in scripts/

    args, plan = plan_arguments(__doc__)
    earlier = earlier_rows(args.out / "delay_ablation.json")
    rows, data = [], {}
    for name, options in plan:
        run = args.runs / name
        if "--delays none" in options:
            continue
        if not (run / "deploy.json").is_file():
            rows += [earlier[name]] if name in earlier else []
            continue
        path = json.loads((run / "deploy.json").read_text())["data"]
        if path not in data:
            test = load_dataset(path).test
            data[path] = (test.X, test.y)
        rows.append({"run": name, "options": options, **ablate(run / "best.pt", *data[path])})
        print(rows[-1], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "delay_ablation.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["| run | learned delays | initial delays restored | all delays 0 | "
             "learned delays shuffled |", "|---" * 5 + "|"]
    lines += [f"| {r['run']} | **{100 * r['learned']:.1f}%** | {100 * r['initial']:.1f}% | "
              f"{100 * r['zero']:.1f}% | {100 * r['shuffled']:.1f}% |" for r in rows]
    (args.out / "delay_ablation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
