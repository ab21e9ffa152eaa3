"""The espeak-ng spoken-digit corpus: deterministic for a seed, test voices held out, the
folder contract with `data encode-audio`, and a plain message when espeak-ng is missing."""
from __future__ import annotations

import csv
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
from support import assert_one_line_error, call, spiketime

from spiketime.data.dataset import load_dataset
from spiketime.data.spoken_digits import (
    CLASS_NAMES,
    SAMPLE_RATE,
    CorpusConfig,
    plan,
    split_voices,
)
from spiketime.errors import UserError

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng not installed (apt-get install espeak-ng)")
TINY = ["--voices", "m1,f2,klatt", "--repeats", "1", "--test-fraction", "0.34"]


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "labels.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "a"
    # in-process for speed; the real entry point runs in the missing-espeak test
    from spiketime.cli import main
    assert main(["data", "spoken-digits", "--out", str(out), "--seed", "3", *TINY]) == 0
    return out


def test_default_corpus_is_big_enough_and_holds_out_test_voices():
    config = CorpusConfig()
    utterances = plan(config)
    counts = {s: sum(u.split == s for u in utterances) for s in ("train", "test")}
    assert counts["train"] >= 4000 and counts["test"] >= 1000, counts
    train_voices, test_voices = split_voices(config)
    assert not set(train_voices) & set(test_voices)
    assert set(train_voices) | set(test_voices) == set(config.voices)
    for split, voices in (("train", train_voices), ("test", test_voices)):
        assert {u.speaker for u in utterances if u.split == split} == set(voices)
        # every class is in both splits, equally often
        labels = np.bincount([u.label for u in utterances if u.split == split])
        assert len(labels) == 20 and labels.min() == labels.max()
    assert split_voices(CorpusConfig(seed=1))[1] != test_voices  # the seed picks them


def test_plan_is_a_function_of_the_config():
    assert plan(CorpusConfig(seed=5, repeats=1)) == plan(CorpusConfig(seed=5, repeats=1))
    a, b = plan(CorpusConfig(seed=5, repeats=1)), plan(CorpusConfig(seed=6, repeats=1))
    assert [u.pitch for u in a] != [u.pitch for u in b]
    u = a[0]
    lo, hi = CorpusConfig().pitch
    assert all(lo <= v.pitch <= hi for v in a) and u.espeak_voice.endswith(f"+{u.speaker}")


@needs_espeak
def test_folder_follows_the_encoder_contract(tiny):
    rows = _rows(tiny)
    assert list(rows[0]) == ["file", "label", "speaker", "split"]
    assert len(rows) == 3 * 20 and {r["split"] for r in rows} == {"train", "test"}
    test_voices = {r["speaker"] for r in rows if r["split"] == "test"}
    assert test_voices and not test_voices & {r["speaker"] for r in rows if r["split"] == "train"}
    names = (tiny / "classes.txt").read_text(encoding="utf-8").splitlines()
    assert tuple(names) == CLASS_NAMES and names[0] == "zero" and names[10] == "null"
    for r in rows[:3] + rows[-3:]:
        with wave.open(str(tiny / r["file"])) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, SAMPLE_RATE)
            x = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        assert 0.3 < x.size / SAMPLE_RATE < 2.0 and np.abs(x).max() > 1000  # speech, not noise
        assert names[int(r["label"])] in r["file"].replace("ue", "ü")


@needs_espeak
def test_same_seed_same_bytes_other_seed_other_audio(tiny, tmp_path, capsys):
    again = call(capsys, "data", "spoken-digits", "--out", tmp_path / "b", "--seed", "3",
                 "--workers", "1", *TINY)  # one worker: the result does not depend on it
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"wrote {tmp_path / 'b'}: ")
    assert _tree(tiny) == _tree(tmp_path / "b")
    other = call(capsys, "data", "spoken-digits", "--out", tmp_path / "c", "--seed", "4", *TINY)
    assert other.returncode == 0, other.stderr
    a, c = _tree(tiny), _tree(tmp_path / "c")
    assert a["classes.txt"] == c["classes.txt"] and a["corpus.json"] != c["corpus.json"]
    wav_a = {v for k, v in a.items() if k.endswith(".wav")}
    assert len(wav_a) == 60 and not wav_a & {v for k, v in c.items() if k.endswith(".wav")}


def test_missing_espeak_is_one_line_with_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    proc = spiketime("data", "spoken-digits", "--out", tmp_path / "out", *TINY)
    assert_one_line_error(proc, "espeak-ng is not installed", "apt-get install espeak-ng")
    assert proc.returncode == 2 and not (tmp_path / "out").exists()


@needs_espeak
def test_refuses_a_full_folder_and_bad_settings(tiny, tmp_path, capsys):
    before = _tree(tiny)
    proc = call(capsys, "data", "spoken-digits", "--out", tiny, *TINY)
    assert_one_line_error(proc, "not an empty folder")
    assert _tree(tiny) == before
    proc = call(capsys, "data", "spoken-digits", "--out", tmp_path / "x", "--voices", "m1",
                "--repeats", "1")
    assert_one_line_error(proc, "at least 2 distinct voices")
    assert not (tmp_path / "x").exists()
    with pytest.raises(UserError, match="pitch goes up to 99"):
        CorpusConfig(pitch=(10.0, 120.0))


@needs_espeak
def test_an_unknown_voice_is_refused_not_spoken_by_the_default(tmp_path, capsys):
    proc = call(capsys, "data", "spoken-digits", "--out", tmp_path / "out",
                "--voices", "m1,no-such-voice", "--repeats", "1", "--test-fraction", "0.5")
    assert_one_line_error(proc, "no voice variant no-such-voice", "--voices=variant")
    assert list(tmp_path.iterdir()) == []


@needs_espeak
def test_an_espeak_failure_midway_leaves_nothing(tmp_path, capsys, monkeypatch):
    from spiketime.data import spoken_digits

    real, calls = spoken_digits.render, []

    def flaky(exe, u):
        calls.append(u.file)
        if len(calls) == 5:
            raise UserError("espeak-ng failed on voice 'x', text 'y': boom")
        return real(exe, u)

    monkeypatch.setattr(spoken_digits, "render", flaky)
    proc = call(capsys, "data", "spoken-digits", "--out", tmp_path / "out", *TINY)
    assert_one_line_error(proc, "espeak-ng failed on voice")
    assert len(calls) >= 5 and list(tmp_path.iterdir()) == []


@needs_espeak
def test_the_corpus_encodes_and_loads_through_data_prepare(tiny, tmp_path, capsys):
    raw = tmp_path / "raw"
    proc = call(capsys, "data", "encode-audio", "--audio", tiny, "--out", raw)
    assert proc.returncode == 0, proc.stderr
    rows = _rows(tiny)
    for variant in ("whole", "part"):
        out = tmp_path / f"{variant}.h5"
        proc = call(capsys, "data", "prepare", "--dataset", "shd", "--raw", raw,
                    "--variant", variant, "--out", out)
        assert proc.returncode == 0, proc.stderr
        ds = load_dataset(out)
        assert ds.meta.class_names == list(CLASS_NAMES) and ds.n_classes == 20
        assert len(ds.train) == sum(r["split"] == "train" for r in rows) == 40
        assert len(ds.test) == sum(r["split"] == "test" for r in rows) == 20
        assert sorted(ds.train.y.tolist()) == sorted(int(r["label"]) for r in rows
                                                     if r["split"] == "train")
        assert ds.train.X.sum(axis=(1, 2)).min() > 0  # every utterance makes spikes
