"""A regular (non-editable) install works: build the wheel, install it into a scratch
environment that borrows the dependencies, and import every stage from there."""
from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("spiketime", "spiketime.data", "spiketime.train", "spiketime.export", "spiketime.sim",
          "spiketime.deploy", "spiketime.parity", "spiketime.cli")


def test_wheel_installs_and_every_stage_imports(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), str(ROOT)], check=True, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("spiketime-*.whl"))
    env_dir = tmp_path / "scratch"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.check_output(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        text=True).strip())
    # borrow torch, lava, ... from the project's environment, but not its editable spiketime
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(site), str(wheel)], check=True)
    code = ("import importlib, sys\n"
            f"for name in {STAGES!r}:\n"
            "    m = importlib.import_module(name)\n"
            "    print(name, m.__file__)\n")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    files = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    assert set(files) == set(STAGES)
    for name, file in files.items():
        assert file.startswith(str(site)), f"{name} imported from {file}, not the wheel"
    cli = subprocess.run([python, "-m", "spiketime", "--help"], capture_output=True, text=True,
                         cwd=tmp_path)
    assert cli.returncode == 0 and "pipeline" in cli.stdout
