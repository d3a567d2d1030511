"""HardwareConfig: how a plan is realised in cells — quantization, encoding, noise, forward mode."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class HardwareConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    noise: dict = Field(default_factory=lambda: {"kind": "paper"},
                        description="noise model: {'kind': name, **parameters}; see hyflexpim.device.noise")
    per_channel: bool = Field(False, description="INT8 scale per output row instead of per tensor")
    clip: Literal["max", "second"] = Field("max", description="INT8 range from the largest or second-largest |w|")
    encoding: Literal["twos_complement", "offset", "differential"] = "twos_complement"
    mlc_bits: int = Field(2, ge=1, le=4, description="bits per MLC cell")
    t_seconds: float | None = Field(None, gt=0, description="time since programming, for drift (None: no drift)")
    mode: Literal["static", "circuit"] = Field(
        "static", description="static: noise folded into weights once; circuit: bit-serial ADC-in-the-loop MVM")
    circuit: dict = Field(default_factory=dict, description="CircuitConfig parameters for mode='circuit'")
    digital_attention: dict | None = Field(None, description="digital-PIM attention parameters; None = float attention")
