"""A spoken-digit corpus (0-9 in English and German, 20 classes like SHD) made with espeak-ng.

Each voice is an espeak-ng *variant* (`m1`..`m8`, `f1`..`f5`, the Klatt voices and the
named ones such as `adam` or `belinda`): it sets the voice's pitch, formants and
breathiness, so it plays the part of a speaker. English utterances also draw one of
espeak-ng's English accents (`en-gb`, `en-us`, `en-gb-x-rp`, ...); German ones use `de`.
Every utterance gets seeded prosody: speed (words per minute), pitch (0-99), word gap
(espeak's `-g`, 10 ms units: it lengthens the pause after the word), amplitude (0-200),
a leading silence and white background noise at a signal-to-noise ratio.

Split: a seeded share of the voices is held out, and all of their utterances form the
test split, so no test voice is heard in training (SHD holds out speakers the same way).

Everything random is drawn up front from one generator (`plan`), so the corpus depends
only on the configuration and the espeak-ng build, not on the number of workers.

Written folder (the contract with `spiketime data encode-audio`):
  wav/NNNNN_<class>_<voice>.wav   16-bit PCM mono at 16 kHz
  labels.csv                      file,label,speaker,split
  classes.txt                     one class name per line, line i = label i
  utterances.csv                  every utterance's espeak-ng settings, noise and seed
  corpus.json                     the configuration, the voice split, counts, espeak version
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from spiketime.errors import UserError

ENGLISH = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
GERMAN = ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun")
CLASS_NAMES = ENGLISH + GERMAN
ENGLISH_ACCENTS = ("en-gb", "en-us", "en-029", "en-gb-scotland", "en-gb-x-gbclan",
                   "en-gb-x-gbcwmd", "en-gb-x-rp", "en-us-nyc")
GERMAN_ACCENT = "de"
# espeak-ng 1.51's variants (`espeak-ng --voices=variant`) that sound like a person;
# robots, whispers and effects (Demonic, robosoft*, whisper*, croak, ...) are left out.
VOICES = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "klatt4",
    "adam", "Andy", "Annie", "antonio", "aunty", "belinda", "benjamin", "boris", "caleb",
    "david", "ed", "edward", "grandma", "grandpa", "gustave", "iven", "Jacky", "john",
    "linda", "max", "michel", "miguel", "norbert", "pablo", "paul", "pedro", "quincy",
    "rob", "robert", "sandro", "shelby", "steph", "travis", "victor", "zac",
)
SAMPLE_RATE = 16000
ESPEAK_RATE = 22050  # espeak-ng's output rate
INSTALL_HINT = ("espeak-ng is not installed (or not on PATH): install it with "
                "`apt-get install espeak-ng` (Debian/Ubuntu), `dnf install espeak-ng` (Fedora) "
                "or `brew install espeak-ng` (macOS)")


@dataclass(frozen=True)
class CorpusConfig:
    """What decides the corpus. Ranges are (low, high), drawn uniformly per utterance."""

    seed: int = 0
    repeats: int = 5                  # utterances per (voice, class)
    test_fraction: float = 0.2        # share of the voices held out for the test split
    voices: tuple[str, ...] = VOICES
    speed_wpm: tuple[float, float] = (130.0, 210.0)
    pitch: tuple[float, float] = (25.0, 75.0)
    word_gap: tuple[float, float] = (0.0, 10.0)     # espeak -g, units of 10 ms
    amplitude: tuple[float, float] = (60.0, 160.0)
    lead_ms: tuple[float, float] = (20.0, 200.0)
    snr_db: tuple[float, float] = (10.0, 40.0)

    def __post_init__(self) -> None:
        if not (isinstance(self.repeats, int) and self.repeats >= 1):
            raise UserError(f"--repeats must be a positive integer, got {self.repeats!r}")
        if len(set(self.voices)) != len(self.voices) or len(self.voices) < 2:
            raise UserError(f"need at least 2 distinct voices, got {list(self.voices)}")
        n_test = self.n_test_voices
        if not 1 <= n_test < len(self.voices):
            raise UserError(f"--test-fraction {self.test_fraction!r} holds out {n_test} of "
                            f"{len(self.voices)} voices; it must leave at least one on each side")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("seed", "repeats", "test_fraction", "voices"):
                continue
            lo, hi = value
            if not (np.isfinite(lo) and np.isfinite(hi) and 0 <= lo <= hi):
                raise UserError(f"{f.name} must be a range 0 <= low <= high, got {value!r}")
        for name, top in (("pitch", 99), ("amplitude", 200), ("speed_wpm", 450)):
            if getattr(self, name)[1] > top:
                raise UserError(f"{name} goes up to {top} in espeak-ng, got {getattr(self, name)}")
        if self.speed_wpm[0] < 80:
            raise UserError(f"speed_wpm starts at 80 in espeak-ng, got {self.speed_wpm}")

    @property
    def n_test_voices(self) -> int:
        return int(round(self.test_fraction * len(self.voices)))


@dataclass(frozen=True)
class Utterance:
    """One file of the corpus and everything that made it."""

    file: str
    label: int
    speaker: str
    split: str
    espeak_voice: str   # e.g. en-gb-x-rp+f3
    text: str
    speed_wpm: int
    pitch: int
    word_gap: int
    amplitude: int
    lead_ms: float
    snr_db: float
    noise_seed: int


def split_voices(config: CorpusConfig) -> tuple[list[str], list[str]]:
    """(train voices, test voices): a seeded draw of config.n_test_voices held out."""
    rng = np.random.default_rng([config.seed, 1])
    order = rng.permutation(len(config.voices))
    test = sorted(config.voices[i] for i in order[:config.n_test_voices])
    return [v for v in config.voices if v not in test], test


def plan(config: CorpusConfig) -> list[Utterance]:
    """Every utterance of the corpus, all random draws made here, in file order."""
    train_voices, test_voices = split_voices(config)
    rng = np.random.default_rng([config.seed, 2])
    out = []
    for split, voices in (("train", train_voices), ("test", test_voices)):
        for voice in voices:
            for label, text in enumerate(CLASS_NAMES):
                for _ in range(config.repeats):
                    accent = (ENGLISH_ACCENTS[rng.integers(len(ENGLISH_ACCENTS))]
                              if label < len(ENGLISH) else GERMAN_ACCENT)
                    index = len(out)
                    out.append(Utterance(
                        file=f"wav/{index:05d}_{text}_{voice}.wav".replace("ü", "ue"),
                        label=label, speaker=voice, split=split,
                        espeak_voice=f"{accent}+{voice}", text=text,
                        speed_wpm=int(round(rng.uniform(*config.speed_wpm))),
                        pitch=int(round(rng.uniform(*config.pitch))),
                        word_gap=int(round(rng.uniform(*config.word_gap))),
                        amplitude=int(round(rng.uniform(*config.amplitude))),
                        lead_ms=round(float(rng.uniform(*config.lead_ms)), 1),
                        snr_db=round(float(rng.uniform(*config.snr_db)), 2),
                        noise_seed=int(rng.integers(2**31))))
    return out


def find_espeak() -> str:
    """The espeak-ng executable, or a UserError saying how to install it."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise UserError(INSTALL_HINT)
    return exe


def installed_variants(exe: str) -> set[str]:
    """The variant names `espeak-ng --voices=variant` lists (its file column, `!v/NAME`)."""
    out = subprocess.run([exe, "--voices=variant"], capture_output=True, text=True, check=False)
    rows = [line.split() for line in out.stdout.splitlines()[1:]]
    return {row[-1].removeprefix("!v/") for row in rows if row and row[-1].startswith("!v/")}


def espeak_version(exe: str) -> str:
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip().split("  ")[0]


def espeak_command(exe: str, u: Utterance) -> list[str]:
    return [exe, "-v", u.espeak_voice, "-s", str(u.speed_wpm), "-p", str(u.pitch),
            "-g", str(u.word_gap), "-a", str(u.amplitude), "--stdout", u.text]


def render(exe: str, u: Utterance) -> np.ndarray:
    """The utterance as int16 samples at SAMPLE_RATE: espeak-ng's speech, resampled,
    after a leading silence, plus white noise at the utterance's SNR (speech power is
    measured over the speech samples above 1% of the peak)."""
    proc = subprocess.run(espeak_command(exe, u), capture_output=True, check=False)
    if proc.returncode != 0 or len(proc.stdout) < 100:
        raise UserError(f"espeak-ng failed on voice {u.espeak_voice!r}, text {u.text!r}: "
                        f"{proc.stderr.decode(errors='replace').strip() or 'no audio'}")
    with wave.open(io.BytesIO(proc.stdout)) as w:
        rate, speech = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2")
    x = resample_poly(speech.astype(np.float64), SAMPLE_RATE, rate)
    x = np.concatenate([np.zeros(int(round(u.lead_ms * SAMPLE_RATE / 1000))), x])
    loud = np.abs(x) > 0.01 * max(np.abs(x).max(), 1.0)
    power = float(np.mean(x[loud] ** 2)) if loud.any() else 0.0
    noise = np.random.default_rng(u.noise_seed).standard_normal(x.size)
    x = x + noise * np.sqrt(power / 10 ** (u.snr_db / 10))
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(samples.astype("<i2").tobytes())


def build_corpus(out: str | os.PathLike, config: CorpusConfig, *, workers: int = 2,
                 progress: Callable[[Iterable, int], Iterable] | None = None) -> dict:
    """Write the corpus folder `out` (which must not exist or be empty); returns the summary
    also written as corpus.json. Built in a temporary folder beside `out` and renamed onto
    it at the end, so an error leaves nothing behind. espeak-ng runs in `workers`
    processes at a time."""
    exe = find_espeak()
    target = Path(out)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UserError(f"{target} exists and is not an empty folder; choose a new one")
    if not (isinstance(workers, int) and workers >= 1):
        raise UserError(f"workers must be a positive integer, got {workers!r}")
    unknown = sorted(set(config.voices) - installed_variants(exe))
    if unknown:  # espeak-ng would silently speak them with its default voice
        raise UserError(f"espeak-ng has no voice variant {', '.join(unknown)}; "
                        f"`espeak-ng --voices=variant` lists them (the last column, after !v/)")
    utterances = plan(config)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        (tmp / "wav").mkdir()

        def one(u: Utterance) -> float:
            samples = render(exe, u)
            write_wav(tmp / u.file, samples)
            return samples.size / SAMPLE_RATE

        with ThreadPoolExecutor(max_workers=workers) as pool:
            jobs = pool.map(one, utterances)
            durations = list(progress(jobs, len(utterances)) if progress else jobs)
        summary = _summary(config, utterances, durations, espeak_version(exe))
        _write_tables(tmp, utterances)
        (tmp / "corpus.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700
        if target.exists():
            target.rmdir()
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return summary


def _summary(config: CorpusConfig, utterances: list[Utterance], durations: list[float],
             version: str) -> dict:
    train_voices, test_voices = split_voices(config)
    seconds = np.asarray(durations)
    return {
        "version": 1, "config": asdict(config), "espeak_ng": version,
        "sample_rate": SAMPLE_RATE, "classes": list(CLASS_NAMES),
        "train_voices": train_voices, "test_voices": test_voices,
        "counts": {s: sum(u.split == s for u in utterances) for s in ("train", "test")},
        "duration_s": {"mean": round(float(seconds.mean()), 3),
                       "min": round(float(seconds.min()), 3),
                       "max": round(float(seconds.max()), 3),
                       "total": round(float(seconds.sum()), 1)},
    }


def _write_tables(folder: Path, utterances: list[Utterance]) -> None:
    (folder / "classes.txt").write_text("".join(f"{name}\n" for name in CLASS_NAMES),
                                        encoding="utf-8")
    with open(folder / "labels.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(("file", "label", "speaker", "split"))
        w.writerows((u.file, u.label, u.speaker, u.split) for u in utterances)
    with open(folder / "utterances.csv", "w", newline="", encoding="utf-8") as f:
        names = [fl.name for fl in fields(Utterance)]
        w = csv.writer(f, lineterminator="\n")
        w.writerow(names)
        w.writerows([getattr(u, n) for n in names] for u in utterances)
