"""HardwareConfig: how a plan is realised on one chip — the chip spec, cells, noise, forward mode, attention.

One chip description: ``spec`` names a PIM chip spec (``hyflexpim.chip``: a built-in design or a YAML
file), and the values both sides need — encoding, bits per MLC cell, rows per array, input bits,
ADC bits, attention precision — are taken from it unless set here, in which case they override it
(``chip()`` returns the spec with those overrides: what the run's ``hw/`` report prices). A value the
other side cannot honour is refused when the configuration is resolved, naming both fields.

``noise`` and ``attention`` are typed by their ``kind`` through the registries of
``hyflexpim.device.noise`` and ``hyflexpim.sim.attention``. Validation reads no file: ``resolved()`` is the
explicit step that reads the chip spec and fills every value left to it (every default filled in), so the
resolved configuration's ``model_dump()`` is the exact hardware an evaluation used.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SerializeAsAny, field_validator, model_validator

from hyflexpim.chip import ENCODINGS, PimSpec, load_spec
from hyflexpim.config import ConfigError, Strict, deep_merge
from hyflexpim.device.noise import build_noise_model, noise_config
from hyflexpim.sim.adc import CircuitConfig
from hyflexpim.sim.attention import ATTENTION_KINDS, attention_config


class HardwareConfig(Strict):
    config_name = "hardware"

    spec: str = Field("hyflexpim", description="PIM chip spec: a built-in design name or a YAML file")
    encoding: str | None = Field(None, description="signed-weight encoding (a registered one); null: the spec's")
    mlc_bits: int | None = Field(None, ge=1, le=4, description="bits per MLC cell; null: the spec's analog.mlc_bits")
    noise: SerializeAsAny[Strict] = Field(
        default_factory=lambda: noise_config({"kind": "paper"}),
        description="noise model: {kind: name, **parameters} (hyflexpim.device.noise)")
    per_channel: bool = Field(False, description="INT8 scale per output row instead of per tensor")
    clip: Literal["max", "second"] = Field("max", description="INT8 range from the largest or second-largest |w|")
    t_seconds: float | None = Field(None, gt=0, description="time since programming, for drift (None: no drift)")
    mode: Literal["static", "circuit"] = Field(
        "static", description="static: noise folded into weights once; circuit: bit-serial ADC-in-the-loop MVM")
    circuit: CircuitConfig = Field(default_factory=CircuitConfig, description="arrays, inputs and ADCs (mode circuit)")
    attention: SerializeAsAny[Strict] = Field(default_factory=lambda: attention_config({"kind": "float"}),
                                              description="attention kind: {kind: float|digital|..., **settings}")

    @model_validator(mode="before")
    @classmethod
    def _old_spelling(cls, data):
        """``digital_attention: {...}`` (before plan format 2) is ``attention: {kind: digital, ...}``."""
        if isinstance(data, dict) and "digital_attention" in data:
            data = dict(data)
            old = data.pop("digital_attention")
            if old is not None and "attention" in data:
                raise ValueError("give hardware.attention or the old hardware.digital_attention, not both")
            if old is not None:
                data["attention"] = {"kind": "digital", **(old if isinstance(old, dict) else {})}
        return data

    @field_validator("noise", mode="before")
    @classmethod
    def _noise(cls, v):
        return noise_config(v)

    @field_validator("attention", mode="before")
    @classmethod
    def _attention(cls, v):
        return attention_config(v)

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, v):
        return v if v is None else ENCODINGS.check(v)

    def resolved(self, where: str = "hardware", loc: tuple = ()) -> HardwareConfig:
        """This configuration with its chip spec read and every value it leaves to the spec filled in: the
        explicit resolve step (validation reads no file). A run resolves it once when its configuration is
        resolved; ``apply_plan``, ``chip()`` and the other entry points call it themselves. Idempotent; a spec
        the accuracy side cannot use is one ConfigError line at ``where``: ``loc``.spec."""
        spec = load_spec(self.spec)
        if not isinstance(spec, PimSpec):
            raise ConfigError(where, (*loc, "spec"), f"'{self.spec}' is a {spec.kind} baseline; the accuracy side "
                              "needs a PIM chip spec (kind: pim)", self.spec, True)
        a = spec.analog
        if a.weight_bits != 8:
            raise ConfigError(where, (*loc, "spec"), f"the chip spec's analog.weight_bits is {a.weight_bits}, but "
                              "the accuracy side stores INT8 weights: use analog.weight_bits 8", self.spec, True)
        mlc_bits = self.mlc_bits or a.mlc_bits
        update: dict = {"encoding": self.encoding or a.encoding, "mlc_bits": mlc_bits}
        unset = {f: getattr(a, key) for f, key in CircuitConfig.CHIP_FIELDS.items()
                 if f not in self.circuit.model_fields_set}
        if unset:
            update["circuit"] = CircuitConfig(**(self.circuit.model_dump() | unset))
        update["attention"] = ATTENTION_KINDS.get(self.attention.kind).from_chip(self.attention, spec)
        noise = self.noise
        if "mlc_bits_per_cell" in type(noise).model_fields:
            if "mlc_bits_per_cell" not in noise.model_fields_set:
                noise = type(noise)(**(noise.model_dump() | {"mlc_bits_per_cell": mlc_bits}))
            elif noise.mlc_bits_per_cell != mlc_bits:
                raise ConfigError(where, (*loc, "noise", "mlc_bits_per_cell"), f"the cells have hardware.mlc_bits="
                                  f"{mlc_bits} bits; set both to the same value", noise.mlc_bits_per_cell, True)
        build_noise_model(noise)  # checks across a noise model's fields (e.g. levels per cell width), now
        update["noise"] = noise
        return self.model_copy(update=update)

    def chip_overrides(self) -> dict:
        """What this configuration changes in its chip spec (every chip value both sides read)."""
        c = self.circuit
        analog = {"encoding": self.encoding, "mlc_bits": self.mlc_bits, "rows": c.rows_per_array,
                  "input_bits": c.input_bits, "adc_bits_slc": c.adc_bits_slc, "adc_bits_mlc": c.adc_bits_mlc,
                  "adc_range": c.adc_range}
        return deep_merge({"analog": analog}, ATTENTION_KINDS.get(self.attention.kind).to_chip(self.attention))

    def chip(self) -> PimSpec:
        """The chip spec of this configuration: what its accuracy is measured on and its cost priced on."""
        return load_spec(self.spec, self.resolved().chip_overrides())
