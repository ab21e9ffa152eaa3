"""One epoch of training as a typed record: what `fit` returns per epoch, what history.json,
checkpoints and the resume state hold (as `to_dict()`, the keys they have always had)."""
from __future__ import annotations

from dataclasses import dataclass

from spiketime.records import Record, json_field


@dataclass(frozen=True)
class Epoch(Record):
    epoch: int  # 1-based
    loss: float  # mean per training sample, from the epoch's own forward passes
    accuracy: float
    silent_fraction: float  # training samples with no output spike
    predicted_classes: int  # distinct classes predicted over the epoch
    val_loss: float | None = json_field(default=None, omit_none=True)  # with a validation split
    val_accuracy: float | None = json_field(default=None, omit_none=True)
    best: bool = False  # the best epoch so far (`score`)

    @property
    def score(self) -> float:
        """What `best` means: validation accuracy, or the epoch's training accuracy when no
        validation split was held out."""
        return self.accuracy if self.val_accuracy is None else self.val_accuracy


def best_epoch(history: list[Epoch]) -> int:
    """The epoch marked best last (the last epoch when none is marked; 0 when empty)."""
    marked = [r.epoch for r in history if r.best]
    return marked[-1] if marked else (history[-1].epoch if history else 0)
