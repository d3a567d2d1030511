"""The model's architecture as the plan carries it (format 2): what the cost side needs to price
attention, norms and activations, written from the model's own config, never guessed from a name.

``matrices()`` lists the weight matrices a transformer of this architecture has in its layers; the
cost side refuses a plan that does not cover every one of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, cast

from pydantic import Field, model_validator

from hyflexpim.config import Strict


class MatrixLike(Protocol):
    """What a matrix listing tells about one matrix (a plan's ``MatrixPlan``, a model's ``MatrixInfo``)."""

    @property
    def layer(self) -> int | None: ...
    @property
    def role(self) -> str: ...
    @property
    def shape(self) -> Sequence[int]: ...


def hard_threshold_rank(d_out: int, d_in: int) -> int:
    """The paper's k = d_out·d_in/(d_out+d_in), floored, at least 1: U and ΣVᵀ hold as many weights as W."""
    return max(1, (d_out * d_in) // (d_out + d_in))


def budget_rank(shape: tuple[int, int], budget: float) -> int:
    """The rank at which a d_out × d_in matrix alone holds ``budget`` of its dense parameters (a component costs
    d_out + d_in), floored, at least 1, at most min(d_out, d_in); budget 1 is the hard-threshold rank."""
    d_out, d_in = shape
    return max(1, min(min(shape), int(budget * d_out * d_in / (d_out + d_in) + 1e-9)))


class Architecture(Strict):
    config_name = "plan architecture"

    name: str = Field("", description="the model's name (for tables)")
    layers: int = Field(ge=1)
    hidden: int = Field(ge=1, description="hidden size (model width)")
    heads: int = Field(ge=1, description="query heads")
    kv_heads: int = Field(ge=1, description="key/value heads (grouped-query attention when < heads)")
    head_dim: int = Field(ge=1)
    ffn: int = Field(ge=1, description="FFN inner size")
    gated: bool = Field(False, description="gated FFN (gate and up projections, Llama)")
    fused_qkv: bool = Field(False, description="one fused q/k/v matrix (GPT-2 c_attn)")
    decoder: bool = Field(False, description="causal decoder (generates tokens) rather than encoder")
    vocab: int = Field(0, ge=0, description="vocabulary size (0: unknown)")
    act: str = Field("gelu", description="FFN activation")
    source: str = Field("model config", description="where these numbers come from")

    @model_validator(mode="after")
    def _check(self) -> Architecture:
        if self.heads % self.kv_heads:
            raise ValueError(f"heads ({self.heads}) must be a multiple of kv_heads ({self.kv_heads})")
        return self

    @property
    def q_dim(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    def matrices(self) -> list[tuple[str, str, int, tuple[int, int]]]:
        """(name, role, layer, (d_out, d_in)) for every weight matrix inside the layers."""
        h, f, q, kv = self.hidden, self.ffn, self.q_dim, self.kv_dim
        out = []
        for i in range(self.layers):
            p = f"layers.{i}."
            if self.fused_qkv:
                out.append((p + "attn.qkv", "qkv", i, (q + 2 * kv, h)))
            else:
                out += [(p + "attn.q", "q", i, (q, h)), (p + "attn.k", "k", i, (kv, h)),
                        (p + "attn.v", "v", i, (kv, h))]
            out.append((p + "attn.o", "o", i, (h, q)))
            out.append((p + "mlp.in", "ffn_in", i, (f, h)))
            if self.gated:
                out.append((p + "mlp.gate", "ffn_gate", i, (f, h)))
            out.append((p + "mlp.out", "ffn_out", i, (h, f)))
        return out


def infer_from_matrices(matrices: Iterable[MatrixLike], name: str = "", head_dim: int = 64) -> Architecture:
    """A best reading of the architecture from matrix shapes alone (format-1 plans carry nothing else).

    Assumes head size ``head_dim`` and an encoder; both are said in ``source``.
    """
    by_role: dict[str, tuple[int, int]] = {}
    layers = set()
    for m in matrices:
        if m.layer is not None:
            layers.add(m.layer)
            by_role.setdefault(m.role, cast(tuple[int, int], tuple(m.shape)))
    if "q" in by_role:
        hidden = by_role["q"][1]
    elif "qkv" in by_role:
        hidden = by_role["qkv"][1]
    elif "o" in by_role:
        hidden = by_role["o"][0]
    else:
        raise ValueError("no q/qkv/o matrix in any layer: the architecture cannot be read from the matrices")
    if "k" in by_role:
        kv = by_role["k"][0]
    elif "qkv" in by_role:
        kv = (by_role["qkv"][0] - hidden) // 2
    else:
        kv = hidden
    ffn = by_role.get("ffn_in", (4 * hidden, hidden))[0]
    hd = head_dim if hidden % head_dim == 0 and kv % head_dim == 0 else hidden
    return Architecture(name=name, layers=max(len(layers), 1), hidden=hidden, heads=hidden // hd,
                        kv_heads=max(1, kv // hd), head_dim=hd, ffn=ffn, gated="ffn_gate" in by_role,
                        fused_qkv="qkv" in by_role, decoder=False,
                        source=f"inferred from matrix shapes (format-1 plan): head size {hd} and an encoder assumed")
