"""The recipe ablations on spoken-digit Whole (docs/speech.md, issue 23): one row per run.

    .venv/bin/python scripts/recipe_table.py [--runs runs/recipe] [--out docs/results/recipe]

For every run folder under --runs that `scripts/recipe_ablate.sh` finished (deploy.json
present; a run of the plan whose folder is gone keeps its row from OUT/ablations.json)
it runs `spiketime compare` once (emulator, the whole test split, original and reversed;
cached in RUN/parity) so the trained network's test accuracy stands beside the deployed
one, then writes OUT/ablations.md and OUT/ablations.json: the options (from
runs/recipe/plan.txt), the last epoch's train accuracy, the best validation accuracy,
trained and deployed test accuracy, reversal sensitivity and whether every spike agreed;
for a delayed model also how far its delays moved (the mean |final - initial| of the
deployed integer delays per delayed layer, and the share left at 0 or at the cap, 62),
with the histograms drawn to RUN/delays.png.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path


def _compare(run: Path, data: str) -> dict:
    report = run / "parity" / "report.json"
    if not report.is_file():
        subprocess.run([sys.executable, "-m", "spiketime", "compare", "--model",
                        str(run / "best.pt"), "--netx", str(run / "model.net"), "--data", data,
                        "--backends", "emulator", "--jitter", "none", "--neuron-jitter", "none",
                        "--deletion", "none", "--out", str(run / "parity")],
                       check=True, capture_output=True, text=True)
    return json.loads(report.read_text())


def _delay_moves(run: Path) -> list[dict]:
    """Per delayed layer: the mean move of its deployed delays, and the shares at 0 and 62."""
    from spiketime import loihi2
    from spiketime.parity.delay_plot import initial_and_final, plot_learned_delays
    from spiketime.train.model import load_checkpoint

    model = load_checkpoint(run / "best.pt")
    layers = initial_and_final(model)
    if layers and not (run / "delays.png").is_file():
        plot_learned_delays({run.name: model}, run / "delays.png")
    return [{"layer": i, "mean_move": float(abs(final.astype(float) - start).mean()),
             "at_zero": float((final == 0).mean()),
             "at_cap": float((final == loihi2.MAX_DELAY).mean())}
            for i, (start, final) in layers.items()]


def _row(name: str, options: str, run: Path) -> dict:
    deploy = json.loads((run / "deploy.json").read_text())
    history = json.loads((run / "history.json").read_text())["history"]
    report = _compare(run, deploy["data"])
    model = report["models"][0]
    return {
        "run": name, "options": options, "epochs": len(history),
        "train_accuracy_last": history[-1]["accuracy"],
        "val_accuracy_best": max(r["val_accuracy"] for r in history),
        "trained_accuracy": model["trained"]["accuracy"],
        "deployed_accuracy": deploy["accuracy"],
        "reversal_sensitivity_deployed": model["deployed"]["reversal_sensitivity"],
        "spike_exact": model["spike_exact_fraction"] == 1.0,
        "delays": _delay_moves(run),
    }


def plan_arguments(doc: str) -> tuple[argparse.Namespace, list[list[str]]]:
    """--runs and --out (the recipe scripts' two options) and RUNS/plan.txt's (name, options)."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--runs", type=Path, default=Path("runs/recipe"))
    ap.add_argument("--out", type=Path, default=Path("docs/results/recipe"))
    args = ap.parse_args()
    plan = [line.split(maxsplit=1) for line in (args.runs / "plan.txt").read_text().splitlines()
            if line.strip()]
    return args, plan


def earlier_rows(table: Path) -> dict[str, dict]:
    """The rows an earlier run of a script wrote to `table` (its .json), by run: a plan's run
    whose folder is gone (runs/ does not outlive a machine) keeps the row measured while it
    was there."""
    return {r["run"]: r for r in json.loads(table.read_text())} if table.is_file() else {}


def main() -> None:
    args, plan = plan_arguments(__doc__)
    earlier = earlier_rows(args.out / "ablations.json")
    rows = []
    for name, options in plan:
        if (args.runs / name / "deploy.json").is_file():
            rows.append(_row(name, options, args.runs / name))
        elif name in earlier:
            rows.append(earlier[name])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ablations.json").write_text(json.dumps(rows, indent=1) + "\n")
    pct = lambda x: f"{100 * x:.1f}%"  # noqa: E731
    lines = ["| run | options (beside --recipe base --hidden 128,128 --batch-size 32 "
             "--temperature 1) | epochs | train, last epoch | validation, best | trained, test | "
             "deployed, test | reversal sensitivity | every spike equal | delays: mean move "
             "per layer (share at 0 / at 62) |", "|---" * 10 + "|"]
    moves = lambda r: "; ".join(  # noqa: E731
        f"L{d['layer']} {d['mean_move']:.1f} ({pct(d['at_zero'])} / {pct(d['at_cap'])})"
        for d in r["delays"]) or "-"
    lines += [f"| {r['run']} | `{r['options']}` | {r['epochs']} | {pct(r['train_accuracy_last'])} "
              f"| {pct(r['val_accuracy_best'])} | {pct(r['trained_accuracy'])} | "
              f"**{pct(r['deployed_accuracy'])}** | {100 * r['reversal_sensitivity_deployed']:.1f} "
              f"points | {'yes' if r['spike_exact'] else 'no'} | {moves(r)} |" for r in rows]
    (args.out / "ablations.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
