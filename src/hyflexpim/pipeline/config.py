"""RunConfig: everything `hyflexpim run` does, in one validated object (YAML or flags)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator

from hyflexpim.algo.concentrate import ConcentrationConfig
from hyflexpim.algo.decompose import DecomposeConfig
from hyflexpim.algo.finetune import FinetuneConfig
from hyflexpim.algo.importance import SCORERS
from hyflexpim.algo.plan_policy import PLAN_POLICIES
from hyflexpim.config import ConfigError, Strict
from hyflexpim.sim.config import HardwareConfig
from hyflexpim.sim.noise_aware import NoiseAwareConfig


class DataConfig(Strict):
    text_column: str = "text"
    label_column: str = "label"
    seed: int = Field(0, ge=0, lt=2**32, description="seed of the train/validation/test split")
    max_length: int = Field(64, ge=8, description="tokens per classification example")
    block_size: int = Field(128, ge=8, description="tokens per language-modelling block")
    batch_size: int = Field(32, ge=1)
    eval_batch_size: int = Field(64, ge=1)
    max_train: int | None = Field(None, ge=1,
                                  description="cap on training examples (default: the whole training split)")
    max_eval: int | None = Field(640, ge=1, description="cap on test examples")
    max_eval_tokens: int | None = Field(None, ge=1, description="cap on language-modelling test tokens")
    max_train_tokens: int | None = Field(None, ge=1, description="cap on language-modelling training tokens")


class ImportanceConfig(Strict):
    scorer: str = Field("grad_abs", description="a registered importance scorer (hyflexpim.algo.importance)")
    batches: int = Field(16, ge=1, description="window: batches averaged for |dL/dσ|")

    @field_validator("scorer")
    @classmethod
    def _scorer(cls, v: str) -> str:
        return SCORERS.check(v)


def slc_rates(v: list[float]) -> list[float]:
    """Sorted unique SLC rates, each a percentage in 0..100."""
    for r in v:
        if not 0 <= r <= 100:
            raise ValueError(f"SLC rate must be a percentage in 0..100, got {r}")
    return sorted(set(v))


class PlanConfig(Strict):
    policy: str = Field("uniform", description="a registered plan policy (hyflexpim.algo.plan_policy)")
    slc_rates: list[float] = Field(default_factory=lambda: [0, 5, 10, 20, 30, 50, 100])

    @field_validator("slc_rates")
    @classmethod
    def _rates(cls, v: list[float]) -> list[float]:
        if not v:
            raise ValueError("give at least one SLC rate")
        return slc_rates(v)

    @field_validator("policy")
    @classmethod
    def _policy(cls, v: str) -> str:
        return PLAN_POLICIES.check(v)


class CompareConfig(Strict):
    """Ablations written beside the main curve."""

    no_redistribution: bool = Field(True, description="SVD without fine-tuning, gradient selection, all rates")
    magnitude: bool = Field(True, description="no SVD, rows of W chosen by magnitude")
    singular_value_rates: list[float] | None = Field(
        None, description="rates at which σ-order selection is measured (null: the run's own two lowest SLC rates "
                          "between 0 and 100, so every point has a like-for-like gradient point; []: off)")
    magnitude_rates: list[float] | Literal["all"] | None = Field(
        None, description="rates for magnitude selection (null: the run's two lowest rates between 0 and 100; "
                          "all: every plan rate)")
    random_rates: list[float] | None = Field(
        None, description="rates at which a random choice of SLC components is measured (null: the run's two "
                          "lowest rates between 0 and 100; []: off)")
    policies: list[str] = Field(default_factory=list, description="other plan policies measured beside the run's "
                                "(e.g. [global, sensitivity]: the same total SLC weights, spent differently)")
    policy_rates: list[float] | None = Field(None, description="rates for compare.policies (null: the run's three "
                                                                "lowest rates between 0 and 100)")

    @field_validator("policies")
    @classmethod
    def _policies(cls, v: list[str]) -> list[str]:
        return [PLAN_POLICIES.check(x) for x in v]

    @field_validator("singular_value_rates", "random_rates", "policy_rates")
    @classmethod
    def _rates(cls, v: list[float] | None) -> list[float] | None:
        return slc_rates(v) if v else v

    @field_validator("magnitude_rates")
    @classmethod
    def _magnitude_rates(cls, v):
        return slc_rates(v) if isinstance(v, list) and v else v

    def rates(self, field: str, run_rates: list[float]) -> list[float]:
        """The rates an ablation is measured at: its own list, or (null) the run's lowest rates strictly between 0
        and 100 — two, three for the policies — so the comparison is like for like whatever ``--slc-rates`` says."""
        v = getattr(self, field)
        if v == "all":
            return list(run_rates)
        if v is not None:
            return list(v)
        inner = sorted(r for r in run_rates if 0 < r < 100)
        return inner[:3 if field == "policy_rates" else 2]


class AttentionAnalysisConfig(Strict):
    """The attention-analysis step of a run (hyflexpim.analysis), on a slice of the test split."""

    enabled: bool = Field(True, description="analyse attention at the end of the run")
    examples: int = Field(32, ge=1, description="test examples analysed")
    slc_rates: list[float] = Field(default_factory=lambda: [0, 10, 100],
                                   description="SLC rates whose PIM twins' attention is compared with the clean one")

    @field_validator("slc_rates")
    @classmethod
    def _rates(cls, v: list[float]) -> list[float]:
        return slc_rates(v)


class RunConfig(Strict):
    config_name = "config"
    model: str = "minilm"
    task: str = "rotten_tomatoes"
    task_kind: Literal["classification", "lm"] | None = None
    out: str = "runs/minilm-rotten_tomatoes"
    seed: int = Field(0, ge=0, lt=2**32, description="seed of fine-tuning order and initialisation")
    noise_seeds: list[Annotated[int, Field(ge=0, lt=2**32)]] = Field(default_factory=lambda: [0, 1, 2], min_length=1,
                                                                     max_length=1000)
    data: DataConfig = Field(default_factory=DataConfig)
    pre_finetune: FinetuneConfig | None = Field(
        default_factory=lambda: FinetuneConfig(**RUN_DEFAULTS["pre_finetune"]),
        description="fine-tune before SVD (needed to fit a classification head); null to skip")
    decompose: DecomposeConfig = Field(default_factory=DecomposeConfig)
    redistribute: FinetuneConfig = Field(default_factory=lambda: FinetuneConfig(**RUN_DEFAULTS["redistribute"]),
                                         description="fine-tuning after SVD: gradient redistribution")
    noise_aware: NoiseAwareConfig = Field(default_factory=NoiseAwareConfig,
                                          description="noise-aware redistribution: the fine-tune sees the hardware's "
                                                      "noise on the components the running plan puts in MLC")
    concentration: ConcentrationConfig = Field(default_factory=ConcentrationConfig,
                                               description="a regulariser in the redistribution loss that pushes "
                                                           "each matrix's Σ mass into its top components")
    importance: ImportanceConfig = Field(default_factory=ImportanceConfig)
    plan: PlanConfig = Field(default_factory=PlanConfig)
    hardware: HardwareConfig = Field(default_factory=HardwareConfig)
    compare: CompareConfig = Field(default_factory=CompareConfig)
    hw_report: bool = Field(True, description="add the chip model's throughput/energy to the report")
    attention: AttentionAnalysisConfig = Field(default_factory=AttentionAnalysisConfig)
    def check_files(self, where: str = "config") -> None:
        """The files the configuration names exist (validation reads none: ``resolve_config`` calls this)."""
        a = self.hardware.attention
        if getattr(a, "codebooks", None) is not None and not Path(a.codebooks).is_file():
            raise ConfigError(where, ("hardware",), f"hardware.attention.codebooks: no such file {a.codebooks} "
                              "(leave it unset and the run fits codebooks itself)")
        if getattr(a, "profile", None) is not None and not Path(a.profile).is_file():
            raise ConfigError(where, ("hardware",), f"hardware.attention.profile: no such file {a.profile} (an "
                              "attention analysis writes attention/sparsity_profile.json)")

    # -- the authors' released code's choices beside this toolkit's (issue 30): mode and a named option ---------
    mode: Literal["default", "authors"] = Field(
        "default", description="authors: the HyFlexPIM authors' released code's choices (importance from the last "
                               "batch only, their SLC rates 0/5/10/30/40/50/100 %) under whatever the config sets")
    exclude_up_proj: bool = Field(
        False, description="keep every up_proj digital (noise-free), as the authors' Llama noise pass does: a third "
                           "of a gated FFN's weights then see no MLC noise, which flatters accuracy at low SLC rates")
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32", description="weights and fine-tuning precision on a GPU (bf16/fp16); on a CPU only fp32 runs. The "
                            "PIM twin's evaluation stays exact INT8 either way")

    label: str = Field("", pattern=r"^[A-Za-z0-9_.-]*$",
                       description="suffix of this run's result files, to keep several hardware variants "
                                   "side by side in one run folder (models and plans are shared)")



# Defaults of the run that differ from the step classes' own: merged under every configuration before
# validation, so that ``--set redistribute.max_steps=null`` changes only what it names.
# The schedule (docs/accuracy.md §11): the FP32 model sees the whole training split once (capped at 400 steps,
# 12,800 snippets, for larger data sets), within 0.5 point of two epochs; the redistribution, which starts from a
# trained model, sees 4,000 snippets (125 steps). The whole default run fits 15 minutes on 2 CPU cores.
RUN_DEFAULTS = {
    "pre_finetune": {"epochs": 1, "lr": 2e-4, "max_steps": 400},
    "redistribute": {"epochs": 1, "lr": 1e-4, "max_steps": 125},
}

# ``mode: authors`` — the choices of the authors' released code, merged under the user's own settings
# (their training settings per model are in recipes/*.yaml).
AUTHORS_DEFAULTS = {
    "importance": {"scorer": "grad_last"},
    "plan": {"slc_rates": [0, 5, 10, 30, 40, 50, 100]},
}
UP_PROJ_PATTERN = r"(^|\.)up_proj$"

# Jets (``--model part`` or ``--task jets``): the packaged ParT is already trained on the sample's training split,
# so there is no pre-fine-tune; every test jet is evaluated.
JETS_DEFAULTS = {
    "model": "part",
    "task": "jets",
    "out": "runs/part-jets",
    "pre_finetune": None,
    "data": {"batch_size": 64, "eval_batch_size": 256, "max_train": None, "max_eval": None},
    "redistribute": {"epochs": 2, "lr": 5e-4, "max_steps": None},
    "importance": {"batches": 8},
}

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
    "compare": {"no_redistribution": False, "magnitude": True},
}
