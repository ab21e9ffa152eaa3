"""A folder of labelled audio -> `{name}_{train,test}.h5` in the Heidelberg (SHD) layout.

The folder (the contract with `spiketime data spoken-digits`):
  - audio files, WAV (PCM or float, any rate; several channels are averaged);
  - `labels.csv`, header `file,label,speaker,split`: `file` relative to the folder,
    `label` an int in [0, classes), `speaker` a string, `split` train or test;
  - `classes.txt`, one class name per line (line i names label i).
Written per split, in labels.csv's order: `spikes/times` (vlen float32 seconds),
`spikes/units` (vlen uint16, 0..699), `labels` (uint16), `extra/keys` (class names),
`extra/speaker` (int index into `extra/speaker_names`, all speakers of both splits,
sorted), `extra/file`, `extra/duration_s`, and the encoder's parameters as the JSON
attribute `encoder` of `extra`. `spiketime data prepare --dataset shd` reads these files.
"""
from __future__ import annotations

import csv
import ctypes
import functools
import itertools
import json
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py
import numpy as np
from threadpoolctl import threadpool_limits

from spiketime.data.cochlea import CochleaConfig, CochleaEncoder, read_wav
from spiketime.errors import UserError
from spiketime.fileio import atomic_path
from spiketime.progress import progress

HEADER = ["file", "label", "speaker", "split"]
SPLITS = ("train", "test")
FORMAT = "spiketime-cochlea-3"
_BATCH = 32   # at most this many utterances simulated side by side
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt options (malloc.h)


@dataclass(frozen=True)
class Utterance:
    index: int        # row in labels.csv (0-based): seeds its nerve noise
    file: str
    label: int
    speaker: str
    split: str


def read_corpus(audio_dir: str | os.PathLike) -> tuple[list[str], list[Utterance]]:
    """Class names and utterances of a corpus folder, checked (files exist, labels in range)."""
    root = Path(audio_dir)
    if not root.is_dir():
        raise UserError(f"{root}: no such folder")
    classes = _read_classes(root / "classes.txt")
    path = root / "labels.csv"
    if not path.is_file():
        raise UserError(f"{path}: missing (header {','.join(HEADER)})")
    rows = list(csv.reader(_utf8_text(path).splitlines()))
    if not rows or [c.strip() for c in rows[0]] != HEADER:
        raise UserError(f"{path}: the first line must be {','.join(HEADER)}")
    out = []
    seen: dict[Path, int] = {}  # each audio file (resolved: links too) -> its line
    for line, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(HEADER):
            raise UserError(f"{path}:{line}: expected {len(HEADER)} fields, got {len(row)}")
        file, label, speaker, split = (c.strip() for c in row)
        try:
            label_int = int(label)
        except ValueError:
            raise UserError(f"{path}:{line}: label {label!r} is not an integer") from None
        if not 0 <= label_int < len(classes):
            raise UserError(f"{path}:{line}: label {label_int} outside [0, {len(classes)}) "
                            f"(classes.txt names {len(classes)} classes)")
        if split not in SPLITS:
            raise UserError(f"{path}:{line}: split {split!r} must be train or test")
        if not speaker:
            raise UserError(f"{path}:{line}: empty speaker")
        if not file or Path(file).is_absolute() or ".." in Path(file).parts:
            raise UserError(f"{path}:{line}: file {file!r} must be a path inside {root}")
        if not (root / file).is_file():
            raise UserError(f"{path}:{line}: {file} not found in {root}")
        real = (root / file).resolve()
        if real in seen:
            raise UserError(f"{path}:{line}: {file} is the audio of line {seen[real]} "
                            f"again: each recording may be listed once (one label, one split)")
        seen[real] = line
        out.append(Utterance(len(out), file, label_int, speaker, split))
    for split in SPLITS:
        if not any(u.split == split for u in out):
            raise UserError(f"{path}: no {split} utterance")
    return classes, out


def _utf8_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
                        f"offset {exc.start}); save it as UTF-8") from None


def _read_classes(path: Path) -> list[str]:
    if not path.is_file():
        raise UserError(f"{path}: missing (one class name per line)")
    names = [line.strip() for line in _utf8_text(path).splitlines()]
    while names and not names[-1]:
        names.pop()
    if not names or any(not n for n in names):
        raise UserError(f"{path}: needs one non-empty class name per line")
    return names


def encode_corpus(audio_dir: str | os.PathLike, out_dir: str | os.PathLike, *,
                  name: str = "shd", config: CochleaConfig | None = None,
                  jobs: int = 1) -> dict[str, int]:
    """Encode every utterance and write both split files (both or neither). Returns the
    number of utterances and spikes per split."""
    config = config or CochleaConfig()
    if not name or "/" in name or name.startswith("."):
        raise UserError(f"--name {name!r}: a plain file-name prefix is needed (e.g. shd)")
    if jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {jobs}")
    root = Path(audio_dir)
    classes, utterances = read_corpus(root)
    durations = [audio_seconds(root / u.file) for u in utterances]
    spikes = dict(_encode_all(root, utterances, durations, config, jobs))
    speakers = sorted({u.speaker for u in utterances})
    out = Path(out_dir)
    summary = {}
    with ExitStack() as stack:  # both renames happen only if both files were written
        for split in SPLITS:
            members = [u for u in utterances if u.split == split]
            tmp = stack.enter_context(atomic_path(out / f"{name}_{split}.h5"))
            _write_split(tmp, members, [spikes[u.index] for u in members],
                         [durations[u.index] for u in members], classes, speakers, config)
            summary[split] = len(members)
            summary[f"{split}_spikes"] = sum(len(spikes[u.index]) for u in members)
    return summary


def audio_seconds(path: Path) -> float:
    """The duration of an audio file, read (and so checked) in full."""
    x, rate = read_wav(path)
    return x.size / rate


def _encode_all(root: Path, utterances: list[Utterance], durations: list[float],
                config: CochleaConfig, jobs: int) -> Iterator[tuple[int, np.ndarray]]:
    """(utterance index, spikes [n, 2] of (step, channel)) for all, in any order. Similar
    lengths are batched together (they share filter tables, and a batch runs as long as
    its longest); with several jobs each batch is a task, the longest first, taken by
    whichever worker is free. A file's spikes do not depend on the batching or the
    workers."""
    order = sorted(range(len(utterances)), key=lambda i: (durations[i], i))
    batches = [[(utterances[i].index, str(root / utterances[i].file)) for i in part]
               for part in _split(order, jobs)]
    if jobs == 1:
        encoder = CochleaEncoder(config)
        with threadpool_limits(1):  # BLAS threads would spin on the other core
            for batch in progress(batches, "encode"):
                yield from _encode_batch(encoder, batch)
        return
    tasks = [(config, batch) for batch in reversed(batches)]
    with ProcessPoolExecutor(max_workers=jobs, initializer=_start_worker) as pool:
        yield from itertools.chain.from_iterable(
            progress(pool.map(_encode_task, tasks), "encode", total=len(tasks)))


def _split(order: list[int], jobs: int) -> list[list[int]]:
    """`order` cut into runs of nearly equal size, at most _BATCH each: a whole number
    of them per job (so the last ones, taken longest first, leave no worker idle)."""
    per_job = -(-len(order) // (jobs * _BATCH))
    parts = jobs * per_job if jobs > 1 else per_job
    bounds = np.linspace(0, len(order), parts + 1).round().astype(int)
    return [order[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]


def _start_worker() -> None:
    """A worker keeps BLAS to one thread (the jobs use the cores) and the memory it frees
    (glibc: no return to the system, which costs a page fault per 4 kB on reuse; 0.1 s of
    a 2 s run): its arrays have the same sizes batch after batch."""
    threadpool_limits(1)
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to tune
        return
    for option in (_M_MMAP_THRESHOLD, _M_TRIM_THRESHOLD):
        libc.mallopt(option, 1 << 30)


def _encode_task(task: tuple[CochleaConfig, list[tuple[int, str]]]
                 ) -> list[tuple[int, np.ndarray]]:
    config, batch = task
    return _encode_batch(_worker_encoder(config), batch)


@functools.lru_cache(maxsize=1)
def _worker_encoder(config: CochleaConfig) -> CochleaEncoder:
    """One encoder per worker process, so its filter tables serve all its tasks."""
    return CochleaEncoder(config)


def _encode_batch(encoder: CochleaEncoder, batch: list[tuple[int, str]]
                  ) -> list[tuple[int, np.ndarray]]:
    drives = [encoder.membrane(*read_wav(path)) for _, path in batch]
    seeds = [[encoder.config.seed, index] for index, _ in batch]
    return list(zip([i for i, _ in batch], encoder.spikes(drives, seeds)))


def _write_split(path: Path, members: list[Utterance], spikes: list[np.ndarray],
                 durations: list[float], classes: list[str], speakers: list[str],
                 config: CochleaConfig) -> None:
    step_s = 1.0 / config.rate_hz
    with h5py.File(path, "w") as f:
        times = np.empty(len(members), dtype=object)  # written in one call each
        units = np.empty(len(members), dtype=object)
        for i, s in enumerate(spikes):
            times[i] = ((s[:, 0] + 0.5) * step_s).astype(np.float32)
            units[i] = s[:, 1].astype(np.uint16)
        f.create_dataset("spikes/times", data=times, dtype=h5py.vlen_dtype(np.dtype("float32")))
        f.create_dataset("spikes/units", data=units, dtype=h5py.vlen_dtype(np.dtype("uint16")))
        f["labels"] = np.array([u.label for u in members], dtype=np.uint16)
        extra = f.create_group("extra")
        extra["keys"] = np.array([c.encode("utf-8") for c in classes])
        speaker_of = {s: i for i, s in enumerate(speakers)}
        extra["speaker"] = np.array([speaker_of[u.speaker] for u in members], dtype=np.uint16)
        extra["speaker_names"] = np.array([s.encode("utf-8") for s in speakers])
        extra["file"] = np.array([u.file.encode("utf-8") for u in members])
        extra["duration_s"] = np.array(durations, dtype=np.float32)
        extra.attrs["encoder"] = json.dumps({"format": FORMAT, **asdict(config)})
