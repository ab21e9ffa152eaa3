"""The recipe runs over seeds (docs/speech.md, issue 23): means, intervals and paired effects.

    .venv/bin/python scripts/recipe_claims.py [--out docs/results/recipe]

Reads OUT/ablations.json (scripts/recipe_table.py's rows) and groups its runs by setting:
the options without `--seed` and `--delays`, and the model (`--delays`: none = tau,
hidden = axonal, synapses = per-synapse). Writes OUT/claims.md and OUT/claims.json: per
model and setting, the deployed test accuracy per seed, its mean and 95% t-interval; and
per setting, each pair of models paired by seed (delays minus fewer delays), with the
status the synthetic grid's claims use (`spiketime.parity.claims.claim_status`: above
zero only when the whole interval is); and each model at the setting its validation
accuracy chose (not the test split's), paired the same way.
"""
from __future__ import annotations

import argparse
import json
import re
from itertools import combinations
from pathlib import Path

from spiketime.parity.claims import claim_status, stat_of

MODELS = {"none": "tau", "hidden": "tau+axonal", "synapses": "tau+per-synapse"}
ORDER = ("synapses", "hidden", "none")  # a pair is the first minus the second
MIN_SEEDS = 3  # a setting chosen by validation has at least this many seeds


def setting_of(options: str) -> tuple[str, str, int]:
    """(model, setting, seed) of one run's options."""
    delays = re.search(r"--delays (\S+)", options)
    seed = re.search(r"--seed (\d+)", options)
    rest = re.sub(r"\s*--(delays|seed) \S+", "", options).strip()
    return (delays.group(1) if delays else "none"), rest, int(seed.group(1)) if seed else 0


def summarise(rows: list[dict]) -> dict:
    by: dict[tuple[str, str], dict[int, float]] = {}
    val: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        model, setting, seed = setting_of(r["options"])
        by.setdefault((setting, model), {})[seed] = r["deployed_accuracy"]
        val.setdefault((setting, model), []).append(r["val_accuracy_best"])
    order = {s: i for i, s in enumerate(dict.fromkeys(s for s, _ in by))}  # first seen first
    groups = [{"setting": s, "model": MODELS[m], "seeds": sorted(acc),
               "per_seed": [acc[k] for k in sorted(acc)], "deployed": stat_of(acc.values())}
              for (s, m), acc in sorted(by.items(), key=lambda kv: (order[kv[0][0]],
                                                                   ORDER.index(kv[0][1])))]
    pairs = [_pair(by, (setting, a), (setting, b), setting) for setting in order
             for a, b in combinations([m for m in ORDER if (setting, m) in by], 2)]
    # each model at the setting its validation accuracy chose (mean best-epoch validation
    # over at least MIN_SEEDS seeds), not the test split: the fair "delays help" pairing
    chosen = {m: max((k for k in by if k[1] == m and len(by[k]) >= MIN_SEEDS),
                     key=lambda k: sum(val[k]) / len(val[k]), default=None) for m in ORDER}
    best = [_pair(by, chosen[a], chosen[b], f"{chosen[a][0]} / {chosen[b][0]}")
            for a, b in combinations([m for m in ORDER if chosen[m]], 2)]
    return {"groups": groups, "pairs": [p for p in pairs if p],
            "best": [p for p in best if p]}


def _pair(by: dict, a: tuple[str, str], b: tuple[str, str], setting: str) -> dict | None:
    """Model-and-setting `a` minus `b`, paired by the seeds both have (None: none)."""
    seeds = sorted(set(by[a]) & set(by[b]))
    if not seeds:
        return None
    diffs = [by[a][k] - by[b][k] for k in seeds]
    effect = stat_of(diffs)
    return {"setting": setting, "effect": f"{MODELS[a[1]]} minus {MODELS[b[1]]}",
            "seeds": seeds, "per_seed": diffs, "paired": effect, "status": claim_status(effect)}


def _markdown(summary: dict) -> str:
    pct = lambda v: f"{100 * v:.1f}"  # noqa: E731
    lines = ["| setting (beside --recipe base --hidden 128,128 --batch-size 32 --temperature 1) "
             "| model | seeds | deployed test accuracy per seed | mean [95% interval] |",
             "|---" * 5 + "|"]
    lines += [f"| `{g['setting']}` | {g['model']} | {len(g['seeds'])} | "
              f"{' / '.join(pct(v) for v in g['per_seed'])} | **{g['deployed'].text()}** |"
              for g in summary["groups"]]
    lines += ["", "| setting | effect, paired by seed | seeds | per seed (points) | "
                  "mean [95% interval] | status (the grid's rule) |", "|---" * 6 + "|"]
    lines += _pair_rows(summary["pairs"])
    lines += ["", "Each model at the setting its validation accuracy chose (the highest mean "
                  f"best-epoch validation accuracy over at least {MIN_SEEDS} seeds), paired by "
                  "seed:", "", "| settings (first / second model) | effect, paired by seed | "
                  "seeds | per seed (points) | mean [95% interval] | status (the grid's rule) |",
              "|---" * 6 + "|"]
    lines += _pair_rows(summary["best"])
    return "\n".join(lines) + "\n"


def _pair_rows(pairs: list[dict]) -> list[str]:
    return [f"| `{p['setting']}` | {p['effect']} | {len(p['seeds'])} | "
            f"{' / '.join(f'{100 * d:+.1f}' for d in p['per_seed'])} | "
            f"**{p['paired'].text(unit=' points')}** | {p['status']} |" for p in pairs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path("docs/results/recipe"))
    args = ap.parse_args()
    summary = summarise(json.loads((args.out / "ablations.json").read_text()))
    records = {k: [{**item, **{f: vars(v) for f, v in item.items() if hasattr(v, "mean")}}
                   for item in items] for k, items in summary.items()}
    (args.out / "claims.json").write_text(json.dumps(records, indent=1) + "\n")
    text = _markdown(summary)
    (args.out / "claims.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
