"""`spiketime pipeline` end to end on a tiny configuration, and its clear errors."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
from support import assert_one_line_error, call, spiketime

from spiketime.data.dataset import Dataset, DatasetMeta, Split, save_dataset
from spiketime.export.netx import CubaNeuron, DenseLayer, NetxNetwork, write_netx

TINY = ("--samples-per-class", "6", "--epochs", "1", "--hidden", "6", "--steps", "60")


def test_tiny_pipeline_writes_a_complete_report(tmp_path):
    """One epoch on a handful of samples: parity holds, but the evidence is degenerate."""
    out = tmp_path / "run"
    proc = spiketime("pipeline", "--out", out, *TINY, "--backend", "lava-cpu")
    assert proc.returncode == 3, proc.stderr  # INCONCLUSIVE
    assert "parity INCONCLUSIVE" in proc.stdout
    assert "inconclusive: tau, trained: accuracy" in proc.stdout  # 4 test samples: at chance
    assert "warning: train tau: epoch 1:" in proc.stderr or "warning" not in proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["report_version"] == 2
    assert report["parity"]["verdict"] == "INCONCLUSIVE" and report["parity"]["passed"] is False
    for m in report["models"]:
        ev = m["evidence"]
        assert ev["degenerate"] and ev["chance"] == [0.0, 1.0]
        for side in ("trained", "deployed"):
            assert [lay["layer"] for lay in ev[side]["layers"]] == ["hidden 1", "output"]
            assert ev[side]["layers"][0]["neurons"] == 6
        assert ev["trained"] == ev["deployed"]  # Lava's spikes are slayer's
        assert 0 <= m["training"]["final_silent_fraction"] <= 1
    assert report["task"]["name"] == "ccisi" and report["task"]["classes"] == 2
    assert (out / report["task"]["data"]).is_file()
    assert [m["name"] for m in report["models"]] == ["tau", "tau+delay"]
    for m in report["models"]:
        assert (out / m["checkpoint"]).is_file() and (out / m["netx"]).is_file()
        assert m["deployed"]["backend"] == "lava-cpu"
        for side in ("trained", "deployed"):
            s = m[side]
            assert 0 <= s["accuracy"] <= 1 and 0 <= s["accuracy_reversed"] <= 1
            assert s["reversal_sensitivity"] == s["accuracy"] - s["accuracy_reversed"]
        assert m["spike_exact_fraction"] == 1.0 and m["prediction_agreement"] == 1.0
    with h5py.File(out / report["models"][1]["netx"]) as f:
        meta = json.loads(f.attrs["metadata"])
        assert f.attrs["spiketime_format_version"] == 1
        assert "delay" in f["layer/0"] and "delay" not in f["layer/1"]
    assert meta["model"] == "tau+delay" and meta["steps"] == 60
    assert meta["training"]["model"]["delays"] is True
    # 2 summary rows, then activity: 2 models x 2 sides x 2 layers
    assert (out / "report.md").read_text().count("| tau") == 2 + 8
    assert "activity.png" in report["plots"]
    for plot in report["plots"]:
        assert (out / plot).read_bytes()[:4] == b"\x89PNG"


def test_missing_data_file(tmp_path):
    out = tmp_path / "run"
    proc = spiketime("pipeline", "--out", out, "--data", tmp_path / "nope.h5")
    assert_one_line_error(proc, "nope.h5")
    assert not (out / "report.json").exists()


def _dataset(path, channels: int, classes: int = 2) -> None:
    X = (np.random.default_rng(0).random((4 * classes, channels, 30)) < 0.2).astype(np.uint8)
    y = np.arange(4 * classes, dtype=np.int64) % classes
    meta = DatasetMeta("ccisi", "ratefree", 1.0, [f"c{i}" for i in range(classes)], 0, {})
    save_dataset(Dataset(Split(X, y), Split(X, y), meta), path)


def _netx(path, inputs: int = 5, delay=None) -> None:
    layer = DenseLayer(np.full((2, inputs), 8), CubaNeuron(1024, 128, 64), delay=delay)
    write_netx(NetxNetwork((layer,)), path)


def test_corrupt_netx_file(tmp_path):
    bad = tmp_path / "broken.net"
    bad.write_bytes(b"this is not hdf5")
    _dataset(tmp_path / "d.h5", channels=5)
    proc = spiketime("deploy", bad, "--data", tmp_path / "d.h5", "--backend", "emulator")
    assert_one_line_error(proc, "broken.net")


def test_truncated_netx_file(tmp_path):
    good, bad = tmp_path / "good.net", tmp_path / "cut.net"
    _netx(good)
    bad.write_bytes(good.read_bytes()[:300])
    _dataset(tmp_path / "d.h5", channels=5)
    proc = spiketime("deploy", bad, "--data", tmp_path / "d.h5", "--backend", "emulator")
    assert_one_line_error(proc, "cut.net")


def test_input_width_mismatch(tmp_path):
    _netx(tmp_path / "n.net", inputs=5)
    _dataset(tmp_path / "d.h5", channels=7)
    proc = spiketime("deploy", tmp_path / "n.net", "--data", tmp_path / "d.h5",
                     "--backend", "lava-cpu")
    assert_one_line_error(proc, "7 channels", "expects 5 inputs")


def test_out_of_range_delay_in_a_netx_file(tmp_path):
    path = tmp_path / "n.net"
    _netx(path, inputs=5, delay=np.array([0, 3]))
    with h5py.File(path, "a") as f:  # a file from elsewhere with a delay the chip cannot hold
        f["layer/0/delay"][...] = np.array([0, 63])
    _dataset(tmp_path / "d.h5", channels=5)
    proc = spiketime("deploy", path, "--data", tmp_path / "d.h5", "--backend", "lava-cpu")
    assert_one_line_error(proc, "delay 63 is outside [0, 62]")


def test_bad_option_is_one_line(tmp_path):
    proc = spiketime("pipeline", "--out", tmp_path / "r", "--epochs", "0")
    assert_one_line_error(proc, "--epochs")
    assert not (tmp_path / "r").exists()


def test_cli_defaults_are_the_pipeline_defaults():
    from spiketime.cli import build_parser
    from spiketime.commands.pipeline import OUT, pipeline_config
    from spiketime.parity.pipeline import PipelineConfig, pipeline_model

    args = build_parser().parse_args(["pipeline"])
    assert pipeline_config(args) == PipelineConfig(out=OUT, model=pipeline_model(True))
    # the built-in task's networks start from its own voltage decay unless one is given
    assert pipeline_config(args).model_for(20, 2) == PipelineConfig(OUT).model_for(20, 2)
    assert PipelineConfig(OUT).model_for(20, 2).voltage_decay == 0.1
    assert PipelineConfig(OUT, data=Path("d.h5")).model_for(20, 2).voltage_decay == 0.03


def test_allow_degenerate_turns_inconclusive_into_a_warning(tmp_path, capsys):
    out = tmp_path / "run"
    proc = call(capsys, "pipeline", "--out", out, *TINY, "--confirm-lava", "0",
                "--allow-degenerate")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "parity PASSED" in proc.stdout
    assert "warning (--allow-degenerate): tau, trained: accuracy" in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["parity"]["verdict"] == "PASSED" and report["parity"]["allow_degenerate"]
    assert report["parity"]["warnings"] and report["parity"]["passed"] is True
