"""Verdicts that cannot mislead: PASSED needs evidence, not only agreement.

Two networks that never fire agree perfectly, and a paired test on 32 samples
cannot see a 1-point difference. So a verdict has three values:

- **FAILED** (exit 1): there is evidence of a difference: a spike differs where the
  simulators are bit-exact, or an interval lies wholly outside the tolerance. It
  stands whatever else is true: a mismatch is evidence even on a trivial network.
- **INCONCLUSIVE** (exit 3): nothing failed, but the evidence cannot carry a
  pass: either side is *degenerate* (`degenerate_reasons`), a reversal
  sensitivity is undefined because both accuracies sit at chance, or a
  statistical row had too few samples to resolve the tolerance (`resolution`).
  `--allow-degenerate` turns the degenerate cases (not the too-few-samples one)
  into warnings, for parity of a deliberately trivial network.
- **PASSED** (exit 0): everything else. Bad input exits 2 (`spiketime.cli`).

**The interval rule is an equivalence test** (two one-sided tests, read off the
paired `confidence` interval of deployed minus trained, tolerance +/-t):

- the interval lies inside [-t, +t] (a bound equal to t counts as inside): the
  two sides are equivalent within the tolerance: the row may pass;
- the interval lies wholly outside it (low > t, or high < -t): the difference is
  beyond the tolerance: the row fails;
- the interval straddles +t or -t: the samples cannot tell: the row is
  inconclusive, never failed, and says how many samples would decide it
  (`samples_to_decide`: the interval narrows as 1/sqrt(n), so n (h / g)^2, with h
  its half-width and g the distance of the observed difference from the tolerance,
  if the difference stays what it is; no number when it sits on the tolerance).

So too few samples never read as a difference (a 0.0-point difference with
interval [-2.5, +2.5] against a 1-point tolerance is INCONCLUSIVE, not FAILED).

**Chance interval** (defined once, used for degeneracy and for sensitivity): the
central `confidence` binomial interval of the accuracy that a predictor with no
information reaches on these n samples by always answering the majority class,
Binomial(n, majority rate) / n. An accuracy inside it is indistinguishable from
chance on this many samples.

**Resolution of a statistical row**: if the deployed side changed the decision
on a fraction d of samples, the chance that n samples show no change at all is
(1 - d)^n. The smallest d that shows up with probability `confidence` is
d_min = 1 - (1 - confidence)^(1/n): the smallest difference the test can detect.
When d_min exceeds the tolerance, a clean result on those samples says nothing
about the tolerance; `samples_needed` is the n that brings d_min within it (299
for 1 point at 95%). Rows judged by spike identity (the bit-exact simulators in
the default exact mode) do not need it: there every sample is compared spike by
spike.

`decide` composes the pieces; `assess` is what a grid calls on one model's
original-condition result (`parity.harness.ConditionResult`).
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from spiketime.parity.chance import (  # noqa: F401 (the chance rule, re-exported)
    UNDEFINED_AT_CHANCE,
    at_chance,
    chance_interval,
    sensitivity_at_chance,
)
from spiketime.parity.reports import (
    FAILED,
    INCONCLUSIVE,
    PASSED,
    Activity,
    Decision,
    Evidence,
    Resolution,
)

EXIT_CODES = {PASSED: 0, FAILED: 1, INCONCLUSIVE: 3}  # bad input: 2 (spiketime.cli)
NO_OUTPUT_MAX = 0.5  # more samples than this without an output spike: degenerate


# --- degeneracy ------------------------------------------------------------------------


def degenerate_reasons(side: str, accuracy: float, activity: Activity,
                       chance: tuple[float, float], classes: int) -> list[str]:
    """Why one side's results carry no evidence (empty when they do). `side` names it."""
    reasons = []
    if activity.no_output_fraction > NO_OUTPUT_MAX:
        reasons.append(f"{side}: no output spikes on {_pct(activity.no_output_fraction)} "
                       f"of {activity.samples} samples")
    if classes > 1 and activity.predicted_classes == 1:
        reasons.append(f"{side}: predicts one class for every sample")
    if at_chance(accuracy, chance):
        reasons.append(f"{side}: accuracy {_pct(accuracy)} is within the chance interval "
                       f"[{_pct(chance[0])}, {_pct(chance[1])}] for {activity.samples} samples")
    for layer in activity.layers[:-1]:
        what = _dead_layer(layer.silent_fraction, layer.saturated_fraction)
        if what:
            reasons.append(f"{side}: {layer.layer} is {what} ({layer.neurons} neurons, "
                           f"{layer.mean:.2g} spikes per neuron per sample)")
    return reasons


def _dead_layer(silent: float, saturated: float) -> str:
    if silent >= 1:
        return "silent: no neuron fires"
    if saturated >= 1:
        return "saturated: every neuron fires on nearly every step"
    if silent + saturated >= 1 - 1e-9:
        return (f"silent or saturated in every neuron: {_pct(silent)} silent, "
                f"{_pct(saturated)} saturated")
    return ""


class OriginalResult(Protocol):
    """What `assess` reads: a `parity.harness.ConditionResult` on the original samples,
    with activity measured (`run_grid(..., activity=...)`)."""

    labels: np.ndarray
    trained_pred: np.ndarray
    deployed_pred: np.ndarray
    trained_activity: Activity | None
    deployed_activity: Activity | None


def assess(result: OriginalResult, classes: int, confidence: float = 0.95) -> Evidence:
    """Both sides' degeneracy on one model's original-condition result."""
    if result.trained_activity is None or result.deployed_activity is None:
        raise ValueError("assess needs activity: run the grid with this condition in `activity`")
    chance = chance_interval(result.labels, confidence)
    reasons = []
    for side, pred, act in (("trained", result.trained_pred, result.trained_activity),
                            ("deployed", result.deployed_pred, result.deployed_activity)):
        acc = float((np.asarray(pred) == result.labels).mean()) if len(result.labels) else 0.0
        reasons += degenerate_reasons(side, acc, act, chance, classes)
    return Evidence(confidence=confidence, chance=chance, trained=result.trained_activity,
                    deployed=result.deployed_activity, degenerate=tuple(reasons))


# --- resolution ------------------------------------------------------------------------


def detectable_difference(samples: int, confidence: float = 0.95) -> float:
    """Smallest rate of changed decisions that n samples reveal with this confidence."""
    if samples < 1:
        return 1.0
    return 1 - (1 - confidence) ** (1 / samples)


def samples_needed(tolerance: float, confidence: float = 0.95) -> int | None:
    """Fewest samples whose detectable difference is within the tolerance (a fraction);
    None when no number is enough (tolerance 0)."""
    if tolerance <= 0:
        return None
    if tolerance >= 1:
        return 1
    n = math.ceil(math.log(1 - confidence) / math.log(1 - tolerance))
    while detectable_difference(n, confidence) > tolerance + 1e-12:  # guard the rounding
        n += 1
    return max(n, 1)


EPS = 1e-12  # an interval bound equal to the tolerance counts as inside


def equivalence(low: float, high: float, tolerance: float) -> str:
    """The interval rule (the module docstring): "inside", "outside" or "straddles"."""
    if -tolerance - EPS <= low and high <= tolerance + EPS:
        return "inside"
    if low > tolerance + EPS or high < -tolerance - EPS:
        return "outside"
    return "straddles"


def samples_to_decide(samples: int, difference: float, low: float, high: float,
                      tolerance: float) -> int | None:
    """Samples that would move a straddling interval to one side of the tolerance, if the
    observed difference and its spread stay as they are (None: no number does)."""
    gap = abs(abs(difference) - tolerance)
    half = (high - low) / 2
    if gap <= EPS or samples < 1:
        return None
    return max(samples + 1, math.ceil(samples * (half / gap) ** 2))


def resolution(samples: int, tolerance: float, confidence: float, *, statistical: bool,
               rule_passed: bool, at_chance_: bool = False,
               interval: tuple[float, float, float] | None = None) -> Resolution:
    """One row's verdict: "fail" when its rule failed, or its `interval` (difference, low,
    high) lies wholly outside the tolerance; else "undefined at chance" (a sensitivity
    whose accuracies sit at chance; it holds the verdict back only when the row is
    statistical); else "inconclusive" when the interval straddles the tolerance, or a
    statistical row has too few samples to resolve it; else "pass"."""
    d = detectable_difference(samples, confidence)
    need = samples_needed(tolerance, confidence)
    side = "inside" if interval is None else equivalence(interval[1], interval[2], tolerance)
    if not rule_passed or side == "outside":
        return Resolution("fail", statistical, d, need)
    if at_chance_:
        return Resolution(UNDEFINED_AT_CHANCE, statistical, d, need,
                          "original and reversed accuracies both within the chance interval"
                          + ("" if statistical else "; every spike identical decides parity"))
    if side == "straddles":
        diff, low, high = interval
        decide = samples_to_decide(samples, diff, low, high, tolerance)
        return Resolution("inconclusive", statistical, d, decide,
                          f"the interval [{100 * low:+.1f}, {100 * high:+.1f}] pp straddles the "
                          f"+/-{100 * tolerance:g} pp tolerance on {samples} samples; "
                          + ("no number of samples decides it while the difference sits on "
                             "the tolerance" if decide is None else
                             f"about {decide} would decide it"))
    if statistical and d > tolerance + 1e-12:
        enough = "no finite number" if need is None else f"{need} would"
        return Resolution("inconclusive", statistical, d, need,
                          f"{samples} samples detect only {100 * d:.1f} pp, above the "
                          f"{100 * tolerance:g} pp tolerance; {enough}")
    return Resolution("pass", statistical, d, need)


# --- the verdict -----------------------------------------------------------------------


def decide(failed: Sequence[str] = (), unresolved: Sequence[str] = (),
           degenerate: Sequence[str] = (), *, allow_degenerate: bool = False) -> Decision:
    """FAILED when anything failed; else INCONCLUSIVE when a row could not resolve the
    tolerance or (unless allowed) the evidence is degenerate; else PASSED."""
    if failed:
        return Decision(FAILED, tuple(failed), tuple(unresolved) + tuple(degenerate),
                        allow_degenerate)
    blocking = list(unresolved) + ([] if allow_degenerate else list(degenerate))
    warnings = tuple(degenerate) if allow_degenerate else ()
    return Decision(INCONCLUSIVE if blocking else PASSED, tuple(blocking), warnings,
                    allow_degenerate)


def exit_code(decision: Decision) -> int:
    return EXIT_CODES[decision.verdict]


def describe(decision: Decision) -> list[str]:
    """Lines a command prints under its verdict (reasons, then warnings)."""
    head = {FAILED: "failed", INCONCLUSIVE: "inconclusive", PASSED: ""}[decision.verdict]
    lines = [f"  {head}: {r}" for r in decision.reasons] if head else []
    label = "note" if decision.verdict == FAILED else "warning (--allow-degenerate)"
    lines += [f"  {label}: {w}" for w in decision.warnings]
    return lines


def announce(decision: Decision, report_md: str | os.PathLike) -> int:
    """Print the verdict line and its reasons on stdout; return the exit code."""
    print(f"parity {decision.verdict}; report: {report_md}")
    for line in describe(decision):
        print(line)
    return exit_code(decision)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"
