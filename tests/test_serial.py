"""Report files read back and written again byte for byte (goldens: scripts/report_goldens.py;
the version-1 files in tests/data are reports from before reports were typed)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from spiketime.parity.reports import ExperimentResults, from_dict
from spiketime.records import Record, json_field

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


@dataclass(frozen=True)
class Inner(Record):
    verdict: str
    note: str = ""


@dataclass(frozen=True)
class Outer(Record):
    n: int
    ci: tuple[float, float]
    names: tuple[str, ...]
    worse: int = json_field(group="discordant")
    better: int = json_field(group="discordant")
    rate: float = json_field(key="detectable_difference")
    label: str | None = json_field(default=None, omit_none=True)
    inner: Inner | None = json_field(default=None, flatten=True)
    json_order = ("label",)


def test_the_serializer_follows_the_field_types_and_shapes():
    full = Outer(3, (0.1, 0.2), ("a",), 1, 2, 0.5, "x", Inner("pass", "ok"))
    assert full.to_dict() == {"label": "x", "n": 3, "ci": [0.1, 0.2], "names": ["a"],
                              "discordant": {"worse": 1, "better": 2},
                              "detectable_difference": 0.5, "verdict": "pass", "note": "ok"}
    assert list(full.to_dict()) == ["label", "n", "ci", "names", "discordant",
                                    "detectable_difference", "verdict", "note"]
    assert Outer.from_dict(json.loads(json.dumps(full.to_dict()))) == full
    bare = Outer(3, (0.1, 0.2), (), 1, 2, 0.5)
    assert "label" not in bare.to_dict() and "verdict" not in bare.to_dict()
    assert Outer.from_dict(bare.to_dict() | {"unknown": 1}) == bare  # absent: the default
    with pytest.raises(KeyError, match="'n'"):
        Outer.from_dict({"ci": [0, 1]})
    with pytest.raises(ValueError, match="expected 2 values"):
        Outer.from_dict({**full.to_dict(), "ci": [0.1]})


CELLS = sorted((DATA.parent.parent / "docs" / "results").glob("*/cells/*/*/*/cell.json"))


@pytest.mark.parametrize("path", CELLS, ids=lambda p: "/".join(p.parts[-5:-1]))
def test_grid_cells_committed_in_docs_write_back_byte_for_byte(path):
    from spiketime.parity.experiment import CellResult

    text = path.read_text()
    cell = CellResult.from_dict(json.loads(text))
    assert json.dumps(cell.to_dict(), indent=1) + "\n" == text
    assert cell.conditions and cell.deployed("original") == cell.conditions[0].deployed
