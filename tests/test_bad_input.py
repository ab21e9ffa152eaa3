"""Bad input, through the real CLI: every case is refused with exit 2 and one line,
`error: ...`, naming the input and the problem, with no traceback and no new file.

The five kinds of issue #13, one table: output paths that cannot be written, sizes
that cannot fit in memory (run under an address-space limit, so a regression fails
alone instead of taking the machine down), partial output, bad values accepted
silently, unclear messages. The subprocesses run a few at a time.
"""
from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from support import assert_one_line_error, spiketime

from spiketime.data.dataset import save_dataset
from spiketime.data.synthetic import generate
from spiketime.deploy.chip_check import check_network
from spiketime.export.from_slayer import to_netx
from spiketime.export.netx import read_netx, write_netx
from spiketime.export.nir_out import to_nir, write_nir
from spiketime.parity.experiment import BUILTIN_CCISI
from spiketime.train.model import ModelConfig, SpikingNet, save_checkpoint

MEMORY_LIMIT = 4 << 30  # every case runs under it; torch and Lava map about 1 GB
WORKERS = 3


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]  # {name} is a file of the `inputs` fixture
    fragments: tuple[str, ...]  # each must appear in the error line
    setup: tuple[tuple[str, str], ...] = ()  # (relative path, "dir" | "file") made in cwd


def _dir(*paths: str) -> tuple[tuple[str, str], ...]:
    return tuple((p, "dir") for p in paths)


def _file(*paths: str) -> tuple[tuple[str, str], ...]:
    return tuple((p, "file") for p in paths)


GEN = ("data", "generate", "--task", "isi")
CMP = ("compare", "--model", "{tau.pt}", "--netx", "{tau.net}", "--data", "{data.h5}",
       "--backends", "emulator")
PIPE = ("pipeline", "--epochs", "1", "--samples-per-class", "4", "--steps", "40",
        "--hidden", "4", "--confirm-lava", "0")
DEPLOY = ("--data", "{data.h5}", "--backend", "emulator")

CASES = [
    # 1. output paths that cannot be written (each refused before any work)
    Case("generate-out-folder", (*GEN, "--out", "out"), ("--out out", "a folder"), _dir("out")),
    Case("generate-out-proc", (*GEN, "--out", "/proc/x.h5"), ("/proc", "not writable")),
    Case("generate-out-parent-file", (*GEN, "--out", "f/x.h5"), ("f is a file",), _file("f")),
    Case("generate-out-empty", (*GEN, "--out", ""), ("--out is empty",)),
    Case("generate-out-device", (*GEN, "--out", "/dev/full"),
         ("/dev/full", "not a regular file")),
    Case("prepare-out-folder", ("data", "prepare", "--dataset", "shd", "--variant", "whole",
                                "--raw", "{raw}", "--out", "out"), ("--out out", "a folder"),
         _dir("out")),
    Case("check-clip-folder", ("check", "{tau.net}", "--clip", "out"), ("--clip out", "a folder"),
         _dir("out")),
    Case("check-clip-device", ("check", "{tau.net}", "--clip", "/dev/full"),
         ("--clip /dev/full", "not a regular file")),
    Case("check-clip-proc", ("check", "{tau.net}", "--clip", "/proc/c.net"), ("not writable",)),
    Case("export-out-device", ("export", "{tau.pt}", "--out", "/dev/full"),
         ("/dev/full", "not a regular file")),
    Case("export-out-is-input", ("export", "{tau.pt}", "--out", "{tau.pt}"),
         ("--out", "would replace the input")),
    Case("export-out-parent-file", ("export", "{tau.pt}", "--out", "f/m.net"), ("f is a file",),
         _file("f")),
    Case("compare-out-file", (*CMP, "--out", "out"), ("--out out", "is a file"), _file("out")),
    Case("compare-out-proc", (*CMP, "--out", "/proc/cmp"), ("/proc", "not writable")),
    Case("pipeline-out-proc", (*PIPE, "--out", "/proc/run"), ("/proc", "not writable")),
    Case("pipeline-out-empty", (*PIPE, "--out", ""), ("--out", "empty path")),
    Case("train-out-file", ("train", "--data", "{data.h5}", "--out", "out"),
         ("--out out", "is a file"), _file("out")),
    # 2. sizes that cannot fit, refused by arithmetic before any allocation or redraw
    Case("generate-samples-huge", (*GEN, "--samples-per-class", "2000000000", "--out", "g.h5"),
         ("2000000000 samples per class", "of memory", "available")),
    Case("generate-steps-huge", (*GEN, "--steps", "2000000000", "--out", "g.h5"),
         ("2000000000 steps", "of memory")),
    Case("generate-rate-huge", (*GEN, "--param", "rate_range=[1e9,1e9]", "--out", "g.h5"),
         ("of memory",)),
    Case("generate-rate-too-high", (*GEN, "--param", "rate_range=[100,120]", "--out", "g.h5"),
         ("spike rate", "rate_range")),
    Case("generate-ccisi-rate-overfull", ("data", "generate", "--task", "ccisi", "--variant",
                                          "ratefree", "--steps", "100", "--param",
                                          "rate_range=[2000,2000]", "--param",
                                          "interval_range=[1,10]", "--out", "g.h5"),
         ("cannot fit in the window",)),
    Case("prepare-steps-huge", ("data", "prepare", "--dataset", "shd", "--variant", "whole",
                                "--raw", "{raw}", "--steps", "100000000", "--out", "p.h5"),
         ("100000000 steps", "of memory", "--storage events")),
    Case("pipeline-samples-huge", ("pipeline", "--samples-per-class", "2000000000",
                                   "--out", "run"), ("of memory",)),
    Case("train-batch-huge", ("train", "--data", "{data.h5}", "--batch-size", "100000000000",
                              "--out", "run"), ("batches of 100000000000", "of memory")),
    Case("audit-dense-huge", ("data", "audit", "{huge.h5}"),
         ("huge.h5 read whole", "25000004 samples x 20 channels x 1000 steps", "of memory")),
    Case("deploy-data-huge", ("deploy", "{tau.net}", "--data", "{huge.h5}"), ("of memory",)),
    # seeds
    Case("audit-seed", ("data", "audit", "{data.h5}", "--seed", "-1"), ("--seed", "-1")),
    Case("generate-seed", (*GEN, "--seed", "-1", "--out", "g.h5"), ("--seed", "-1")),
    Case("compare-seed", (*CMP, "--seed", "-1"), ("--seed", "-1")),
    Case("train-seed", ("train", "--data", "{data.h5}", "--out", "run", "--seed", "-1"),
         ("--seed", "-1")),
    # 3. partial output: refused before the first file is written
    Case("pipeline-model-folder-is-file", (*PIPE, "--out", "run"),
         ("run: tau_delay/", "tau_delay is a file"), _file("run/tau_delay")),
    Case("compare-report-md-is-folder", (*CMP, "--out", "out"),
         ("out: report.md", "a folder"), _dir("out/report.md")),
    # 4. bad values accepted without a word
    Case("compare-nan-checkpoint", ("compare", "--model", "{nan.pt}", "--netx", "{tau.net}",
                                    "--data", "{data.h5}", "--backends", "emulator"),
         ("nan.pt", "NaN or infinite")),
    Case("compare-hidden-mismatch", ("compare", "--model", "{wide.pt}", "--netx", "{tau.net}",
                                     "--data", "{data.h5}", "--backends", "emulator"),
         ("wide.pt holds the network 20-8-2", "tau.net holds 20-4-2", "not the same network")),
    Case("compare-delay-mismatch", ("compare", "--model", "{delay.pt}", "--netx", "{tau.net}",
                                    "--data", "{data.h5}", "--backends", "emulator"),
         ("with delays in layer 0", "without delays")),
    Case("export-nan-checkpoint", ("export", "{nan.pt}", "--out", "m.net"),
         ("nan.pt", "NaN or infinite")),
    Case("deploy-refdelay", ("deploy", "{ref2.net}", *DEPLOY), ("ref2.net", "refDelay 2")),
    Case("deploy-graded", ("deploy", "{graded.net}", *DEPLOY), ("graded.net", "gradedSpike")),
    Case("deploy-threshold-0", ("deploy", "{vth0.net}", *DEPLOY), ("vth0.net", "vThMant 0")),
    Case("compare-report-version", ("compare", "--report", "{v99.json}"),
         ("v99.json", "report version 99")),
    Case("compare-report-version-bool", ("compare", "--report", "{vtrue.json}"),
         ("report version True",)),
    # 5. unclear messages
    Case("check-metadata-json", ("check", "{badjson.net}"), ("badjson.net", "'metadata'",
                                                              "not valid JSON")),
    Case("deploy-metadata-json", ("deploy", "{badjson.net}", *DEPLOY), ("not valid JSON",)),
    Case("check-no-weight", ("check", "{noweight.net}"), ("layer 0 has no 'weight' dataset",)),
    Case("check-nan-weight", ("check", "{nanw.net}"), ("layer 1 weight", "NaN or infinite")),
    Case("check-weight-huge", ("check", "{hugew.net}"),
         ("layer 0 weight of shape (4, 2000000000)", "of memory")),
    Case("deploy-weight-huge", ("deploy", "{hugew.net}", "--data", "{data.h5}"), ("of memory",)),
    Case("check-empty-layer", ("check", "{empty.net}"), ("at least one neuron", "(0, ")),
    Case("deploy-empty-layer", ("deploy", "{empty.net}", "--data", "{data.h5}"),
         ("at least one neuron",)),
    Case("deploy-netx-folder", ("deploy", "{raw}", *DEPLOY), ("raw", "is a folder, not a file")),
    Case("deploy-data-folder", ("deploy", "{tau.net}", "--data", "{raw}"),
         ("raw", "is a folder, not a file")),
    Case("compare-model-folder", ("compare", "--model", "{raw}", "--netx", "{tau.net}",
                                  "--data", "{data.h5}"), ("checkpoint", "is a folder")),
    Case("audit-class-names", ("data", "audit", "{badnames.h5}"),
         ("badnames.h5", "'class_names'", "not valid JSON")),
    Case("prepare-raw-missing", ("data", "prepare", "--dataset", "shd", "--variant", "whole",
                                 "--raw", "nowhere", "--out", "p.h5"),
         ("--raw folder not found: nowhere",)),
    Case("prepare-raw-is-file", ("data", "prepare", "--dataset", "shd", "--variant", "whole",
                                 "--raw", "{data.h5}", "--out", "p.h5"),
         ("--raw", "is a file, not a folder")),
    Case("prepare-coverage-0", ("data", "prepare", "--dataset", "shd", "--variant", "part",
                                "--raw", "{raw}", "--part-coverage", "0", "--out", "p.h5"),
         ("part coverage must lie in (0, 1], got 0.0",)),
    Case("prepare-coverage-whole", ("data", "prepare", "--dataset", "shd", "--variant",
                                    "whole", "--raw", "{raw}", "--part-coverage", "0.9",
                                    "--out", "p.h5"),
         ("part coverage applies to the part and norm variants",)),
    Case("pipeline-samples-1", ("pipeline", "--samples-per-class", "1", "--out", "run"),
         ("--samples-per-class must be at least 2, got 1",)),
    Case("pipeline-steps-5", ("pipeline", "--steps", "5", "--out", "run"),
         ("--steps must be at least 26", "got 5")),
    Case("pipeline-data-not-hdf5", ("pipeline", "--data", "{v99.json}", "--out", "run"),
         ("v99.json", "not an HDF5 file")),
    Case("generate-samples-1", (*GEN, "--samples-per-class", "1", "--out", "g.h5"),
         ("--samples-per-class must be at least 2",)),
    # audio to spikes (docs/speech.md)
    Case("encode-audio-missing", ("data", "encode-audio", "--audio", "nope", "--out", "o"),
         ("--audio folder not found: nope",)),
    Case("encode-audio-out-file", ("data", "encode-audio", "--audio", "{raw}", "--out", "f"),
         ("--out f is a file, not a folder",), _file("f")),
    Case("encode-audio-no-classes", ("data", "encode-audio", "--audio", "{raw}", "--out", "o"),
         ("classes.txt", "missing")),
    Case("encode-audio-seed", ("data", "encode-audio", "--audio", "{raw}", "--out", "o",
                               "--seed", "-1"), ("--seed", "-1")),
    Case("spoken-digits-out-file", ("data", "spoken-digits", "--out", "f"),
         ("--out f is a file, not a folder",), _file("f")),
    Case("spoken-digits-out-proc", ("data", "spoken-digits", "--out", "/proc/sd"),
         ("/proc", "not writable")),
    Case("spoken-digits-repeats-0", ("data", "spoken-digits", "--out", "sd", "--repeats", "0"),
         ("--repeats must be a positive integer", "got 0")),
    # NIR in and out (docs/nir.md)
    Case("import-missing", ("import", "missing.nir", "--out", "m.net"),
         ("not found", "missing.nir")),
    Case("import-not-hdf5", ("import", "{v99.json}", "--out", "m.net"),
         ("v99.json", "not an HDF5 file")),
    Case("import-not-nir", ("import", "{tau.net}", "--out", "m.net"),
         ("tau.net", "not a NIR graph")),
    Case("import-out-device", ("import", "{tau.nir}", "--out", "/dev/full"),
         ("/dev/full", "not a regular file")),
    Case("import-out-is-input", ("import", "{tau.nir}", "--out", "{tau.nir}"),
         ("--out", "would replace the input")),
    Case("import-dt-zero", ("import", "{tau.nir}", "--out", "m.net", "--dt", "0"),
         ("--dt", "positive", "got 0")),
    Case("export-dt-without-nir", ("export", "{tau.pt}", "--out", "m.net", "--dt", "1"),
         ("--dt applies to --format nir only",)),
    Case("compare-nir-and-model", ("compare", "--nir", "{tau.nir}", "--model", "{tau.pt}",
                                   "--netx", "{tau.net}", "--data", "{data.h5}"),
         ("give --nir or --model",)),
]


def _write_official(path: Path, n: int) -> None:
    """A minimal official-format SHD file: n samples, one spike each."""
    with h5py.File(path, "w") as f:
        vlen = {"times": np.float32, "units": np.uint16}
        for key, dtype in vlen.items():
            ds = f.create_dataset(f"spikes/{key}", (n,), dtype=h5py.vlen_dtype(np.dtype(dtype)))
            for i in range(n):
                ds[i] = np.array([0.01 if key == "times" else i], dtype)
        f["labels"] = np.arange(n, dtype=np.uint8) % 20


def _edit_netx(src: Path, dst: Path, edit) -> None:
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        edit(f)


def _replace(path: str, value):
    def edit(f: h5py.File) -> None:
        del f[path]
        f[path] = value
    return edit


def _nan_weight(f: h5py.File) -> None:
    w = f["layer/1/weight"][()].astype(np.float64)
    w[0, 0] = np.nan
    _replace("layer/1/weight", w)(f)


def _empty_hidden(f: h5py.File) -> None:
    """The hidden layer with 0 neurons (the output layer then reads 0 inputs)."""
    _replace("layer/0/weight", np.zeros((0, f["layer/0/weight"].shape[1]), np.int64))(f)
    _replace("layer/1/weight", np.zeros((f["layer/1/weight"].shape[0], 0), np.int64))(f)
    for key in ("layer/0/outFeatures", "layer/1/inFeatures"):
        _replace(key, 0)(f)


def _huge_weight(f: h5py.File) -> None:
    """Layer 0 declares a 4 x 2e9 weight (60 GB as int64) and stores almost nothing."""
    del f["layer/0/weight"]
    f.create_dataset("layer/0/weight", (4, 2_000_000_000), np.int64, chunks=(4, 100_000),
                     compression="gzip")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Every input file the cases name: a small dataset, checkpoints and NetX files
    (good and broken), reports of unknown versions, a fake raw SHD folder."""
    d = tmp_path_factory.mktemp("inputs")
    task = dict(BUILTIN_CCISI.generator, steps=40)
    ds = generate(seed=0, n_per_class=6, **task)
    save_dataset(ds, d / "data.h5")
    shutil.copy(d / "data.h5", d / "badnames.h5")
    with h5py.File(d / "badnames.h5", "r+") as f:
        f.attrs["class_names"] = "[below_line, above_line"
    shutil.copy(d / "data.h5", d / "huge.h5")  # declares 5e11 bytes, stores almost none
    with h5py.File(d / "huge.h5", "r+") as f:
        del f["train/X"]
        f.create_dataset("train/X", (25_000_000, ds.channels, 1000), np.uint8,
                         chunks=(1, ds.channels, 1000), compression="gzip")
    torch.manual_seed(0)
    models = {"tau": ModelConfig(inputs=ds.channels, hidden=(4,), outputs=2),
              "wide": ModelConfig(inputs=ds.channels, hidden=(8,), outputs=2),
              "delay": ModelConfig(inputs=ds.channels, hidden=(4,), outputs=2, delays=True)}
    for name, cfg in models.items():
        save_checkpoint(SpikingNet(cfg), d / f"{name}.pt")
    tau = SpikingNet(models["tau"])
    write_netx(to_netx(tau, {"model": "tau", "steps": 40}), d / "tau.net")
    write_nir(to_nir(read_netx(d / "tau.net"), 1.0), d / "tau.nir")
    state = torch.load(d / "tau.pt", weights_only=False)
    first = next(k for k, v in state["state"].items() if v.is_floating_point() and v.ndim > 1)
    state["state"][first].view(-1)[0] = float("nan")
    torch.save(state, d / "nan.pt")
    for name, edit in {"ref2": _replace("layer/0/neuron/refDelay", 2),
                       "graded": _replace("layer/1/neuron/gradedSpike", True),
                       "vth0": _replace("layer/0/neuron/vThMant", 0),
                       "badjson": lambda f: f.attrs.__setitem__("metadata", "{not json"),
                       "noweight": lambda f: f["layer/0"].__delitem__("weight"),
                       "nanw": _nan_weight, "empty": _empty_hidden,
                       "hugew": _huge_weight}.items():
        _edit_netx(d / "tau.net", d / f"{name}.net", edit)
    report = json.loads((Path(__file__).parent / "data" / "report_v1_compare.json").read_text())
    for name, version in (("v99", 99), ("vtrue", True)):
        (d / f"{name}.json").write_text(json.dumps(report | {"report_version": version}))
    (d / "raw").mkdir()
    for split in ("train", "test"):
        _write_official(d / "raw" / f"shd_{split}.h5", 2)
    return d


def _tree(root: Path) -> dict[str, float | str]:
    """Every path under root: a file with its size and time, a folder as itself (the
    guards' write probe touches a folder's time, and leaves nothing)."""
    return {str(p.relative_to(root)): "folder" if p.is_dir() else
            f"{p.stat().st_size} {p.stat().st_mtime_ns}" for p in root.rglob("*")}


@pytest.fixture(scope="module")
def results(inputs, tmp_path_factory):
    """Every case run once, WORKERS at a time: {id: (process, cwd tree before, after)}."""
    names = {p.name: str(p) for p in inputs.iterdir()}
    before_inputs = _tree(inputs)

    def run(case: Case):
        cwd = tmp_path_factory.mktemp(case.id)
        for rel, kind in case.setup:
            path = cwd / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir() if kind == "dir" else path.write_text("keep me\n")
        before = _tree(cwd)
        args = [names[a[1:-1]] if a.startswith("{") else a for a in case.args]
        proc = spiketime(*args, cwd=cwd, timeout=300, memory_limit=MEMORY_LIMIT)
        return case.id, (proc, before, _tree(cwd))

    heavy = ("compare", "pipeline", "train", "export")  # these load torch: start them first
    with ThreadPoolExecutor(WORKERS) as pool:
        out = dict(pool.map(run, sorted(CASES, key=lambda c: c.args[0] not in heavy)))
    assert _tree(inputs) == before_inputs, "a case changed its input files"
    return out


def test_at_least_forty_distinct_cases() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused_cleanly(case: Case, results) -> None:
    proc, before, after = results[case.id]
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert_one_line_error(proc, *case.fragments)
    assert after == before, f"new or changed files: {sorted(set(after) - set(before))}"


# --- the rules behind the table, in-process ----------------------------------------------

def test_atomic_write_never_replaces_a_device_or_folder(tmp_path) -> None:
    from spiketime.errors import UserError
    from spiketime.fileio import write_text

    (tmp_path / "d").mkdir()
    for target in ("/dev/null", tmp_path / "d"):
        with pytest.raises(UserError, match="regular file"):
            write_text(target, "x")
    assert Path("/dev/null").is_char_device() and (tmp_path / "d").is_dir()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


def test_replacing_an_output_file_is_said(tmp_path) -> None:
    (tmp_path / "g.h5").write_text("old")
    proc = spiketime(*GEN, "--samples-per-class", "4", "--steps", "200", "--out", "g.h5",
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "note: --out g.h5 exists and will be replaced" in proc.stderr
    assert (tmp_path / "g.h5").read_bytes()[:4] == b"\x89HDF"


def test_undo_on_failure_removes_only_what_the_run_made(tmp_path) -> None:
    from spiketime import guards

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep")
    with pytest.raises(RuntimeError), guards.undo_on_failure(tmp_path / "out"):
        (tmp_path / "out" / "sub").mkdir()
        (tmp_path / "out" / "sub" / "new.txt").write_text("x")
        raise RuntimeError("boom")
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["mine.txt"]
    with pytest.raises(RuntimeError), guards.undo_on_failure(tmp_path / "a" / "b"):
        (tmp_path / "a" / "b").mkdir(parents=True, exist_ok=True)  # undo_on_failure made it
        raise RuntimeError("boom")
    assert not (tmp_path / "a").exists()
    (tmp_path / "out" / "sub").mkdir()
    (tmp_path / "out" / "sub" / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), guards.undo_on_failure(tmp_path / "out"):
        os.utime(tmp_path / "out" / "sub" / "old.txt", ns=(0, 0))  # replaced by the run
        raise RuntimeError("boom")
    marker = (tmp_path / "out" / guards.INCOMPLETE).read_text()
    assert "sub/old.txt" in marker and "mine.txt" not in marker
    with guards.undo_on_failure(tmp_path / "out"):  # the next run succeeds
        pass
    assert not (tmp_path / "out" / guards.INCOMPLETE).exists()


def test_memory_guard_reads_the_address_space_limit() -> None:
    import resource

    from spiketime import guards
    from spiketime.errors import UserError

    assert guards.available_bytes() > 1 << 20
    with pytest.raises(UserError, match=r"needs at least 1\.0 TB of memory"):
        guards.memory(2**40, "a test")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    assert soft == resource.RLIM_INFINITY or guards.available_bytes() <= soft


def test_check_shows_the_bits_an_out_of_range_weight_needs(inputs, tmp_path) -> None:
    net = read_netx(inputs / "tau.net")
    weight = net.layers[0].weight.copy()
    weight[0, 0] = 1000  # 500 at the chip's step of 2: 9 bits and a sign
    bad = type(net)((type(net.layers[0])(weight=weight, neuron=net.layers[0].neuron),
                     *net.layers[1:]), net.metadata)
    report = check_network(bad)
    assert report.layers[0].weight_bits == 10
    assert any(v.parameter == "weight" and v.value == 1000 for v in report.violations)


def test_deploy_notes_data_unlike_the_training_data(inputs, tmp_path) -> None:
    ds = generate(seed=1, n_per_class=6, **dict(BUILTIN_CCISI.generator, steps=60))
    save_dataset(ds, tmp_path / "longer.h5")
    proc = spiketime("deploy", inputs / "tau.net", "--data", tmp_path / "longer.h5",
                     "--backend", "emulator", "--allow-degenerate", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "note: " in proc.stderr and "has 60 steps per sample but" in proc.stderr
    assert "trained on 40" in proc.stderr


def test_guards_are_importable_without_heavy_modules() -> None:
    """Commands call them before torch loads: the module must stay light."""
    import subprocess
    import sys

    code = ("import sys, spiketime.guards; "
            "print(any(m in sys.modules for m in ('torch', 'h5py', 'numpy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=os.environ | {"PYTHONPATH": str(Path(__file__).parents[1])})
    assert out.stdout.strip() == "False", out.stderr
