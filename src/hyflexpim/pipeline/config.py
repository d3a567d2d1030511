"""RunConfig: everything `hyflexpim run` does, in one validated object (YAML or flags)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hyflexpim.algo.decompose import DecomposeConfig
from hyflexpim.algo.finetune import FinetuneConfig
from hyflexpim.sim.config import HardwareConfig


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(Strict):
    text_column: str = "text"
    label_column: str = "label"
    seed: int = Field(0, description="seed of the train/validation/test split")
    max_length: int = Field(64, ge=8, description="tokens per classification example")
    block_size: int = Field(128, ge=8, description="tokens per language-modelling block")
    batch_size: int = Field(32, ge=1)
    eval_batch_size: int = Field(64, ge=1)
    max_train: int | None = Field(2000, ge=1, description="cap on training examples (2 CPU cores: see README)")
    max_eval: int | None = Field(640, ge=1, description="cap on test examples")
    max_eval_tokens: int | None = Field(None, ge=1, description="cap on language-modelling test tokens")
    max_train_tokens: int | None = Field(None, ge=1, description="cap on language-modelling training tokens")


class ImportanceConfig(Strict):
    scorer: Literal["grad_abs", "grad_sq"] = "grad_abs"
    batches: int = Field(16, ge=1, description="window: batches averaged for |dL/dσ|")


class PlanConfig(Strict):
    policy: Literal["uniform", "global"] = "uniform"
    slc_rates: list[float] = Field(default_factory=lambda: [0, 5, 10, 20, 30, 50, 100])

    @field_validator("slc_rates")
    @classmethod
    def _rates(cls, v: list[float]) -> list[float]:
        for r in v:
            if not 0 <= r <= 100:
                raise ValueError(f"SLC rate must be a percentage in 0..100, got {r}")
        if not v:
            raise ValueError("give at least one SLC rate")
        return sorted(set(v))


class CompareConfig(Strict):
    """Ablations written beside the main curve."""

    no_redistribution: bool = Field(True, description="SVD without fine-tuning, gradient selection, all rates")
    magnitude: bool = Field(True, description="no SVD, rows of W chosen by magnitude")
    singular_value_rates: list[float] = Field(default_factory=lambda: [5, 10],
                                              description="rates at which σ-order selection is measured")
    magnitude_rates: list[float] | None = Field(default_factory=lambda: [5, 10],
                                                description="rates for magnitude selection (null: all plan rates)")


class RunConfig(Strict):
    model: str = "minilm"
    task: str = "rotten_tomatoes"
    task_kind: Literal["classification", "lm"] | None = None
    out: str = "runs/minilm-rotten_tomatoes"
    seed: int = Field(0, description="seed of fine-tuning order and initialisation")
    noise_seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    data: DataConfig = Field(default_factory=DataConfig)
    pre_finetune: FinetuneConfig | None = Field(
        default_factory=lambda: FinetuneConfig(epochs=1, lr=2e-4),
        description="fine-tune before SVD (needed to fit a classification head); null to skip")
    decompose: DecomposeConfig = Field(default_factory=DecomposeConfig)
    redistribute: FinetuneConfig = Field(default_factory=lambda: FinetuneConfig(epochs=1, lr=1e-4),
                                         description="fine-tuning after SVD: gradient redistribution")
    importance: ImportanceConfig = Field(default_factory=ImportanceConfig)
    plan: PlanConfig = Field(default_factory=PlanConfig)
    hardware: HardwareConfig = Field(default_factory=HardwareConfig)
    compare: CompareConfig = Field(default_factory=CompareConfig)
    hw_report: bool = Field(True, description="add the chip model's throughput/energy to the report")
    label: str = Field("", pattern=r"^[A-Za-z0-9_.-]*$",
                       description="suffix of this run's result files, to keep several hardware variants "
                                   "side by side in one run folder (models and plans are shared)")

    @model_validator(mode="after")
    def _fail_fast(self) -> "RunConfig":
        """Check what is otherwise only checked deep inside a step, before any work is done."""
        d = self.decompose
        v = d.rank_value
        if d.rank_policy == "fixed" and (v is None or v != int(v) or v < 1):
            raise ValueError(f"decompose.rank_value must be an integer rank >= 1 for rank_policy 'fixed', got {v}")
        if d.rank_policy in ("ratio", "energy") and (v is None or not 0 < v <= 1):
            raise ValueError(f"decompose.rank_value must be in (0, 1] for rank_policy '{d.rank_policy}', got {v}")
        from hyflexpim.sim.apply import build_noise

        build_noise(self.hardware)  # raises UserError naming the noise field
        return self


DECODER_DEFAULTS = {
    "model": "smollm2",
    "task": "wikipedia",
    "out": "runs/smollm2-wikipedia",
    "noise_seeds": [0, 1],
    "data": {"block_size": 128, "batch_size": 4, "eval_batch_size": 8, "max_eval_tokens": 4096,
             "max_train_tokens": 65536, "max_train": None, "max_eval": None},
    "pre_finetune": None,
    # Full rank: on SmolLM2 any truncation needs far more fine-tuning than a CPU budget gives
    # (scripts/decoder_rank_probe.py); the SVD is exact and the SLC/MLC split still applies.
    "decompose": {"rank_policy": "full"},
    "redistribute": {"epochs": 1, "lr": 2e-5, "max_steps": 24},
    "importance": {"batches": 8},
    "plan": {"slc_rates": [0, 10, 20, 100]},
    "compare": {"no_redistribution": False, "magnitude": True, "singular_value_rates": [10]},
}
