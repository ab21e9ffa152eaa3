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
    if raster is not None:
        plots.append(out / "raster.png")
        _plot_raster(*raster, plots[-1])
    report["plots"] = [p.name for p in plots]
    write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
    write_text(out / "report.md", markdown(report))
    return [out / "report.json", out / "report.md", *plots]


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def markdown(report: dict) -> str:
    task = report["task"]
    lines = [
        "# spiketime report", "",
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
    parity = report["parity"]
    lines += ["", f"**Parity: {'PASSED' if parity['passed'] else 'FAILED'}** "
              f"(tolerance: {json.dumps(parity['tolerance'])})."]
    if report.get("plots"):
        lines += [""] + [f"![{p}]({p})" for p in report["plots"]]
    lines += ["", "Artefact paths are relative to this report's folder.", ""]
    return "\n".join(lines)


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


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
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


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
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
