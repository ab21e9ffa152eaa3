"""`spiketime experiment`: cached cells, resume after a kill, workers, shards and merge,
every cell in the results, and the claim statistics."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from support import assert_one_line_error, call

from spiketime.parity.claims import _claims, claim_status, stat_of
from spiketime.parity.experiment import GRIDS, cells, override

TINY = ["--grid", "quick", "--tasks", "ccisi", "--seeds", "0", "--epochs", "1",
        "--reference-epochs", "1",
        "--samples-per-class", "6", "--confirm-lava", "0"]
CELL0 = Path("cells/ccisi/tau/s0/cell.json")


def _cli(*args: object) -> list[str]:
    return [sys.executable, "-m", "spiketime", "experiment", *map(str, args)]


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if k != "NXSDKHOST"} | {"CI": "1"}


def _without_times(obj):
    """Results with wall-clock fields removed: everything else must be identical."""
    if isinstance(obj, dict):
        return {k: _without_times(v) for k, v in obj.items() if k not in ("seconds",)}
    if isinstance(obj, list):
        return [_without_times(v) for v in obj]
    return obj


def _results(folder: Path) -> dict:
    return _without_times(json.loads((folder / "results.json").read_text()))


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The tiny grid uninterrupted, on two worker processes."""
    out = tmp_path_factory.mktemp("reference")
    proc = subprocess.run(_cli(*TINY, "--out", out, "--workers", 2), capture_output=True,
                          text=True, env=_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out


def test_the_results_hold_every_cell_and_condition(reference):
    res = json.loads((reference / "results.json").read_text())
    assert res["kind"] == "experiment" and res["cells"] == 2 and res["missing"] == []
    grid = override(GRIDS["quick"], tasks=["ccisi"], seeds=[0])
    labels = {c["label"] for c in json.loads((reference / CELL0).read_text())["conditions"]}
    assert {"original", "reversed", "timing f=1", "neuron_jitter sigma=10"} <= labels
    for model in grid.models:
        assert {r["label"] for r in res["rows"] if r["model"] == model} == labels
    assert res["spike_exact"] is True  # the emulator reproduces slayer on every condition
    assert (reference / "results.md").read_text().startswith("# Experiment grid `quick`")
    assert (reference / "perturbations.png").stat().st_size > 0
    audit = json.loads((reference / "data" / "ccisi-s0.audit.json").read_text())
    assert (audit["reference"]["model"], audit["reference"]["epochs"]) == ("gru", 1)
    assert res["audits"][0]["reference"]["mean"] == audit["reference"]["accuracy"]
    md = (reference / "results.md").read_text()
    assert "| open shortcuts | reference |" in md and "task's reference |" in md
    assert f"Non-spiking reference (GRU, original test set): " \
           f"{100 * audit['reference']['accuracy']:.1f}%." in md


def test_a_killed_run_resumes_without_redoing_finished_cells(reference, tmp_path):
    proc = subprocess.Popen(_cli(*TINY, "--out", tmp_path), env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (tmp_path / CELL0).is_file():  # the first cell finished: kill during the second
        assert proc.poll() is None and time.time() < deadline, "run ended before the kill"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "results.json").exists()
    first = (tmp_path / CELL0).stat().st_mtime_ns
    done = subprocess.run(_cli(*TINY, "--out", tmp_path), capture_output=True, text=True,
                          env=_env(), timeout=600)
    assert done.returncode == 0, done.stderr
    assert "1 cells already finished (cached), 1 to run" in done.stderr
    assert (tmp_path / CELL0).stat().st_mtime_ns == first  # not retrained
    # identical to the uninterrupted two-worker run, wall-clock fields aside
    assert _results(tmp_path) == _results(reference)


def test_shards_then_merge_equal_one_run(reference, tmp_path):
    for shard in ("0/2", "1/2"):
        proc = subprocess.run(_cli(*TINY, "--out", tmp_path, "--shard", shard),
                              capture_output=True, text=True, env=_env(), timeout=600)
        assert proc.returncode == 0, proc.stderr
        assert "run with --merge" in proc.stderr
        assert not (tmp_path / "results.json").exists()
    proc = subprocess.run(_cli(*TINY, "--out", tmp_path, "--merge"), capture_output=True,
                          text=True, env=_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert _results(tmp_path) == _results(reference)


def test_a_cached_audit_gets_the_reference_it_lacks_and_keeps_one_it_has(tmp_path):
    from spiketime.data.reference import ReferenceConfig
    from spiketime.parity.experiment import BUILTIN_CCISI, dataset_for

    task = replace(BUILTIN_CCISI, n_per_class=6)
    _, audit = dataset_for(task, 0, tmp_path)  # no reference asked for
    assert audit.reference is None
    small = ReferenceConfig(epochs=1, hidden=4)
    _, audit = dataset_for(task, 0, tmp_path, small)
    assert (audit.reference.epochs, audit.reference.hidden) == (1, 4)
    path = tmp_path / "data" / "ccisi-s0.audit.json"
    assert json.loads(path.read_text()) == audit.to_dict()  # written back
    before = path.stat().st_mtime_ns
    assert dataset_for(task, 0, tmp_path, small)[1] == audit and path.stat().st_mtime_ns == before
    _, other = dataset_for(task, 0, tmp_path, replace(small, hidden=5))  # another budget
    assert other.reference.hidden == 5 and other.rate == audit.rate


def test_cells_are_split_evenly_and_in_a_fixed_order():
    grid = GRIDS["full"]
    all_cells = cells(grid)
    assert len(all_cells) == len(grid.tasks) * len(grid.models) * len(grid.seeds)
    assert len({c.key for c in all_cells}) == len(all_cells)
    assert [c.key for c in cells(grid)] == [c.key for c in all_cells]


@pytest.mark.parametrize("args, fragment", [
    (["--shard", "2/2"], "0 <= I < N"),
    (["--shard", "x"], "I/N"),
    (["--tasks", "nope"], "no task 'nope'"),
    (["--workers", "0"], "--workers"),
    (["--epochs", "0"], "epochs"),
    (["--seeds", "a,b"], "integers"),
    (["--reference-epochs", "0"], "reference epochs must be an integer >= 1, got 0"),
])
def test_bad_options_are_one_line_errors(capsys, tmp_path, args, fragment):
    proc = call(capsys, "experiment", "--out", tmp_path / "x", *args)
    assert_one_line_error(proc, fragment)
    assert not (tmp_path / "x").exists()


def test_out_that_is_a_file_is_refused(capsys, tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    assert_one_line_error(call(capsys, "experiment", *TINY, "--out", f), "not a folder")


# ---------------------------------------------------------------- statistics and claims

def test_stat_is_the_mean_with_a_t_interval():
    s = stat_of([0.8, 0.9, 1.0])
    # mean 0.9, sd 0.1, t(0.975, 2) = 4.303: half-width 0.2484
    assert s.mean == pytest.approx(0.9) and s.n == 3
    assert s.lo == pytest.approx(0.9 - 0.24841, abs=1e-4)
    assert s.hi == pytest.approx(0.9 + 0.24841, abs=1e-4)
    one = stat_of([0.7])
    assert one.lo is None and claim_status(one) == "not enough seeds"
    assert claim_status(stat_of([0.1, 0.12, 0.11])) == "reproduced"
    assert claim_status(stat_of([-0.1, 0.3, 0.1])) == "inconclusive"
    assert claim_status(stat_of([-0.1, -0.2, 0.0])) == "not reproduced"


def _cell(model: str, seed: int, accs: dict[str, float]):
    from spiketime.parity.experiment import CellResult, CellTraining, ConditionResult

    conds = []
    for label, acc in accs.items():
        name, _, rest = label.partition(" ")
        level = float(rest.split("=")[1]) if rest else None
        conds.append(ConditionResult(label, name, level, trained=acc, deployed=acc,
                                     spike_exact=1.0, silent_output=0.0, predicted_classes=2,
                                     confirm=None))
    return CellResult(key=f"ccisi-long/{model}/s{seed}", task="ccisi-long", model=model,
                      seed=seed, test_samples=100, chance=0.5,
                      training=CellTraining(1, 0.0, 0.0, 0.0), conditions=tuple(conds),
                      seconds=1.0)


def test_claims_follow_the_measured_effects():
    grid = override(GRIDS["full"], tasks=["ccisi-long"])
    cells_ = []
    for seed, (tau, dly) in enumerate([(0.70, 0.93), (0.72, 0.95), (0.69, 0.92)]):
        cells_.append(_cell("tau", seed, {"original": tau, "reversed": 0.6,
                                          "jitter sigma=10": tau - 0.05,
                                          "neuron_jitter sigma=10": tau - 0.05,
                                          "timing f=1": 0.5}))
        cells_.append(_cell("tau+delay", seed, {"original": dly, "reversed": 0.5 + seed * 0.01,
                                                "jitter sigma=10": dly - 0.05,
                                                "neuron_jitter sigma=10": dly - 0.2 - seed * 0.01,
                                                "timing f=1": 0.51 + seed * 0.01}))
    audit = type("A", (), {"task": "ccisi-long", "rate": stat_of([0.5, 0.5, 0.5]),
                           "position": stat_of([0.5, 0.5, 0.5])})()
    status = {(c.claim.split()[0], c.model): c.status for c in _claims(grid, cells_, [audit])}
    assert status[("trainable", "tau+delay vs tau")] == "reproduced"
    assert status[("delay", "tau+delay vs tau")] == "reproduced"  # more reversal-sensitive
    assert status[("per-neuron", "tau+delay")] == "reproduced"
    assert status[("fully", "tau+delay")] == "reproduced"  # falls to the rate level at f=1


def test_results_round_trip_and_refuse_other_files(reference, tmp_path):
    from spiketime.errors import UserError
    from spiketime.parity.reports import ExperimentResults, read_experiment_results

    res = read_experiment_results(reference / "results.json")
    assert ExperimentResults.from_dict(res.to_dict()) == res
    other = tmp_path / "other.json"
    other.write_text('{"report_version": 2, "kind": "pipeline"}')
    with pytest.raises(UserError, match="not a spiketime experiment results file"):
        read_experiment_results(other)
