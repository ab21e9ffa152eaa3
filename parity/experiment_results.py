"""The experiment grid's results: statistics over seeds, the paper's claims, results.md, figures.

Every figure is a mean over seeds with a 95 % t-interval (none with one seed).
Trained (slayer) and deployed (emulator, bit-exact; Lava confirms a subset) are
kept side by side. The paper's claims are checked on the deployed networks:

- timing: a network that reads timing falls to the rate-only baseline when timing
  is fully randomized (f = 1). Reproduced when accuracy at f = 1 is within
  `RATE_TOLERANCE` of the rate audit and the drop from the original is above zero
  over seeds (the interval's lower end > 0).
- delays: trainable delays add accuracy on long-interval CCISI (paired by seed).
- reversal: delay networks are more reversal-sensitive (orig - reversed, paired).
- neuron jitter: per-neuron jitter hurts delay networks more than per-spike jitter
  of the same sigma (the largest sigma both families share, paired by seed).
An effect counts as reproduced only when its interval lies above zero, as not
reproduced when its mean is at or below zero, and as inconclusive in between; with
one seed there is no interval and the claim is "not enough seeds".
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from spiketime.errors import UserError
from spiketime.fileio import atomic_path
from spiketime.train.audit import open_shortcuts

SCHEMA_VERSION = 1
RATE_TOLERANCE = 0.05  # accuracy at f = 1 this close to the rate audit counts as "fell to it"
# The targets for the deployed tau+delay network (fractions, not points).
TARGET_ABOVE_AUDIT = 0.25  # ISI and coincidence: above the better shortcut audit
TARGET_LONG_CCISI = 0.90  # long-interval CCISI: at least this accuracy ...
TARGET_DELAY_GAIN = 0.10  # ... and this far above tau


@dataclass(frozen=True)
class Stat:
    """Mean over seeds and its 95 % t-interval (lo = hi = None with fewer than 2 seeds)."""

    mean: float
    lo: float | None
    hi: float | None
    n: int

    @classmethod
    def of(cls, values) -> Stat:
        v = np.asarray([x for x in values if x is not None and not math.isnan(x)], float)
        if v.size == 0:
            return cls(math.nan, None, None, 0)
        if v.size < 2:
            return cls(float(v.mean()), None, None, int(v.size))
        from scipy.stats import t

        half = float(t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
        return cls(float(v.mean()), float(v.mean() - half), float(v.mean() + half), int(v.size))

    def text(self, scale: float = 100.0, unit: str = "%") -> str:
        if self.n == 0:
            return "-"
        if self.lo is None:
            return f"{self.mean * scale:.1f}{unit}"
        return f"{self.mean * scale:.1f}{unit} [{self.lo * scale:.1f}, {self.hi * scale:.1f}]"


@dataclass(frozen=True)
class Row:
    task: str
    model: str
    label: str
    name: str
    level: float | None
    trained: Stat
    deployed: Stat
    spike_exact: float  # lowest fraction over seeds


@dataclass(frozen=True)
class TaskAudit:
    task: str
    generator: dict
    rate: Stat
    position: Stat
    chance: float
    shortcuts: tuple[str, ...]


@dataclass(frozen=True)
class Claim:
    claim: str
    task: str
    model: str
    measure: str
    effect: Stat
    status: str  # reproduced | not reproduced | inconclusive | not enough seeds | not measured
    detail: str = ""


@dataclass(frozen=True)
class Results:
    grid: dict
    audits: tuple[TaskAudit, ...]
    rows: tuple[Row, ...]
    claims: tuple[Claim, ...]
    targets: tuple[Claim, ...]
    cells: int
    missing: tuple[str, ...]
    spike_exact: bool  # every output spike identical, every cell and condition
    lava_confirmed: tuple[int, int]  # (cells whose Lava subset agreed, cells confirmed)
    seconds: float  # summed cell time
    schema_version: int = SCHEMA_VERSION
    kind: str = "experiment"

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, d: dict) -> Results:
        if d.get("kind") != "experiment" or d.get("schema_version") != SCHEMA_VERSION:
            raise UserError(f"not an experiment results file of schema version {SCHEMA_VERSION}")

        def stat(x: dict) -> Stat:
            return Stat(**x)

        return cls(
            grid=d["grid"],
            audits=tuple(TaskAudit(**{**a, "rate": stat(a["rate"]),
                                      "position": stat(a["position"]),
                                      "shortcuts": tuple(a["shortcuts"])})
                         for a in d["audits"]),
            rows=tuple(Row(**{**r, "trained": stat(r["trained"]),
                              "deployed": stat(r["deployed"])}) for r in d["rows"]),
            claims=tuple(Claim(**{**c, "effect": stat(c["effect"])}) for c in d["claims"]),
            targets=tuple(Claim(**{**c, "effect": stat(c["effect"])}) for c in d["targets"]),
            cells=d["cells"], missing=tuple(d["missing"]), spike_exact=d["spike_exact"],
            lava_confirmed=tuple(d["lava_confirmed"]), seconds=d["seconds"])

    def row(self, task: str, model: str, label: str) -> Row | None:
        for r in self.rows:
            if (r.task, r.model, r.label) == (task, model, label):
                return r
        return None


def read_results(path: str | Path) -> Results:
    try:
        return Results.from_dict(json.loads(Path(path).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path} is not a spiketime experiment results file ({e})") from None


# ---------------------------------------------------------------- assembling

def _per_seed(cells: list[dict], task: str, model: str, label: str, side: str = "deployed"
              ) -> dict[int, float]:
    out = {}
    for c in cells:
        if c["task"] == task and c["model"] == model:
            for cond in c["conditions"]:
                if cond["label"] == label:
                    out[c["seed"]] = cond[side]
    return out


def _paired(a: dict[int, float], b: dict[int, float]) -> list[float]:
    return [a[s] - b[s] for s in sorted(set(a) & set(b))]


def _status(effect: Stat) -> str:
    if effect.n == 0:
        return "not measured"
    if effect.lo is None:
        return "not enough seeds"
    if effect.lo > 0:
        return "reproduced"
    return "not reproduced" if effect.mean <= 0 else "inconclusive"


def assemble(grid, cells: list[dict], audits: dict, missing: list[str]) -> Results:
    task_audits = []
    for t in grid.tasks:
        got = [a for (name, _), a in audits.items() if name == t.name]
        if not got:
            continue
        task_audits.append(TaskAudit(
            task=t.name, generator=json.loads(json.dumps(t.generator)),
            rate=Stat.of(a["rate_accuracy"] for a in got),
            position=Stat.of(a["position_accuracy"] for a in got),
            chance=float(np.mean([a["chance"] for a in got])),
            shortcuts=tuple(sorted({s for a in got for s in open_shortcuts(a)}))))
    rows = []
    for t in grid.tasks:
        for m in grid.models:
            mine = [c for c in cells if c["task"] == t.name and c["model"] == m]
            if not mine:
                continue
            for cond in mine[0]["conditions"]:
                label = cond["label"]
                tr = _per_seed(mine, t.name, m, label, "trained")
                de = _per_seed(mine, t.name, m, label, "deployed")
                exact = _per_seed(mine, t.name, m, label, "spike_exact")
                rows.append(Row(t.name, m, label, cond["name"], cond["level"],
                                Stat.of(tr.values()), Stat.of(de.values()),
                                float(min(exact.values()))))
    confirms = [cond["confirm"] for c in cells for cond in c["conditions"] if cond["confirm"]]
    confirmed_cells = {c["key"] for c in cells if any(x["confirm"] for x in c["conditions"])}
    agreed_cells = {c["key"] for c in cells if c["key"] in confirmed_cells and all(
        x["confirm"]["identical"] for x in c["conditions"] if x["confirm"])}
    grid_dict = json.loads(json.dumps(asdict(grid)))
    return Results(
        grid=grid_dict, audits=tuple(task_audits), rows=tuple(rows),
        claims=tuple(_claims(grid, cells, task_audits)),
        targets=tuple(_targets(grid, cells, task_audits)),
        cells=len(cells), missing=tuple(missing),
        spike_exact=all(r.spike_exact == 1.0 for r in rows) and all(
            x["identical"] for x in confirms),
        lava_confirmed=(len(agreed_cells), len(confirmed_cells)),
        seconds=float(sum(c["seconds"] for c in cells)))


def _largest(cells: list[dict], name: str) -> float | None:
    levels = {cond["level"] for c in cells for cond in c["conditions"] if cond["name"] == name}
    return max(levels) if levels else None


def _label(cells: list[dict], name: str, level: float) -> str | None:
    for c in cells:
        for cond in c["conditions"]:
            if cond["name"] == name and cond["level"] == level:
                return cond["label"]
    return None


def _claims(grid, cells: list[dict], audits: list[TaskAudit]) -> list[Claim]:
    claims = []
    audit_of = {a.task: a for a in audits}
    # 1. full timing randomization sends a timing network to its rate-only level
    for t in grid.tasks:
        a = audit_of.get(t.name)
        label = _label(cells, "timing", 1.0)
        for m in grid.models:
            orig = _per_seed(cells, t.name, m, "original")
            if not orig or label is None or a is None:
                continue
            rand = _per_seed(cells, t.name, m, label)
            drop = Stat.of(_paired(orig, rand))
            at_f1 = Stat.of(rand.values())
            status = _status(drop)
            if status == "reproduced" and at_f1.mean > a.rate.mean + RATE_TOLERANCE:
                status = "not reproduced"
            claims.append(Claim(
                "fully randomized timing sends the network to its rate-only level", t.name, m,
                "accuracy drop, original -> timing f=1", drop, status,
                f"at f=1 {at_f1.text()} vs rate audit {a.rate.text()}"))
    # 2. delays add accuracy on long-interval CCISI
    ccisi = [t for t in grid.tasks if t.generator.get("task") == "ccisi"]
    if ccisi and {"tau", "tau+delay"} <= set(grid.models):
        longest = max(ccisi, key=lambda t: t.generator.get("interval_range", (0, 0))[1])
        gain = Stat.of(_paired(_per_seed(cells, longest.name, "tau+delay", "original"),
                               _per_seed(cells, longest.name, "tau", "original")))
        claims.append(Claim("trainable delays add accuracy on CCISI (the grid's longest "
                            "intervals)",
                            longest.name, "tau+delay vs tau", "accuracy gain", gain,
                            _status(gain)))
    for t in grid.tasks:
        if not {"tau", "tau+delay"} <= set(grid.models):
            break
        # 3. delay networks are more reversal-sensitive
        sens = {m: dict(zip(*_sens(cells, t.name, m), strict=True)) for m in grid.models}
        diff = Stat.of(_paired(sens["tau+delay"], sens["tau"]))
        claims.append(Claim("delay networks are more sensitive to time reversal", t.name,
                            "tau+delay vs tau", "difference in (original - reversed)", diff,
                            _status(diff)))
        # 4. per-neuron jitter hurts delay networks more than per-spike jitter
        sig = _common_sigma(cells)
        if sig is not None:
            orig = _per_seed(cells, t.name, "tau+delay", "original")
            nj = _per_seed(cells, t.name, "tau+delay", _label(cells, "neuron_jitter", sig))
            sj = _per_seed(cells, t.name, "tau+delay", _label(cells, "jitter", sig))
            effect = Stat.of(_paired(sj, nj))  # accuracy under spike jitter - under neuron
            claims.append(Claim(
                "per-neuron jitter hurts delay networks more than per-spike jitter", t.name,
                "tau+delay", f"accuracy(spike jitter) - accuracy(neuron jitter), sigma={sig:g}",
                effect, _status(effect), f"original {Stat.of(orig.values()).text()}"))
    return claims


def _sens(cells: list[dict], task: str, model: str) -> tuple[list[int], list[float]]:
    o = _per_seed(cells, task, model, "original")
    r = _per_seed(cells, task, model, "reversed")
    seeds = sorted(set(o) & set(r))
    return seeds, [o[s] - r[s] for s in seeds]


def _common_sigma(cells: list[dict]) -> float | None:
    a = {cond["level"] for c in cells for cond in c["conditions"] if cond["name"] == "jitter"}
    b = {cond["level"] for c in cells for cond in c["conditions"]
         if cond["name"] == "neuron_jitter"}
    common = a & b
    return max(common) if common else None


def _targets(grid, cells: list[dict], audits: list[TaskAudit]) -> list[Claim]:
    out = []
    audit_of = {a.task: a for a in audits}
    for t in grid.tasks:
        kind = t.generator.get("task")
        acc = _per_seed(cells, t.name, "tau+delay", "original")
        if not acc or t.name not in audit_of:
            continue
        a = audit_of[t.name]
        if kind in ("isi", "coincidence"):
            best = max(a.rate.mean, a.position.mean)
            margin = Stat.of(v - best for v in acc.values())
            ok = margin.mean >= TARGET_ABOVE_AUDIT
            out.append(Claim(f"tau+delay at least {TARGET_ABOVE_AUDIT:.0%} above the better "
                             f"audit", t.name, "tau+delay", "accuracy - best audit", margin,
                             "met" if ok else "not met",
                             f"accuracy {Stat.of(acc.values()).text()}, best audit "
                             f"{best:.1%}"))
        elif kind == "ccisi" and t.generator.get("interval_range", (0, 0))[1] > 50:
            tau = _per_seed(cells, t.name, "tau", "original")
            gain = Stat.of(_paired(acc, tau))
            mean = Stat.of(acc.values())
            ok = mean.mean >= TARGET_LONG_CCISI and gain.mean >= TARGET_DELAY_GAIN
            out.append(Claim(f"tau+delay at least {TARGET_LONG_CCISI:.0%} and "
                             f"{TARGET_DELAY_GAIN:.0%} above tau", t.name, "tau+delay",
                             "gain over tau", gain, "met" if ok else "not met",
                             f"accuracy {mean.text()}, tau {Stat.of(tau.values()).text()}"))
    return out


# ---------------------------------------------------------------- writing

def write_results(out: Path, results: Results) -> list[Path]:
    """results.json, results.md and the figures, each written atomically."""
    paths = [out / "results.json", out / "results.md"]
    with atomic_path(paths[0]) as tmp:
        tmp.write_text(json.dumps(results.to_dict(), indent=1) + "\n")
    figures = plot_results(out, results)
    with atomic_path(paths[1]) as tmp:
        tmp.write_text(markdown(results, [p.name for p in figures]))
    return paths + figures


def markdown(res: Results, figures: list[str]) -> str:
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
              "", "## Shortcut audits (rate-only and position-only classifiers, 5-fold CV)", "",
              "| task | rate audit | position audit | chance | open shortcuts |",
              "|---|---|---|---|---|"]
    for a in res.audits:
        lines.append(f"| {a.task} | {a.rate.text()} | {a.position.text()} | {a.chance:.1%} | "
                     f"{', '.join(a.shortcuts) or 'none'} |")
    lines += ["", "## The paper's claims, on the deployed networks", "",
              "| claim | task | model | measure | effect (points) | status | note |",
              "|---|---|---|---|---|---|---|"]
    for c in res.claims + res.targets:
        lines.append(f"| {c.claim} | {c.task} | {c.model} | {c.measure} | "
                     f"{c.effect.text(unit='')} | **{c.status}** | {c.detail} |")
    for t in g["tasks"]:
        rows = [r for r in res.rows if r.task == t["name"]]
        if not rows:
            continue
        lines += ["", f"## {t['name']}", "", "| condition | " + " | ".join(
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


def plot_results(out: Path, res: Results) -> list[Path]:
    """Accuracy against perturbation level per task (trained: solid with dots; deployed:
    dashed with crosses, on top of it when parity holds), and reversal sensitivity per
    task."""
    from spiketime.parity.render import pyplot, save_figure

    plt = pyplot()
    paths = []
    families = [f for f in ("jitter", "neuron_jitter", "deletion", "timing")
                if any(r.name == f for r in res.rows)]
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
