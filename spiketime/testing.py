"""Parity as a test assertion, for a user's pytest: `assert_parity(model=, netx=, data=)`.

    from spiketime.testing import assert_parity

    def test_deployment_matches_training():
        assert_parity(model="runs/x/model.pt", netx="runs/x/model.net", data="data.h5",
                      backends=["emulator"])

It runs `spiketime.compare` and raises `AssertionError` unless the verdict is PASSED,
naming what differed: the verdict's reasons, then the rows that failed with their
accuracies, interval and share of spike-exact samples. INCONCLUSIVE (a degenerate
network, too few samples to resolve the tolerance) fails too: it is no evidence of
parity. Bad input raises `spiketime.errors.UserError`, as every API function does.
"""
from __future__ import annotations

import os
from typing import Any

from spiketime.api import compare
from spiketime.parity.compare_job import ComparisonReport

SHOWN_ROWS = 10  # failed rows named in the message, at most


def assert_parity(model: Any = None, netx: str | os.PathLike | None = None,
                  data: str | os.PathLike | None = None, *, tolerance_pp: float = 1.0,
                  **options: Any) -> ComparisonReport:
    """Compare `model` (a checkpoint path, a network in memory or a NIR graph) with its
    deployment `netx` on `data` (`spiketime.compare`'s options otherwise); raise
    AssertionError unless parity PASSED. Returns the report, to save or inspect."""
    report = compare(model, netx, data, tolerance_pp=tolerance_pp, **options)
    if not report.passed:
        raise AssertionError(failure_message(report))
    return report


def failure_message(report: ComparisonReport) -> str:
    """The verdict, its reasons and the failed rows, one per line."""
    lines = [f"parity {report.verdict} (tolerance +/-{report.config.tolerance_pp:g} pp)"]
    lines += [f"  {reason}" for reason in report.reasons]
    failed = [r for r in report.rows if r.verdict == "fail"]
    for r in failed[:SHOWN_ROWS]:
        lines.append(f"  {r.model}/{r.label}/{r.backend}: trained {100 * r.trained_accuracy:.1f}%"
                     f", deployed {100 * r.deployed_accuracy:.1f}%, difference interval "
                     f"[{100 * r.ci[0]:+.1f}, {100 * r.ci[1]:+.1f}] pp, spike-exact on "
                     f"{100 * r.spike_exact_fraction:.0f}% of {r.samples} samples")
    if len(failed) > SHOWN_ROWS:
        lines.append(f"  ... and {len(failed) - SHOWN_ROWS} more failed rows")
    return "\n".join(lines)
