"""`spiketime pipeline`'s settings: one `PipelineConfig` per job, holding the training
job's own `ModelConfig` and `TrainConfig` (spiketime.train.config), never copies of their
fields. No torch import: the CLI takes its defaults from here."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from spiketime.errors import UserError
from spiketime.parity.experiment import BUILTIN_CCISI
from spiketime.train.config import MODELS, ModelConfig, TrainConfig

HIDDEN = (32,)  # the pipeline's network: one hidden layer of 32


def pipeline_model(builtin: bool, **settings) -> ModelConfig:
    """The model both pipeline networks start from: ModelConfig's defaults with HIDDEN,
    the built-in task's own initial decays when it is the data (`builtin`), then
    `settings`. Inputs, outputs and delays are placeholders, set per network
    (`PipelineConfig.model_for`)."""
    task = BUILTIN_CCISI.neuron if builtin else {}
    return ModelConfig(inputs=0, outputs=0, **{"hidden": HIDDEN, **task, **settings})


@dataclass(frozen=True)
class PipelineConfig:
    out: Path
    data: Path | None = None  # a dataset file; None = the built-in task
    samples_per_class: int = 400  # built-in task only
    steps: int | None = None  # built-in task only
    model: ModelConfig | None = None  # None: pipeline_model(data is None, seed=train.seed)
    train: TrainConfig = field(default_factory=TrainConfig)  # train.seed seeds the whole job
    device: str = "cpu"
    backend: str = "emulator"  # runs every test sample
    confirm_lava: int = 32  # samples per condition rerun on Lava (0 = none)
    allow_degenerate: bool = False  # degenerate evidence warns instead of INCONCLUSIVE
    models: tuple[str, ...] = ("tau", "tau+delay")  # names in spiketime.train.config.MODELS

    def __post_init__(self) -> None:
        object.__setattr__(self, "models", tuple(self.models))
        unknown = [m for m in self.models if m not in MODELS]
        if unknown or not self.models or len(set(self.models)) < len(self.models):
            raise UserError(f"models must be distinct names from {', '.join(MODELS)}, got "
                            f"{','.join(self.models) or 'none'}")

    @property
    def seed(self) -> int:
        """The job's seed: the built-in task's data, training, the Lava subset."""
        return self.train.seed

    def model_for(self, inputs: int, outputs: int, **kind) -> ModelConfig:
        """One network's ModelConfig: the template with the data's sizes and the model
        kind's settings (MODELS[name]: delays, per-synapse delays)."""
        base = self.model if self.model is not None else pipeline_model(self.data is None,
                                                                         seed=self.seed)
        return replace(base, inputs=inputs, outputs=outputs, **kind)
