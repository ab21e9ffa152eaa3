"""Seconds to generate each synthetic task: 5,000 samples x 1,000 steps by default.

    .venv/bin/python bench/generate.py [--samples N] [--steps T] [--json]

Not part of the test run. Prints one line per task and variant (or one JSON object).
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import time

from spiketime.data.synthetic import TASKS, VARIANTS, generate


def bench(samples: int, steps: int, seed: int) -> list[dict]:
    rows = []
    for task in TASKS:
        for variant in VARIANTS:
            classes = 3 if task == "coincidence" else 2
            n_per_class = math.ceil(samples / classes)
            start = time.perf_counter()
            ds = generate(task, variant, seed=seed, n_per_class=n_per_class, steps=steps)
            seconds = time.perf_counter() - start
            n = len(ds.train) + len(ds.test)
            rows.append({"task": task, "variant": variant, "samples": n,
                         "channels": ds.channels, "steps": ds.steps,
                         "seconds": round(seconds, 3),
                         "spikes": int(ds.train.X.sum() + ds.test.X.sum()),
                         "megabytes": round((ds.train.X.nbytes + ds.test.X.nbytes) / 1e6, 1)})
            del ds
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = bench(args.samples, args.steps, args.seed)
    if args.json:
        print(json.dumps({"machine": platform.processor() or platform.machine(),
                          "results": rows}))
        return
    for r in rows:
        print(f"{r['task']:<12} {r['variant']:<9} {r['samples']} x {r['channels']} x "
              f"{r['steps']}: {r['seconds']:.2f} s ({r['megabytes']:.0f} MB dense)")


if __name__ == "__main__":
    main()
