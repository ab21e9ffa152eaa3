"""Run the spiketime CLI in a subprocess, as a user would."""
from __future__ import annotations

import os
import subprocess
import sys


def spiketime(*args: str, cwd=None, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": "1"}
    return subprocess.run([sys.executable, "-m", "spiketime", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=env)


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    """Non-zero exit, stderr is exactly one `error: ...` line, no traceback."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def call(capsys, *args) -> subprocess.CompletedProcess:
    """main() in this process (faster than a subprocess), reported like a finished one."""
    from spiketime.cli import main

    try:
        rc = main([str(a) for a in args])
    except SystemExit as exc:  # argparse errors
        rc = exc.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(args, rc, out, err)
