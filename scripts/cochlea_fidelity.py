"""Fidelity of spiketime's cochlear encoder against lauscher (SHD's encoder) on a few words.

    .venv/bin/python scripts/cochlea_fidelity.py --work runs/fidelity [--reference-only]
        [--figure docs/speech_fidelity.png] [--json docs/speech_fidelity.json]

Needs espeak-ng (Debian) and the bench extra (`pip install -e .[bench]`: lauscher 1.0.1).
1. Speaks WORDS with espeak-ng at its native 22,050 Hz into WORK/*.wav.
2. Reference: lauscher's `Wave2Spike(700)` on each file, one core, numpy seed 0; cached as
   WORK/*.lauscher.npz (about 4 minutes of one core per 0.7 s of audio).
3. Ours: `CochleaEncoder` with its defaults, seed 0.
4. Compares spike-count spectrograms (700 channels x 10 ms bins, also pooled into 35
   groups of 20 channels): Pearson correlation per word; per-group rate ratio (ours /
   lauscher); the lag that best aligns the two (per channel group, from the cross-
   correlation of their time profiles); a side-by-side raster figure. The same
   correlations between ours and ours with another seed show how far the spike noise
   alone keeps them from 1.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from spiketime.data.cochlea import CochleaEncoder, read_wav
from spiketime.data.speech import N_UNITS
from spiketime.fileio import atomic_path, write_text

WORDS = [("en", "one"), ("en", "seven"), ("de", "drei"), ("de", "neun")]
BIN_S = 0.01
GROUP = 20  # channels per pooled group


def speak(work: Path) -> list[Path]:
    paths = []
    for voice, word in WORDS:
        path = work / f"{voice}_{word}.wav"
        if not path.exists():
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(path), word], check=True)
        paths.append(path)
    return paths


def lauscher_spikes(path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """(times s, units, wall seconds with one worker) from lauscher, cached beside the WAV."""
    cache = path.with_suffix(".lauscher.npz")
    if cache.exists():
        d = np.load(cache)
        return d["times"], d["units"], float(d["seconds"])
    from lauscher.audiowaves import MonoAudioWave
    from lauscher.helpers import CommandLineArguments
    from lauscher.transformations.wave2spike import Wave2Spike

    CommandLineArguments().num_concurrent_jobs = 1
    x, rate = read_wav(path)
    np.random.seed(0)
    start = time.perf_counter()  # wall clock: the work runs in lauscher's one-worker pool
    spikes = MonoAudioWave(x.copy(), rate).transform(Wave2Spike(N_UNITS))
    seconds = time.perf_counter() - start
    times, units = np.asarray(spikes.spike_times), np.asarray(spikes.spike_labels).astype(int)
    np.savez(cache, times=times, units=units, seconds=seconds)
    return times, units, seconds


def spectrogram(times: np.ndarray, units: np.ndarray, seconds: float) -> np.ndarray:
    bins = int(np.ceil(seconds / BIN_S))
    t = np.minimum((times / BIN_S).astype(int), bins - 1)
    return np.bincount(units * bins + t, minlength=N_UNITS * bins).reshape(N_UNITS, bins)


def best_lag(a: np.ndarray, b: np.ndarray, max_lag: int = 8) -> int:
    """Bins by which b must be shifted to best match a (positive: b lags a)."""
    lags = range(-max_lag, max_lag + 1)
    score = [np.dot(a[max(0, -k):len(a) - max(0, k)], b[max(0, k):len(b) - max(0, -k)])
             for k in lags]
    return list(lags)[int(np.argmax(score))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", default="runs/fidelity")
    p.add_argument("--reference-only", action="store_true", help="only make lauscher's spikes")
    p.add_argument("--figure", default="docs/speech_fidelity.png")
    p.add_argument("--json", default="docs/speech_fidelity.json")
    p.add_argument("--words", type=int, default=len(WORDS), help="use the first N words")
    args = p.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    paths = speak(work)[:args.words]
    reference = {}
    for path in paths:
        reference[path] = lauscher_spikes(path)
        print(f"lauscher {path.name}: {len(reference[path][0])} spikes, "
              f"{reference[path][2]:.0f} s", flush=True)
    if args.reference_only:
        return 0

    encoder = CochleaEncoder()
    rows, pairs = [], []
    for path in paths:
        x, rate = read_wav(path)
        seconds = x.size / rate
        start = time.perf_counter()
        drive = encoder.membrane(x, rate)
        s_ours = encoder.spikes([drive], [encoder.config.seed])[0]
        ours_s = time.perf_counter() - start
        ours = spectrogram((s_ours[:, 0] + 0.5) / encoder.config.rate_hz, s_ours[:, 1],
                           seconds)
        s = encoder.spikes([drive], [encoder.config.seed + 1])[0]  # the noise's own limit
        again = spectrogram((s[:, 0] + 0.5) / encoder.config.rate_hz, s[:, 1], seconds)
        times, units, ref_s = reference[path]
        ref = spectrogram(times, units, seconds)
        pooled = [m.reshape(N_UNITS // GROUP, GROUP, -1).sum(axis=1) for m in (ref, ours, again)]
        lags = [best_lag(r, o) for r, o in zip(*pooled[:2]) if r.sum() > 20 and o.sum() > 20]
        rows.append({
            "file": path.name, "seconds": round(seconds, 3),
            "lauscher_spikes": int(ref.sum()), "ours_spikes": int(ours.sum()),
            "corr_channels": round(float(np.corrcoef(ref.ravel(), ours.ravel())[0, 1]), 3),
            "corr_groups": round(float(np.corrcoef(pooled[0].ravel(),
                                                   pooled[1].ravel())[0, 1]), 3),
            "corr_channels_ours_two_seeds": round(float(np.corrcoef(ours.ravel(),
                                                                  again.ravel())[0, 1]), 3),
            "corr_groups_ours_two_seeds": round(float(np.corrcoef(pooled[1].ravel(),
                                                                pooled[2].ravel())[0, 1]), 3),
            "median_lag_ms_ours_minus_lauscher": float(np.median(lags) * BIN_S * 1000)
            if lags else None,
            "lauscher_wall_s_one_worker": round(ref_s, 1), "ours_wall_s": round(ours_s, 3),
        })
        ours_times = (s_ours[:, 0] + 0.5) / encoder.config.rate_hz
        pairs.append((path.name, ref, ours, (times, units), (ours_times, s_ours[:, 1])))
        print(json.dumps(rows[-1]), flush=True)
    ref_all = sum(p[1].sum(axis=1) for p in pairs).reshape(-1, GROUP).sum(axis=1)
    ours_all = sum(p[2].sum(axis=1) for p in pairs).reshape(-1, GROUP).sum(axis=1)
    ratio = (ours_all + 1) / (ref_all + 1)
    summary = {
        "words": rows,
        "group_channels": GROUP, "bin_ms": BIN_S * 1000,
        "rate_ratio_per_group": np.round(ratio, 2).tolist(),
        "lauscher_spikes_per_group": ref_all.tolist(), "ours_spikes_per_group": ours_all.tolist(),
        "total_ratio": round(float(ours_all.sum() / ref_all.sum()), 3),
    }
    write_text(args.json, json.dumps(summary, indent=1) + "\n")
    _figure(pairs, ratio, args.figure)
    print(f"wrote {args.json} and {args.figure}")
    return 0


def _figure(pairs, ratio: np.ndarray, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(pairs) + 1, 2, figsize=(10, 2.6 * (len(pairs) + 1)))
    for row, (name, _, _, theirs, ours) in zip(axes, pairs):
        for ax, (t, u), who in zip(row, (theirs, ours), ("lauscher", "spiketime")):
            ax.plot(t, u, ",", color="k", alpha=0.6)
            ax.set_xlim(0, max(theirs[0].max(), ours[0].max()))
            ax.set_ylim(0, N_UNITS)
            ax.set_title(f"{name}: {who} ({len(t)} spikes)", fontsize=9)
            ax.set_ylabel("channel (0 = 22 kHz)")
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    axes[-1][0].bar(np.arange(len(ratio)) * GROUP, ratio, width=GROUP * 0.8, align="edge")
    axes[-1][0].axhline(1.0, color="k", lw=0.5)
    axes[-1][0].set_yscale("log")
    axes[-1][0].set_xlabel("channel")
    axes[-1][0].set_title("spike-count ratio spiketime / lauscher, all words", fontsize=9)
    axes[-1][1].axis("off")
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
