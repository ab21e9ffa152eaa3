"""`spiketime data ...`: outputs, and one-line errors on bad input with no file left behind.

The real entry point (`python -m spiketime`) runs in a subprocess for one case of each
kind; the remaining cases call `spiketime.cli.main` in-process (same parser, same error
handling) to keep the suite fast.
"""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from support import assert_one_line_error, call, spiketime

from spiketime.data.dataset import load_dataset

GEN = ["data", "generate", "--task", "isi", "--samples-per-class", "12", "--steps", "120",
       "--param", "interval_range=[1, 40]", "--param", "rate_range=[5, 20]"]


@pytest.fixture(scope="module")
def good_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "isi.h5"
    proc = spiketime(*GEN, "--variant", "ratefree", "--seed", "4", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"wrote {out}: isi/ratefree")
    return out


def test_generate_writes_a_loadable_file(good_file):
    ds = load_dataset(good_file)
    assert (ds.meta.task, ds.meta.variant, ds.meta.seed) == ("isi", "ratefree", 4)
    assert ds.steps == 120 and ds.meta.params["interval_range"] == [1, 40]
    assert len(ds.train) + len(ds.test) == 24


def test_audit_json_is_exactly_one_object(good_file):
    proc = spiketime("data", "audit", good_file, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # fails on anything but one JSON document
    assert isinstance(result, dict) and proc.stdout.count("\n") == 1
    assert result["chance"] == 0.5 and 0 <= result["rate_accuracy"] <= 1
    assert result["task"] == "isi" and result["variant"] == "ratefree"
    assert 0 <= result["position_accuracy"] <= 1 and isinstance(result["shortcuts"], list)
    assert result["verdict"]


def test_audit_table(good_file, capsys):
    proc = call(capsys, "data", "audit", good_file)
    assert proc.returncode == 0, proc.stderr
    assert "rate-only accuracy" in proc.stdout and "chance" in proc.stdout
    assert "position-only accuracy" in proc.stdout and "verdict" in proc.stdout


def _official(path: Path, n: int) -> None:
    vf, vu = h5py.vlen_dtype(np.dtype("float32")), h5py.vlen_dtype(np.dtype("uint16"))
    times, units = np.empty(n, object), np.empty(n, object)
    for i in range(n):
        times[i] = np.array([0.001, 0.020, 0.050, 0.100], np.float32)
        units[i] = np.array([5, 5, 9, 9], np.uint16)
    with h5py.File(path, "w") as f:
        f.create_dataset("spikes/times", data=times, dtype=vf)
        f.create_dataset("spikes/units", data=units, dtype=vu)
        f["labels"] = np.arange(n) % 20


def test_prepare_writes_part_of_official_files(tmp_path, capsys):
    for split in ("train", "test"):
        _official(tmp_path / f"shd_{split}.h5", 20)
    out = tmp_path / "shd_part.h5"
    proc = call(capsys, "data", "prepare", "--dataset", "shd", "--variant", "part",
                "--raw", tmp_path,
                "--out", out, "--dt-ms", "10", "--steps", "20")
    assert proc.returncode == 0, proc.stderr
    ds = load_dataset(out)
    assert (ds.meta.task, ds.meta.variant, ds.channels, ds.steps) == ("shd", "part", 2, 20)
    assert ds.meta.params["units"] == [5, 9]


def _edited(src: Path, dst: Path, edit) -> Path:
    dst.write_bytes(src.read_bytes())
    with h5py.File(dst, "a") as f:
        edit(f)
    return dst


def _put(f, key, value):
    del f[key]
    f[key] = value


BAD_FILES = {
    "version": lambda f: f.attrs.__setitem__("format_version", 99),
    "nonbinary": lambda f: _put(f, "train/X", f["train/X"][()] * 2 + 1),
    "shape": lambda f: _put(f, "test/X", f["test/X"][()][:, :, :0].reshape(len(f["test/y"]), -1)),
    "empty_class": lambda f: _put(f, "test/y", np.zeros(len(f["test/y"]), np.int64)),
}


def test_audit_refuses_another_format_version_from_the_real_entry_point(good_file, tmp_path):
    bad = _edited(good_file, tmp_path / "v99.h5", BAD_FILES["version"])
    proc = spiketime("data", "audit", bad)
    assert_one_line_error(proc)
    assert "format_version 99" in proc.stderr


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_audit_refuses_bad_files_in_one_line(good_file, tmp_path, capsys, case):
    bad = _edited(good_file, tmp_path / f"{case}.h5", BAD_FILES[case])
    assert_one_line_error(call(capsys, "data", "audit", bad))


def test_audit_refuses_missing_and_foreign_files(tmp_path, capsys):
    assert_one_line_error(call(capsys, "data", "audit", tmp_path / "none.h5"))
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    assert_one_line_error(call(capsys, "data", "audit", text))


@pytest.mark.parametrize("args", [
    ["data", "generate", "--task", "isx"],
    ["data", "generate", "--task", "isi", "--variant", "hard"],
    ["data", "generate", "--task", "isi", "--lambda", "0.5"],
    ["data", "generate", "--task", "coincidence", "--steps", "150"],
    ["data", "generate", "--task", "isi", "--param", "colour=1"],
    ["data", "prepare", "--dataset", "shd", "--variant", "norm", "--raw", "{tmp}/raw"],
], ids=["task", "variant", "lambda", "steps", "param", "raw"])
def test_bad_input_leaves_no_file(tmp_path, capsys, args):
    out = tmp_path / "out.h5"
    proc = call(capsys, *[a.format(tmp=tmp_path) for a in args], "--out", out)
    assert_one_line_error(proc)
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [
    ["data", "generate", "--task", "isx"],
    ["data", "prepare", "--dataset", "ssc", "--variant", "whole", "--raw", "{tmp}/raw"],
], ids=["argparse", "user-error"])
def test_bad_input_from_the_real_entry_point(tmp_path, args):
    out = tmp_path / "out.h5"
    assert_one_line_error(spiketime(*[a.format(tmp=tmp_path) for a in args], "--out", out))
    assert not out.exists() and list(tmp_path.iterdir()) == []
