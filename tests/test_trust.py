"""Trust (issue #24), through the real CLI: no input destroyed, no code run from a file, no
silent wrong result. Each refusal is one `error:` line, exit 2, and leaves every file as
it was. Most cases run `main()` in this process (`call`); the ones about what a file can
do to the process (a malicious checkpoint) run it as a user does, in a subprocess.
"""
from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from support import assert_one_line_error, call, spiketime

from spiketime import guards
from spiketime.data.dataset import save_dataset
from spiketime.data.synthetic import generate
from spiketime.export.from_slayer import to_netx
from spiketime.export.netx import read_netx, write_netx
from spiketime.export.nir_out import to_nir, write_nir
from spiketime.parity.experiment import BUILTIN_CCISI
from spiketime.train.model import ModelConfig, SpikingNet, save_checkpoint

REPORT = Path(__file__).parent / "data" / "report_v1_compare.json"


def _official(path: Path, labels: np.ndarray) -> None:
    """A minimal official-format SHD file: one spike per sample."""
    n = len(labels)
    with h5py.File(path, "w") as f:
        for key, dtype in {"times": np.float32, "units": np.uint16}.items():
            ds = f.create_dataset(f"spikes/{key}", (n,), dtype=h5py.vlen_dtype(np.dtype(dtype)))
            for i in range(n):
                ds[i] = np.array([0.01 if key == "times" else i], dtype)
        f["labels"] = labels


@pytest.fixture(scope="module")
def d(tmp_path_factory) -> Path:
    """Inputs: a dataset (and another of the same shape), a checkpoint, NetX and NIR files,
    a raw SHD folder, an audio folder."""
    d = tmp_path_factory.mktemp("trust")
    task = dict(BUILTIN_CCISI.generator, steps=40)
    save_dataset(generate(seed=0, n_per_class=6, **task), d / "data.h5")
    save_dataset(generate(seed=1, n_per_class=6, **task), d / "other.h5")
    torch.manual_seed(0)
    model = SpikingNet(ModelConfig(inputs=20, hidden=(4,), outputs=2))
    save_checkpoint(model, d / "tau.pt")
    write_netx(to_netx(model, {"steps": 40}), d / "tau.net")
    write_nir(to_nir(read_netx(d / "tau.net"), 1.0), d / "tau.nir")
    (d / "raw").mkdir()
    for split in ("train", "test"):
        _official(d / "raw" / f"shd_{split}.h5", np.arange(2, dtype=np.uint8))
    (d / "audio").mkdir()
    (d / "audio" / "shd_train.h5").write_text("an input that looks like an output\n")
    return d


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _refused(capsys, d: Path, *args, fragments=()) -> None:
    before = _snapshot(d)
    assert_one_line_error(call(capsys, *args), *fragments)
    assert _snapshot(d) == before, "a refused command changed a file"


# --- 1. no input destroyed ------------------------------------------------------------------

def test_prepare_refuses_an_out_that_is_a_file_of_its_raw_folder(capsys, d):
    _refused(capsys, d, "data", "prepare", "--dataset", "shd", "--variant", "whole",
             "--raw", d / "raw", "--out", d / "raw" / "shd_train.h5",
             fragments=("--out", "in the input folder", "raw"))


def test_compare_refuses_an_out_folder_holding_the_report_it_reads(capsys, d, tmp_path):
    shutil.copy(REPORT, tmp_path / "report.json")
    before = _snapshot(tmp_path)
    assert_one_line_error(call(capsys, "compare", "--report", tmp_path / "report.json",
                               "--out", tmp_path), "report.json", "would replace the input")
    assert _snapshot(tmp_path) == before


def test_encode_audio_refuses_to_replace_a_file_of_its_audio_folder(capsys, d):
    _refused(capsys, d, "data", "encode-audio", "--audio", d / "audio", "--out", d / "audio",
             fragments=("shd_train.h5", "in the input folder"))


@pytest.mark.parametrize("how", ["dotdot", "symlink", "hardlink"])
def test_export_refuses_its_own_input_by_any_other_name(capsys, d, how):
    alias = {"dotdot": d / "raw" / ".." / "tau.pt", "symlink": d / "link" / "tau.pt",
             "hardlink": d / "hard.pt"}[how]
    if how == "symlink" and not (d / "link").exists():
        (d / "link").symlink_to(d, target_is_directory=True)
    if how == "hardlink" and not alias.exists():
        os.link(d / "tau.pt", alias)
    _refused(capsys, d, "export", d / "tau.pt", "--out", alias,
             fragments=("--out", "would replace the input"))


def test_check_clip_and_import_refuse_their_input(capsys, d):
    _refused(capsys, d, "check", d / "tau.net", "--clip", d / "raw" / ".." / "tau.net",
             fragments=("--clip", "would replace the input"))
    _refused(capsys, d, "import", d / "tau.nir", "--out", d / "link" / "tau.nir",
             fragments=("would replace the input",))


def test_an_output_beside_the_inputs_is_still_written(capsys, d, tmp_path):
    proc = call(capsys, "export", d / "tau.pt", "--out", tmp_path / "m.net")
    assert proc.returncode == 0, proc.stderr
    assert read_netx(tmp_path / "m.net").input_size == 20


# --- 2. no code run from a file ---------------------------------------------------------------

class _Payload:
    """Unpickling it creates `marker`: what a crafted checkpoint could do instead."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("command", ["export", "compare"])
def test_a_malicious_checkpoint_runs_no_code(d, tmp_path, command):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save({"version": 2, "config": {}, "state": {}, "extra": _Payload(marker)}, evil)
    args = {"export": ("export", evil, "--out", tmp_path / "m.net"),
            "compare": ("compare", "--model", evil, "--netx", d / "tau.net", "--data",
                        d / "data.h5", "--backends", "emulator", "--out", tmp_path / "r")}
    proc = spiketime(*args[command], cwd=tmp_path, timeout=300)
    assert_one_line_error(proc, "evil.pt", "does not load them", "run code")
    assert not marker.exists(), "unpickling the checkpoint ran its code"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.pt"]


def test_checkpoints_written_by_spiketime_still_load(capsys, d, tmp_path):
    proc = call(capsys, "export", d / "tau.pt", "--out", tmp_path / "m.net")
    assert proc.returncode == 0, proc.stderr


# --- 3. no silent wrong result ----------------------------------------------------------------

def _nir_with_weight(d: Path, tmp_path: Path, value: float) -> Path:
    path = tmp_path / "w.nir"
    shutil.copy(d / "tau.nir", path)
    with h5py.File(path, "r+") as f:
        w = f["node/nodes/linear_0/weight"][()]
        w.reshape(-1)[0] = value
        del f["node/nodes/linear_0/weight"]
        f["node/nodes/linear_0/weight"] = w
    return path


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_import_clip_refuses_a_non_finite_weight(capsys, d, tmp_path, value):
    nir = _nir_with_weight(d, tmp_path, value)
    proc = call(capsys, "import", nir, "--out", tmp_path / "m.net", "--clip")
    assert_one_line_error(proc, "linear_0", "1 NaN or infinite value")
    assert not (tmp_path / "m.net").exists()


def test_a_huge_weight_is_reported_as_itself_not_as_a_wrapped_integer(capsys, d, tmp_path):
    nir = _nir_with_weight(d, tmp_path, 1e30)
    proc = call(capsys, "import", nir, "--out", tmp_path / "m.net")
    assert_one_line_error(proc, "1e+30")
    assert "-9223372036854775808" not in proc.stderr


@pytest.mark.parametrize("option", ["--lr", "--delay-lr", "--voltage-decay"])
@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_no_option_takes_a_non_finite_number(capsys, d, tmp_path, option, value):
    proc = call(capsys, "train", "--data", d / "data.h5", "--out", tmp_path / "run",
                "--epochs", "1", f"{option}={value}")  # "-inf" alone reads as an option
    assert_one_line_error(proc, f"{option} must be a finite number")
    assert not (tmp_path / "run").exists()


def test_resume_on_other_data_of_the_same_shape_is_refused(capsys, d, tmp_path):
    run = ("train", "--out", tmp_path / "run", "--hidden", "4", "--batch-size", "4")
    first = call(capsys, *run, "--data", d / "data.h5", "--epochs", "1")
    assert first.returncode == 0, first.stderr
    before = _snapshot(tmp_path)
    proc = call(capsys, *run, "--data", d / "other.h5", "--epochs", "2", "--resume")
    assert_one_line_error(proc, "--resume", "the data differs", "same --data")
    assert _snapshot(tmp_path) == before
    again = call(capsys, *run, "--data", d / "data.h5", "--epochs", "2", "--resume")
    assert again.returncode == 0, again.stderr


def test_prepare_refuses_fractional_labels(capsys, tmp_path):
    (tmp_path / "raw").mkdir()
    for split in ("train", "test"):
        _official(tmp_path / "raw" / f"shd_{split}.h5", np.array([0.0, 0.5]))
    proc = call(capsys, "data", "prepare", "--dataset", "shd", "--variant", "whole",
                "--raw", tmp_path / "raw", "--out", tmp_path / "p.h5")
    assert_one_line_error(proc, "shd_train.h5", "labels must hold whole numbers", "0.5")
    assert not (tmp_path / "p.h5").exists()


# --- 4. interrupted runs leave nothing partial ----------------------------------------------

PIPE = ("pipeline", "--epochs", "200", "--samples-per-class", "40", "--steps", "60",
        "--hidden", "8", "--confirm-lava", "0")


def _start(tmp_path: Path, *args) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "NXSDKHOST"} | {"CI": "1"}
    return subprocess.Popen([sys.executable, "-m", "spiketime", *map(str, args)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def test_sigterm_is_ctrl_c_the_run_folder_goes_and_no_tmp_file_stays(tmp_path):
    proc = _start(tmp_path, *PIPE, "--out", "run")
    _wait_for(tmp_path / "run" / "data.h5", proc)  # at work: the dataset is written
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and err.splitlines()[-1].startswith("error: terminated"), err
    assert sorted(p.name for p in tmp_path.rglob("*")) == []  # no folder, no .tmp file


def test_after_sigkill_the_folder_says_it_is_incomplete_and_a_rerun_clears_it(tmp_path):
    proc = _start(tmp_path, *PIPE, "--out", "run")
    _wait_for(tmp_path / "run" / "data.h5", proc)
    proc.kill()
    proc.communicate()
    marker = tmp_path / "run" / guards.INCOMPLETE
    assert f"process {proc.pid}" in marker.read_text() and "killed" in marker.read_text()
    rerun = spiketime("pipeline", "--epochs", "1", "--samples-per-class", "4", "--steps", "40",
                      "--hidden", "4", "--confirm-lava", "0", "--out", "run",
                      "--allow-degenerate", cwd=tmp_path)
    assert rerun.returncode in (0, 1, 3), rerun.stderr
    assert "held an incomplete run" in rerun.stderr
    assert not marker.exists()
    assert not list((tmp_path / "run").rglob("*.tmp"))


def test_a_dead_writers_tmp_file_is_removed_by_the_next_write(capsys, tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()  # a process id that no longer runs
    stale = tmp_path / f".g.h5.{gone.pid}.abcd.tmp"
    stale.write_text("half a file")
    mine = tmp_path / f".g.h5.{os.getpid()}.efgh.tmp"  # a live writer's: kept
    mine.write_text("being written")
    proc = call(capsys, "data", "generate", "--task", "isi", "--samples-per-class", "4",
                "--steps", "200", "--out", tmp_path / "g.h5")
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists() and mine.exists()


# --- 5. one run per folder ---------------------------------------------------------------

def test_a_second_train_into_a_held_folder_is_refused(capsys, d, tmp_path):
    run = ("train", "--data", d / "data.h5", "--out", tmp_path / "run", "--hidden", "4",
           "--epochs", "1")
    with guards.folder_lock(tmp_path / "run", "--out"):
        proc = call(capsys, *run)
        assert_one_line_error(proc, "--out", "in use by another spiketime run",
                              f"process {os.getpid()}")
    assert not (tmp_path / "run").exists()  # made for the lock, left empty: removed
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; from spiketime import guards\n"
                               "with guards.folder_lock(sys.argv[1], '--out'):\n"
                               "    print('held', flush=True); time.sleep(600)",
                               str(tmp_path / "run")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    assert_one_line_error(call(capsys, *run), "in use", f"process {holder.pid}")
    holder.kill()  # SIGKILL: nothing runs on the way out, the kernel drops the lock
    holder.wait()
    proc = call(capsys, *run)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "run" / guards.LOCK).exists()


# --- 7. a full disk is one line ---------------------------------------------------------------

def test_disk_full_while_writing_is_one_line_and_keeps_the_earlier_file(capsys, tmp_path,
                                                                        monkeypatch):
    gen = ("data", "generate", "--task", "isi", "--samples-per-class", "4", "--steps", "200",
           "--out", tmp_path / "g.h5")
    assert call(capsys, *gen).returncode == 0
    before = (tmp_path / "g.h5").read_bytes()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(h5py, "File", full)  # every HDF5 write fails as on a full disk
    proc = call(capsys, *gen)
    lines = proc.stderr.splitlines()  # the note that g.h5 will be replaced, then the error
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and len(lines) == 2
    assert lines[-1].startswith("error: cannot write") and lines[-1].endswith(
        "No space left on device; the earlier file is kept"), lines
    assert (tmp_path / "g.h5").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.h5"]


def test_stdout_on_a_full_device_is_one_line(d):
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "spiketime", "check", str(d / "tau.net"),
                               "--json"], stdout=full, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 2
    assert_one_line_error(subprocess.CompletedProcess((), 2, "", proc.stderr),
                          "cannot write", "No space left on device")


# --- 8. accepted without a word, no more -----------------------------------------------------

@pytest.mark.parametrize("args, fragments", [
    (("train", "--data", "{data}", "--out", "run", "--hidden", "8,,8"), ("empty item", "8,,8")),
    (("experiment", "--seeds", "0,0", "--out", "x"), ("0 is given twice",)),
    (("experiment", "--tasks", "ccisi,", "--out", "x"), ("empty item",)),
    (("data", "spoken-digits", "--out", "sd", "--voices", ""), ("empty item",)),
    (("data", "generate", "--task", "isi", "--steps", "120", "--param", "steps=500",
      "--out", "g.h5"), ("--param steps=500 contradicts --steps 120",)),
    (("data", "generate", "--task", "isi", "--param", "seed=-5", "--out", "g.h5"),
     ("--param seed", "--seed")),
    (("data", "generate", "--task", "isi", "--param", "rate_range=[NaN,1]", "--out", "g.h5"),
     ("not a finite JSON value",)),
    (("data", "generate", "--task", "isi", "--out", "newdir/"), ("ends in '/'", "folder")),
    (("import", "{nir}", "--out", "newdir/"), ("--out newdir/ ends in '/'",)),
    (("data", "spoken-digits", "--out", "sd", "--test-fraction", "nan"),
     ("--test-fraction must be a finite number",)),
    (("experiment", "--merge", "--out", "empty"), ("none of the grid's", "finished cells")),
], ids=["hidden-empty-item", "seeds-twice", "tasks-empty", "voices-empty", "param-vs-steps",
        "param-seed", "param-nan", "out-trailing-slash", "import-out-slash", "fraction-nan",
        "merge-no-cells"])
def test_refused_instead_of_read_some_other_way(capsys, d, tmp_path, monkeypatch, args,
                                                fragments):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    names = {"{data}": str(d / "data.h5"), "{nir}": str(d / "tau.nir")}
    proc = call(capsys, *[names.get(a, a) for a in args])
    assert_one_line_error(proc, *fragments)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


# --- 6, 7, 8. bounded work, one line, layers netx can read ---------------------------------

def test_netx_layers_numbered_with_a_gap_are_refused_by_check_and_deploy(capsys, d, tmp_path):
    gap = tmp_path / "gap.net"
    shutil.copy(d / "tau.net", gap)
    with h5py.File(gap, "r+") as f:
        f.move("layer/1", "layer/2")
    for args in (("check", gap), ("deploy", gap, "--data", d / "data.h5",
                                  "--backend", "emulator")):
        assert_one_line_error(call(capsys, *args), "numbered 0, 2", "without gaps")


def test_a_corpus_that_cannot_fit_on_the_disk_is_refused_before_any_work(capsys, tmp_path):
    proc = call(capsys, "data", "spoken-digits", "--out", tmp_path / "sd",
                "--repeats", "1000000000")
    assert_one_line_error(proc, "--repeats 1000000000", "of disk", "free")
    assert not (tmp_path / "sd").exists()


@pytest.mark.parametrize("command", ["check", "export"])
def test_a_file_name_too_long_is_one_line(capsys, d, tmp_path, command):
    long = tmp_path / ("n" * 300 + ".net")
    args = {"check": ("check", long),
            "export": ("export", d / "tau.pt", "--out", long)}[command]
    assert_one_line_error(call(capsys, *args), "File name too long")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("edit, fragment", [
    ("zero-channels", "0 channels"), ("zero-steps", "0 steps"), ("group", "is a group")])
def test_a_dataset_without_channels_steps_or_arrays_is_one_line(capsys, d, tmp_path, edit,
                                                               fragment):
    bad = tmp_path / "bad.h5"
    shutil.copy(d / "data.h5", bad)
    with h5py.File(bad, "r+") as f:
        for split in ("train", "test"):
            n = f[f"{split}/X"].shape[0]
            del f[f"{split}/X"]
            if edit == "group":
                f.create_group(f"{split}/X")
            else:
                f[f"{split}/X"] = np.zeros((n, 0, 40) if edit == "zero-channels"
                                           else (n, 20, 0), np.uint8)
    for args in (("data", "audit", bad, "--no-reference"),
                 ("train", "--data", bad, "--out", tmp_path / "run", "--epochs", "1")):
        assert_one_line_error(call(capsys, *args), fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.h5"]
