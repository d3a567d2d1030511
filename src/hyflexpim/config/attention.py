"""The settings every attention kind shares, torch-free (the plan, the chip model and the simulator all read them).

An attention kind is a method folder (``hyflexpim/methods/attention/<name>/`` for the dense ones,
``hyflexpim/methods/predictors/<name>/`` for the sparse ones; registered in ``hyflexpim.config.methods``) whose
``config.py`` subclasses one of these:

- ``AttentionSettings``: the base, ``kind`` plus how the settings meet the chip spec (``from_chip`` fills what
  the chip fixes and the user left unset; ``to_chip`` is the spec overrides the settings imply);
- ``DigitalDatapath``: the digital-PIM datapath's precisions (``DigitalAttentionConfig``, the ``digital`` kind, and
  the exact part of every sparse kind);
- ``SparseAttentionBase`` / ``ThresholdAttentionBase``: a dynamic sparse kind's keep share and selection.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from hyflexpim.config.base import Strict, require


class AttentionSettings(Strict):
    """An attention kind's typed settings (subclass it with ``kind: Literal["<kind>"]``)."""

    kind: str

    def from_chip(self, spec: Any) -> AttentionSettings:
        """These settings with what the chip spec fixes filled in where the user left it unset."""
        return self

    def to_chip(self) -> dict[str, Any]:
        """The chip spec overrides these settings imply (the cost side prices the same datapath)."""
        return {}


class DigitalDatapath(AttentionSettings):
    """Precision of the digital attention datapath (the ``digital`` kind's settings, and the exact part's of every
    sparse kind).

    Defaults are the built-in chip's (spec ``hyflexpim``: ``digital.qk_bits: [8, 8]``, ``digital.sv_bits:
    [12, 8]``): INT8 Q·Kᵀ, 12-bit probabilities times 8-bit V. In a run, ``qk_bits``, ``prob_bits`` and
    ``value_bits`` not set explicitly come from the run's chip spec, and set ones override it."""

    qk_bits: int = Field(8, ge=2, le=24, description="signed bits of Q and K")
    qk_granularity: Literal["per_token", "per_head"] = "per_token"
    prob_bits: int = Field(12, ge=1, le=24, description="unsigned bits of the softmax probabilities")
    value_bits: int = Field(8, ge=2, le=24, description="signed bits of V")
    value_granularity: Literal["per_head", "per_channel"] = "per_head"
    softmax: Literal["exact", "fixed_point"] = "exact"
    softmax_frac_bits: int = Field(8, ge=1, le=30, description="fixed point: fractional bits of x − max(x)")
    softmax_int_bits: int = Field(5, ge=1, le=10, description="fixed point: x − max(x) clamped at −2^int_bits")
    softmax_exp_bits: int = Field(16, ge=1, le=30, description="fixed point: fractional bits of exp values")

    def from_chip(self, spec: Any) -> DigitalDatapath:
        """The precisions the user did not set, from the chip spec's ``digital`` section."""
        d = spec.digital
        chip = {"qk_bits": d.qk_bits[0], "prob_bits": d.sv_bits[0], "value_bits": d.sv_bits[1]}
        if "qk_bits" not in self.model_fields_set:
            require(d.qk_bits[0] == d.qk_bits[1], "qk_bits", f"the chip spec's digital.qk_bits {list(d.qk_bits)} "
                    "gives Q and K different widths; the simulator uses one: set hardware.attention.qk_bits",
                    list(d.qk_bits), "hardware.attention")
        unset = {k: v for k, v in chip.items() if k not in self.model_fields_set}
        return type(self)(**(self.model_dump() | unset)) if unset else self

    def to_chip(self) -> dict[str, Any]:
        return {"digital": {"qk_bits": [self.qk_bits, self.qk_bits], "sv_bits": [self.prob_bits, self.value_bits]}}


class DigitalAttentionConfig(DigitalDatapath):
    """The paper's digital-PIM attention datapath (attention kind ``digital``)."""

    config_name = "hardware.attention (digital)"
    kind: Literal["digital"] = "digital"


class SparseAttentionBase(DigitalDatapath):
    """The settings every sparse kind shares (subclass it with ``kind: Literal["<kind>"]``). The exact part's
    precisions go to the chip (``to_chip``); the keep share and the predictor travel in the plan."""

    keep: float = Field(0.25, gt=0, le=1, description="share of each query's valid keys kept")
    keep_first: bool = Field(True, description="always keep the first key (the attention sink)")
    keep_diagonal: bool = Field(True, description="always keep the query's own position")
    exact: Literal["digital", "float"] = Field("digital", description="precision of the exact attention on "
                                               "the kept entries: the digital-PIM datapath, or float")
    dense_layers: int = Field(0, ge=0, description="the first this many layers attend to every valid key")
    profile: str | None = Field(None, description="sparsity_profile.json of an attention analysis: each layer and "
                                "head keeps in proportion to its share of keys for 90 % of the mass, scaled so "
                                "that the mean over layers and heads is keep")


class ThresholdAttentionBase(SparseAttentionBase):
    """A sparse kind whose scores are attention logits: a probability threshold may select instead of top-k."""

    threshold: float | None = Field(None, gt=0, lt=1, description="keep the keys whose predicted attention "
                                    "probability reaches this instead of the top keep share (the density is then "
                                    "measured, and keep is what the cost side assumes)")


__all__ = ["AttentionSettings", "DigitalAttentionConfig", "DigitalDatapath", "SparseAttentionBase",
           "ThresholdAttentionBase"]
