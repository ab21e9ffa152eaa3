"""Two versions of the cochlear encoder compared on the same words, as
scripts/cochlea_fidelity.py compares ours with lauscher: spike-count spectrograms (700
channels x 10 ms bins, and 35 groups of 20 channels), their Pearson correlation with the
same seed and the sum of their bins' count differences, beside the old version's own
ceiling (the old version with seed 0 against seed 1: what its spike noise alone allows),
and the spike counts.

    .venv/bin/python scripts/cochlea_versions.py --old runs/cochlea_main.py \
        [--new data/cochlea.py] [--audio DIR] [--work runs/versions] [--json FILE]

`--audio DIR` takes every WAV in DIR (e.g. the bench's corpus: bench/cochlea.py --work
DIR keeps it in DIR/corpus); without it, the fidelity script's four words are spoken
with espeak-ng into --work. Not part of the test run.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cochlea_fidelity import BIN_S, GROUP, speak, spectrogram  # noqa: E402

from spiketime.data.cochlea import read_wav  # noqa: E402
from spiketime.data.speech import N_UNITS  # noqa: E402
from spiketime.fileio import write_text  # noqa: E402


def load_encoder(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module.CochleaEncoder()


def encode(encoder, x: np.ndarray, rate: int, seed: int) -> np.ndarray:
    """Spike-count spectrogram [700, 10 ms bins] of one utterance."""
    s = encoder.spikes([encoder.membrane(x, rate)], [seed])[0]
    return spectrogram((s[:, 0] + 0.5) / encoder.config.rate_hz, s[:, 1], x.size / rate)


def corr(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Correlation per channel and per group of GROUP channels."""
    pool = [m.reshape(N_UNITS // GROUP, GROUP, -1).sum(axis=1) for m in (a, b)]
    return (float(np.corrcoef(a.ravel(), b.ravel())[0, 1]),
            float(np.corrcoef(pool[0].ravel(), pool[1].ravel())[0, 1]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--old", required=True, help="the other data/cochlea.py")
    p.add_argument("--new", default=str(Path(__file__).resolve().parents[1] / "train" /
                                        "cochlea.py"))
    p.add_argument("--audio", default=None, help="a folder of WAVs (default: speak 4 words)")
    p.add_argument("--work", default="runs/versions")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    if args.audio:
        paths = sorted(Path(args.audio).glob("*.wav"))
    else:
        Path(args.work).mkdir(parents=True, exist_ok=True)
        paths = speak(Path(args.work))
    old, new = load_encoder(Path(args.old), "cochlea_old"), load_encoder(Path(args.new),
                                                                        "cochlea_new")
    rows = []
    for path in paths:
        x, rate = read_wav(path)
        a, b, again = encode(old, x, rate, 0), encode(new, x, rate, 0), encode(old, x, rate, 1)
        versions, ceiling = corr(a, b), corr(a, again)
        rows.append({"file": path.name, "seconds": round(x.size / rate, 3),
                     "old_spikes": int(a.sum()), "new_spikes": int(b.sum()),
                     "count_differences": int(np.abs(a - b).sum()),
                     "corr_channels": round(versions[0], 4), "corr_groups": round(versions[1], 4),
                     "corr_channels_old_two_seeds": round(ceiling[0], 4),
                     "corr_groups_old_two_seeds": round(ceiling[1], 4)})
    keys = ["corr_channels", "corr_groups", "corr_channels_old_two_seeds",
            "corr_groups_old_two_seeds"]
    summary = {"old": os.path.relpath(args.old), "new": os.path.relpath(args.new),
               "words": len(rows), "bin_ms": BIN_S * 1000,
               "group_channels": GROUP,
               "old_spikes": sum(r["old_spikes"] for r in rows),
               "new_spikes": sum(r["new_spikes"] for r in rows),
               "count_differences": sum(r["count_differences"] for r in rows),
               **{f"min_{k}": min(r[k] for r in rows) for k in keys},
               **{f"mean_{k}": round(float(np.mean([r[k] for r in rows])), 4) for k in keys}}
    print(json.dumps(summary, indent=1))
    if args.json:
        write_text(args.json, json.dumps({**summary, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
