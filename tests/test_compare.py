"""`spiketime compare`: broken deployments fail the verdict, an exact one passes; CLI and errors.

The network is trained in a session fixture on a small rate-free CCISI task, so it
solves something and a broken deployment changes its decisions. Each broken NetX
file is a correct one edited with `dataclasses.replace`.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from support import assert_one_line_error, call, spiketime

from spiketime.data.dataset import save_dataset
from spiketime.data.synthetic import generate
from spiketime.export.from_slayer import to_netx
from spiketime.export.netx import NetxNetwork, read_netx, write_netx
from spiketime.parity.comparison import CompareConfig, ModelSpec, run_compare
from spiketime.readout import predict
from spiketime.sim.emulator import EmulatorBackend
from spiketime.train.evaluate import run_trained
from spiketime.train.model import ModelConfig, SpikingNet, save_checkpoint
from spiketime.train.trainer import TrainConfig, train


def _drop_delays(net: NetxNetwork) -> NetxNetwork:
    """Every delay set to 0: the architecture still matches the checkpoint (a file without
    delay datasets is refused as another network), the behaviour is the undelayed one."""
    return replace(net, layers=tuple(
        replace(lay, delay=None if lay.delay is None else np.zeros_like(lay.delay))
        for lay in net.layers))


def _decays_off_by_one(net: NetxNetwork) -> NetxNetwork:
    return replace(net, layers=tuple(
        replace(lay, neuron=replace(lay.neuron, i_decay=lay.neuron.i_decay + 1,
                                    v_decay=lay.neuron.v_decay + 1))
        for lay in net.layers))


def _flip_one_weight(net: NetxNetwork) -> NetxNetwork:
    """Flip the sign of the output layer's largest weight (one that stays in range)."""
    w = net.layers[-1].weight.copy()
    i = np.unravel_index(np.argmax(np.abs(w) * (w > -256)), w.shape)  # -(-256) is out of range
    w[i] = -w[i]
    return replace(net, layers=(*net.layers[:-1], replace(net.layers[-1], weight=w)))


DATA = Path(__file__).parent / "data"

BROKEN = {"no-delays": _drop_delays, "decays-off-by-one": _decays_off_by_one,
          "weight-sign": _flip_one_weight}


@pytest.fixture(scope="session")
def solved(tmp_path_factory):
    """An 8-12-2 net with delays trained on rate-free CCISI (60 steps), its files and broken
    copies."""
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("compare")
    ds = generate("ccisi", "ratefree", seed=0, n_per_class=200, steps=60, n_pairs=4,
                  test_fraction=0.6, interval_range=(4, 28), margin=0.1, rate_range=(50.0, 50.0))
    save_dataset(ds, d / "data.h5")
    model = SpikingNet(ModelConfig(inputs=8, hidden=(12,), outputs=2, delays=True,
                                   delay_init_max=20, seed=0))
    train(model, ds.train.X, ds.train.y,
          TrainConfig(epochs=12, batch_size=16, lr=0.01, delay_lr=1.0, decay_lr=1.0,
                      loss="spikemax"))
    save_checkpoint(model, d / "model.pt")
    net = to_netx(model, {"model": "tau+delay"})
    files = {"exact": write_netx(net, d / "exact.net")}
    for name, breaker in BROKEN.items():
        files[name] = write_netx(breaker(net), d / f"{name}.net")
    return {"dir": d, "data": d / "data.h5", "model": model, "ds": ds, "net": net,
            "checkpoint": d / "model.pt", "netx": files}


def test_fixture_solves_the_task_and_the_broken_files_differ(solved):
    ds, net = solved["ds"], solved["net"]
    acc = (predict(run_trained(solved["model"], ds.test.X)) == ds.test.y).mean()
    assert acc >= 0.8, acc
    assert net.layers[0].delay is not None and net.layers[0].delay.any()
    for name in BROKEN:
        broken = read_netx(solved["netx"][name])
        assert any(not np.array_equal(a.weight, b.weight) or a.neuron != b.neuron
                   or (a.delay is None) != (b.delay is None)
                   or (a.delay is not None and not np.array_equal(a.delay, b.delay))
                   for a, b in zip(net.layers, broken.layers))


@pytest.fixture(scope="session")
def verdicts(solved, tmp_path_factory):
    """One emulator sweep over the exact and every broken deployment of one checkpoint."""
    specs = tuple(ModelSpec(name, solved["checkpoint"], path)
                  for name, path in solved["netx"].items())
    cfg = CompareConfig(models=specs, data=solved["data"], out=tmp_path_factory.mktemp("cmp"),
                        backends=("emulator",), exact=True)
    report, _ = run_compare(cfg)
    return report.to_dict()  # checked as report.json holds it


def _entries(report: dict, model: str) -> list[dict]:
    return [e for e in report["conditions"] if e["model"] == model]


def test_exact_deployment_passes(verdicts):
    entries = _entries(verdicts, "exact")
    assert len(entries) == 11 and {e["samples"] for e in entries} == {240}
    for e in entries:  # both sides saw the same perturbed samples: every spike identical
        assert e["spike_exact_fraction"] == 1.0 and e["agreement"] == 1.0, e["label"]
        assert e["difference"] == 0 and e["ci"] == [0.0, 0.0] and e["mcnemar_p"] == 1.0
        assert e["passed"] and e["within_tolerance"]
    sens = [s for s in verdicts["sensitivity"] if s["model"] == "exact"]
    assert len(sens) == 1 and sens[0]["passed"] and sens[0]["difference"] == 0
    assert not [f for f in verdicts["parity"]["failed"] if f.startswith("exact/")]


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_deployment_changes_decisions_and_fails(verdicts, name):
    entries = _entries(verdicts, name)
    # The test can fail: the broken file must change some decision, not only spikes.
    changed = [e["label"] for e in entries if e["agreement"] < 1]
    assert changed, f"{name} changed no decision; the fixture no longer tests the verdict"
    assert all(e["spike_exact_fraction"] < 1 for e in entries if e["name"] == "original")
    failed = [e["label"] for e in entries if not e["within_tolerance"]]
    assert failed, f"{name}: every interval within tolerance despite changes in {changed}"
    assert any(f.startswith(f"{name}/") for f in verdicts["parity"]["failed"])
    assert not verdicts["parity"]["passed"]


def test_broken_failures_are_evidence_based(verdicts):
    """A failing condition's interval really leaves the band; McNemar sees gross breakage."""
    tol = verdicts["parity"]["tolerance"]["difference_pp"] / 100
    for e in verdicts["conditions"]:
        assert e["ci"][0] <= e["difference"] <= e["ci"][1] or e["ci"][0] == e["ci"][1]
        if not e["within_tolerance"]:
            assert e["ci"][0] < -tol or e["ci"][1] > tol
    gross = _entries(verdicts, "no-delays")
    assert min(e["mcnemar_p"] for e in gross) < 0.05
    originals = [e for e in gross if e["name"] == "original"]
    assert max(e["deployed_accuracy"] - e["trained_accuracy"] for e in originals) < 0


def test_exact_option_catches_spike_differences_alone(verdicts):
    """--exact fails a deployment whose spikes differ, however small its accuracy change."""
    for name in BROKEN:
        assert not all(e["passed"] for e in _entries(verdicts, name))
        inexact = [e for e in _entries(verdicts, name) if e["spike_exact_fraction"] < 1]
        assert all(not e["passed"] for e in inexact)


def test_emulator_matches_trained_side_on_perturbed_input(solved):
    """The harness's premise, checked directly: exact deployment, same spikes on jittered input."""
    from spiketime.data.perturb import jitter_spikes

    X = jitter_spikes(solved["ds"].test.X[:40], 2.0, seed=1)
    out = EmulatorBackend().run(solved["netx"]["exact"], X).output
    np.testing.assert_array_equal(out, run_trained(solved["model"], X))


# --- the command line --------------------------------------------------------------------

QUICK = ("--jitter", "2", "--neuron-jitter", "none", "--deletion", "0.2")


def test_cli_passes_with_lava_subset_and_writes_the_report(solved, tmp_path):
    out = tmp_path / "rep"
    proc = spiketime("compare", "--model", solved["checkpoint"], "--netx", solved["netx"]["exact"],
                     "--data", solved["data"], "--backends", "emulator,lava-cpu",
                     "--lava-subset", "3", "--out", out, *QUICK)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "parity PASSED" in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["report_version"] == 2 and report["kind"] == "compare"
    assert (out / report["task"]["data"]).resolve() == solved["data"].resolve()
    assert (out / report["models"][0]["netx"]).resolve() == solved["netx"]["exact"].resolve()
    assert report["models"][0]["name"] == "tau+delay"  # from the NetX metadata
    conds = report["conditions"]
    assert [(e["name"], e["level"], e["backend"]) for e in conds] == [
        (n, level, b) for b in ("emulator", "lava-cpu")
        for n, level in (("original", None), ("reversed", None), ("jitter", 2.0),
                         ("deletion", 0.2))]
    assert {e["samples"] for e in conds if e["backend"] == "lava-cpu"} == {3}
    assert {e["samples"] for e in conds if e["backend"] == "emulator"} == {240}
    keys = {"name", "level", "backend", "samples", "trained_accuracy", "deployed_accuracy",
            "difference", "ci", "mcnemar_p", "agreement", "spike_exact_fraction"}
    assert all(keys <= set(e) and e["passed"] and e["spike_exact_fraction"] == 1 for e in conds)
    assert len(report["sensitivity"]) == 2 and report["parity"]["passed"]
    md = (out / "report.md").read_text()
    # models, activity (2 sides x 2 layers), conditions, sensitivity
    assert md.count("| tau+delay | ") == 1 + 4 + len(conds) + 2
    assert "**Parity: PASSED**" in md and "| jitter sigma=2 | lava-cpu | 3 |" in md
    assert set(report["plots"]) == {"accuracy.png", "activity.png", "sweep.png", "parity.png",
                                    "raster.png"}
    assert report["parity"]["verdict"] == "PASSED" and not report["models"][0]["evidence"][
        "degenerate"]  # a network that solves the task is not degenerate
    # the 3-sample Lava rows sit at chance, but identical spikes, not their interval, decide
    lava = [s for s in report["sensitivity"] if s["backend"] == "lava-cpu"]
    assert [s["verdict"] for s in lava] == ["undefined at chance"] and not lava[0]["statistical"]
    for plot in report["plots"]:
        assert (out / plot).read_bytes()[:4] == b"\x89PNG"


def _pipeline_report(solved, folder: Path, models: dict[str, str]) -> Path:
    """A pipeline report.json as spiketime wrote it (tests/data), renamed to the fixture's
    files (paths relative to it)."""
    folder.mkdir()
    report = json.loads((DATA / "report_v1_pipeline.json").read_text())
    template = report["models"][0]

    def rel(p: Path) -> str:
        return f"../{Path(p).resolve().relative_to(solved['dir'].resolve())}"

    report["task"]["data"] = rel(solved["data"])
    report["models"] = [template | {"name": n, "checkpoint": rel(solved["checkpoint"]),
                                    "netx": rel(solved["netx"][f])} for n, f in models.items()]
    (folder / "report.json").write_text(json.dumps(report))
    return folder / "report.json"


def test_cli_fails_on_a_broken_model_of_a_pipeline_report(solved):
    path = _pipeline_report(solved, solved["dir"] / "run",
                            {"tau+delay": "exact", "broken": "weight-sign"})
    proc = spiketime("compare", "--report", path, "--backends", "emulator", *QUICK)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "parity FAILED" in proc.stdout and "failed: broken/original/emulator" in proc.stdout
    report = json.loads((path.parent / "compare" / "report.json").read_text())
    assert [m["name"] for m in report["models"]] == ["tau+delay", "broken"]
    by_model = {m: [e["passed"] for e in report["conditions"] if e["model"] == m]
                for m in ("tau+delay", "broken")}
    assert all(by_model["tau+delay"]) and not all(by_model["broken"])


def test_missing_files_are_one_line_errors(solved, tmp_path, capsys):
    good = dict(model=solved["checkpoint"], netx=solved["netx"]["exact"], data=solved["data"])
    for key, fragment in (("model", "checkpoint not found"), ("netx", "NetX file not found"),
                          ("data", "does not exist")):
        args = {**good, key: tmp_path / f"nope.{key}"}
        proc = call(capsys, "compare", "--model", args["model"], "--netx", args["netx"],
                    "--data", args["data"], "--out", tmp_path / "o", "--backends", "emulator")
        assert proc.returncode == 2
        assert_one_line_error(proc, fragment, f"nope.{key}")
    assert_one_line_error(call(capsys, "compare", "--report", tmp_path / "r.json"),
                          "report file not found")
    assert_one_line_error(call(capsys, "compare", "--netx", good["netx"]),
                          "--model, --data required")
    assert not (tmp_path / "o").exists()


def test_width_mismatch_is_one_line(solved, tmp_path, capsys):
    other = generate("ccisi", "ratefree", seed=1, n_per_class=4, steps=60, n_pairs=5,
                     interval_range=(4, 28), rate_range=(50.0, 50.0))
    save_dataset(other, tmp_path / "wide.h5")
    proc = call(capsys, "compare", "--model", solved["checkpoint"],
                "--netx", solved["netx"]["exact"],
                "--data", tmp_path / "wide.h5", "--out", tmp_path / "o")
    assert_one_line_error(proc, "expects 8 inputs", "10 channels")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("option, fragment", [
    (("--backends", "emulator,tpu"), "unknown backend 'tpu'"),
    (("--backends", "emulator,emulator"), "lists emulator twice"),
    (("--tolerance", "-1"), "--tolerance"),
    (("--tolerance", "nan"), "--tolerance"),
    (("--tolerance", "one"), "--tolerance"),
    (("--lava-subset", "0"), "--lava-subset"),
    (("--jitter", "1,x"), "--jitter"),
    (("--deletion", "1.5"), "p must be in [0, 1]"),
    (("--confidence", "1"), "--confidence"),
])
def test_bad_options_are_one_line(solved, tmp_path, capsys, option, fragment):
    proc = call(capsys, "compare", "--model", solved["checkpoint"],
                "--netx", solved["netx"]["exact"],
                "--data", solved["data"], "--out", tmp_path / "o", *option)
    assert proc.returncode == 2
    assert_one_line_error(proc, fragment)
    assert not (tmp_path / "o").exists()


def test_report_and_model_together_is_refused(solved, tmp_path, capsys):
    path = tmp_path / "r.json"
    path.write_text("{}")
    proc = call(capsys, "compare", "--report", path, "--model", solved["checkpoint"])
    assert_one_line_error(proc, "either --report or --model")
    proc = call(capsys, "compare", "--report", path)
    assert_one_line_error(proc, "is not a spiketime report (no report_version)")


def test_subprocess_error_has_no_traceback(tmp_path):
    proc = spiketime("compare", "--model", tmp_path / "m.pt", "--netx", tmp_path / "n.net",
                     "--data", tmp_path / "d.h5")
    assert_one_line_error(proc, "n.net")
    assert proc.returncode == 2

