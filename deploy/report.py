"""Reports: report.json (the machine-readable verdict), report.md and PNG plots.

One builder serves the pipeline and the comparison harness. Artefact paths in
the report are relative to the report's own folder.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from spiketime.fileio import atomic_path, write_text

REPORT_VERSION = 1


def relative(path: str | os.PathLike, base: str | os.PathLike) -> str:
    return os.path.relpath(Path(path).resolve(), Path(base).resolve())


def write_report(out_dir: str | os.PathLike, report: dict, raster: tuple | None = None) -> list[Path]:
    """Write report.json, report.md and plots into out_dir; return the paths written."""
    out = Path(out_dir)
    report = {"report_version": REPORT_VERSION, **report}
    plots = [out / "accuracy.png"]
    _plot_accuracy(report, plots[0])
    conditions = report.get("conditions") or []
    if any(c["level"] is not None for c in conditions):
        plots.append(out / "sweep.png")
        _plot_sweep(report, plots[-1])
    if conditions:
        plots.append(out / "parity.png")
        _plot_parity(report, plots[-1])
    if raster is not None:
        plots.append(out / "raster.png")
        _plot_raster(*raster, plots[-1])
    report["plots"] = [p.name for p in plots]
    write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
    write_text(out / "report.md", markdown(report))
    return [out / "report.json", out / "report.md", *plots]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _pp(x: float) -> str:
    return f"{100 * x:+.1f}"


def markdown(report: dict) -> str:
    task = report["task"]
    title = "spiketime compare report" if report.get("conditions") else "spiketime report"
    lines = [
        f"# {title}", "",
        f"Task: **{task['name']}** ({task.get('variant', '')}), {task['classes']} classes, "
        f"{task.get('channels', '?')} channels x {task.get('steps', '?')} steps; "
        f"data `{task['data']}`, {task.get('test_samples', '?')} test samples.", "",
        "| model | trained acc | trained reversed | trained sensitivity | deployed acc "
        "| deployed reversed | deployed sensitivity | prediction agreement | spike-exact |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in report["models"]:
        t, d = m["trained"], m["deployed"]
        lines.append(
            f"| {m['name']} | {_pct(t['accuracy'])} | {_pct(t['accuracy_reversed'])} "
            f"| {_pct(t['reversal_sensitivity'])} | {_pct(d['accuracy'])} "
            f"| {_pct(d['accuracy_reversed'])} | {_pct(d['reversal_sensitivity'])} "
            f"| {_pct(m['prediction_agreement'])} | {_pct(m['spike_exact_fraction'])} |")
    lines += ["", f"Deployed backend: {', '.join(sorted({m['deployed']['backend'] for m in report['models']}))}."]
    for m in report["models"]:
        for c in m.get("confirm", []):
            verdict = "identical" if c["identical"] else f"DIFFERENT on samples {c['mismatched_samples']}"
            lines.append(f"- {m['name']}, {c['condition']}: {c['backend']} rerun of "
                         f"{c['samples']} samples: {verdict}.")
    if report.get("conditions"):
        lines += _condition_tables(report)
    parity = report["parity"]
    lines += ["", f"**Parity: {'PASSED' if parity['passed'] else 'FAILED'}** "
              f"(tolerance: {json.dumps(parity['tolerance'])})."]
    if parity.get("rule"):
        lines += ["", f"Rule: {parity['rule']}."]
    if parity.get("failed"):
        lines += ["", "Failed: " + "; ".join(parity["failed"]) + "."]
    if report.get("plots"):
        lines += [""] + [f"![{p}]({p})" for p in report["plots"]]
    lines += ["", "Artefact paths are relative to this report's folder.", ""]
    return "\n".join(lines)


def _condition_tables(report: dict) -> list[str]:
    """The per-condition verdict table and the reversal-sensitivity table (compare reports)."""
    conf = report["parity"].get("tolerance", {}).get("confidence", 0.95)
    ci = f"{100 * conf:g}% CI (pp)"
    lines = ["", "## Conditions", "",
             "Differences are deployed minus trained, in percentage points (pp), on the same samples.", "",
             f"| model | condition | backend | samples | trained acc | deployed acc | difference (pp) "
             f"| {ci} | McNemar p | agreement | spike-exact | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for e in report["conditions"]:
        lines.append(
            f"| {e['model']} | {e['label']} | {e['backend']} | {e['samples']} "
            f"| {_pct(e['trained_accuracy'])} | {_pct(e['deployed_accuracy'])} | {_pp(e['difference'])} "
            f"| [{_pp(e['ci'][0])}, {_pp(e['ci'][1])}] | {e['mcnemar_p']:.3g} "
            f"| {_pct(e['agreement'])} | {_pct(e['spike_exact_fraction'])} "
            f"| {'pass' if e['passed'] else '**FAIL**'} |")
    lines += ["", "## Reversal sensitivity", "",
              "Sensitivity = accuracy(original) - accuracy(time-reversed), same samples.", "",
              f"| model | backend | samples | trained (pp) | deployed (pp) | difference (pp) | {ci} "
              f"| sign-test p | verdict |",
              "|---|---|---|---|---|---|---|---|---|"]
    for s in report.get("sensitivity", []):
        lines.append(
            f"| {s['model']} | {s['backend']} | {s['samples']} | {_pp(s['trained'])} "
            f"| {_pp(s['deployed'])} | {_pp(s['difference'])} "
            f"| [{_pp(s['ci'][0])}, {_pp(s['ci'][1])}] | {s['sign_test_p']:.3g} "
            f"| {'pass' if s['passed'] else '**FAIL**'} |")
    return lines


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: Path) -> None:
    """Write a figure atomically as PNG and release it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def _plot_accuracy(report: dict, path: Path) -> None:
    """Grouped bars: per model, trained vs deployed, original vs reversed."""
    plt = _figure()
    models = report["models"]
    bars = [("trained", "accuracy", "original, trained"),
            ("deployed", "accuracy", "original, deployed"),
            ("trained", "accuracy_reversed", "reversed, trained"),
            ("deployed", "accuracy_reversed", "reversed, deployed")]
    colors = ["#1f77b4", "#aec7e8", "#d62728", "#ff9896"]
    width = 0.8 / len(bars)
    fig, ax = plt.subplots(figsize=(1.8 + 2.2 * len(models), 3.6))
    x = np.arange(len(models))
    for k, ((side, key, label), color) in enumerate(zip(bars, colors)):
        values = [100 * m[side][key] for m in models]
        ax.bar(x + (k - 1.5) * width, values, width, label=label, color=color)
    chance = 100 / report["task"]["classes"]
    ax.axhline(chance, color="grey", linestyle="--", linewidth=1, label="chance")
    ax.set_xticks(x, [m["name"] for m in models])
    ax.set_ylim(0, 105)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{report['task']['name']}: trained vs deployed, original vs time-reversed")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    _save(plt, fig, path)


def _plot_raster(sample: np.ndarray, reversed_sample: np.ndarray, title: str, path: Path) -> None:
    """One sample's input spikes, original above, time-reversed below."""
    plt = _figure()
    fig, axes = plt.subplots(2, 1, figsize=(7, 4.2), sharex=True)
    for ax, x, name in zip(axes, (sample, reversed_sample), ("original", "time-reversed")):
        ch, t = np.nonzero(x)
        ax.scatter(t, ch, s=6, marker="|", color="black")
        ax.set_ylabel("channel")
        ax.set_title(f"{title}: {name}", fontsize=9)
        ax.set_ylim(-1, x.shape[0])
    axes[-1].set_xlabel("time step")
    fig.tight_layout()
    _save(plt, fig, path)


_FAMILY_TITLES = {"jitter": "per-spike jitter (sigma, steps)",
                  "neuron_jitter": "per-neuron jitter (sigma, steps)",
                  "deletion": "spike deletion (p)"}


def _plot_sweep(report: dict, path: Path) -> None:
    """Accuracy against perturbation level: one row per perturbation, trained | deployed,
    one line per model (so with and without delays side by side). Level 0 is the original."""
    plt = _figure()
    conds = report["conditions"]
    primary = conds[0]["backend"]  # the backend that ran every sample
    families = list(dict.fromkeys(e["name"] for e in conds if e["level"] is not None))
    models = list(dict.fromkeys(e["model"] for e in conds))
    fig, axes = plt.subplots(len(families), 2, figsize=(8, 2.6 * len(families)),
                             sharey=True, squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for row, family in enumerate(families):
        for col, side in enumerate(("trained", "deployed")):
            ax = axes[row][col]
            for k, model in enumerate(models):
                mine = [e for e in conds if e["model"] == model and e["backend"] == primary]
                base = [e for e in mine if e["name"] == "original"]
                pts = [(0.0, e) for e in base] + [(e["level"], e) for e in mine if e["name"] == family]
                pts.sort(key=lambda p: p[0])
                ax.plot([p[0] for p in pts], [100 * p[1][f"{side}_accuracy"] for p in pts],
                        marker="o", color=colors[k % len(colors)], label=model,
                        linestyle="-" if side == "trained" else "--")
            ax.axhline(100 / report["task"]["classes"], color="grey", linestyle=":", linewidth=1)
            ax.set_ylim(0, 105)
            ax.set_xlabel(_FAMILY_TITLES.get(family, family), fontsize=8)
            ax.set_title(f"{side}" + (f" ({primary})" if side == "deployed" else ""), fontsize=9)
            if col == 0:
                ax.set_ylabel("accuracy (%)")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"{report['task']['name']}: accuracy under perturbation", fontsize=10)
    fig.tight_layout()
    _save(plt, fig, path)


def _plot_parity(report: dict, path: Path) -> None:
    """Deployed minus trained with its confidence interval, per condition, model and
    backend, against the tolerance band."""
    plt = _figure()
    conds = report["conditions"]
    labels = list(dict.fromkeys(e["label"] for e in conds)) + ["reversal sensitivity"]
    series = list(dict.fromkeys((e["model"], e["backend"]) for e in conds))
    tol = report["parity"]["tolerance"]["difference_pp"]
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.32 * len(labels) * max(1, len(series) / 2)))
    ax.axvspan(-tol, tol, color="#d9f0d3", label=f"tolerance +/-{tol:g} pp")
    ax.axvline(0, color="grey", linewidth=0.8)
    height = 0.8 / len(series)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (model, backend) in enumerate(series):
        items = [(labels.index(e["label"]), e) for e in conds
                 if e["model"] == model and e["backend"] == backend]
        items += [(len(labels) - 1, s) for s in report.get("sensitivity", [])
                  if s["model"] == model and s["backend"] == backend]
        y = np.array([i for i, _ in items]) + (k - (len(series) - 1) / 2) * height
        mid = np.array([100 * e["difference"] for _, e in items])
        lo = np.array([100 * e["ci"][0] for _, e in items])
        hi = np.array([100 * e["ci"][1] for _, e in items])
        err = [np.clip(mid - lo, 0, None), np.clip(hi - mid, 0, None)]
        ax.errorbar(mid, y, xerr=err, fmt="o", markersize=3, capsize=2,
                    color=colors[k % len(colors)], label=f"{model}, {backend}")
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("deployed - trained (percentage points), with confidence interval")
    ax.set_title(f"parity: {'PASSED' if report['parity']['passed'] else 'FAILED'}", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    _save(plt, fig, path)
