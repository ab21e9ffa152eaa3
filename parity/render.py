"""report.md and the PNG plots, drawn from the typed reports (`parity.reports`).

`parity.report_files.write_report` calls these; nothing here reads or writes report.json.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from spiketime.data.perturb import PERTURBATIONS
from spiketime.fileio import atomic_path
from spiketime.parity.chance import UNDEFINED_AT_CHANCE
from spiketime.parity.reports import (
    FAILED,
    Accuracy,
    CompareReport,
    Evidence,
    ExperimentResults,
    Report,
)


def plots(report: Report, out: Path, raster: tuple | None = None) -> list[Path]:
    """Draw every plot the report has data for into `out`; return their paths."""
    paths = [out / "accuracy.png"]
    _plot_accuracy(report, paths[0])
    if all(m.summary.evidence is not None for m in report.models) and report.models:
        paths.append(out / "activity.png")
        _plot_activity(report, paths[-1])
    if isinstance(report, CompareReport):
        if any(c.level is not None for c in report.conditions):
            paths.append(out / "sweep.png")
            _plot_sweep(report, paths[-1])
        paths.append(out / "parity.png")
        _plot_parity(report, paths[-1])
    if raster is not None:
        paths.append(out / "raster.png")
        _plot_raster(*raster, paths[-1])
    return paths


# --- report.md -----------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _pp(x: float) -> str:
    return f"{100 * x:+.1f}"


def markdown(report: Report) -> str:
    task = report.task
    compare = isinstance(report, CompareReport)
    title = "spiketime compare report" if compare else "spiketime report"
    lines = [
        f"# {title}", "",
        f"Task: **{task.name}** ({task.variant}), {task.classes} classes, "
        f"{task.channels} channels x {task.steps} steps; "
        f"data `{task.data}`, {task.test_samples} test samples.", "",
        "| model | trained acc | trained reversed | trained sensitivity | deployed acc "
        "| deployed reversed | deployed sensitivity | prediction agreement | spike-exact |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in report.models:
        s = m.summary
        t, d = s.trained, s.deployed
        lines.append(
            f"| {m.name} | {_pct(t.accuracy)} | {_pct(t.accuracy_reversed)} "
            f"| {_sensitivity(t, s.evidence)} | {_pct(d.accuracy)} "
            f"| {_pct(d.accuracy_reversed)} | {_sensitivity(d, s.evidence)} "
            f"| {_pct(s.prediction_agreement)} | {_pct(s.spike_exact_fraction)} |")
    backends = sorted({m.summary.deployed.backend for m in report.models})
    lines += ["", f"Deployed backend: {', '.join(backends)}."]
    for m in report.models:
        for c in m.summary.confirm:
            verdict = ("identical" if c.identical
                       else f"DIFFERENT on samples {list(c.mismatched_samples)}")
            lines.append(f"- {m.name}, {c.condition}: {c.backend} rerun of "
                         f"{c.samples} samples: {verdict}.")
    lines += _evidence(report)
    if compare:
        lines += _condition_tables(report)
    parity = report.parity
    lines += ["", f"**Parity: {parity.verdict}** "
              f"(tolerance: {json.dumps(parity.tolerance)})."]
    if compare:
        lines += ["", f"Rule: {parity.rule}."]
        if parity.failed:
            lines += ["", "Failed: " + "; ".join(parity.failed) + "."]
    decision = parity.decision
    if decision is not None and decision.verdict != FAILED and decision.reasons:
        lines += ["", "Inconclusive: the evidence cannot carry a pass (exit 3):", ""]
        lines += [f"- {r}" for r in decision.reasons]
    if decision is not None and decision.warnings:
        label = ("Also noted" if decision.verdict == FAILED
                 else "Degenerate evidence allowed by --allow-degenerate")
        lines += ["", f"{label}:", ""] + [f"- {w}" for w in decision.warnings]
    if report.plots:
        lines += [""] + [f"![{p}]({p})" for p in report.plots]
    lines += ["", "Artefact paths are relative to this report's folder.", ""]
    return "\n".join(lines)


def _sensitivity(side: Accuracy, evidence: Evidence | None) -> str:
    if evidence is not None and evidence.sensitivity_at_chance(side):
        return UNDEFINED_AT_CHANCE
    return _pct(side.reversal_sensitivity)


def _row_verdict(verdict: str) -> str:
    return {"pass": "pass", "fail": "**FAIL**"}.get(verdict, f"*{verdict}*")


def _evidence(report: Report) -> list[str]:
    """Chance interval, degeneracy and per-layer activity of both sides, when recorded."""
    models = [m for m in report.models if m.summary.evidence is not None]
    if not models:
        return []
    lines = ["", "## Evidence", "",
             "Chance interval: the accuracy a predictor without information reaches by "
             "always answering the majority class (binomial interval at the report's "
             "confidence, for that many samples). Activity on the original samples: spikes "
             "per neuron per sample (mean and percentiles over every sample and neuron); "
             "silent neurons never fire, saturated ones fire on nearly every step once "
             "started.", ""]
    for m in models:
        ev = m.summary.evidence
        state = (f"degenerate ({len(ev.degenerate)} findings, listed with the verdict)"
                 if ev.degenerate else "not degenerate")
        lines.append(f"- {m.name}: chance interval [{_pct(ev.chance[0])}, {_pct(ev.chance[1])}] "
                     f"({100 * ev.confidence:g}%, {ev.trained.samples} samples); {state}.")
    lines += ["", "| model | side | layer | neurons | spikes/neuron/sample mean | p5 | p50 "
              "| p95 | silent | saturated | samples without output | classes predicted |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in models:
        ev = m.summary.evidence
        for side, act in (("trained", ev.trained), ("deployed", ev.deployed)):
            for lay in act.layers:
                last = lay is act.layers[-1]
                lines.append(
                    f"| {m.name} | {side} | {lay.layer} | {lay.neurons} | {lay.mean:.2f} "
                    f"| {lay.p5:g} | {lay.p50:g} | {lay.p95:g} | {_pct(lay.silent_fraction)} "
                    f"| {_pct(lay.saturated_fraction)} "
                    f"| {_pct(act.no_output_fraction) if last else ''} "
                    f"| {act.predicted_classes if last else ''} |")
    return lines


def _condition_tables(report: CompareReport) -> list[str]:
    """The per-condition verdict table and the reversal-sensitivity table."""
    ci = f"{100 * report.parity.confidence:g}% CI (pp)"
    resolved = all(r.resolution is not None for r in (*report.conditions, *report.sensitivity))
    det = " detectable (pp) |" if resolved else ""
    lines = ["", "## Conditions", "",
             "Differences are deployed minus trained, in percentage points (pp), "
             "on the same samples.", ""]
    if resolved:
        lines += ["Detectable: the smallest rate of changed decisions these samples reveal "
                  "at the report's confidence, 1 - (1 - confidence)^(1/n). Rows judged by "
                  "their interval alone (not by identical spikes) are inconclusive when it "
                  "exceeds the tolerance.", ""]
    lines += [f"| model | condition | backend | samples | trained acc | deployed acc "
              f"| difference (pp) | {ci} | McNemar p | agreement | spike-exact |{det} verdict |",
              "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if resolved else "")
              + "---|"]
    for e in report.conditions:
        d = f" {100 * e.resolution.detectable:.1f} |" if resolved else ""
        lines.append(
            f"| {e.model} | {e.label} | {e.backend} | {e.samples} "
            f"| {_pct(e.trained_accuracy)} | {_pct(e.deployed_accuracy)} | {_pp(e.difference)} "
            f"| [{_pp(e.ci[0])}, {_pp(e.ci[1])}] | {e.mcnemar_p:.3g} "
            f"| {_pct(e.agreement)} | {_pct(e.spike_exact_fraction)} |{d} "
            f"{_row_verdict(e.verdict)} |")
    lines += ["", "## Reversal sensitivity", "",
              "Sensitivity = accuracy(original) - accuracy(time-reversed), same samples."
              + (" Undefined at chance when a side's original and reversed accuracies both "
                 "lie within the chance interval." if resolved else ""), "",
              f"| model | backend | samples | trained (pp) | deployed (pp) | difference (pp) "
              f"| {ci} | sign-test p |{det} verdict |",
              "|---|---|---|---|---|---|---|---|" + ("---|" if resolved else "") + "---|"]
    for s in report.sensitivity:
        d = f" {100 * s.resolution.detectable:.1f} |" if resolved else ""
        lines.append(
            f"| {s.model} | {s.backend} | {s.samples} | {_pp(s.trained)} "
            f"| {_pp(s.deployed)} | {_pp(s.difference)} "
            f"| [{_pp(s.ci[0])}, {_pp(s.ci[1])}] | {s.sign_test_p:.3g} |{d} "
            f"{_row_verdict(s.verdict)} |")
    notes = [f"- {r.model}/{getattr(r, 'label', 'reversal sensitivity')}/{r.backend}: "
             f"{r.resolution.note}" for r in (*report.conditions, *report.sensitivity)
             if r.resolution is not None and r.resolution.note]
    if notes:
        lines += ["", "Notes:", ""] + notes
    return lines


# --- plots ---------------------------------------------------------------------------


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(plt, fig, path: Path) -> None:
    """Write a figure atomically as PNG and release it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def _plot_accuracy(report: Report, path: Path) -> None:
    """Grouped bars: per model, trained vs deployed, original vs reversed."""
    plt = pyplot()
    summaries = [m.summary for m in report.models]
    bars = [(lambda s: s.trained.accuracy, "original, trained"),
            (lambda s: s.deployed.accuracy, "original, deployed"),
            (lambda s: s.trained.accuracy_reversed, "reversed, trained"),
            (lambda s: s.deployed.accuracy_reversed, "reversed, deployed")]
    colors = ["#1f77b4", "#aec7e8", "#d62728", "#ff9896"]
    width = 0.8 / len(bars)
    fig, ax = plt.subplots(figsize=(1.8 + 2.2 * len(summaries), 3.6))
    x = np.arange(len(summaries))
    for k, ((value, label), color) in enumerate(zip(bars, colors, strict=True)):
        ax.bar(x + (k - 1.5) * width, [100 * value(s) for s in summaries], width, label=label,
               color=color)
    ax.axhline(100 / report.task.classes, color="grey", linestyle="--", linewidth=1,
               label="chance")
    ax.set_xticks(x, [m.name for m in report.models])
    ax.set_ylim(0, 105)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{report.task.name}: trained vs deployed, original vs time-reversed")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    save_figure(plt, fig, path)


def _plot_raster(sample: np.ndarray, reversed_sample: np.ndarray, title: str, path: Path) -> None:
    """One sample's input spikes, original above, time-reversed below."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(7, 4.2), sharex=True)
    for ax, x, name in zip(axes, (sample, reversed_sample), ("original", "time-reversed"),
                           strict=True):
        ch, t = np.nonzero(x)
        ax.scatter(t, ch, s=6, marker="|", color="black")
        ax.set_ylabel("channel")
        ax.set_title(f"{title}: {name}", fontsize=9)
        ax.set_ylim(-1, x.shape[0])
    axes[-1].set_xlabel("time step")
    fig.tight_layout()
    save_figure(plt, fig, path)




def _title(family: str) -> str:
    return PERTURBATIONS[family].title if family in PERTURBATIONS else family


def _plot_sweep(report: CompareReport, path: Path) -> None:
    """Accuracy against perturbation level: one row per perturbation, trained | deployed,
    one line per model (so with and without delays side by side). Level 0 is the original."""
    plt = pyplot()
    conds = report.conditions
    primary = report.settings.backends[0]  # the backend that ran every sample
    families = list(dict.fromkeys(e.name for e in conds if e.level is not None))
    models = list(dict.fromkeys(e.model for e in conds))
    fig, axes = plt.subplots(len(families), 2, figsize=(8, 2.6 * len(families)),
                             sharey=True, squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for row, family in enumerate(families):
        for col, side in enumerate(("trained", "deployed")):
            ax = axes[row][col]
            for k, model in enumerate(models):
                mine = [e for e in conds if e.model == model and e.backend == primary]
                pts = [(0.0, e) for e in mine if e.name == "original"]
                pts += [(e.level, e) for e in mine if e.name == family]
                pts.sort(key=lambda p: p[0])
                acc = [100 * (e.trained_accuracy if side == "trained" else e.deployed_accuracy)
                       for _, e in pts]
                ax.plot([p[0] for p in pts], acc, marker="o", color=colors[k % len(colors)],
                        label=model, linestyle="-" if side == "trained" else "--")
            ax.axhline(100 / report.task.classes, color="grey", linestyle=":", linewidth=1)
            ax.set_ylim(0, 105)
            ax.set_xlabel(_title(family), fontsize=8)
            ax.set_title(f"{side}" + (f" ({primary})" if side == "deployed" else ""), fontsize=9)
            if col == 0:
                ax.set_ylabel("accuracy (%)")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"{report.task.name}: accuracy under perturbation", fontsize=10)
    fig.tight_layout()
    save_figure(plt, fig, path)


def _plot_parity(report: CompareReport, path: Path) -> None:
    """Deployed minus trained with its confidence interval, per condition, model and
    backend, against the tolerance band."""
    plt = pyplot()
    conds = report.conditions
    labels = list(dict.fromkeys(e.label for e in conds)) + ["reversal sensitivity"]
    series = list(dict.fromkeys((e.model, e.backend) for e in conds))
    tol = report.parity.difference_pp
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.32 * len(labels) * max(1, len(series) / 2)))
    ax.axvspan(-tol, tol, color="#d9f0d3", label=f"tolerance +/-{tol:g} pp")
    ax.axvline(0, color="grey", linewidth=0.8)
    height = 0.8 / len(series)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (model, backend) in enumerate(series):
        items = [(labels.index(e.label), e) for e in conds
                 if e.model == model and e.backend == backend]
        items += [(len(labels) - 1, s) for s in report.sensitivity
                  if s.model == model and s.backend == backend]
        y = np.array([i for i, _ in items]) + (k - (len(series) - 1) / 2) * height
        mid = np.array([100 * e.difference for _, e in items])
        lo = np.array([100 * e.ci[0] for _, e in items])
        hi = np.array([100 * e.ci[1] for _, e in items])
        err = [np.clip(mid - lo, 0, None), np.clip(hi - mid, 0, None)]
        ax.errorbar(mid, y, xerr=err, fmt="o", markersize=3, capsize=2,
                    color=colors[k % len(colors)], label=f"{model}, {backend}")
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("deployed - trained (percentage points), with confidence interval")
    ax.set_title(f"parity: {report.parity.verdict}", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    save_figure(plt, fig, path)


def _plot_activity(report: Report, path: Path) -> None:
    """Per model and layer, trained vs deployed: spikes per neuron per sample (mean, with
    the 5th-95th percentile range) on the left, silent and saturated neurons on the right."""
    plt = pyplot()
    rows = [(m.name, side, lay) for m in report.models
            for side, act in (("trained", m.summary.evidence.trained),
                              ("deployed", m.summary.evidence.deployed))
            for lay in act.layers]
    labels = [f"{name} {lay.layer}" for name, side, lay in rows if side == "trained"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 0.9 + 0.35 * max(len(labels), 2)),
                                      sharey=True)
    colors = {"trained": "#1f77b4", "deployed": "#aec7e8"}
    for k, side in enumerate(("trained", "deployed")):
        mine = [lay for _, s, lay in rows if s == side]
        y = np.arange(len(mine)) + (k - 0.5) * 0.4
        mean = np.array([lay.mean for lay in mine])
        err = [np.clip(mean - [lay.p5 for lay in mine], 0, None),
               np.clip(np.array([lay.p95 for lay in mine]) - mean, 0, None)]
        left.barh(y, mean, 0.4, xerr=err, color=colors[side], label=side,
                  error_kw={"elinewidth": 0.8, "capsize": 2})
        right.barh(y, [100 * lay.silent_fraction for lay in mine], 0.4, color=colors[side],
                   label=f"{side}: silent")
        right.barh(y, [100 * lay.saturated_fraction for lay in mine], 0.4,
                   left=[100 * lay.silent_fraction for lay in mine], color=colors[side],
                   hatch="//", edgecolor="#d62728", label=f"{side}: saturated")
    left.set_xlim(0, 1.1 * max([1.0] + [lay.p95 for _, _, lay in rows]))
    left.set_yticks(range(len(labels)), labels, fontsize=7)
    left.invert_yaxis()
    left.set_xlabel("spikes per neuron per sample (mean, p5-p95)", fontsize=8)
    right.set_xlim(0, 100)
    right.set_xlabel("neurons silent / saturated (%)", fontsize=8)
    left.legend(fontsize=7, loc="best")
    right.legend(fontsize=6, loc="best")
    fig.suptitle(f"{report.task.name}: activity on the original samples", fontsize=10)
    fig.tight_layout()
    save_figure(plt, fig, path)


# --- the experiment grid: results.md and its figures ----------------------------------


def experiment_markdown(res: ExperimentResults, figures: list[str]) -> str:
    g = res.grid
    lines = [f"# Experiment grid `{g['name']}`", "",
             f"{res.cells} cells ({len(g['tasks'])} tasks x {len(g['models'])} models x "
             f"{len(g['seeds'])} seeds: {', '.join(map(str, g['seeds']))}); hidden {g['hidden']}, "
             f"{g['epochs']} epochs, loss `{g['loss']}`; {res.seconds / 60:.1f} min of cell time.",
             ""]
    if res.missing:
        lines += [f"**Incomplete:** {len(res.missing)} cells not finished: "
                  + ", ".join(res.missing[:6]) + (" ..." if len(res.missing) > 6 else ""), ""]
    confirmed, total = res.lava_confirmed
    lines += [f"Deployment: every output spike of every deployed network (emulator, whole "
              f"test sets, every condition) {'equals' if res.spike_exact else 'does NOT equal'} "
              f"the trained network's; Lava agreed spike for spike on {confirmed} of {total} "
              f"cells' confirming subsets. Figures are means over seeds with 95 % t-intervals.",
              "", "## Shortcut audits (rate-only and position-only classifiers, 5-fold CV) "
              "and the non-spiking reference (a GRU on the same train/test split: what "
              "the data allows)", "",
              "| task | rate audit | position audit | chance | open shortcuts | reference |",
              "|---|---|---|---|---|---|"]
    reference = {a.task: a.reference for a in res.audits}
    for a in res.audits:
        lines.append(f"| {a.task} | {a.rate.text()} | {a.position.text()} | {a.chance:.1%} | "
                     f"{', '.join(a.shortcuts) or 'none'} | {a.reference.text()} |")
    lines += ["", "## The paper's claims, on the deployed networks", "",
              "| claim | task | model | measure | effect (points) | status | note | "
              "task's reference |",
              "|---|---|---|---|---|---|---|---|"]
    for c in res.claims + res.targets:
        ref = reference.get(c.task)
        lines.append(f"| {c.claim} | {c.task} | {c.model} | {c.measure} | "
                     f"{c.effect.text(unit='')} | **{c.status}** | {c.detail} | "
                     f"{ref.text() if ref else '-'} |")
    for t in g["tasks"]:
        rows = [r for r in res.rows if r.task == t["name"]]
        if not rows:
            continue
        ref = reference.get(t["name"])
        lines += ["", f"## {t['name']}", "", f"Non-spiking reference (GRU, original test "
                  f"set): {ref.text() if ref else '-'}.", "", "| condition | " + " | ".join(
            f"{m} trained | {m} deployed" for m in g["models"]) + " |",
            "|---|" + "---|" * (2 * len(g["models"]))]
        for label in dict.fromkeys(r.label for r in rows):
            cells = []
            for m in g["models"]:
                r = res.row(t["name"], m, label)
                cells += [r.trained.text(), r.deployed.text()] if r else ["-", "-"]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [""] + [f"![{f}]({f})" for f in figures] + [""]
    return "\n".join(lines)


def experiment_plots(out: Path, res: ExperimentResults) -> list[Path]:
    """Accuracy against perturbation level per task (trained: solid with dots; deployed:
    dashed with crosses, on top of it when parity holds), and reversal sensitivity per
    task."""
    plt = pyplot()
    paths = []
    families = [f for f in PERTURBATIONS if any(r.name == f for r in res.rows)]
    tasks = [t["name"] for t in res.grid["tasks"] if any(r.task == t["name"] for r in res.rows)]
    if tasks and families:
        fig, axes = plt.subplots(len(tasks), len(families), squeeze=False,
                                 figsize=(3.2 * len(families), 2.6 * len(tasks)))
        for i, task in enumerate(tasks):
            for j, fam in enumerate(families):
                ax = axes[i][j]
                for k, m in enumerate(res.grid["models"]):
                    orig = res.row(task, m, "original")
                    pts = [(0.0, orig)] if orig else []
                    pts += sorted(((r.level, r) for r in res.rows
                                   if r.task == task and r.model == m and r.name == fam),
                                  key=lambda p: p[0])
                    if not pts:
                        continue
                    x = [p[0] for p in pts]
                    for side, style, mark in (("trained", "-", "o"), ("deployed", "--", "x")):
                        st = [getattr(p[1], side) for p in pts]
                        ax.plot(x, [s.mean for s in st], style, color=f"C{k}", marker=mark,
                                ms=4 if mark == "x" else 2.5, lw=1, label=f"{m} {side}")
                        if all(s.lo is not None for s in st) and side == "deployed":
                            ax.fill_between(x, [s.lo for s in st], [s.hi for s in st],
                                            color=f"C{k}", alpha=0.15)
                a = next((a for a in res.audits if a.task == task), None)
                if a is not None:
                    ax.axhline(max(a.rate.mean, a.position.mean), color="grey", lw=0.8, ls=":")
                ax.set_ylim(0, 1.02)
                ax.set_title(f"{task}: {fam}", fontsize=9)
                ax.tick_params(labelsize=7)
        axes[0][0].legend(fontsize=6)
        fig.supylabel("test accuracy (dotted: best shortcut audit)", fontsize=8)
        fig.tight_layout()
        save_figure(plt, fig, out / "perturbations.png")
        paths.append(out / "perturbations.png")
    if tasks:
        fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(tasks), 2.8))
        width = 0.8 / max(1, len(res.grid["models"]))
        for k, m in enumerate(res.grid["models"]):
            for i, task in enumerate(tasks):
                o, r = res.row(task, m, "original"), res.row(task, m, "reversed")
                if o is None or r is None:
                    continue
                ax.bar(i + k * width, o.deployed.mean - r.deployed.mean, width, color=f"C{k}",
                       label=m if i == 0 else None)
        ax.set_xticks([i + width * (len(res.grid["models"]) - 1) / 2 for i in range(len(tasks))])
        ax.set_xticklabels(tasks, fontsize=8)
        ax.set_ylabel("accuracy: original - reversed", fontsize=8)
        ax.axhline(0, color="black", lw=0.6)
        ax.legend(fontsize=7)
        fig.tight_layout()
        save_figure(plt, fig, out / "reversal.png")
        paths.append(out / "reversal.png")
    return paths
