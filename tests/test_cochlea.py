"""The cochlear encoder (data/cochlea.py) and `spiketime data encode-audio`.

Tones and chirps are made here (no audio files in the repo); the written files are read
back through `data prepare --dataset shd`, the path a user takes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile
from support import assert_one_line_error, call, spiketime

from spiketime.data import audio_corpus
from spiketime.data.cochlea import (
    CochleaConfig,
    CochleaEncoder,
    bushy_rate,
    channel_cf_hz,
    normal_deviates,
)
from spiketime.data.dataset import load_dataset
from spiketime.data.speech import N_UNITS

FS = 16000


def tone(freq_hz: float, seconds: float = 0.3, fs: int = FS) -> np.ndarray:
    t = np.arange(int(seconds * fs)) / fs
    return np.sin(2 * np.pi * freq_hz * t)


def counts(spikes: np.ndarray) -> np.ndarray:
    return np.bincount(spikes[:, 1], minlength=N_UNITS)


@pytest.fixture(scope="module")
def encoder() -> CochleaEncoder:
    return CochleaEncoder()


def test_channels_span_shd_range_from_base_to_apex():
    cf = channel_cf_hz()
    assert cf.shape == (N_UNITS,) and np.all(np.diff(cf) < 0)  # channel 0 = base = highest
    assert 20000 < cf[0] < 25000 and 90 < cf[-1] < 110


@pytest.mark.parametrize("freq", [250.0, 1000.0, 3000.0])
def test_a_tone_lands_in_the_channel_of_its_frequency(encoder, freq):
    spikes = encoder.spikes([encoder.membrane(tone(freq), FS)], [0])[0]
    per_channel = np.convolve(counts(spikes), np.ones(15), "same")  # 15 ch ~ 1/6 octave
    best = int(per_channel.argmax())
    match = int(np.argmin(np.abs(np.log(channel_cf_hz() / freq))))
    assert abs(best - match) <= 25, (best, match)  # within ~0.3 octave
    far = np.abs(np.arange(N_UNITS) - match) > 120  # more than ~1.3 octaves away
    assert per_channel[best] > 3 * np.median(per_channel[far])  # far: spontaneous only


def test_a_chirp_sweeps_the_channels_in_order(encoder):
    seconds, f0, f1 = 0.6, 200.0, 6000.0
    t = np.arange(int(seconds * FS)) / FS
    rate = np.log(f1 / f0) / seconds
    x = np.sin(2 * np.pi * f0 * (np.exp(rate * t) - 1) / rate)   # log sweep, f0 -> f1
    spikes = encoder.spikes([encoder.membrane(x, FS)], [0])[0]
    step_s = 1.0 / encoder.config.rate_hz
    bins = (spikes[:, 0] * step_s // 0.05).astype(int)   # 50 ms bins
    peak = [np.convolve(counts(spikes[bins == b]), np.ones(15), "same").argmax()
            for b in range(2, 10)]                        # the taper silences the ends
    assert np.all(np.diff(peak) < 0), peak  # rising pitch -> toward the base (channel 0)


def test_low_channels_lock_to_the_phase_of_a_low_tone(encoder):
    freq = 200.0
    spikes = encoder.spikes([encoder.membrane(tone(freq, 0.4), FS)], [0])[0]
    times = (spikes[:, 0] + 0.5) / encoder.config.rate_hz
    cf = channel_cf_hz()
    strength = [abs(np.exp(2j * np.pi * freq * times[spikes[:, 1] == c]).mean())
                for c in np.unique(spikes[:, 1])
                if (spikes[:, 1] == c).sum() >= 10 and abs(np.log2(cf[c] / freq)) < 0.5]
    assert len(strength) > 20
    assert np.median(strength) > 0.8  # vector strength: 1 = every spike at one phase


def test_nerve_noise_is_normal_and_one_stream_however_it_is_split():
    def rng():
        return np.random.Generator(np.random.SFC64([3, 4]))
    whole = normal_deviates(rng(), (600, N_UNITS))
    r = rng()
    parts = np.concatenate([normal_deviates(r, (n, N_UNITS)) for n in (32, 32, 7, 529)])
    np.testing.assert_array_equal(whole, parts)
    z = whole.ravel()  # 420,000 deviates
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    beyond = [np.mean(np.abs(z) > k) for k in (1, 2, 3)]  # normal: 0.3173, 0.0455, 0.0027
    np.testing.assert_allclose(beyond, [0.3173, 0.0455, 0.0027], rtol=0.05)
    assert 4.2 < z.max() < 4.4  # the 16-bit table's last quantile


def test_deterministic_for_a_seed_and_independent_of_the_batch(encoder):
    a = encoder.membrane(tone(800.0), FS)
    b = encoder.membrane(tone(2500.0, 0.5), FS)
    alone = encoder.spikes([a], [[7, 1]])[0]
    again = CochleaEncoder().spikes([a], [[7, 1]])[0]
    batched = encoder.spikes([b, a], [[7, 0], [7, 1]])[1]
    # the shorter one first: columns go longest first, and end before the longer's
    first, longer = encoder.spikes([a, b], [[7, 1], [7, 0]])
    other_seed = encoder.spikes([a], [[8, 1]])[0]
    assert len(alone) > 0
    np.testing.assert_array_equal(alone, again)
    np.testing.assert_array_equal(alone, batched)
    np.testing.assert_array_equal(alone, first)
    np.testing.assert_array_equal(longer, encoder.spikes([b], [[7, 0]])[0])
    assert a.steps < b.steps and longer[:, 0].max() > a.steps  # b goes on after a ends
    assert not np.array_equal(alone, other_seed)


# --- the command ------------------------------------------------------------------------

CLASSES = 20  # SHD's: `data prepare --dataset shd` expects 20


def make_corpus(root: Path, per_class: int = 1) -> Path:
    """Class c: a 0.15 s tone at 200 * 1.2**c Hz; speakers s0 (train) and s1 (test)."""
    root.mkdir(parents=True, exist_ok=True)
    rows = ["file,label,speaker,split"]
    for c in range(CLASSES):
        for k in range(per_class):
            for speaker, split in (("s0", "train"), ("s1", "test")):
                name = f"{split}/c{c}_{k}.wav"
                (root / split).mkdir(exist_ok=True)
                x = tone(200 * 1.2 ** c * (1.03 if split == "test" else 1.0), 0.15)
                wavfile.write(root / name, FS, (x * 0.5 * 32767).astype(np.int16))
                rows.append(f"{name},{c},{speaker},{split}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    (root / "classes.txt").write_text("\n".join(f"tone{c}" for c in range(CLASSES)) + "\n")
    return root


@pytest.mark.parametrize("n, jobs", [(1, 1), (80, 1), (80, 2), (200, 2), (5000, 2), (7, 3)])
def test_batches_are_runs_of_the_order_a_whole_number_per_job(n, jobs):
    parts = audio_corpus._split(list(range(n)), jobs)
    assert [i for p in parts for i in p] == list(range(n))  # contiguous runs, all of them
    assert max(map(len, parts)) <= audio_corpus._BATCH
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    if jobs > 1 and n >= jobs:
        assert len(parts) % jobs == 0


@pytest.fixture(scope="module")
def encoded(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("audio")
    corpus, out = make_corpus(base / "corpus"), base / "raw"
    proc = spiketime("data", "encode-audio", "--audio", corpus, "--out", out, "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    assert "shd_train.h5 (20 utterances" in proc.stdout
    return corpus, out


def test_written_files_load_through_data_prepare(encoded, capsys, tmp_path):
    _, raw = encoded
    out = tmp_path / "tones.h5"
    proc = call(capsys, "data", "prepare", "--dataset", "shd", "--variant", "whole", "--raw",
                raw, "--dt-ms", "5", "--steps", "30", "--out", out)
    assert proc.returncode == 0, proc.stderr
    ds = load_dataset(out)
    assert ds.meta.class_names == [f"tone{c}" for c in range(CLASSES)]
    assert ds.train.y.tolist() == list(range(CLASSES)) and ds.channels == N_UNITS
    # each class's tone is a step higher in pitch: its spikes sit at lower channels
    centre = [np.median(np.nonzero(x.any(axis=1))[0]) for x in ds.train.X]
    assert np.corrcoef(range(CLASSES), centre)[0, 1] < -0.9


def test_extra_fields_and_jobs_do_not_change_the_spikes(encoded, capsys, tmp_path):
    import h5py

    corpus, raw = encoded
    proc = call(capsys, "data", "encode-audio", "--audio", corpus, "--out", tmp_path)
    assert proc.returncode == 0, proc.stderr
    with h5py.File(raw / "shd_test.h5") as a, h5py.File(tmp_path / "shd_test.h5") as b:
        for i in range(CLASSES):
            np.testing.assert_array_equal(a["spikes/times"][i], b["spikes/times"][i])
            np.testing.assert_array_equal(a["spikes/units"][i], b["spikes/units"][i])
        assert a["extra/speaker"][()].tolist() == [1] * CLASSES
        assert [s.decode() for s in a["extra/speaker_names"][()]] == ["s0", "s1"]
        assert a["extra/keys"][3].decode() == "tone3"
        assert a["extra/file"][0].decode() == "test/c0_0.wav"
        assert '"rate_hz"' in a["extra"].attrs["encoder"]


# --- bad input: one line, exit 2, nothing written ---------------------------------------

def _broken(tmp_path: Path, how: str) -> Path:
    corpus = make_corpus(tmp_path / "corpus")
    labels = corpus / "labels.csv"
    lines = labels.read_text().splitlines()
    if how == "header":
        labels.write_text("\n".join(["path,label,speaker,split"] + lines[1:]))
    elif how == "fields":
        labels.write_text("\n".join(lines + ["train/c0_0.wav,0,s0"]))
    elif how == "label":
        labels.write_text("\n".join(lines + ["train/c0_0.wav,20,s0,train"]))
    elif how == "not_wav":
        (corpus / "train/c3_0.wav").write_text("this is not audio")
    elif how == "flac":
        (corpus / "x.flac").write_bytes(b"fLaC\0\0\0")
        labels.write_text("\n".join(lines + ["x.flac,1,s0,train"]))
    elif how == "split":
        labels.write_text("\n".join(lines + ["train/c0_0.wav,0,s0,validation"]))
    elif how == "missing_file":
        labels.write_text("\n".join(lines + ["nowhere.wav,1,s0,train"]))
    elif how == "truncated":
        wav = (corpus / "train/c3_0.wav").read_bytes()
        (corpus / "train/c3_0.wav").write_bytes(wav[:len(wav) // 2])
    elif how in ("rate_1hz", "one_sample", "ten_minutes"):
        rate, n = {"rate_1hz": (1, 4), "one_sample": (FS, 1), "ten_minutes": (FS, 600 * FS)}[how]
        wavfile.write(corpus / "train/c3_0.wav", rate, np.full(n, 1000, np.int16))
    elif how == "both_splits":
        labels.write_text("\n".join(lines + ["train/c0_0.wav,0,s1,test"]))
    elif how == "two_labels":
        labels.write_text("\n".join(lines + ["./train/c0_0.wav,5,s0,train"]))
    elif how == "latin1":
        labels.write_bytes(("\n".join(lines + ["train/c0_0.wav,0,Ren\u00e9,train"])
                            ).encode("latin-1"))
    return corpus


@pytest.mark.parametrize("how, fragment", [
    ("header", "first line must be file,label,speaker,split"),
    ("fields", "expected 4 fields"),
    ("label", "label 20 outside [0, 20)"),
    ("not_wav", "not a readable WAV file"),
    ("flac", "FLAC is not supported"),
    ("split", "split 'validation' must be train or test"),
    ("missing_file", "nowhere.wav not found"),
    ("truncated", "truncated or damaged WAV file"),
    ("rate_1hz", "sampled at 1 Hz; at least 8000 Hz"),
    ("one_sample", "6.25e-05 s of audio; an utterance must last 0.05-60 s"),
    ("ten_minutes", "600 s of audio; an utterance must last 0.05-60 s"),
    ("both_splits", "is the audio of line 2 again: each recording may be listed once"),
    ("two_labels", "is the audio of line 2 again"),
    ("latin1", "not UTF-8 text (byte 0xe9"),
])
def test_bad_corpus_is_one_error_line_and_no_output(tmp_path, capsys, how, fragment):
    corpus, out = _broken(tmp_path, how), tmp_path / "out"
    proc = call(capsys, "data", "encode-audio", "--audio", corpus, "--out", out)
    assert proc.returncode == 2
    assert_one_line_error(proc, fragment)
    assert not out.exists() or not any(out.iterdir())


def test_missing_folder_from_the_real_entry_point(tmp_path):
    proc = spiketime("data", "encode-audio", "--audio", tmp_path / "nope", "--out",
                     tmp_path / "out")
    assert proc.returncode == 2
    assert_one_line_error(proc, "--audio folder not found")
    assert not (tmp_path / "out").exists()


def test_config_refuses_nonsense():
    with pytest.raises(Exception, match="positive"):
        CochleaConfig(rms=-1.0)
    with pytest.raises(Exception, match="whole number"):
        CochleaConfig(envelope_rate_hz=1500.0)


def test_envelope_channels_run_at_their_own_slower_rate(encoder):
    spikes = encoder.spikes([encoder.membrane(tone(3000.0), FS)], [0])[0]
    envelope = spikes[spikes[:, 1] < encoder.first_locked]
    assert len(envelope) > 100
    factor = encoder.envelope_factor
    assert factor == 2 and np.all(envelope[:, 0] % factor == factor - 1)  # last step of each


@pytest.mark.parametrize("refractory_s, low, high", [(1e-3, 900, 1000), (1.5e-3, 600, 670),
                                                     (2e-3, 400, 500)])
def test_a_fractional_refractory_period_caps_the_rate_between_whole_steps(refractory_s, low,
                                                                          high):
    config = CochleaConfig(rate_hz=1000.0, lock_hz=250.0, refractory_s=refractory_s)
    rate = bushy_rate(config, 2000.0, seconds=0.5, cells=50)  # saturating: 1 / period
    assert low <= rate <= high, rate
