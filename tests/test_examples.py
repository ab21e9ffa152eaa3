"""examples/: the notebook-style script trains a lava-dl network its own way and passes
`assert_parity`; the CI workflow runs a `spiketime compare` that exists, with options the
command takes, and keeps the report folder it writes as an artefact."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
from support import call

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "examples" / "parity-ci.yml"


def test_the_notebook_script_trains_its_own_way_and_passes_parity(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NXSDKHOST"} | {"CI": "1"}
    done = subprocess.run([sys.executable, "examples/train_your_own.py", "--out",
                           str(tmp_path), "--epochs", "6"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("parity PASSED: 11 conditions, report in "), done.stdout
    assert (tmp_path / "parity" / "report.json").is_file()
    assert (tmp_path / "own.net").is_file()


def _steps() -> tuple[dict, list[dict]]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert "pull_request" in triggers
    (job,) = workflow["jobs"].values()
    return workflow, job["steps"]


def _compare_args(steps: list[dict]) -> list[str]:
    """The workflow's compare options, $VARIABLES expanded from the environment."""
    (line,) = [s["run"] for s in steps if "spiketime compare" in s.get("run", "")]
    words = shlex.split(line)
    assert Path(words[0]).name == "spiketime" and words[1] == "compare", words
    return [os.path.expandvars(w) for w in words[2:]]


def test_the_ci_workflow_runs_compare_and_keeps_its_report(trained_delay_net, tmp_path,
                                                           monkeypatch, capsys):
    from spiketime.data.dataset import Dataset, DatasetMeta, Split, save_dataset
    from spiketime.train.model import save_checkpoint

    workflow, steps = _steps()
    for name, value in workflow["env"].items():  # the paths the workflow names, filled in
        monkeypatch.setenv(name, str(value))
    args = _compare_args(steps)
    assert not any("$" in a for a in args), args  # every variable set in the workflow's env
    out = args[args.index("--out") + 1]
    (keep,) = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert keep["if"] == "always()" and keep["with"]["path"] == out  # kept, FAILED or not

    monkeypatch.chdir(tmp_path)  # the repository the workflow checks out
    env = workflow["env"]
    for key in ("MODEL", "NETX", "DATA"):
        Path(env[key]).parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(trained_delay_net["model"], env["MODEL"])
    Path(env["NETX"]).write_bytes(trained_delay_net["path"].read_bytes())
    X = (np.random.default_rng(0).random((24, 12, 60)) < 0.15).astype(np.uint8)
    meta = DatasetMeta(task="test", variant="none", dt_ms=1.0, class_names=("a", "b", "c"))
    y = np.arange(24) % 3
    save_dataset(Dataset(Split(X, y), Split(X, y), meta), env["DATA"])

    done = call(capsys, "compare", *args)
    assert done.returncode in (0, 3), done.stderr  # PASSED, or INCONCLUSIVE on random input
    assert (tmp_path / out / "report.json").is_file() and (tmp_path / out / "report.md").is_file()
