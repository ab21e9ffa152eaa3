"""`spiketime data generate|prepare|audit|encode-audio|spoken-digits`: make, convert and
audit dataset files."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from spiketime import guards
from spiketime.errors import UserError

_TASKS = ("isi", "ccisi", "coincidence")
_VARIANTS = ("standard", "ratefree")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data", help="generate, prepare and audit timing-code datasets",
        description="Generate synthetic timing tasks, convert SHD/SSC, "
                    "audit rate and position shortcuts.")
    sub = parser.add_subparsers(dest="data_command", required=True,
                                metavar="{generate,prepare,audit,encode-audio,spoken-digits}",
                                parser_class=type(parser))
    _add_generate(sub)
    _add_prepare(sub)
    _add_audit(sub)
    _add_encode_audio(sub)
    _add_spoken_digits(sub)


def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="write a synthetic ISI, CCISI or coincidence dataset")
    p.add_argument("--task", required=True, choices=_TASKS)
    p.add_argument("--variant", default="standard", choices=_VARIANTS)
    p.add_argument("--lambda", dest="lam", type=float, default=None,
                   help="coincidence difficulty in [0, 1] (rate-free is 1)")
    p.add_argument("--samples-per-class", type=int, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--dt-ms", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="any other generator parameter, VALUE in JSON (e.g. interval_range=[1,50])")
    p.add_argument("--out", required=True, help="dataset file to write (HDF5)")
    p.set_defaults(func=_generate)


def _add_prepare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="bin the official SHD/SSC files into a dataset file")
    p.add_argument("--dataset", required=True, choices=("shd", "ssc"))
    p.add_argument("--variant", required=True, choices=("whole", "part", "norm"))
    p.add_argument("--raw", type=guards.input_path, required=True,
                   help="directory holding {shd,ssc}_{train,test}.h5")
    p.add_argument("--dt-ms", type=float, default=14.0)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--seed", type=int, default=0, help="seed of norm's subsampling")
    p.add_argument("--part-coverage", type=float, default=1.0, metavar="F",
                   help="part/norm: keep the most channels that fire twice in every one of "
                        "at least this share of the training samples, and leave out the "
                        "samples (of both splits) where one does not; 1 (default) is the "
                        "paper's rule: channels that fire twice in every training sample")
    p.add_argument("--storage", choices=("dense", "events"), default="dense",
                   help="events: store each sample's spikes as (step, channel) events, written "
                        "chunk by chunk without the whole dense array (SSC dense is ~13 GB); "
                        "`spiketime train` reads it a batch at a time (default %(default)s)")
    p.add_argument("--out", required=True, help="dataset file to write (HDF5)")
    p.set_defaults(func=_prepare)


def _add_audit(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="can spike counts or spike positions alone predict the class?")
    p.add_argument("file", type=guards.input_path,
                   help="a dataset file (an events file is read a batch at a time)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0, help="seed of the folds and the reference")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    from spiketime.data.reference import ReferenceConfig  # no torch: only the defaults

    ref = ReferenceConfig()
    p.add_argument("--no-reference", action="store_true",
                   help="skip the non-spiking reference (a GRU trained on the train split, "
                        "scored on the test split: what the data allows)")
    p.add_argument("--reference-epochs", type=int, default=ref.epochs, metavar="N",
                   help="the reference's training epochs (default %(default)s)")
    p.add_argument("--reference-hidden", type=int, default=ref.hidden, metavar="N",
                   help="the reference's GRU units (default %(default)s)")
    p.add_argument("--reference-group", type=int, default=ref.group, metavar="N",
                   help="neighbouring channels summed into one reference input "
                        "(default %(default)s)")
    p.set_defaults(func=_audit)


def _add_encode_audio(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "encode-audio", help="labelled WAV files -> 700-channel spikes in the SHD file layout",
        description="Encode a folder of WAV files (with labels.csv: file,label,speaker,split "
                    "and classes.txt) through a cochlear model (basilar membrane, inner hair "
                    "cells, auditory nerve, bushy cells; the stages of SHD's encoder) into "
                    "NAME_train.h5 and NAME_test.h5, readable by `data prepare --dataset shd "
                    "--raw OUT`. See docs/speech.md.")
    p.add_argument("--audio", type=guards.input_path, required=True,
                   help="folder with the audio, labels.csv, classes.txt")
    p.add_argument("--out", type=guards.path, required=True,
                   help="folder to write NAME_{train,test}.h5 into")
    p.add_argument("--name", default="shd", help="file-name prefix (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the nerve noise")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default %(default)s)")
    p.set_defaults(func=_encode_audio)


def _encode_audio(args: argparse.Namespace) -> int:
    guards.seed(args.seed)
    guards.input_folder(args.audio, "--audio")
    guards.output_folder(args.out, [f"{args.name}_{split}.h5" for split in ("train", "test")],
                         "--out")
    from spiketime.data.audio_corpus import encode_corpus
    from spiketime.data.cochlea import CochleaConfig

    summary = encode_corpus(args.audio, args.out, name=args.name, jobs=args.jobs,
                            config=CochleaConfig(seed=args.seed))
    print(f"wrote {args.out}/{args.name}_train.h5 ({summary['train']} utterances, "
          f"{summary['train_spikes']} spikes) and {args.out}/{args.name}_test.h5 "
          f"({summary['test']} utterances, {summary['test_spikes']} spikes)")
    return 0


def _add_spoken_digits(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("spoken-digits",
                       help="write a corpus of spoken digits (English and German) with espeak-ng",
                       description="The digits 0-9 in English and German (20 classes, like SHD) "
                                   "spoken by espeak-ng's voices with seeded prosody and noise; "
                                   "test voices are held out of training (docs/speech.md).")
    p.add_argument("--out", type=guards.path, required=True,
                   help="corpus folder to write (new or empty)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=5,
                   help="utterances per voice and class (default %(default)s: 4,200 train + "
                        "1,000 test with the 52 default voices)")
    p.add_argument("--voices", type=lambda s: guards.items(s, unique=True, what="voices"),
                   default=None, metavar="V[,V...]",
                   help="espeak-ng variants to use as speakers (default: the 52 listed in "
                        "spiketime.data.spoken_digits.VOICES)")
    p.add_argument("--test-fraction", type=float, default=0.2,
                   help="share of the voices held out for the test split (default %(default)s)")
    p.add_argument("--workers", type=int, default=2, help="espeak-ng processes at a time")
    p.set_defaults(func=_spoken_digits)


def _spoken_digits(args: argparse.Namespace) -> int:
    guards.seed(args.seed)
    guards.output_folder(args.out, (), "--out")
    from spiketime.data.spoken_digits import (
        CLASS_NAMES,
        SAMPLE_RATE,
        VOICES,
        CorpusConfig,
        build_corpus,
    )
    from spiketime.progress import progress

    voices = args.voices if args.voices is not None else VOICES
    utterances = args.repeats * len(voices) * len(CLASS_NAMES)
    guards.disk(utterances * 0.3 * SAMPLE_RATE * 2, args.out,  # 0.3 s of int16 at least
                f"--repeats {args.repeats}: {utterances:,} utterances")
    config = CorpusConfig(seed=args.seed, repeats=args.repeats, voices=voices,
                          test_fraction=args.test_fraction)
    summary = build_corpus(args.out, config, workers=args.workers,
                           progress=lambda jobs, n: progress(jobs, "speaking", total=n))
    counts, secs = summary["counts"], summary["duration_s"]
    print(f"wrote {args.out}: {counts['train']} train + {counts['test']} test utterances, "
          f"{len(summary['classes'])} classes, {len(summary['train_voices'])} train / "
          f"{len(summary['test_voices'])} test voices, {secs['mean']:.2f} s mean "
          f"({secs['min']:.2f}-{secs['max']:.2f} s)")
    return 0


def _parse_params(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--param takes KEY=VALUE, got {item!r}")
        if key == "seed":  # generate() takes it from --seed, checked there
            raise UserError("--param seed: give the seed as --seed")
        try:
            out[key] = json.loads(value, parse_constant=_no_constant)
        except (json.JSONDecodeError, ValueError):
            raise UserError(f"--param {key}: {value!r} is not a finite JSON value") from None
    return out


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number a generator can use")


def _generate(args: argparse.Namespace) -> int:
    guards.seed(args.seed)
    for option, value, least in (("--samples-per-class", args.samples_per_class, 2),
                                 ("--steps", args.steps, 2)):
        if value is not None and value < least:
            raise UserError(f"{option} must be at least {least}, got {value}")
    guards.output_file(args.out, "--out")
    kwargs = _parse_params(args.param)

    from spiketime.data.dataset import save_dataset
    from spiketime.data.synthetic import generate

    for key, option, value in (("n_per_class", "--samples-per-class", args.samples_per_class),
                               ("steps", "--steps", args.steps), ("dt_ms", "--dt-ms", args.dt_ms)):
        if value is not None:
            if key in kwargs and kwargs[key] != value:  # one setting, one value
                raise UserError(f"--param {key}={kwargs[key]} contradicts {option} {value}; "
                                f"give one of them")
            kwargs[key] = value
    ds = generate(args.task, args.variant, seed=args.seed, lam=args.lam, **kwargs)
    save_dataset(ds, args.out)
    _summary(ds, args.out)
    return 0


def _prepare(args: argparse.Namespace) -> int:
    guards.seed(args.seed)
    if args.steps < 1:
        raise UserError(f"--steps must be at least 1, got {args.steps}")
    guards.input_folder(args.raw, "--raw")
    guards.output_file(args.out, "--out")

    from spiketime.data.dataset import open_dataset, save_dataset
    from spiketime.data.speech import load_speech, write_speech_events

    if args.storage == "events":
        write_speech_events(args.raw, args.out, args.dataset, args.variant, dt_ms=args.dt_ms,
                            steps=args.steps, seed=args.seed, coverage=args.part_coverage)
        _summary(open_dataset(args.out), f"{args.out} (events)")
        return 0

    ds = load_speech(args.raw, args.dataset, args.variant, dt_ms=args.dt_ms, steps=args.steps,
                     seed=args.seed, coverage=args.part_coverage)
    save_dataset(ds, args.out)
    _summary(ds, args.out)
    return 0


def _summary(ds: Any, out: str) -> None:
    print(f"wrote {out}: {ds.meta.task}/{ds.meta.variant}, {len(ds.train)} train + "
          f"{len(ds.test)} test samples, {ds.channels} channels x {ds.steps} steps "
          f"of {ds.meta.dt_ms:g} ms, {ds.n_classes} classes{_left_out(ds.meta.params)}")


def _left_out(params: dict) -> str:
    """The samples --part-coverage left out, for the summary line."""
    if "dropped" not in params:
        return ""
    d = params["dropped"]
    return (f"; {len(d['train'])} train + {len(d['test'])} test samples left out "
            f"(--part-coverage {params['part_coverage']:g})")


def _audit(args: argparse.Namespace) -> int:
    guards.seed(args.seed)
    from spiketime.data.dataset import open_dataset
    from spiketime.data.reference import ReferenceConfig

    reference = None if args.no_reference else ReferenceConfig(
        epochs=args.reference_epochs, hidden=args.reference_hidden,
        group=args.reference_group)  # bad budgets refused before any work
    # an events file stays on disk: the audit's features are read a batch at a time
    ds = open_dataset(args.file)  # a bad file is refused before scikit-learn loads

    from spiketime.data.audit import shortcut_audit

    result = shortcut_audit(ds, folds=args.folds, seed=args.seed, reference=reference)
    if args.json:
        print(json.dumps({"file": str(args.file), **result.to_dict()}))
        return 0
    rate, position, data = result.rate, result.position, result.data
    rows = [
        ("dataset", f"{data.task}/{data.variant}"),
        ("samples", f"{data.n_samples} ({data.n_classes} classes, "
                    f"{data.channels} channels)"),
        ("rate-only accuracy", f"{rate.rate_accuracy:.3f} "
                               f"(+/- {rate.rate_accuracy_std:.3f}, {rate.folds} folds)"),
        ("position-only accuracy", f"{position.position_accuracy:.3f} "
                                   f"(+/- {position.position_accuracy_std:.3f})"),
        ("chance", f"{result.chance:.3f}"),
        ("p (rate > chance)", f"{rate.p_value:.3g}"),
        ("p (position > chance)", f"{position.position_p_value:.3g}"),
        *([("reference accuracy", result.reference.text())]
          if result.reference is not None else []),
        ("verdict", result.verdict),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    sys.stdout.flush()
    return 0
