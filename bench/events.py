"""Data larger than memory: peak memory of prepare, an epoch's loading, the emulator, the audit.

    .venv/bin/python bench/events.py [--train 75000] [--test 20382] [--density 0.05]
                                     [--work DIR] [--json] [--keep]

Writes SSC-sized raw files in the official layout (`ssc_{train,test}.h5`: per-sample
float32 spike times in seconds and uint16 units, 700 units, labels of 35 classes),
each sample Poisson(`density` x 700 x 250) spikes at uniformly random units and times in
[0, 1 s) (5%: the density bench/emulator.py uses for SHD-size inputs; binning
merges a few). Then, each in its own process so its peak resident memory
(ru_maxrss) is its own:
  1. prepare: `spiketime data prepare --dataset ssc --variant whole --steps 250
     --dt-ms 4 --storage events` (the dense array would be 75,000 x 700 x 250 bytes,
     13 GB, for the training split alone);
  2. one training epoch's data loading: every training sample, in a shuffled order,
     made dense in batches of 32 as `spiketime train` does (no forward pass);
  3. the emulator's test-set pass: a 700-128-128-35 network with delays (random
     initialisation, exported to NetX) run on every test sample, 256 at a time,
     read from the events file;
  4. the shortcut audit's features (`spiketime data audit`'s one pass over both
     splits, 256 samples made dense at a time): counts and first/last-spike
     positions, 95,382 x 2,100 float64 (1.6 GB) for SSC. The audit's classifiers
     are not run here (minutes of logistic regression on that matrix).
Each must stay under 4 GB. Not part of the test run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIMIT_GB = 4.0
CHILD = {
    "load_epoch": r"""
import sys, time, numpy as np
from spiketime.data.dataset import open_dataset
src = open_dataset(sys.argv[1]).train
order = np.random.default_rng(0).permutation(len(src))
spikes = 0
for lo in range(0, len(order), 32):
    spikes += int(src.batch(order[lo:lo + 32]).sum(dtype=np.int64))
print(spikes)
""",
    "emulator": r"""
import sys, numpy as np, torch
from spiketime.export.from_slayer import to_netx
from spiketime.export.netx import write_netx
from spiketime.sim.emulator import EmulatorBackend
from spiketime.data.dataset import open_dataset
from spiketime.train.model import ModelConfig, SpikingNet
ds = open_dataset(sys.argv[1])
model = SpikingNet(ModelConfig(inputs=700, hidden=(128, 128), outputs=ds.n_classes,
                               delays=True, weight_scale=4.0))
write_netx(to_netx(model), sys.argv[2])
backend, src, correct, spikes = EmulatorBackend(), ds.test, 0, 0
for lo in range(0, len(src), 256):
    idx = np.arange(lo, min(lo + 256, len(src)))
    out = backend.run(sys.argv[2], src.batch(idx)).output
    spikes += int(out.sum())
    correct += int((out.sum(axis=2).argmax(axis=1) == src.labels[idx]).sum())
print(correct, spikes)
""",
    "audit_features": r"""
import sys
from spiketime.data.audit import audit_features
from spiketime.data.dataset import open_dataset
counts, positions, y = audit_features(open_dataset(sys.argv[1]))
print(counts.shape, positions.shape, int(counts.sum()))
""",
}


def write_raw(path: Path, n: int, density: float, seed: int) -> None:
    import h5py
    import numpy as np

    rng = np.random.default_rng(seed)
    per = int(round(density * 700 * 250))
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float32))
        units = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        for lo in range(0, n, 1024):
            counts = rng.poisson(per, min(1024, n - lo))
            t, u = np.empty(len(counts), object), np.empty(len(counts), object)
            for i, k in enumerate(counts):
                t[i] = np.sort(rng.random(k, dtype=np.float32))
                u[i] = rng.integers(0, 700, k).astype(np.uint16)
            if len(set(counts.tolist())) > 1:  # ragged: h5py writes the slice at once
                times[lo:lo + len(counts)], units[lo:lo + len(counts)] = t, u
            else:
                for i in range(len(counts)):
                    times[lo + i], units[lo + i] = t[i], u[i]
        f["labels"] = rng.integers(0, 35, n).astype(np.uint8)


# Runs the code or CLI given, then reports its own peak resident memory on stderr.
PEAK = r"""
import resource, runpy, sys
kind, what, sys.argv = sys.argv[1], sys.argv[2], [sys.argv[0], *sys.argv[3:]]
try:
    if kind == "cli":
        from spiketime.cli import main
        rc = main(sys.argv[1:])
    else:
        exec(compile(what, "<phase>", "exec"), {"__name__": "__main__"})
        rc = 0
finally:
    print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(rc)
"""


def measured(kind: str, what: str, args: list[str]) -> dict:
    """Run one phase in a child; its wall time, its own peak RSS (GB) and its stdout."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", PEAK, kind, what, *args], capture_output=True,
                          text=True, env=os.environ | {"CI": "1"})
    if proc.returncode:
        raise SystemExit(f"{kind} {args[:3]} failed: {proc.stderr[-2000:]}")
    kb = [int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("PEAK_KB")]
    return {"seconds": time.perf_counter() - start, "peak_gb": kb[-1] / 2**20,
            "stdout": proc.stdout.strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=75000)
    parser.add_argument("--test", type=int, default=20382)
    parser.add_argument("--density", type=float, default=0.05)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="spiketime-events-"))
    work.mkdir(parents=True, exist_ok=True)
    raw = work / "raw"
    raw.mkdir(exist_ok=True)
    start = time.perf_counter()
    write_raw(raw / "ssc_train.h5", args.train, args.density, 0)
    write_raw(raw / "ssc_test.h5", args.test, args.density, 1)
    gen_s = time.perf_counter() - start
    events = work / "ssc_events.h5"
    phases = {}
    phases["prepare"] = measured("cli", "", [
        "data", "prepare", "--dataset", "ssc", "--variant", "whole", "--raw", str(raw),
        "--steps", "250", "--dt-ms", "4", "--storage", "events", "--out", str(events)])
    phases["load_epoch"] = measured("code", CHILD["load_epoch"], [str(events)])
    phases["emulator"] = measured("code", CHILD["emulator"], [str(events), str(work / "net.net")])
    phases["audit_features"] = measured("code", CHILD["audit_features"], [str(events)])
    result = {"train": args.train, "test": args.test, "density": args.density,
              "raw_gb": sum(p.stat().st_size for p in raw.iterdir()) / 2**30,
              "events_gb": events.stat().st_size / 2**30, "generate_seconds": gen_s,
              "dense_train_gb": args.train * 700 * 250 / 2**30, "phases": phases,
              "limit_gb": LIMIT_GB,
              "all_under_limit": all(p["peak_gb"] < LIMIT_GB for p in phases.values())}
    if not args.keep:
        for p in [*raw.iterdir(), events, work / "net.net"]:
            p.unlink(missing_ok=True)
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"{args.train} train + {args.test} test samples x 700 x 250 at density "
          f"{args.density}: raw {result['raw_gb']:.1f} GB, events file "
          f"{result['events_gb']:.1f} GB (dense train split {result['dense_train_gb']:.1f} GB)")
    for name, p in phases.items():
        print(f"{name:>14}: peak {p['peak_gb']:.2f} GB, {p['seconds']:.0f} s")
    print("all under 4 GB" if result["all_under_limit"] else "OVER 4 GB")


if __name__ == "__main__":
    main()
