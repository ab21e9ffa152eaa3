"""SHD/SSC loader on small files written in the official layout (vlen times/units, labels)."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from spiketime.data.speech import load_speech, part_channels
from spiketime.errors import UserError

DT = 2.0  # ms


def write_official(path: Path, samples: list[dict[int, list[int]]], labels: list[int],
                   keys: list[str] | None = None) -> None:
    """samples[i] maps unit -> spike steps; each spike is written at its bin's centre."""
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (len(samples),),
                                 dtype=h5py.vlen_dtype(np.dtype("float32")))
        units = f.create_dataset("spikes/units", (len(samples),),
                                 dtype=h5py.vlen_dtype(np.dtype("uint16")))
        for i, sample in enumerate(samples):
            ev = sorted((s, u) for u, steps in sample.items() for s in steps)
            times[i] = np.array([(s + 0.5) * DT / 1000 for s, _ in ev], np.float32)
            units[i] = np.array([u for _, u in ev], np.uint16)
        f["labels"] = np.asarray(labels, np.uint8)
        if keys is not None:
            f["extra/keys"] = np.array([k.encode() for k in keys])


def _labels(n, k):
    return [i % k for i in range(n)]


def _rich(rng: np.random.Generator, n: int, always: dict[int, int]) -> list[dict[int, list[int]]]:
    """Random spikes on units 100..119 plus `always` units firing >= count times everywhere."""
    out = []
    for _ in range(n):
        sample = {int(u): sorted(rng.choice(40, rng.integers(0, 5), replace=False).tolist())
                  for u in range(100, 120)}
        for u, k in always.items():
            sample[u] = sorted(rng.choice(40, k + int(rng.integers(0, 6)), replace=False).tolist())
        out.append(sample)
    return out


@pytest.fixture
def shd(tmp_path):
    rng = np.random.default_rng(0)
    train = _rich(rng, 20, {3: 2, 7: 3, 650: 4})
    test = _rich(rng, 20, {3: 2, 7: 3, 650: 4})
    train[5][120] = []  # unit 120: fires in most samples but not sample 5 of train
    for s in train[:5] + train[6:]:
        s[120] = [1, 2, 3]
    test[2][650] = []  # unit 650 silent in one test sample: norm must drop it
    names = [f"digit {i}" for i in range(20)]
    write_official(tmp_path / "shd_train.h5", train, _labels(20, 20), names)
    write_official(tmp_path / "shd_test.h5", test, _labels(20, 20), names)
    return tmp_path, train, test


def _dense(samples, steps):
    X = np.zeros((len(samples), 700, steps), np.uint8)
    for i, s in enumerate(samples):
        for u, ts in s.items():
            X[i, u, [t for t in ts if t < steps]] = 1
    return X


def test_whole_bins_spikes_and_keeps_labels_and_names(shd):
    raw, train, test = shd
    ds = load_speech(raw, "shd", "whole", dt_ms=DT, steps=30, seed=0)
    assert ds.train.X.shape == (20, 700, 30) and ds.test.X.shape == (20, 700, 30)
    np.testing.assert_array_equal(ds.train.X, _dense(train, 30))
    np.testing.assert_array_equal(ds.test.X, _dense(test, 30))
    assert ds.train.y.tolist() == _labels(20, 20)
    assert ds.meta.class_names[3] == "digit 3" and ds.meta.dt_ms == DT
    late = sum(t >= 30 for s in train for ts in s.values() for t in ts)
    assert late > 0 and ds.meta.params["late_spikes"]["train"] == late


def test_spikes_sharing_a_bin_make_one_spike(tmp_path):
    with h5py.File(tmp_path / "ssc_train.h5", "w") as f:
        vf, vu = h5py.vlen_dtype(np.dtype("float32")), h5py.vlen_dtype(np.dtype("uint16"))
        times, units = np.empty(35, object), np.empty(35, object)
        for i in range(35):
            times[i] = np.array([0.0001, 0.0015, 0.0021, 0.0199], np.float32)
            units[i] = np.array([4, 4, 4, 699], np.uint16)
        f.create_dataset("spikes/times", data=times, dtype=vf)
        f.create_dataset("spikes/units", data=units, dtype=vu)
        f["labels"] = np.arange(35)
    (tmp_path / "ssc_test.h5").write_bytes((tmp_path / "ssc_train.h5").read_bytes())
    ds = load_speech(tmp_path, "ssc", "whole", dt_ms=DT, steps=10)
    # 0.1 ms and 1.5 ms share step 0; 2.1 ms is step 1; 19.9 ms is step 9 of unit 699
    assert np.flatnonzero(ds.train.X[0, 4]).tolist() == [0, 1]
    assert np.flatnonzero(ds.train.X[0, 699]).tolist() == [9]
    assert ds.train.X.sum() == 35 * 3
    assert ds.n_classes == 35 and ds.meta.class_names[0] == "class 0"


def test_part_keeps_channels_firing_twice_in_every_train_sample(shd):
    raw, train, _ = shd
    ds = load_speech(raw, "shd", "part", dt_ms=DT, steps=40)
    counts = _dense(train, 40).sum(axis=2)
    expected = np.flatnonzero(counts.min(axis=0) >= 2)
    assert {3, 7, 650} <= set(expected.tolist()) and 120 not in expected
    assert ds.meta.params["units"] == expected.tolist()
    assert ds.channels == len(expected)
    assert (ds.train.X.sum(axis=2) >= 2).all()
    np.testing.assert_array_equal(ds.test.X, _dense(shd[2], 40)[:, expected])


def test_norm_gives_each_channel_one_count_in_every_sample(shd):
    raw, _, test = shd
    part = load_speech(raw, "shd", "part", dt_ms=DT, steps=40)
    norm = load_speech(raw, "shd", "norm", dt_ms=DT, steps=40, seed=1)
    units = norm.meta.params["units"]
    assert 650 not in units and 3 in units and 7 in units  # 650 is silent in a test sample
    counts = np.concatenate([norm.train.X, norm.test.X]).sum(axis=2)
    assert (counts == counts[:1]).all()
    assert counts[0].tolist() == norm.meta.params["norm_counts"]
    assert min(norm.meta.params["norm_counts"]) >= 1
    # a subsample of part's spikes, on the same units
    cols = [part.meta.params["units"].index(u) for u in units]
    assert (norm.train.X <= part.train.X[:, cols]).all()
    other = load_speech(raw, "shd", "norm", dt_ms=DT, steps=40, seed=2)
    assert not np.array_equal(other.train.X, norm.train.X)
    again = load_speech(raw, "shd", "norm", dt_ms=DT, steps=40, seed=1)
    np.testing.assert_array_equal(again.train.X, norm.train.X)


def test_missing_files_say_where_to_put_them_and_where_they_come_from(tmp_path):
    with pytest.raises(UserError) as info:
        load_speech(tmp_path, "shd", "whole")
    msg = str(info.value)
    for words in ("shd_train.h5", "shd_test.h5", str(tmp_path), "zenkelab.org/datasets",
                  "gunzip"):
        assert words in msg
    assert "\n" not in msg
    (tmp_path / "ssc_train.h5.gz").write_bytes(b"")
    with pytest.raises(UserError, match=r"ssc_train\.h5\.gz found: gunzip it"):
        load_speech(tmp_path, "ssc", "part")


def test_bad_raw_files_and_arguments_are_user_errors(tmp_path, shd):
    raw = shd[0]
    write_official(tmp_path / "shd_train.h5", [{700: [1]}] * 20, _labels(20, 20))
    (tmp_path / "shd_test.h5").write_bytes((raw / "shd_test.h5").read_bytes())
    with pytest.raises(UserError, match="units must lie in"):
        load_speech(tmp_path, "shd", "whole")
    write_official(tmp_path / "shd_train.h5", [{1: [1]}] * 20, [25] * 20)
    with pytest.raises(UserError, match="labels must lie in"):
        load_speech(tmp_path, "shd", "whole")
    write_official(tmp_path / "shd_train.h5", [{1: [1]}] * 20, _labels(20, 20))
    with pytest.raises(UserError, match="no channel"):
        load_speech(tmp_path, "shd", "part")
    with pytest.raises(UserError, match="unknown speech dataset"):
        load_speech(raw, "timit", "whole")
    with pytest.raises(UserError, match="unknown variant"):
        load_speech(raw, "shd", "half")


def test_an_empty_part_names_the_channel_that_came_closest(tmp_path):
    # unit 7 fires twice in 19 of 20 training samples, unit 3 in 10: one quiet sample
    # empties Part, and the refusal says how close the best channel came
    samples = [{7: [0, 2] if i else [0], 3: [1, 3] if i % 2 else [1]} for i in range(20)]
    for split in ("train", "test"):
        write_official(tmp_path / f"shd_{split}.h5", samples, _labels(20, 20))
    for variant in ("part", "norm"):
        with pytest.raises(UserError, match=r"the best, unit 7, does in 19 of 20\); the "
                                            rf"{variant} variant would be empty"):
            load_speech(tmp_path, "shd", variant, dt_ms=DT, steps=10)


def test_part_channels_ranks_units_and_keeps_the_longest_prefix_with_enough_samples():
    fires = np.array([[1, 1, 1, 0],
                      [1, 1, 0, 1],
                      [1, 1, 1, 1],
                      [1, 0, 1, 1]], dtype=bool)
    assert part_channels(fires).tolist() == [0]          # the paper's rule: every sample
    # ranking 0 (4), then 1, 2, 3 (3 each, ties by unit): 0+1 hold in 3 samples, 0+1+2 in 2
    assert part_channels(fires, 0.75).tolist() == [0, 1]
    assert part_channels(fires, 0.5).tolist() == [0, 1, 2]
    assert part_channels(fires, 0.25).tolist() == [0, 1, 2, 3]
    assert part_channels(np.zeros((3, 2), bool)).tolist() == []


def test_part_coverage_lets_quiet_samples_go_from_both_splits(tmp_path):
    # units 7 and 3 fire twice in every sample but one quiet one per split (train 4, test 9)
    def split(quiet):
        return [{7: [0] if i == quiet else [0, 2], 3: [1] if i == quiet else [1, 3],
                 5: [4, 6] if i % 2 else [4]} for i in range(40)]
    train, test = split(4), split(9)
    for name, samples in (("train", train), ("test", test)):
        write_official(tmp_path / f"shd_{name}.h5", samples, _labels(40, 20))
    with pytest.raises(UserError, match="--part-coverage below 1"):
        load_speech(tmp_path, "shd", "part", dt_ms=DT, steps=10)
    ds = load_speech(tmp_path, "shd", "part", dt_ms=DT, steps=10, coverage=0.95)
    assert ds.meta.params["units"] == [3, 7]       # unit 5 holds in only half the samples
    assert ds.meta.params["dropped"] == {"train": [4], "test": [9]}
    assert ds.meta.params["part_coverage"] == 0.95
    keep = [i for i in range(40) if i != 4]
    np.testing.assert_array_equal(ds.train.X, _dense([train[i] for i in keep], 10)[:, [3, 7]])
    np.testing.assert_array_equal(ds.train.y, np.array(_labels(40, 20))[keep])
    assert len(ds.test) == 39 and ds.test.y.tolist().count(9) == 1
    norm = load_speech(tmp_path, "shd", "norm", dt_ms=DT, steps=10, coverage=0.95)
    assert norm.meta.params["norm_counts"] == [2, 2] and len(norm.test) == 39
    with pytest.raises(UserError, match="not whole"):
        load_speech(tmp_path, "shd", "whole", coverage=0.9)
    for bad in (0, 1.5, float("nan")):
        with pytest.raises(UserError, match="coverage must lie in"):
            load_speech(tmp_path, "shd", "part", coverage=bad)


def test_prepare_with_part_coverage_writes_the_same_dense_and_events_files(tmp_path, capsys):
    from spiketime.cli import main
    from spiketime.data.dataset import load_dataset

    samples = [{7: [0] if i == 3 else [0, 2], 2: [1, 5]} for i in range(40)]
    for name in ("train", "test"):
        write_official(tmp_path / f"shd_{name}.h5", samples, _labels(40, 20))
    files = {}
    for storage in ("dense", "events"):
        files[storage] = tmp_path / f"{storage}.h5"
        assert main(["data", "prepare", "--dataset", "shd", "--variant", "norm", "--raw",
                     str(tmp_path), "--dt-ms", str(DT), "--steps", "10", "--part-coverage",
                     "0.97", "--storage", storage, "--out", str(files[storage])]) == 0
        assert "1 train + 1 test samples left out (--part-coverage 0.97)" in \
            capsys.readouterr().out
    dense, events = load_dataset(files["dense"]), load_dataset(files["events"])
    assert dense.meta == events.meta and dense.meta.params["units"] == [2, 7]
    np.testing.assert_array_equal(dense.train.X, events.train.X)
    np.testing.assert_array_equal(dense.test.y, events.test.y)
    # leaving out the only sample of a class is refused in one line
    samples[0] = {7: [0], 2: [1, 5]}
    write_official(tmp_path / "shd_train.h5", samples[:20], _labels(20, 20))
    assert main(["data", "prepare", "--dataset", "shd", "--variant", "part", "--raw",
                 str(tmp_path), "--dt-ms", str(DT), "--steps", "10", "--part-coverage", "0.9",
                 "--out", str(tmp_path / "gone.h5")]) == 2
    assert "part coverage 0.9 leaves no train sample of class 'class 0'" in capsys.readouterr().err
    assert not (tmp_path / "gone.h5").exists()


def test_train_takes_the_speech_recipe_on_prepared_speech_data(shd, tmp_path, capsys):
    """`spiketime train` on `data prepare`'s output, nothing but the budget given: the
    speech recipe (docs/train.md "Recipes") is what it trains with, and says so."""
    import json

    from spiketime.cli import main

    raw, _, _ = shd
    data = tmp_path / "whole.h5"
    assert main(["data", "prepare", "--dataset", "shd", "--variant", "whole", "--raw", str(raw),
                 "--dt-ms", str(DT), "--steps", "20", "--out", str(data)]) == 0
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "run"),
                 "--epochs", "1", "--val-fraction", "0", "--threads", "1"]) == 0
    assert "(recipe speech)" in capsys.readouterr().out
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["model"]["hidden"] == [128, 128] and history["model"]["dropout"] == 0.2
    assert history["trainer"]["channel_shift"] == 20 and history["trainer"]["epochs"] == 1
    # the pipeline on the same file: both networks with the same recipe
    assert main(["pipeline", "--data", str(data), "--out", str(tmp_path / "pipe"), "--epochs",
                 "1", "--confirm-lava", "0", "--allow-degenerate", "--threads", "1"]) == 0
    assert "trained with recipe speech" in capsys.readouterr().out
    for folder in ("tau", "tau_delay"):
        history = json.loads((tmp_path / "pipe" / folder / "history.json").read_text())
        assert history["model"]["hidden"] == [128, 128] and history["model"]["dropout"] == 0.2
        assert history["trainer"]["channel_shift"] == 20 and history["trainer"]["epochs"] == 1
