"""Report files read back and written again byte for byte (goldens: scripts/report_goldens.py;
the version-1 files in tests/data are reports from before reports were typed)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from spiketime.parity.reports import ExperimentResults, from_dict

DATA = Path(__file__).parent / "data"
REPORTS = [DATA / "golden" / "pipeline_report.json", DATA / "golden" / "compare_report.json"]


@pytest.mark.parametrize("path", REPORTS, ids=lambda p: p.name)
def test_reports_write_back_byte_for_byte(path):
    text = path.read_text()
    assert json.dumps(from_dict(json.loads(text)).to_dict(), indent=2) + "\n" == text


def test_experiment_results_write_back_byte_for_byte():
    text = (DATA / "golden" / "results.json").read_text()
    results = ExperimentResults.from_dict(json.loads(text))
    assert json.dumps(results.to_dict(), indent=1) + "\n" == text
    assert results.audits and results.rows and results.claims  # nothing vacuous
