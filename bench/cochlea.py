"""Speed of `spiketime data encode-audio`: times faster than real time, and than lauscher.

    .venv/bin/python bench/cochlea.py [--words 80 | --corpus DIR] [--jobs 1 2]
                                      [--lauscher-seconds 0.25]
                                      [--baseline FILE [--baseline-corpus FILE]]
                                      [--work DIR] [--json]

Speaks `--words` spoken digits with espeak-ng (English and German, several voices; tones
if espeak-ng is missing) into a corpus folder, or takes an existing corpus folder
(`--corpus`, e.g. the 5,200 utterances of `spiketime data spoken-digits`' defaults: the
workload the encoder is for, where the start-up of a run weighs less than on 80 words),
then times the whole command path (`encode_corpus`: reading, encoding, writing both HDF5
files) once per `--jobs` value, side by side in one run. With lauscher installed (the
bench extra), it also encodes the first `--lauscher-seconds` of one word with lauscher's
Wave2Spike(700) on one worker and with ours, and prints the ratio. Wall time and CPU time
(this process and its workers) are both printed, with the machine's load average: other
work on a shared machine stretches the wall time, much less the CPU time. `--baseline
FILE` (another version of data/cochlea.py, e.g. `git show REV:data/cochlea.py > FILE`)
times that encoder too, alternating with the current one run by run, and prints the CPU-
time ratio; `--baseline-corpus FILE` (another data/audio_corpus.py: batching, workers,
writing) runs that baseline through its own command path too. Not part of the test run.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import numpy as np
from scipy.io import wavfile

from spiketime.data import audio_corpus
from spiketime.data.cochlea import CochleaEncoder, read_wav
from spiketime.errors import UserError

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


def load_module(path: Path, name: str) -> ModuleType:
    """Another version of a module, loaded from `path` under `name`."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses (and the workers' pickles) find it
    spec.loader.exec_module(module)
    return module


def time_encode(corpus: Path, out: Path, jobs: int, encoder: type, audio_s: float,
                corpus_module: ModuleType = audio_corpus) -> dict:
    """Wall and CPU seconds of the command path (`corpus_module.encode_corpus`) with
    `encoder` as the cochlea."""
    current = corpus_module.CochleaEncoder
    corpus_module.CochleaEncoder = encoder  # the --jobs workers fork with it in place
    try:
        cpu0, start = _cpu_s(), time.perf_counter()
        corpus_module.encode_corpus(corpus, out, jobs=jobs)
        wall, cpu = time.perf_counter() - start, _cpu_s() - cpu0
    finally:
        corpus_module.CochleaEncoder = current
    return {"jobs": jobs, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "x_real_time": round(audio_s / wall, 1),
            "x_real_time_per_cpu_s": round(audio_s / cpu, 1)}


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the --jobs workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--words", type=int, default=80)
    p.add_argument("--corpus", default=None,
                   help="an existing corpus folder to encode instead of speaking --words")
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--lauscher-seconds", type=float, default=0.25,
                   help="0 skips lauscher; it needs the bench extra")
    p.add_argument("--baseline", default=None,
                   help="another data/cochlea.py to time beside this one")
    p.add_argument("--baseline-corpus", default=None,
                   help="with --baseline: another data/audio_corpus.py (the batching and "
                        "workers) for the baseline; by default it runs through this one")
    p.add_argument("--work", default=None, help="keep the corpus and outputs here")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.baseline_corpus and not args.baseline:
        p.error("--baseline-corpus needs --baseline")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench_cochlea_"))
    if args.corpus:
        corpus = Path(args.corpus)
        _, utterances = audio_corpus.read_corpus(corpus)
        words = len(utterances)
        audio_s = sum(audio_corpus.audio_seconds(corpus / u.file) for u in utterances)
    else:
        corpus, words = work / "corpus", args.words
        audio_s = make_corpus(corpus, words)
    result = {"words": words, "audio_s": round(audio_s, 2), "cpus": os.cpu_count(),
              "load_before": [round(x, 2) for x in os.getloadavg()], "runs": []}
    baseline = load_module(Path(args.baseline), "cochlea_baseline").CochleaEncoder \
        if args.baseline else None
    base_corpus = load_module(Path(args.baseline_corpus), "audio_corpus_baseline") \
        if args.baseline_corpus else audio_corpus
    for jobs in args.jobs:
        if baseline is not None:
            result.setdefault("baseline_runs", []).append(
                time_encode(corpus, work / f"base{jobs}", jobs, baseline, audio_s,
                            base_corpus))
        result["runs"].append(time_encode(corpus, work / f"out{jobs}", jobs,
                                          audio_corpus.CochleaEncoder, audio_s))
    if args.lauscher_seconds > 0:
        try:
            word = corpus / (utterances[0].file if args.corpus else "u0007.wav")
            result["lauscher"] = time_lauscher(word,
                                               args.lauscher_seconds)
        except ImportError:
            result["lauscher"] = "not installed (pip install -e .[bench])"
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    if not args.work:
        shutil.rmtree(work)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{words} words, {audio_s:.1f} s of audio, {result['cpus']} CPUs, "
          f"load average before {result['load_before']}, after {result['load_after']}")
    for i, run in enumerate(result["runs"]):
        base = result["baseline_runs"][i] if baseline is not None else None
        for label, r in (("baseline", base), ("", run)):
            if r is not None:
                print(f"  {label + ' ' if label else ''}encode-audio --jobs {r['jobs']}: "
                      f"{r['wall_s']:.2f} s wall ({r['x_real_time']:.1f}x faster than real "
                      f"time), {r['cpu_s']:.2f} CPU s ({r['x_real_time_per_cpu_s']:.1f} s of "
                      f"audio per CPU second)")
        if base is not None:
            print(f"    this version / baseline: {base['cpu_s'] / run['cpu_s']:.2f}x less CPU "
                  f"time, {base['wall_s'] / run['wall_s']:.2f}x less wall time")
    lau = result.get("lauscher")
    if isinstance(lau, dict):
        print(f"  lauscher on {lau['audio_s']} s (one worker): {lau['lauscher_s']:.1f} s; "
              f"ours {lau['ours_s']:.3f} s: {lau['ratio']}x faster")
    elif lau:
        print(f"  lauscher: {lau}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as exc:  # a bad --corpus: one line, as the CLI says it
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
