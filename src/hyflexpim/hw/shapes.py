"""Model shapes without torch: a small catalogue, the list of weight matrices, uniform-rate plans.

Only the weight matrices inside the transformer layers are listed (q, k, v or fused qkv, o, FFN);
embeddings, classifier/pooler and lm_head are left out of the catalogue (a real plan may list
them: analog ones with ``layer=None`` are mapped to an extra pipeline stage).
"""

from __future__ import annotations

from dataclasses import dataclass

from hyflexpim import __version__
from hyflexpim.errors import UserError
from hyflexpim.plan import MatrixPlan, Plan


@dataclass(frozen=True)
class ModelShape:
    name: str
    layers: int
    hidden: int
    ffn: int
    heads: int
    kv_heads: int
    decoder: bool
    gated: bool = False  # gated MLP (Llama): gate and up projections
    fused_qkv: bool = False  # GPT-2 c_attn
    act: str = "gelu"

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    def matrices(self) -> list[tuple[str, str, int, tuple[int, int]]]:
        """(name, role, layer, (d_out, d_in)) for every weight matrix in the layers."""
        h, f, kv = self.hidden, self.ffn, self.kv_dim
        out = []
        for i in range(self.layers):
            p = f"layers.{i}."
            if self.fused_qkv:
                out.append((p + "attn.qkv", "qkv", i, (h + 2 * kv, h)))
            else:
                out += [(p + "attn.q", "q", i, (h, h)), (p + "attn.k", "k", i, (kv, h)), (p + "attn.v", "v", i, (kv, h))]
            out.append((p + "attn.o", "o", i, (h, h)))
            out.append((p + "mlp.in", "ffn_in", i, (f, h)))
            if self.gated:
                out.append((p + "mlp.gate", "ffn_gate", i, (f, h)))
            out.append((p + "mlp.out", "ffn_out", i, (h, f)))
        return out


CATALOGUE: dict[str, ModelShape] = {
    "bert-base": ModelShape("bert-base", 12, 768, 3072, 12, 12, decoder=False),
    "bert-large": ModelShape("bert-large", 24, 1024, 4096, 16, 16, decoder=False),
    "minilm-l6": ModelShape("minilm-l6", 6, 384, 1536, 12, 12, decoder=False),
    "gpt2": ModelShape("gpt2", 12, 768, 3072, 12, 12, decoder=True, fused_qkv=True),
    "llama-3.2-1b": ModelShape("llama-3.2-1b", 16, 2048, 8192, 32, 8, decoder=True, gated=True, act="silu"),
    "smollm2-135m": ModelShape("smollm2-135m", 30, 576, 1536, 9, 3, decoder=True, gated=True, act="silu"),
}


def get_shape(name: str) -> ModelShape:
    key = name.lower()
    if key not in CATALOGUE:
        raise UserError(f"--model '{name}' is not known: choose one of {', '.join(CATALOGUE)}")
    return CATALOGUE[key]


def hard_threshold_rank(d_out: int, d_in: int) -> int:
    """k = d_out*d_in/(d_out+d_in), floored, at least 1: keeps weights and MACs unchanged."""
    return max(1, (d_out * d_in) // (d_out + d_in))


def uniform_plan(shape: ModelShape, slc_rate: float) -> Plan:
    """A plan with the leading ``slc_rate`` share (0..1) of each matrix's components in SLC."""
    if not 0.0 <= slc_rate <= 1.0:
        raise UserError(f"--slc-rate must be in 0..100 (percent), got {slc_rate * 100:g}")
    mats = []
    for name, role, layer, (d_out, d_in) in shape.matrices():
        k = hard_threshold_rank(d_out, d_in)
        n_slc = min(k, round(slc_rate * k))
        mats.append(MatrixPlan(name=name, role=role, layer=layer, shape=(d_out, d_in), analog=True,
                               unit="component", rank=k, slc=list(range(n_slc)), scorer="uniform"))
    return Plan(package_version=__version__, model_name=shape.name, model_fingerprint=f"shape:{shape.name}",
                policy={"name": "uniform", "slc_rate": slc_rate}, matrices=mats)


def check_plan_against_shape(plan: Plan, shape: ModelShape) -> None:
    """Every layer matrix of the plan must match the catalogue's (layer, role) shape."""
    expected: dict[tuple[int, str], tuple[int, int]] = {(l, r): s for _, r, l, s in shape.matrices()}
    for m in plan.matrices:
        if m.layer is None:
            continue
        want = expected.get((m.layer, m.role))
        if want is None:
            if m.role in ("head", "other"):
                continue
            raise UserError(f"plan matrix '{m.name}': {shape.name} has no role '{m.role}' in layer {m.layer} "
                            f"(roles there: {', '.join(sorted({r for (l, r) in expected if l == m.layer})) or 'none'})")
        if tuple(m.shape) != tuple(want):
            raise UserError(f"plan matrix '{m.name}': shape {list(m.shape)} does not match {shape.name} "
                            f"{m.role} in layer {m.layer}, which is {list(want)}")


def shape_from_plan(plan: Plan, decoder: bool = False, head_dim: int = 64) -> ModelShape:
    """Attention dimensions inferred from a plan alone (head size ``head_dim`` is an assumption)."""
    by_role: dict[str, tuple[int, int]] = {}
    layers = set()
    for m in plan.matrices:
        if m.layer is not None:
            layers.add(m.layer)
            by_role.setdefault(m.role, tuple(m.shape))
    if "q" in by_role:
        hidden = by_role["q"][1]
    elif "qkv" in by_role:
        hidden = by_role["qkv"][1]
    elif "o" in by_role:
        hidden = by_role["o"][0]
    else:
        raise UserError(f"plan '{plan.model_name}': no q/qkv/o matrix in any layer; give --model too")
    if "k" in by_role:
        kv = by_role["k"][0]
    elif "qkv" in by_role:
        kv = (by_role["qkv"][0] - hidden) // 2
    else:
        kv = hidden
    ffn = by_role.get("ffn_in", (4 * hidden, hidden))[0]
    heads = max(1, hidden // head_dim)
    return ModelShape(plan.model_name, max(len(layers), 1), hidden, ffn, heads, max(1, kv // (hidden // heads)),
                      decoder=decoder, gated="ffn_gate" in by_role, fused_qkv="qkv" in by_role)
