"""Speed of `spiketime data encode-audio`: times faster than real time, and than lauscher.

    .venv/bin/python bench/cochlea.py [--words 80] [--jobs 1 2] [--lauscher-seconds 0.25]
                                      [--work DIR] [--json]

Speaks `--words` spoken digits with espeak-ng (English and German, several voices; tones
if espeak-ng is missing) into a corpus folder, then times the whole command path
(`encode_corpus`: reading, encoding, writing both HDF5 files) once per `--jobs` value,
side by side in one run. With lauscher installed (the bench extra), it also encodes the
first `--lauscher-seconds` of one word with lauscher's Wave2Spike(700) on one worker and
with ours, and prints the ratio. Wall time and CPU time (this process and its workers)
are both printed, with the machine's load average: other work on a shared machine
stretches the wall time, much less the CPU time. Not part of the test run.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.io import wavfile

from spiketime.train.audio_corpus import encode_corpus
from spiketime.train.cochlea import CochleaEncoder, read_wav

DIGITS = {"en": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                 "nine"],
          "de": ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht",
                 "neun"]}
VOICES = ["", "+m3", "+f2", "+m7"]


def make_corpus(root: Path, words: int) -> float:
    """A corpus folder of `words` utterances; returns its total audio seconds."""
    root.mkdir(parents=True, exist_ok=True)
    rows, total = ["file,label,speaker,split"], 0.0
    espeak = shutil.which("espeak-ng")
    for i in range(words):
        lang = "en" if i % 20 < 10 else "de"
        label = i % 20
        voice = VOICES[(i // 20) % len(VOICES)]
        path = root / f"u{i:04d}.wav"
        if espeak:
            subprocess.run(["espeak-ng", "-v", lang + voice, "-w", str(path),
                            DIGITS[lang][label % 10]], check=True, capture_output=True)
        else:
            t = np.arange(int(0.6 * 16000)) / 16000
            wavfile.write(path, 16000, (0.3 * 32767 * np.sin(2 * np.pi * 200 * 1.15 ** label * t))
                          .astype(np.int16))
        x, rate = read_wav(path)
        total += x.size / rate
        speaker = (i // 20) % len(VOICES)  # the second voice is held out, as in SHD
        rows.append(f"{path.name},{label},v{speaker},{'test' if speaker == 1 else 'train'}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    (root / "classes.txt").write_text("\n".join(DIGITS["en"] + DIGITS["de"]) + "\n")
    return total


def time_lauscher(path: Path, seconds: float) -> dict:
    from lauscher.audiowaves import MonoAudioWave
    from lauscher.helpers import CommandLineArguments
    from lauscher.transformations.wave2spike import Wave2Spike

    CommandLineArguments().num_concurrent_jobs = 1
    x, rate = read_wav(path)
    x = x[:int(seconds * rate)]
    np.random.seed(0)
    start = time.perf_counter()
    MonoAudioWave(x.copy(), rate).transform(Wave2Spike(700))
    lauscher_s = time.perf_counter() - start
    encoder = CochleaEncoder()
    start = time.perf_counter()
    encoder.spikes([encoder.membrane(x, rate)], [0])
    ours_s = time.perf_counter() - start
    return {"audio_s": round(x.size / rate, 3), "lauscher_s": round(lauscher_s, 2),
            "ours_s": round(ours_s, 4), "ratio": round(lauscher_s / ours_s)}


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the --jobs workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--words", type=int, default=80)
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--lauscher-seconds", type=float, default=0.25,
                   help="0 skips lauscher; it needs the bench extra")
    p.add_argument("--work", default=None, help="keep the corpus and outputs here")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench_cochlea_"))
    audio_s = make_corpus(work / "corpus", args.words)
    result = {"words": args.words, "audio_s": round(audio_s, 2), "cpus": os.cpu_count(),
              "load_before": [round(x, 2) for x in os.getloadavg()], "runs": []}
    for jobs in args.jobs:
        cpu0, start = _cpu_s(), time.perf_counter()
        encode_corpus(work / "corpus", work / f"out{jobs}", jobs=jobs)
        wall, cpu = time.perf_counter() - start, _cpu_s() - cpu0
        result["runs"].append({"jobs": jobs, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                               "x_real_time": round(audio_s / wall, 1),
                               "x_real_time_per_cpu_s": round(audio_s / cpu, 1)})
    if args.lauscher_seconds > 0:
        try:
            result["lauscher"] = time_lauscher(work / "corpus" / "u0007.wav",
                                               args.lauscher_seconds)
        except ImportError:
            result["lauscher"] = "not installed (pip install -e .[bench])"
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    if not args.work:
        shutil.rmtree(work)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.words} words, {audio_s:.1f} s of audio, {result['cpus']} CPUs, "
          f"load average before {result['load_before']}, after {result['load_after']}")
    for run in result["runs"]:
        print(f"  encode-audio --jobs {run['jobs']}: {run['wall_s']:.2f} s wall "
              f"({run['x_real_time']:.1f}x faster than real time), {run['cpu_s']:.2f} CPU s "
              f"({run['x_real_time_per_cpu_s']:.1f} s of audio per CPU second)")
    lau = result.get("lauscher")
    if isinstance(lau, dict):
        print(f"  lauscher on {lau['audio_s']} s (one worker): {lau['lauscher_s']:.1f} s; "
              f"ours {lau['ours_s']:.3f} s: {lau['ratio']}x faster")
    elif lau:
        print(f"  lauscher: {lau}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
