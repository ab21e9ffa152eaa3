"""The non-spiking reference (`spiketime.data.reference`): it learns what the data holds,
nothing where the labels are independent of the input, and the same seed gives the same
result; bad budgets are one line through the real CLI."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from support import assert_one_line_error, call, spiketime

from spiketime.data.audit import shortcut_audit
from spiketime.data.dataset import Dataset, DatasetMeta, Split, save_dataset
from spiketime.data.reference import ReferenceConfig, ReferenceResult, grouped, train_reference
from spiketime.data.sources import ArraySource
from spiketime.errors import UserError

SMALL = ReferenceConfig(epochs=12, hidden=16, group=2, batch_size=16, lr=0.01)


def _order_task(n: int = 160, seed: int = 0, shuffle_labels: bool = False) -> Dataset:
    """Two classes with the same counts on every channel: channel 0 fires before channel 2
    (class 0) or after it (class 1), at a random step; one noise spike on channel 3.
    With `shuffle_labels` the labels are drawn independently of the spikes."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2).astype(np.int64)
    X = np.zeros((n, 4, 24), np.uint8)
    early, late = rng.integers(0, 8, n), rng.integers(12, 24, n)
    X[np.arange(n), np.where(y == 0, 0, 2), early] = 1
    X[np.arange(n), np.where(y == 0, 2, 0), late] = 1
    X[np.arange(n), 3, rng.integers(0, 24, n)] = 1
    if shuffle_labels:
        y = rng.permutation(y)
    meta = DatasetMeta(task="order", variant="x", dt_ms=1.0, class_names=["a", "b"],
                       seed=seed, params={})
    return Dataset(train=Split(X[::2], y[::2]), test=Split(X[1::2], y[1::2]), meta=meta)


def _run(ds: Dataset, seed: int = 0, config: ReferenceConfig = SMALL) -> ReferenceResult:
    return train_reference(ArraySource(ds.train.X, ds.train.y),
                           ArraySource(ds.test.X, ds.test.y), ds.n_classes, seed=seed,
                           config=config)


def test_channels_are_summed_in_groups_and_scaled():
    X = np.zeros((1, 5, 3), np.uint8)
    X[0, 0, 0] = X[0, 1, 0] = X[0, 1, 2] = X[0, 4, 1] = 1
    got = grouped(X, 2)  # groups {0, 1}, {2, 3}, {4} (padded)
    assert got.shape == (1, 3, 3) and got.dtype == np.float32
    np.testing.assert_array_equal(got[0], [[1.0, 0.0, 0.0], [0.0, 0.0, 0.5], [0.5, 0.0, 0.0]])
    np.testing.assert_array_equal(grouped(X, 1)[0], X[0].T)


def test_it_learns_an_order_code_that_counts_do_not_carry():
    r = _run(_order_task())
    assert r.chance == 0.5 and r.test_samples == 80 and r.train_samples == 80
    assert r.accuracy >= 0.9, r


def test_it_stays_near_chance_when_labels_are_independent_of_the_input():
    r = _run(_order_task(shuffle_labels=True))
    # 80 test samples: 0.5 +/- 0.056 is one standard deviation of a guess
    assert abs(r.accuracy - 0.5) < 0.17, r


def test_the_same_seed_gives_the_same_result_and_another_seed_another():
    ds = _order_task(n=64)
    config = ReferenceConfig(epochs=3, hidden=8, group=2, batch_size=16)
    a, b, c = _run(ds, 3, config), _run(ds, 3, config), _run(ds, 4, config)
    assert a.seconds >= 0 and b.seconds >= 0
    assert replace(a, seconds=0) == replace(b, seconds=0)
    assert c.final_loss != a.final_loss


def test_the_audit_adds_it_only_when_asked():
    ds = _order_task(n=64)
    config = ReferenceConfig(epochs=2, hidden=8)
    assert shortcut_audit(ds, folds=2).reference is None
    r = shortcut_audit(ds, folds=2, reference=config).reference
    assert (r.model, r.epochs, r.hidden, r.group, r.inputs) == ("gru", 2, 8, 5, 1)
    assert r.trained_at(config) and not r.trained_at(replace(config, hidden=9))


@pytest.mark.parametrize("field,value", [("epochs", 0), ("hidden", -1), ("group", 0),
                                         ("batch_size", 2.5), ("lr", 0.0), ("epochs", True)])
def test_bad_budgets_are_refused(field, value):
    with pytest.raises(UserError, match=f"reference {field} must"):
        ReferenceConfig(**{field: value})


@pytest.fixture(scope="module")
def order_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref") / "order.h5"
    save_dataset(_order_task(n=64), path)
    return path


def test_the_audit_command_prints_it_and_json_holds_it(order_file, capsys):
    small = ("--reference-epochs", "2", "--reference-hidden", "8", "--reference-group", "2")
    table = call(capsys, "data", "audit", order_file, "--folds", "2", *small)
    assert table.returncode == 0, table.stderr
    line = next(s for s in table.stdout.splitlines() if s.startswith("reference accuracy"))
    assert "GRU, 8 units on 2 inputs of 2 channels, 2 epochs, trained in" in line
    proc = call(capsys, "data", "audit", order_file, "--folds", "2", "--json", *small)
    r = json.loads(proc.stdout)["reference"]
    assert (r["epochs"], r["hidden"], r["group"], r["test_samples"]) == (2, 8, 2, 32)
    skipped = call(capsys, "data", "audit", order_file, "--folds", "2", "--json",
                   "--no-reference")
    assert "reference" not in json.loads(skipped.stdout)
    assert "reference" not in call(capsys, "data", "audit", order_file, "--folds", "2",
                                   "--no-reference").stdout


@pytest.mark.parametrize("option,value", [("--reference-epochs", "0"),
                                          ("--reference-hidden", "-3"),
                                          ("--reference-group", "0")])
def test_bad_reference_options_are_one_line(order_file, capsys, option, value):
    assert_one_line_error(call(capsys, "data", "audit", order_file, option, value),
                          option.removeprefix("--").replace("-", " "), value)


def test_a_bad_reference_option_is_one_line_from_the_real_entry_point(order_file):
    proc = spiketime("data", "audit", order_file, "--reference-epochs", "-1", "--json")
    assert_one_line_error(proc, "reference epochs must be an integer >= 1, got -1")
    assert proc.stdout == ""
