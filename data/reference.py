"""A non-spiking reference: how far a spiking network is from what the data allows.

A small recurrent network (one GRU layer and a linear read-out of its final state)
trained on the dataset's own train split and scored once, after its last epoch, on
the test split: the same split every spiking network here is trained and tested
on, so a results table can say "the SNN reaches x%, the data allows at least y%".
Nothing is chosen on the test split.

Input: the binned spike trains with `group` neighbouring channels summed into one
input (the last group may be narrower), divided by `group`, one GRU step per time
step. Training: Adam, cross-entropy, `epochs` passes over the train split in a
seeded order, `batch_size` samples made dense at a time (an events file is never
dense whole; a dense one is already in memory). The seed fixes the initial weights
and the order; the result is the same for the same seed on the same machine and
thread count. torch is imported here only, when a reference is trained.

Defaults (measured on the spoken-digit corpus, Whole, 100 bins of 14 ms, held-out
voices: 128 units on 5-channel groups reach about 90% in 30 epochs, a few minutes on
2 cores; docs/speech.md).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from spiketime.data.sources import Source
from spiketime.errors import UserError
from spiketime.progress import progress
from spiketime.records import Record

REFERENCE_MODEL = "gru"


@dataclass(frozen=True)
class ReferenceConfig:
    """The reference's budget; its defaults are the ones measured (module docstring)."""

    epochs: int = 30
    hidden: int = 128  # GRU units
    group: int = 5  # neighbouring channels summed into one input
    batch_size: int = 32
    lr: float = 2e-3

    def __post_init__(self) -> None:
        for name, least in (("epochs", 1), ("hidden", 1), ("group", 1), ("batch_size", 1)):
            value = getattr(self, name)
            if not (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
                    and value >= least):
                raise UserError(f"reference {name} must be an integer >= {least}, "
                                f"got {value!r}")
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr < 1):
            raise UserError(f"reference lr must lie in (0, 1), got {self.lr!r}")


def grouped(X: np.ndarray, group: int) -> np.ndarray:
    """Spikes uint8 [b, C, T] -> inputs float32 [b, T, ceil(C / group)]: each group of
    `group` neighbouring channels summed, divided by `group`."""
    b, c, t = X.shape
    pad = -c % group
    if pad:
        X = np.concatenate([X, np.zeros((b, pad, t), X.dtype)], axis=1)
    sums = X.reshape(b, -1, group, t).sum(axis=2, dtype=np.float32) / group
    return np.ascontiguousarray(sums.transpose(0, 2, 1))


@dataclass(frozen=True)
class ReferenceResult(Record):
    """What `train_reference` measured: the accuracy on the test split beside its chance
    (majority-class share), the budget it was trained at, the final epoch's mean training
    loss and the training time in seconds."""

    model: str
    accuracy: float
    train_accuracy: float
    chance: float
    final_loss: float
    epochs: int
    hidden: int
    group: int
    inputs: int  # channel groups the network reads
    batch_size: int
    lr: float
    seed: int
    train_samples: int
    test_samples: int
    seconds: float

    def trained_at(self, config: ReferenceConfig) -> bool:
        """Whether this result was trained at `config`'s budget."""
        return all(getattr(self, k) == v for k, v in asdict(config).items())

    def text(self) -> str:
        """One line: accuracy, chance, budget, time."""
        return (f"{self.accuracy:.3f} on the test split (chance {self.chance:.3f}; "
                f"{self.model.upper()}, {self.hidden} units on {self.inputs} inputs of "
                f"{self.group} channels, {self.epochs} epochs, trained in "
                f"{self.seconds:.0f} s)")


def train_reference(train: Source, test: Source, n_classes: int, *, seed: int = 0,
                    config: ReferenceConfig | None = None) -> ReferenceResult:
    """Train the reference (`config`, or the defaults) on `train`, score it on `test`."""
    import torch

    config = config or ReferenceConfig()
    if not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
        raise UserError(f"seed must be an integer >= 0, got {seed!r}")
    inputs = -(-train.channels // config.group)
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[]):  # seeded without touching the caller's state
        torch.manual_seed(int(seed))
        model = _Reference(inputs, config.hidden, n_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    order_rng = np.random.default_rng([int(seed), 0x6E5])
    y_train = np.asarray(train.labels, np.int64)
    model.train()
    for _ in progress(range(config.epochs), "reference"):
        total = 0.0
        for idx in _batches(order_rng.permutation(len(train)), config.batch_size):
            xb = torch.from_numpy(grouped(train.batch(idx), config.group))
            yb = torch.from_numpy(y_train[idx])
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
    seconds = time.perf_counter() - start
    train_acc = _accuracy(model, train, config)
    test_acc = _accuracy(model, test, config)
    per_class = np.bincount(np.asarray(test.labels, np.int64), minlength=n_classes)
    return ReferenceResult(
        model=REFERENCE_MODEL, accuracy=test_acc, train_accuracy=train_acc,
        chance=float(per_class.max() / per_class.sum()), final_loss=total / len(train),
        epochs=config.epochs, hidden=config.hidden, group=config.group, inputs=inputs,
        batch_size=config.batch_size, lr=config.lr, seed=int(seed),
        train_samples=len(train), test_samples=len(test), seconds=seconds)


def _batches(order: np.ndarray, size: int) -> list[np.ndarray]:
    return [order[i:i + size] for i in range(0, len(order), size)]


def _accuracy(model, src: Source, config: ReferenceConfig) -> float:
    import torch

    model.eval()
    correct = 0
    with torch.no_grad():
        for lo in range(0, len(src), 256):
            idx = np.arange(lo, min(lo + 256, len(src)))
            logits = model(torch.from_numpy(grouped(src.batch(idx), config.group)))
            correct += int((logits.argmax(1).numpy() == src.labels[idx]).sum())
    model.train()
    return correct / len(src)


def _Reference(inputs: int, hidden: int, classes: int):
    """GRU over time, linear read-out of its final hidden state."""
    import torch

    class Reference(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = torch.nn.GRU(inputs, hidden, batch_first=True)
            self.out = torch.nn.Linear(hidden, classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            _, h = self.gru(x)
            return self.out(h[-1])

    return Reference()
