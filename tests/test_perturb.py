"""Perturbations: inline examples plus hypothesis properties over random spike batches."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from spiketime.data.dataset import DatasetError
from spiketime.data.perturb import (
    PERTURBATIONS,
    delete_spikes,
    jitter_neurons,
    jitter_spikes,
    randomize_timing,
    reverse,
)

batches = st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(1, 30)).flatmap(
    lambda s: arrays(np.uint8, s, elements=st.integers(0, 1)))
seeds = st.integers(0, 2**32 - 1)
sigmas = st.floats(0.0, 20.0)
FAST = settings(max_examples=60, deadline=None)


def _intervals(train: np.ndarray) -> np.ndarray:
    return np.diff(np.flatnonzero(train))


def test_reverse_mirrors_the_active_window_only():
    X = np.zeros((1, 2, 10), np.uint8)
    X[0, 0, [2, 3]] = 1
    X[0, 1, 7] = 1  # window [2, 7]: t -> 9 - t
    out = reverse(X)
    assert np.flatnonzero(out[0, 0]).tolist() == [6, 7]
    assert np.flatnonzero(out[0, 1]).tolist() == [2]


@FAST
@given(batches)
def test_reverse_twice_is_identity_and_keeps_the_window(X):
    once = reverse(X)
    np.testing.assert_array_equal(reverse(once), X)
    np.testing.assert_array_equal(once.sum(axis=2), X.sum(axis=2))
    active, active_r = X.any(axis=1), once.any(axis=1)
    for a, b in zip(active, active_r):
        assert np.flatnonzero(a)[[0, -1]].tolist() == np.flatnonzero(b)[[0, -1]].tolist() \
            if a.any() else not b.any()


@FAST
@given(batches, sigmas, seeds)
def test_jitter_keeps_every_channel_count(X, sigma, seed):
    before = X.copy()
    out = jitter_spikes(X, sigma, seed)
    np.testing.assert_array_equal(X, before)  # input untouched
    assert out.dtype == np.uint8 and out.shape == X.shape and out.max(initial=0) <= 1
    np.testing.assert_array_equal(out.sum(axis=2), X.sum(axis=2))


def test_jitter_reflects_at_edges_and_moves_collisions_to_the_nearest_free_step():
    X = np.zeros((1, 1, 8), np.uint8)
    X[0, 0, [0, 1, 2, 3, 4, 5, 6]] = 1  # 7 of 8 steps: collisions are certain
    out = jitter_spikes(X, 3.0, seed=0)
    assert out.sum() == 7
    full = np.ones((1, 1, 5), np.uint8)
    np.testing.assert_array_equal(jitter_spikes(full, 10.0, seed=1), full)


def test_jitter_with_zero_sigma_is_identity_and_is_seeded():
    X = (np.random.default_rng(0).random((3, 4, 50)) < 0.2).astype(np.uint8)
    np.testing.assert_array_equal(jitter_spikes(X, 0.0, 1), X)
    np.testing.assert_array_equal(jitter_spikes(X, 2.0, 5), jitter_spikes(X, 2.0, 5))
    assert not np.array_equal(jitter_spikes(X, 2.0, 5), jitter_spikes(X, 2.0, 6))
    moved = np.abs(np.flatnonzero(jitter_spikes(X, 2.0, 5)) - np.flatnonzero(X))
    assert 0 < moved.mean() < 5


@FAST
@given(batches, sigmas, seeds)
def test_neuron_jitter_keeps_counts_and_intervals(X, sigma, seed):
    out = jitter_neurons(X, sigma, seed)
    np.testing.assert_array_equal(out.sum(axis=2), X.sum(axis=2))
    for a, b in zip(X.reshape(-1, X.shape[2]), out.reshape(-1, X.shape[2])):
        np.testing.assert_array_equal(_intervals(a), _intervals(b))


def test_neuron_jitter_shifts_a_channel_rigidly_and_clips_at_edges():
    X = np.zeros((1, 2, 20), np.uint8)
    X[0, 0, [3, 5, 9]] = 1
    X[0, 1, [0, 19]] = 1  # spans the whole window: cannot move
    out = jitter_neurons(X, 50.0, seed=3)
    first = np.flatnonzero(out[0, 0])
    assert (first - first[0]).tolist() == [0, 2, 6] and 0 <= first[0] <= 13
    np.testing.assert_array_equal(out[0, 1], X[0, 1])


@FAST
@given(batches, st.floats(0.0, 1.0), seeds)
def test_deletion_is_a_subset(X, p, seed):
    out = delete_spikes(X, p, seed)
    assert ((out == 1) <= (X == 1)).all()


def test_deletion_removes_about_the_right_fraction():
    X = (np.random.default_rng(1).random((20, 10, 100)) < 0.3).astype(np.uint8)
    n = int(X.sum())
    for p in (0.0, 0.2, 0.7, 1.0):
        kept = int(delete_spikes(X, p, seed=2).sum())
        assert abs((n - kept) / n - p) < 4 * np.sqrt(p * (1 - p) / n) + 1e-12


def test_registry_has_a_uniform_signature():
    X = (np.random.default_rng(2).random((2, 3, 40)) < 0.3).astype(np.uint8)
    assert set(PERTURBATIONS) == {"jitter", "neuron_jitter", "deletion", "timing"}
    for fn in PERTURBATIONS.values():
        out = fn(X, 0.5, 1)
        assert out.shape == X.shape and out.dtype == np.uint8
    with pytest.raises(TypeError):
        PERTURBATIONS["x"] = reverse  # read-only


@pytest.mark.parametrize("bad", [np.zeros((3, 4), np.uint8), np.zeros((1, 2, 3), np.float32),
                                 np.full((1, 2, 3), 2, np.uint8)])
def test_bad_batches_are_refused(bad):
    with pytest.raises(DatasetError):
        reverse(bad)
    with pytest.raises(DatasetError, match="sigma"):
        jitter_spikes(np.zeros((1, 1, 3), np.uint8), -1.0, 0)
    with pytest.raises(DatasetError, match="p must be"):
        delete_spikes(np.zeros((1, 1, 3), np.uint8), 1.5, 0)


def test_reflection_folds_steps_back_inside():
    from spiketime.data.perturb import _reflect

    got = _reflect(np.array([-1, -2, 0, 9, 10, 11, 20, -19]), 10)
    assert got.tolist() == [1, 2, 0, 9, 8, 7, 2, 1]
    assert _reflect(np.array([-3, 4]), 1).tolist() == [0, 0]


@FAST
@given(batches, st.floats(0.0, 1.0), seeds)
def test_timing_randomization_keeps_every_channel_count(X, f, seed):
    out = randomize_timing(X, f, seed)
    assert (out.sum(axis=2) == X.sum(axis=2)).all()
    assert (randomize_timing(X, f, seed) == out).all()  # seeded


def test_timing_randomization_moves_the_stated_fraction_and_zero_moves_nothing():
    X = np.zeros((200, 2, 1000), np.uint8)
    X[:, 0, 100:110] = 1  # ten spikes per channel, all in a 10-step burst
    X[:, 1, 500:510] = 1
    assert (randomize_timing(X, 0.0, 0) == X).all()
    for f in (0.3, 1.0):
        out = randomize_timing(X, f, seed=1)
        outside = (out & ~X).sum(axis=2)  # spikes now outside the original burst
        # round(f * 10) spikes move, each to a uniform empty step: nearly all land outside
        assert (outside <= round(f * 10)).all()
        assert outside.mean() > round(f * 10) * 0.97


def test_full_timing_randomization_leaves_only_counts():
    """At f = 1 spike positions are uniform whatever they were: a burst at the start and
    one at the end of the window become indistinguishable."""
    X = np.zeros((400, 1, 100), np.uint8)
    X[:200, 0, :5] = 1
    X[200:, 0, -5:] = 1
    out = randomize_timing(X, 1.0, seed=3)
    mean_step = (out * np.arange(100)).sum(axis=(1, 2)) / 5
    assert abs(mean_step[:200].mean() - mean_step[200:].mean()) < 3  # was 95 steps apart
    assert abs(mean_step.mean() - 49.5) < 2


def test_timing_fraction_outside_zero_one_is_refused():
    with pytest.raises(DatasetError, match="fraction"):
        randomize_timing(np.zeros((1, 1, 3), np.uint8), 1.5, 0)


def test_one_table_drives_the_sweep_the_labels_and_compares_options():
    from spiketime.cli import build_parser
    from spiketime.parity.render import _title
    from spiketime.parity.sweep import derive_seed, sweep_conditions

    X = (np.random.default_rng(3).random((2, 3, 40)) < 0.3).astype(np.uint8)
    defaults = build_parser().parse_args(["compare"])
    for p in PERTURBATIONS.values():
        assert getattr(defaults, p.name) == p.default_levels
        assert getattr(build_parser().parse_args(["compare", p.option, "0.5"]), p.name) == (0.5,)
        (cond,) = [c for c in sweep_conditions({p.name: (0.5,)}, 7) if c.name == p.name]
        assert cond.label == f"{p.name} {p.level}=0.5" and _title(p.name) == p.title
        assert np.array_equal(cond.transform(X), p.apply(X, 0.5, derive_seed(7, p.name, 0.5)))
    with pytest.raises(SystemExit):  # a level outside the entry's range: one error line
        build_parser().parse_args(["compare", "--deletion", "1.5"])
