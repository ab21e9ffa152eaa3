"""The paper's speech experiment on the espeak-ng spoken-digit corpus (docs/speech.md).

Stages, each a `spiketime` command, each skipped when its output exists (so a killed run
resumes where it stopped; a training run resumes from its last.pt):
  1. encode the corpus:  data encode-audio --audio CORPUS --out OUT/raw
  2. per variant:        data prepare --dataset shd --variant V  ->  OUT/data/V.h5
                         data audit --json                       ->  RESULTS/audit_V.json
  3. per cell (variant, model, seed), cells in --order:
       train (tau: --delays none, tau+delay: --delays hidden), export best.pt,
       compare on emulator + lava-cpu (original and reversed; Lava confirms a subset
       spike for spike) and compare on the emulator alone (jitter, neuron jitter,
       deletion sweep), each on the whole test split.
After every cell, RESULTS/results.{json,md} and RESULTS/speech.png are rewritten from all
finished cells. Each command's output goes to OUT/log.txt; run times to the cell files.

    nohup .venv/bin/python scripts/speech_experiment.py > runs/speech/exp.log 2>&1 &
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from spiketime.parity.claims import claim_status, stat_of

MODELS = {"tau": "none", "tau+delay": "hidden"}
COMPARE_OK = (0, 1, 3)  # PASSED, FAILED, INCONCLUSIVE: all write a report worth keeping


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default="runs/speech/corpus")
    p.add_argument("--out", default="runs/speech/exp")
    p.add_argument("--results", default="docs/results/speech")
    p.add_argument("--variants", default="whole,part,norm",
                   help="prepared and audited; one prepare refuses (empty) is recorded, skipped")
    p.add_argument("--cells", default="whole:0,norm:0,whole:1,norm:1,part:0,part:1",
                   help="VARIANT:SEED pairs trained, in this order (both models each)")
    p.add_argument("--part-coverage", type=float, default=1.0,
                   help="data prepare --part-coverage for part and norm (1: the paper's rule)")
    p.add_argument("--dt-ms", type=float, default=14.0)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=0.005)
    p.add_argument("--temperature", type=float, default=1.0, help="train's count-loss temperature")
    p.add_argument("--current-decay", type=float, default=0.25, help="train's initial decays")
    p.add_argument("--voltage-decay", type=float, default=0.03)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--recipe", default="base",
                   help="train's recipe for the settings not given here (base, the default, "
                        "is what the committed runs used; speech: docs/train.md)")
    p.add_argument("--lava-subset", type=int, default=8)
    p.add_argument("--sweep", default="--jitter 2,4 --neuron-jitter 5 --deletion 0.2,0.4",
                   help="compare's perturbation levels for the emulator sweep")
    args = p.parse_args()

    out, results = Path(args.out), Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    results.mkdir(parents=True, exist_ok=True)
    log = out / "log.txt"
    exe = str(Path(sys.executable).with_name("spiketime"))
    timings = _load(out / "timings.json") or {}

    def stage(key: str, done: Path, cmd: list[str], ok: tuple[int, ...] = (0,)) -> None:
        if done.exists():
            return
        seconds = _run([exe, *cmd], log, ok)
        timings[key] = round(seconds, 1)
        (out / "timings.json").write_text(json.dumps(timings, indent=1) + "\n")
        print(f"{time.strftime('%H:%M:%S')} {key}: {seconds:.0f} s", flush=True)

    raw = out / "raw"
    stage("encode", raw / "shd_test.h5",
          ["data", "encode-audio", "--audio", args.corpus, "--out", str(raw), "--jobs", "2"])
    if "encoder_commit" not in timings:  # the code that encoded raw/ (it is still changing)
        timings["encoder_commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        (out / "timings.json").write_text(json.dumps(timings, indent=1) + "\n")
    for variant in args.variants.split(","):
        data = out / "data" / f"{variant}.h5"
        coverage = [] if variant == "whole" else ["--part-coverage", str(args.part_coverage)]
        stage(f"prepare {variant}", data,
              ["data", "prepare", "--dataset", "shd", "--raw", str(raw), "--variant", variant,
               "--dt-ms", str(args.dt_ms), "--steps", str(args.steps), *coverage,
               "--out", str(data)], (0, 2))
        audit = results / f"audit_{variant}.json"
        if not data.exists():  # refused (e.g. part/norm empty): the reason is the log's last line
            reason = log.read_text().strip().splitlines()[-1]
            audit.write_text(json.dumps({"variant": variant, "prepared": False,
                                         "error": reason}, indent=1) + "\n")
            print(f"{variant}: {reason}", flush=True)
        cached = json.loads(audit.read_text()) if audit.exists() else {}
        if not cached or ("rate_accuracy" in cached and "reference" not in cached):
            t0 = time.time()  # (an audit from before the non-spiking reference: redone)
            proc = subprocess.run([exe, "data", "audit", str(data), "--json"],
                                  capture_output=True, text=True, check=True)
            result = json.loads(proc.stdout) | {"seconds": round(time.time() - t0, 1)}
            audit.write_text(json.dumps(result, indent=1) + "\n")

    for cell in args.cells.split(","):
        variant, seed = cell.split(":")
        data = out / "data" / f"{variant}.h5"
        if not data.exists():
            continue
        for model, delays in MODELS.items():
            name = f"{variant}-{model.replace('+', '_')}-s{seed}"
            run = out / "runs" / name
            key = f"{name}:"
            train = ["train", "--data", str(data), "--out", str(run), "--hidden", "128,128",
                     "--delays", delays, "--epochs", str(args.epochs), "--seed", seed,
                     "--batch-size", str(args.batch_size), "--lr", str(args.lr),
                     "--temperature", str(args.temperature),
                     "--current-decay", str(args.current_decay),
                     "--voltage-decay", str(args.voltage_decay), "--threads", str(args.threads),
                     "--recipe", args.recipe]
            resume = ["--resume"] if (run / "last.pt").exists() else []
            stage(key + "train", run / "train.done", train + resume)
            (run / "train.done").touch()
            stage(key + "export", run / "model.net",
                  ["export", str(run / "best.pt"), "--out", str(run / "model.net")])
            both = ["compare", "--model", str(run / "best.pt"), "--netx", str(run / "model.net"),
                    "--data", str(data), "--allow-degenerate"]
            stage(key + "parity", run / "parity" / "report.json",
                  both + ["--backends", "emulator,lava-cpu", "--lava-subset",
                          str(args.lava_subset), "--jitter", "none", "--neuron-jitter", "none",
                          "--deletion", "none", "--out", str(run / "parity")], COMPARE_OK)
            stage(key + "sweep", run / "sweep" / "report.json",
                  both + ["--backends", "emulator", *args.sweep.split(), "--out",
                          str(run / "sweep")], COMPARE_OK)
            _write_cell(results / "cells" / f"{name}.json", run, variant, model, int(seed),
                        {k.split(":")[1]: v for k, v in timings.items() if k.startswith(key)})
            _summarise(results, args)
    return 0


def _run(cmd: list[str], log: Path, ok: tuple[int, ...]) -> float:
    t0 = time.time()
    with open(log, "a") as f:
        f.write(f"\n$ {' '.join(cmd)}\n")
        f.flush()
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=False).returncode
    if rc not in ok:
        raise SystemExit(f"failed (exit {rc}): {' '.join(cmd)}; see {log}")
    return time.time() - t0


def _load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _write_cell(path: Path, run: Path, variant: str, model: str, seed: int,
                seconds: dict) -> None:
    history = _load(run / "history.json")
    parity, sweep = _load(run / "parity" / "report.json"), _load(run / "sweep" / "report.json")
    best = history["history"][history["best_epoch"] - 1]
    lava = [c for c in parity["conditions"] if c["backend"] == "lava-cpu"]
    emu = {c["label"]: c for c in sweep["conditions"] if c["backend"] == "emulator"}
    m = sweep["models"][0]
    cell = {
        "variant": variant, "model": model, "seed": seed,
        "epochs": len(history["history"]), "best_epoch": history["best_epoch"],
        "train_accuracy": best["accuracy"], "val_accuracy": best.get("val_accuracy"),
        "test_samples": sweep["task"]["test_samples"], "channels": sweep["task"]["channels"],
        "trained_accuracy": m["trained"]["accuracy"],
        "deployed_accuracy": m["deployed"]["accuracy"],
        "trained_reversed": m["trained"]["accuracy_reversed"],
        "deployed_reversed": m["deployed"]["accuracy_reversed"],
        "trained_reversal_sensitivity": m["trained"]["reversal_sensitivity"],
        "deployed_reversal_sensitivity": m["deployed"]["reversal_sensitivity"],
        "emulator_spike_exact": m["spike_exact_fraction"],
        "lava_samples": lava[0]["samples"] if lava else 0,
        "lava_spike_exact": min(c["spike_exact_fraction"] for c in lava) if lava else None,
        "parity_verdict": parity["parity"]["verdict"], "sweep_verdict": sweep["parity"]["verdict"],
        "deployed_under": {k: c["deployed_accuracy"] for k, c in emu.items()},
        "trained_under": {k: c["trained_accuracy"] for k, c in emu.items()},
        "seconds": seconds,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cell, indent=1) + "\n")


def _summarise(results: Path, args: argparse.Namespace) -> None:
    cells = [json.loads(p.read_text()) for p in sorted((results / "cells").glob("*.json"))]
    audits = {p.stem.removeprefix("audit_"): json.loads(p.read_text())
              for p in sorted(results.glob("audit_*.json"))}
    groups: dict[tuple[str, str], list[dict]] = {}
    for c in cells:
        groups.setdefault((c["variant"], c["model"]), []).append(c)
    rows = []
    for (variant, model), cs in sorted(groups.items()):
        row = {"variant": variant, "model": model, "seeds": sorted(c["seed"] for c in cs)}
        for key in ("trained_accuracy", "deployed_accuracy", "trained_reversal_sensitivity",
                    "deployed_reversal_sensitivity"):
            values = np.array([c[key] for c in cs])
            row[key] = {"mean": float(values.mean()), "sd": float(values.std(ddof=1))
                        if len(values) > 1 else None, "values": values.tolist()}
        row["emulator_spike_exact"] = min(c["emulator_spike_exact"] for c in cs)
        row["lava_spike_exact"] = min((c["lava_spike_exact"] for c in cs
                                       if c["lava_spike_exact"] is not None), default=None)
        rows.append(row)
    settings = {k: getattr(args, k) for k in ("dt_ms", "steps", "part_coverage", "epochs",
                                              "batch_size", "lr", "temperature", "current_decay",
                                              "voltage_decay", "lava_subset", "sweep")}
    settings["encoder_commit"] = (_load(Path(args.out) / "timings.json") or {}).get(
        "encoder_commit")
    effects = _delay_effects(cells)
    audit_rows = {v: _audit_row(a) if "rate_accuracy" in a else a for v, a in audits.items()}
    (results / "results.json").write_text(json.dumps(
        {"settings": settings, "rows": rows, "delay_effects": effects, "audits": audit_rows},
        indent=1) + "\n")
    (results / "results.md").write_text(_table(rows, audits, cells, settings, effects))
    _figure(results / "speech.png", cells, audits)


def _delay_effects(cells: list[dict]) -> list[dict]:
    """Per variant, tau+delay minus tau on the deployed networks, paired by seed: accuracy
    and reversal sensitivity, each a mean with its 95% t-interval and the claims' status
    (reproduced only when the interval lies above 0)."""
    out = []
    for variant in sorted({c["variant"] for c in cells}):
        by = {(c["model"], c["seed"]): c for c in cells if c["variant"] == variant}
        seeds = sorted(s for m, s in by if m == "tau" and ("tau+delay", s) in by)
        row = {"variant": variant, "seeds": seeds}
        for key in ("deployed_accuracy", "deployed_reversal_sensitivity"):
            diff = [by["tau+delay", s][key] - by["tau", s][key] for s in seeds]
            stat = stat_of(diff)
            row[key] = {"values": diff, "mean": stat.mean, "lo": stat.lo, "hi": stat.hi,
                        "status": claim_status(stat), "text": stat.text(unit=" points")}
        out.append(row)
    return out


def _audit_row(a: dict) -> dict:
    return {k: a[k] for k in ("channels", "n_samples", "rate_accuracy", "rate_accuracy_std",
                              "position_accuracy", "position_accuracy_std", "chance",
                              "p_value", "position_p_value", "verdict", "seconds")
            } | ({"reference": a["reference"]} if "reference" in a else {})


def _reference(a: dict | None) -> str:
    """The variant's non-spiking reference (test accuracy, training time), or '-'."""
    r = (a or {}).get("reference")
    return "-" if r is None else f"{100 * r['accuracy']:.1f}% ({r['seconds']:.0f} s)"


def _pct(stat: dict) -> str:
    sd = "" if stat["sd"] is None else f" ± {100 * stat['sd']:.1f}"
    return f"{100 * stat['mean']:.1f}{sd}"


def _table(rows: list[dict], audits: dict, cells: list[dict], settings: dict,
           effects: list[dict]) -> str:
    lines = ["# Speech experiment on the spoken-digit corpus (generated by "
             "scripts/speech_experiment.py)", "", f"Settings: {json.dumps(settings)}", "",
             "| variant | channels | samples | rate-only audit | first/last-spike audit (timing) "
             "| chance | non-spiking reference (GRU, test split) |",
             "|---|---|---|---|---|---|---|"]
    for v, a in audits.items():
        if "rate_accuracy" not in a:
            lines.append(f"| {v} | not prepared: {a['error']} | | | | | |")
            continue
        lines.append(f"| {v} | {a['channels']} | {a['n_samples']} | "
                     f"{100 * a['rate_accuracy']:.1f}% "
                     f"(p={a['p_value']:.2g}) | {100 * a['position_accuracy']:.1f}% "
                     f"(p={a['position_p_value']:.2g}) | {100 * a['chance']:.1f}% | "
                     f"{_reference(a)} |")
    lines += ["", "Accuracy on the whole test split (held-out voices), % mean ± sd over seeds; "
              "reversal sensitivity = original minus time-reversed accuracy, points; "
              "spike-identical: the lowest share over seeds of samples (all conditions) whose "
              "every spike the emulator reproduces (trained = emulator), and of Lava's subset "
              "(emulator = Lava).", "",
              "| variant | model | seeds | trained | deployed (emulator) | reference (GRU) | "
              "reversal trained | reversal deployed | trained = emulator | emulator = Lava |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        exact = "-" if r["lava_spike_exact"] is None else f"{100 * r['lava_spike_exact']:.0f}%"
        lines.append(f"| {r['variant']} | {r['model']} | {','.join(map(str, r['seeds']))} | "
                     f"{_pct(r['trained_accuracy'])} | {_pct(r['deployed_accuracy'])} | "
                     f"{_reference(audits.get(r['variant']))} | "
                     f"{_pct(r['trained_reversal_sensitivity'])} | "
                     f"{_pct(r['deployed_reversal_sensitivity'])} | "
                     f"{100 * r['emulator_spike_exact']:.1f}% | {exact} |")
    lines += ["", "tau+delay minus tau, paired by seed (deployed): mean [95% t-interval]; "
              "reproduced only when the interval lies above 0.", "",
              "| variant | seeds | accuracy gain | | reversal sensitivity gain | |",
              "|---|---|---|---|---|---|"]
    for e in effects:
        acc, rev = e["deployed_accuracy"], e["deployed_reversal_sensitivity"]
        lines.append(f"| {e['variant']} | {','.join(map(str, e['seeds']))} | {acc['text']} | "
                     f"{acc['status']} | {rev['text']} | {rev['status']} |")
    if cells:
        labels = list(cells[0]["deployed_under"])
        lines += ["", "Deployed accuracy (emulator, %) per cell under each condition:", "",
                  "| cell | " + " | ".join(labels) + " | parity | s (train, parity, sweep) |",
                  "|---" * (len(labels) + 3) + "|"]
        for c in cells:
            s = c["seconds"]
            lines.append(f"| {c['variant']} {c['model']} s{c['seed']} | " + " | ".join(
                f"{100 * c['deployed_under'].get(k, float('nan')):.1f}" for k in labels)
                + f" | {c['parity_verdict']} | {s.get('train', '-')}, {s.get('parity', '-')}, "
                f"{s.get('sweep', '-')} |")
    return "\n".join(lines) + "\n"


def _figure(path: Path, cells: list[dict], audits: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = [v for v in ("whole", "part", "norm") if any(c["variant"] == v for c in cells)]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for k, (key, title) in enumerate((("deployed_accuracy", "deployed accuracy (emulator)"),
                                      ("deployed_reversal_sensitivity",
                                       "reversal sensitivity (deployed)"))):
        ax = axes[k]
        for j, model in enumerate(MODELS):
            for i, v in enumerate(variants):
                ys = [100 * c[key] for c in cells if c["variant"] == v and c["model"] == model]
                x = i + (j - 0.5) * 0.3
                ax.bar(x, np.mean(ys) if ys else 0, 0.28, color=f"C{j}", alpha=0.6,
                       label=model if i == 0 else None)
                ax.plot([x] * len(ys), ys, "k.", ms=6)
        if k == 0:  # what linear read-outs of counts / first-last spike times reach
            for i, v in enumerate(variants):
                a = audits.get(v, {})
                if "rate_accuracy" in a:
                    ax.plot([i - 0.45, i + 0.45], [100 * a["rate_accuracy"]] * 2, "r-",
                            label="rate-only audit" if i == 0 else None)
                    ax.plot([i - 0.45, i + 0.45], [100 * a["position_accuracy"]] * 2, "m--",
                            label="first/last-spike audit" if i == 0 else None)
                    ax.plot([i - 0.45, i + 0.45], [100 * a["chance"]] * 2, ":", color="grey",
                            label="chance" if i == 0 else None)
        ax.set_xticks(range(len(variants)), variants)
        ax.set_ylabel("%" if k == 0 else "points")
        ax.set_title(title)
        if k == 0:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
