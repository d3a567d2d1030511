"""Plan schema: a plain, versioned JSON file that the algorithm writes and both the accuracy
simulator and the hardware model read. Imports nothing of ours but errors (no torch).

Format 2 adds the model's ``architecture`` (plan/architecture.py), an ``attention`` block (dense, or a
sparse-attention kind with its keep fraction and parameters) and ``notes``. SLC rates are
percentages (0..100) everywhere: ``policy.slc_rate`` is the share of units per matrix (uniform) or of
analog weights (global) that a policy placed in SLC. Format-1 plans load, migrated with a note.

A *component* i of a decomposed matrix W ≈ U Σ Vᵀ is column i of U plus row i of ΣVᵀ; it costs
(d_out + d_in) weights. A matrix placed without SVD (``unit == "row"``) uses output rows of W as
units instead; a row costs d_in weights.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hyflexpim.atomic import write_atomic
from hyflexpim.boundary import load_json
from hyflexpim.config import Registry, config_error, nearest
from hyflexpim.config.attention import SparseAttentionBase
from hyflexpim.config.methods import PredictorMethod, fill_from, predictor_methods
from hyflexpim.errors import UserError
from hyflexpim.plan.architecture import Architecture, infer_from_matrices

PLAN_FORMAT = 2

Role = Literal["q", "k", "v", "qkv", "o", "ffn_in", "ffn_gate", "ffn_out", "head", "other"]
ROLES = get_args(Role)
Unit = Literal["component", "row"]

# the sparse kinds a plan may carry: the predictor folders' registrations (``hyflexpim.config.methods``, strings
# only: every reader of a plan, the torch-free chip model too, checks the same names), at the first read
SPARSE_KINDS: Registry[PredictorMethod] = Registry("sparse attention kind (method folder)",
                                                   fill=fill_from(predictor_methods, lambda m: m))


def plan_attention_kinds() -> list[str]:
    """The attention kinds a plan may carry: ``dense``, or a sparse kind (keep share + predictor), ``SPARSE_KINDS``."""
    return ["dense", *SPARSE_KINDS.names()]


class MatrixPlan(BaseModel):
    """One weight matrix of the model and where its units live."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # "inf", "nan" strings refused too

    name: str = Field(description="module path, e.g. encoder.layer.0.attention.self.query")
    role: Role
    layer: int | None = Field(description="transformer layer index; None outside the layers")
    shape: tuple[int, int] = Field(description="[d_out, d_in] of the original matrix")
    analog: bool = Field(description="True if mapped to analog arrays, False if it stays digital")
    digital_reason: str | None = None
    unit: Unit = "component"
    rank: int | None = Field(default=None, description="k for unit=component; None when not decomposed")
    slc: list[int] = Field(default_factory=list, description="sorted unit indices placed in SLC")
    importance: list[float] | None = None
    scorer: str | None = None

    @model_validator(mode="after")
    def _check(self) -> MatrixPlan:
        d_out, d_in = self.shape
        if d_out <= 0 or d_in <= 0:
            raise ValueError(f"{self.name}: shape must be positive, got {list(self.shape)}")
        if not self.analog:
            if self.slc:
                raise ValueError(f"{self.name}: a digital matrix cannot list SLC units")
            return self
        if self.unit == "component" and (self.rank is None or not 1 <= self.rank <= min(d_out, d_in)):
            raise ValueError(f"{self.name}: rank must be in 1..{min(d_out, d_in)}, got {self.rank}")
        n = self.n_units
        if self.slc != sorted(set(self.slc)):
            raise ValueError(f"{self.name}: slc must be sorted unique indices")
        if self.slc and not (self.slc[0] >= 0 and self.slc[-1] < n):
            raise ValueError(f"{self.name}: slc indices must be in 0..{n - 1}")
        if self.importance is not None and len(self.importance) != n:
            raise ValueError(f"{self.name}: importance has {len(self.importance)} values, expected {n}")
        return self

    @property
    def n_units(self) -> int:
        if self.unit == "component":
            assert self.rank is not None  # the validator requires a rank of component units
            return self.rank
        return self.shape[0]

    @property
    def weights_per_unit(self) -> int:
        d_out, d_in = self.shape
        return d_out + d_in if self.unit == "component" else d_in

    @property
    def n_weights(self) -> int:
        """Weights stored on analog arrays (U and ΣVᵀ for a component plan)."""
        return self.n_units * self.weights_per_unit if self.analog else 0

    @property
    def n_slc_weights(self) -> int:
        return len(self.slc) * self.weights_per_unit

    @property
    def slc_fraction(self) -> float:
        return len(self.slc) / self.n_units if self.analog and self.n_units else 0.0


class AttentionPlan(BaseModel):
    """How attention runs: ``dense`` (every score), or a sparse kind (a method folder) that keeps a fraction
    ``keep`` of the scores of each query; ``params``: the kind's typed settings (its ``config.py`` class, validated
    by ``kind`` through the registry, stored without ``kind`` and ``keep``; :attr:`settings` is the typed object).
    The chip's ``prediction`` section is derived from them (``hyflexpim.hw.costs_prediction.chip_prediction``).
    A plan written before the settings were typed also carried that section as ``params.prediction``: it is
    dropped on load (the settings imply it)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # "inf", "nan" strings refused too
    kind: str = "dense"
    keep: float = Field(1.0, gt=0, le=1, description="share of attention scores computed exactly")
    params: dict[Any, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _old_prediction(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("params"), dict) and "prediction" in data["params"]:
            data = {**data, "params": {k: v for k, v in data["params"].items() if k != "prediction"}}
        return data

    @field_validator("kind")
    @classmethod
    def _known(cls, v: str) -> str:
        kinds = plan_attention_kinds()
        if v not in kinds:
            raise ValueError(f"unknown attention kind {v!r}{nearest(v, kinds)}; "
                             f"a plan carries one of {', '.join(kinds)}")
        return v

    @property
    def sparse(self) -> bool:
        """Whether a selection runs (any kind but ``dense``): the one place that names the dense kind."""
        return self.kind != "dense"

    @property
    def settings(self) -> Any:
        """The sparse kind's typed settings (``kind`` and ``keep`` included; None for dense attention)."""
        if not self.sparse:
            return None
        cls = SPARSE_KINDS.get(self.kind, "attention.kind").load("config")
        return cls.model_validate({**self.params, "kind": self.kind, "keep": self.keep})

    @classmethod
    def of(cls, settings: Any) -> AttentionPlan:
        """The block of an attention kind's typed settings: dense for a dense kind (no ``keep``). A sparse kind a
        plan carries is a method folder's (registered outside one, it cannot be priced: refused)."""
        if settings.kind not in SPARSE_KINDS:
            if isinstance(settings, SparseAttentionBase):
                raise UserError(f"attention kind {settings.kind!r} is sparse but not a method folder "
                                "(hyflexpim.config.methods.METHOD_PACKAGES): a plan cannot carry it")
            return cls()
        params = settings.model_dump(exclude={"kind", "keep"}, exclude_none=True)
        return cls(kind=settings.kind, keep=settings.keep, params=params)

    @model_validator(mode="after")
    def _kind(self) -> AttentionPlan:
        if not self.sparse:
            if self.keep != 1:
                raise ValueError(f"attention.keep: dense attention keeps every score (1), got {self.keep:g}")
            return self
        try:
            settings = self.settings
        except ValidationError as e:
            raise ValueError(f"attention.params: {config_error(e, f'{self.kind} attention')}") from None
        self.params = settings.model_dump(exclude={"kind", "keep"}, exclude_none=True)
        return self


class Plan(BaseModel):
    """The whole plan. ``policy`` records what made it (name and parameters; ``slc_rate`` in %)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # "inf", "nan" strings refused too

    format: int = PLAN_FORMAT
    package_version: str
    model_name: str
    model_fingerprint: str
    architecture: Architecture
    attention: AttentionPlan = Field(default_factory=AttentionPlan)
    policy: dict[Any, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    matrices: list[MatrixPlan]

    @model_validator(mode="after")
    def _check(self) -> Plan:
        if self.format != PLAN_FORMAT:
            raise ValueError(f"plan format {self.format} is not supported (this version reads {PLAN_FORMAT})")
        names = [m.name for m in self.matrices]
        if len(set(names)) != len(names):
            raise ValueError("matrix names must be unique")
        check_policy(self.policy)
        return self

    def identity(self) -> str:
        """Everything of the plan that changes a measured result, as text (a resume key hashes it): the model, each
        matrix's name, role, layer, shape, placement, unit, rank and SLC units, and the attention block."""
        rows = [self.model_fingerprint, self.attention.model_dump_json()]
        rows += [f"{m.name}:{m.role}:{m.layer}:{list(m.shape)}:{m.analog}:{m.unit}:{m.rank}:{m.slc}"
                 for m in self.matrices]
        return "\n".join(rows)

    # -- views ------------------------------------------------------------------------------
    @property
    def analog(self) -> list[MatrixPlan]:
        return [m for m in self.matrices if m.analog]

    @property
    def digital(self) -> list[MatrixPlan]:
        return [m for m in self.matrices if not m.analog]

    def by_name(self) -> dict[str, MatrixPlan]:
        return {m.name: m for m in self.matrices}

    @property
    def slc_weight_fraction(self) -> float:
        """Share of analog weights stored in SLC."""
        total = sum(m.n_weights for m in self.analog)
        return sum(m.n_slc_weights for m in self.analog) / total if total else 0.0

    def check_covers(self, architecture: Architecture, what: str | None = None) -> None:
        """Refuse a plan that does not list every matrix (layer, role) of ``architecture``, or lists one
        with another shape; the first missing or mismatched matrix is named."""
        have: dict[tuple[int | None, str], MatrixPlan] = {(m.layer, m.role): m for m in self.matrices
                                                           if m.layer is not None}
        what = what or architecture.name or "the model"
        for name, role, layer, shape in architecture.matrices():
            m = have.get((layer, role))
            if m is None:
                raise UserError(f"plan '{self.model_name}' does not cover matrix {name} (role {role}, layer {layer}, "
                                f"shape {list(shape)}) of {what}: make the plan for this model")
            if tuple(m.shape) != tuple(shape):
                raise UserError(f"plan matrix '{m.name}': shape {list(m.shape)} does not match {what} {role} in "
                                f"layer {layer}, which is {list(shape)}")

    def check_model(self, fingerprint: str) -> None:
        if fingerprint != self.model_fingerprint:
            raise UserError(
                f"plan was made for model '{self.model_name}' (fingerprint {self.model_fingerprint[:12]}), "
                f"not this one (fingerprint {fingerprint[:12]}); make a plan for this model"
            )

    # -- files ------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        return write_atomic(Path(path), self.model_dump_json(indent=1))


def check_policy(policy: dict[Any, Any]) -> None:
    """What made the plan, checked the same for every reader: ``slc_rate`` a finite percentage in 0..100 (not a
    bool), ``name`` / ``scorer`` / ``variant`` names (they become parts of resume keys and file names)."""
    if "slc_rate" in policy:
        r = policy["slc_rate"]
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not math.isfinite(r) or not 0 <= r <= 100:
            raise ValueError(f"policy.slc_rate: must be a percentage in 0..100, got {r!r}")
    for key in ("name", "scorer", "variant"):
        if key in policy and not (isinstance(policy[key], str) and re.fullmatch(r"[A-Za-z0-9_.+-]{1,64}", policy[key])):
            raise ValueError(f"policy.{key}: must be a name (letters, digits, '_', '.', '+', '-'), got {policy[key]!r}")


def migrate(data: Any) -> Any:
    """A format-1 plan as format 2: architecture read from the matrices, SLC rate in percent, a note."""
    if not isinstance(data, dict) or data.get("format") != 1:
        return data
    data = dict(data)
    mats = [MatrixPlan.model_validate(m) for m in data.get("matrices", [])]
    policy = dict(data.get("policy") or {})
    notes = list(data.get("notes") or [])
    if str(data.get("model_fingerprint", "")).startswith("shape:") and "slc_rate" in policy:
        policy["slc_rate"] = 100.0 * float(policy["slc_rate"])  # format-1 catalogue plans held a fraction
    try:
        arch = infer_from_matrices(mats, str(data.get("model_name", "")))
    except ValueError as e:
        raise UserError(f"format-1 plan: {e}") from None
    notes.append(f"migrated from plan format 1: architecture {arch.source}")
    data.update(format=PLAN_FORMAT, architecture=arch.model_dump(), policy=policy, notes=notes)
    return data


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read and validate a plan (format-1 plans are migrated) through the boundary; any problem is one UserError
    line."""
    p = Path(path)
    data = load_json(p, "plan")
    if not isinstance(data, dict):
        raise UserError(f"plan {p} must be a JSON object, got {type(data).__name__}")
    try:
        return Plan.model_validate(migrate(data))
    except ValidationError as e:
        raise config_error(e, f"plan {p}", Plan) from None
    except UserError as e:
        raise UserError(f"plan {p}: {e}") from None
    except (TypeError, AttributeError, KeyError, ValueError) as e:  # a wrongly typed entry seen by migrate()
        raise UserError(f"plan {p} is not a plan hyflexpim wrote ({type(e).__name__}: {str(e)[:120]})") from None
