"""Synthetic ISI / CCISI / coincidence generators: parameters, determinism, defining properties."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from spiketime.data.synthetic import TASKS, VARIANTS, generate
from spiketime.errors import UserError

SMALL = {"isi": dict(steps=200, interval_range=(1, 60)),
         "ccisi": dict(steps=200, interval_range=(1, 60)),
         "coincidence": dict(steps=400)}


def _all(ds):
    return (np.concatenate([ds.train.X, ds.test.X]), np.concatenate([ds.train.y, ds.test.y]))


@pytest.mark.parametrize("task, variant", itertools.product(TASKS, VARIANTS))
def test_shapes_balance_and_stored_parameters(task, variant):
    ds = generate(task, variant, seed=1, n_per_class=20, test_fraction=0.25, **SMALL[task])
    k = 3 if task == "coincidence" else 2
    assert ds.n_classes == k and ds.meta.task == task and ds.meta.variant == variant
    assert np.bincount(ds.train.y).tolist() == [15] * k
    assert np.bincount(ds.test.y).tolist() == [5] * k
    assert ds.channels == {"isi": 10, "ccisi": 20, "coincidence": 60}[task]
    assert ds.steps == SMALL[task]["steps"]
    p = ds.meta.params
    assert p["n_per_class"] == 20 and p["seed"] == 1 and p["steps"] == ds.steps
    assert p["channels"] == ds.channels and p["dt_ms"] == ds.meta.dt_ms == 1.0
    assert p["test_fraction"] == 0.25
    if task == "coincidence":
        assert p["lam"] == (1.0 if variant == "ratefree" else 0.0)
    else:
        assert p["interval_range"] == [1, 60] and p["rate_range"] == [0.1, 3.0]
        assert p["margin"] == 0.1


@pytest.mark.parametrize("task", TASKS)
def test_deterministic_for_a_seed(task):
    a = generate(task, seed=7, n_per_class=10, **SMALL[task])
    b = generate(task, seed=7, n_per_class=10, **SMALL[task])
    c = generate(task, seed=8, n_per_class=10, **SMALL[task])
    for name in ("train", "test"):
        np.testing.assert_array_equal(getattr(a, name).X, getattr(b, name).X)
        np.testing.assert_array_equal(getattr(a, name).y, getattr(b, name).y)
    assert not np.array_equal(a.train.X, c.train.X)


@pytest.mark.parametrize("call, words", [
    (lambda: generate("isx"), "unknown task 'isx'"),
    (lambda: generate("isi", "easy"), "unknown variant 'easy'"),
    (lambda: generate("isi", n_pairs=3), "unknown isi parameter 'n_pairs'"),
    (lambda: generate("coincidence", interval_range=(1, 5)), "unknown coincidence parameter"),
    (lambda: generate("isi", lam=0.5), "only to the coincidence"),
    (lambda: generate("coincidence", "ratefree", lam=0.5), "lambda = 1"),
    (lambda: generate("coincidence", lam=1.5), r"\[0, 1\]"),
    (lambda: generate("isi", steps=100), "steps - 1 = 99"),
    (lambda: generate("isi", margin=0.5), "margin"),
    (lambda: generate("ccisi", rate_range=(3.0, 1.0)), "rate_range"),
    (lambda: generate("isi", n_per_class=1), "n_per_class"),
    (lambda: generate("isi", test_fraction=1.0), "test_fraction"),
    (lambda: generate("coincidence", steps=300), "multiple of window"),
    (lambda: generate("coincidence", on_counts=(30.0, 5.0)), "slots"),
    (lambda: generate("isi", channels="ten"), "channels"),
])
def test_bad_parameters_are_one_line_user_errors(call, words):
    with pytest.raises(UserError, match=words) as info:
        call()
    assert "\n" not in str(info.value)


def _intervals_isi(X):
    """Per sample, the interval of a one-event-per-channel ISI sample (all channels agree)."""
    n, c, _ = X.shape
    idx = np.nonzero(X)
    t = idx[2].reshape(n, c, 2)
    d = t[..., 1] - t[..., 0]
    assert (d == d[:, :1]).all()
    return d[:, 0]


def test_isi_ratefree_counts_identical_and_intervals_split_by_class():
    ds = generate("isi", "ratefree", seed=3, n_per_class=60, steps=300,
                  interval_range=(5, 85), rate_range=(3.0, 3.0), margin=0.1)
    X, y = _all(ds)
    assert ds.meta.params["events_per_channel"] == 1
    assert (X.sum(axis=2) == 2).all()  # one pair per channel, in every sample of every class
    d = _intervals_isi(X)
    # u = 0.5: "below" needs v <= 0.4, "above" needs v >= 0.6, with v = (d - 5) / 80
    assert d[y == 0].max() <= 5 + 0.4 * 80 and d[y == 0].min() >= 5
    assert d[y == 1].min() >= 5 + 0.6 * 80 and d[y == 1].max() <= 85


def test_isi_ratefree_counts_identical_with_several_events():
    ds = generate("isi", "ratefree", seed=4, n_per_class=40, steps=1000)
    X, _ = _all(ds)
    k = ds.meta.params["events_per_channel"]
    assert k == 2  # round(1.55 Hz * 1 s)
    assert (X.sum(axis=2) == 2 * k).all()  # no two spikes of a channel ever merged


def test_ccisi_follower_fires_interval_after_leader():
    ds = generate("ccisi", "standard", seed=5, n_per_class=50, steps=400,
                  interval_range=(2, 40), rate_range=(5.0, 5.0), n_pairs=4)
    X, y = _all(ds)
    assert X.shape[1] == 8
    for sample, label in zip(X, y):
        shifts = set()
        for j in range(4):
            lead = np.flatnonzero(sample[2 * j])
            follow = np.flatnonzero(sample[2 * j + 1])
            assert len(lead) == len(follow)
            if len(lead):
                shifts.add(int(follow[0] - lead[0]))
                np.testing.assert_array_equal(follow - lead, follow[0] - lead[0])
        assert len(shifts) <= 1  # one interval per sample
        if shifts:  # fixed rate: u = 0.5, v = (d - 2) / 38, margin 0.1
            v = (shifts.pop() - 2) / 38
            assert (v <= 0.4) if label == 0 else (v >= 0.6)


def test_ccisi_ratefree_identical_counts_and_small_task_knobs():
    ds = generate("ccisi", "ratefree", seed=0, n_per_class=30, steps=100, n_pairs=3,
                  interval_range=(2, 30), rate_range=(20.0, 40.0), margin=0.15)
    X, _ = _all(ds)
    assert X.shape[1:] == (6, 100)
    assert ds.meta.params["events_per_channel"] == 3  # round(30 Hz * 0.1 s)
    assert (X.sum(axis=2) == 3).all()


def test_isi_standard_rate_rises_with_class():
    """The line u + v = 1: the 'above' class sits at higher rates on average."""
    ds = generate("isi", seed=2, n_per_class=300, steps=1000)
    X, y = _all(ds)
    counts = X.sum(axis=(1, 2))
    assert counts[y == 1].mean() > 1.5 * counts[y == 0].mean()


def _coincidence_score(X, groups=3, size=20):
    """Co-firing of each group pair: sum over steps of the product of the two group sums."""
    g = X.reshape(X.shape[0], groups, size, -1).sum(axis=2).astype(np.int64)
    pairs = list(itertools.combinations(range(groups), 2))
    return np.stack([(g[:, a] * g[:, b]).sum(axis=1) for a, b in pairs], axis=1)


@pytest.mark.parametrize("variant, lam", [("standard", 0.0), ("standard", 0.5), ("ratefree", None)])
def test_coincidence_class_is_the_co_firing_pair(variant, lam):
    ds = generate("coincidence", variant, lam=lam, seed=6, n_per_class=40, steps=400)
    X, y = _all(ds)
    assert (_coincidence_score(X).argmax(axis=1) == y).mean() > 0.95


def test_coincidence_spikes_stay_in_active_steps_and_slots():
    ds = generate("coincidence", seed=1, n_per_class=20, steps=400)
    X, y = _all(ds)
    per_window = X.reshape(*X.shape[:2], 2, 200)
    assert per_window[..., :50].sum() == 0 and per_window[..., 150:].sum() == 0
    # the two on groups share one slot set per window: at most 20 distinct steps
    for sample, label in zip(per_window, y):
        a, b = list(itertools.combinations(range(3), 2))[label]
        on = np.concatenate([sample[20 * a:20 * a + 20], sample[20 * b:20 * b + 20]])
        assert (on.any(axis=0).sum(axis=-1) <= 20).all()


def test_coincidence_lambda_moves_on_and_off_means():
    def means(ds):
        X, y = _all(ds)
        counts = X.reshape(len(y), 3, 20, -1).sum(axis=(2, 3)) / 20  # per channel per window
        pairs = np.array(list(itertools.combinations(range(3), 2)))[y]
        on = np.zeros((len(y), 3), bool)
        on[np.arange(len(y))[:, None], pairs] = True
        return counts[on].mean(), counts[~on].mean()

    on0, off0 = means(generate("coincidence", lam=0.0, seed=2, n_per_class=100))
    on1, off1 = means(generate("coincidence", "ratefree", seed=2, n_per_class=100))
    assert abs(on0 - 12) < 0.5 and abs(off0 - 2) < 0.3
    assert abs(on1 - 5) < 0.4 and abs(off1 - 5) < 0.4


def test_split_keeps_requested_fraction():
    ds = generate("isi", seed=0, n_per_class=40, test_fraction=0.1, steps=200,
                  interval_range=(1, 50))
    assert np.bincount(ds.test.y).tolist() == [4, 4]
    assert np.bincount(ds.train.y).tolist() == [36, 36]


def _one_event_ccisi(circular: bool):
    ds = generate("ccisi", "ratefree", seed=3, n_per_class=200, steps=100, n_pairs=4,
                  interval_range=(16, 40), rate_range=(10.0, 10.0), margin=0.1, circular=circular)
    X, y = _all(ds)
    lead = X[:, 0::2].argmax(axis=2)  # one event per channel: its step
    follow = X[:, 1::2].argmax(axis=2)
    return X, y, lead, follow


def test_ccisi_circular_keeps_the_interval_modulo_T_and_wraps_some_events():
    X, y, lead, follow = _one_event_ccisi(circular=True)
    assert (X.sum(axis=2) == 1).all()
    d = (follow - lead) % 100
    assert ((d <= 25) == (y[:, None] == 0)).all() and ((d >= 31) == (y[:, None] == 1)).all()
    assert (follow < lead).any()  # some events wrap around the window's end


def test_ccisi_circular_removes_the_position_cue():
    """Windowed placement: the leader never fires in the last d steps, so its position
    alone tells the class; circular placement spreads it over the whole window."""
    _, y, lead, _ = _one_event_ccisi(circular=False)
    assert lead[y == 1].max() < 100 - 31 <= lead[y == 0].max()
    _, y, lead, _ = _one_event_ccisi(circular=True)
    for cls in (0, 1):
        assert lead[y == cls].max() >= 95 and lead[y == cls].min() <= 4
        assert abs(lead[y == cls].mean() - 49.5) < 4
