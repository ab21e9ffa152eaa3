"""Write the golden report files tests/test_serial.py reads: a tiny `spiketime pipeline`
(report.json), `spiketime compare --report` on it (report.json) and a one-cell
`spiketime experiment` (results.json), each as the current code writes it. Their JSON is
read back and written again byte for byte by the tests, so the serializer cannot drift.

    .venv/bin/python scripts/report_goldens.py   # about a minute on 2 cores
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "data" / "golden"
TINY = ["--samples-per-class", "6", "--epochs", "1", "--hidden", "6", "--steps", "60",
        "--seed", "0", "--threads", "1"]


def spiketime(*args: object) -> None:
    proc = subprocess.run([sys.executable, "-m", "spiketime", *map(str, args)],
                          capture_output=True, text=True)
    if proc.returncode not in (0, 1, 3):  # a verdict of any kind is a report
        sys.exit(f"spiketime {' '.join(map(str, args))} failed:\n{proc.stderr}")


def main() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "pipeline"
        spiketime("pipeline", "--out", run, *TINY, "--confirm-lava", "2", "--allow-degenerate")
        shutil.copy(run / "report.json", GOLDEN / "pipeline_report.json")
        spiketime("compare", "--report", run / "report.json", "--out", Path(tmp) / "compare",
                  "--backends", "emulator", "--resamples", "200", "--timing", "0.5")
        shutil.copy(Path(tmp) / "compare" / "report.json", GOLDEN / "compare_report.json")
        grid = Path(tmp) / "grid"
        spiketime("experiment", "--grid", "quick", "--tasks", "ccisi", "--seeds", "0,1",
                  "--epochs", "1", "--samples-per-class", "6", "--confirm-lava", "2",
                  "--reference-epochs", "1", "--out", grid)
        shutil.copy(grid / "results.json", GOLDEN / "results.json")
    print(f"wrote {', '.join(p.name for p in sorted(GOLDEN.iterdir()))} in {GOLDEN}")


if __name__ == "__main__":
    main()
