"""report.json through the typed reports: old files read back, round trips, versions."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from spiketime.errors import UserError
from spiketime.parity.render import markdown
from spiketime.parity.reports import (
    SCHEMA_VERSION,
    CompareReport,
    PipelineReport,
    from_dict,
    read_report,
)

# report.json and report.md exactly as spiketime wrote them before reports were typed
# (commit 79e4c72: a tiny `spiketime pipeline`, then `spiketime compare --report` on it).
DATA = Path(__file__).parent / "data"
OLD = {"pipeline": PipelineReport, "compare": CompareReport}


@pytest.mark.parametrize("kind", OLD)
def test_reports_written_before_typing_read_back_unchanged(kind):
    path = DATA / f"report_v1_{kind}.json"
    report = read_report(path)
    assert isinstance(report, OLD[kind]) and report.kind == kind
    old = json.loads(path.read_text())
    new = report.to_dict()
    assert new.pop("kind") == kind and old.pop("kind", kind) == kind  # old pipeline: no kind
    assert old.pop("report_version") == 1 and new.pop("report_version") == SCHEMA_VERSION == 2
    assert new == old  # every field, same names, same values (version 2 adds none unasked)
    assert report.parity.decision is None and report.parity.verdict in ("PASSED", "FAILED")
    assert all(m.summary.evidence is None for m in report.models)
    assert markdown(report) == (DATA / f"report_v1_{kind}.md").read_text()


@pytest.mark.parametrize("kind", OLD)
def test_round_trip(kind):
    report = read_report(DATA / f"report_v1_{kind}.json")
    assert from_dict(json.loads(json.dumps(report.to_dict()))) == report


def test_unknown_version_and_foreign_files_are_one_line_errors(tmp_path):
    data = json.loads((DATA / "report_v1_pipeline.json").read_text())
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data | {"report_version": SCHEMA_VERSION + 1}))
    with pytest.raises(UserError, match=f"report version {SCHEMA_VERSION + 1}; this spiketime "
                                        f"reads versions 1, {SCHEMA_VERSION}"):
        read_report(path)
    path.write_text(json.dumps(data | {"kind": "sweep"}))
    with pytest.raises(UserError, match="not a spiketime report \\(unknown kind 'sweep'\\)"):
        read_report(path)
    del data["task"]
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match="missing field 'task'"):
        read_report(path)
    path.write_text("[1, 2")
    with pytest.raises(UserError, match="not a spiketime report"):
        read_report(path)
    with pytest.raises(UserError, match="report file not found"):
        read_report(tmp_path / "none.json")
