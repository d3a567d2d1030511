"""Model architectures without torch: a small catalogue and uniform-rate plans for it.

A uniform plan lists the weight matrices inside the layers (q, k, v or fused qkv, o, FFN) at the
hard-threshold rank, and the heads a real model has (an encoder's pooler and classifier, a decoder's
lm_head) as digital, as the plans ``hyflexpim run`` makes keep them; the chip model prices them on
the head stage (``mapping.head``).
"""

from __future__ import annotations

from hyflexpim import __version__
from hyflexpim.errors import UserError
from hyflexpim.plan import Architecture, MatrixPlan, Plan, hard_threshold_rank


def _arch(name: str, layers: int, hidden: int, ffn: int, heads: int, kv_heads: int, decoder: bool, vocab: int,
          gated: bool = False, fused_qkv: bool = False, act: str = "gelu") -> Architecture:
    return Architecture(name=name, layers=layers, hidden=hidden, ffn=ffn, heads=heads, kv_heads=kv_heads,
                        head_dim=hidden // heads, decoder=decoder, vocab=vocab, gated=gated, fused_qkv=fused_qkv,
                        act=act, source="catalogue (the model's published config)")


CATALOGUE: dict[str, Architecture] = {
    "bert-base": _arch("bert-base", 12, 768, 3072, 12, 12, False, 30522),
    "bert-large": _arch("bert-large", 24, 1024, 4096, 16, 16, False, 30522),
    "minilm-l6": _arch("minilm-l6", 6, 384, 1536, 12, 12, False, 30522),
    "gpt2": _arch("gpt2", 12, 768, 3072, 12, 12, True, 50257, fused_qkv=True),
    "llama-3.2-1b": _arch("llama-3.2-1b", 16, 2048, 8192, 32, 8, True, 128256, gated=True, act="silu"),
    "smollm2-135m": _arch("smollm2-135m", 30, 576, 1536, 9, 3, True, 49152, gated=True, act="silu"),
}


def get_shape(name: str) -> Architecture:
    key = name.lower()
    if key not in CATALOGUE:
        raise UserError(f"--model '{name}' is not known: choose one of {', '.join(CATALOGUE)}")
    return CATALOGUE[key]


def head_matrices(arch: Architecture) -> list[tuple[str, tuple[int, int]]]:
    """The matrices outside the layers that a real model of this architecture has: a decoder's lm_head
    (vocabulary x hidden); an encoder's pooler and a two-class classifier (as a fine-tuned BERT)."""
    if arch.decoder:
        return [("lm_head", (arch.vocab, arch.hidden))] if arch.vocab else []
    return [("pooler.dense", (arch.hidden, arch.hidden)), ("classifier", (2, arch.hidden))]


def uniform_plan(arch: Architecture, slc_rate: float) -> Plan:
    """A plan with the leading ``slc_rate`` % (0..100) of each matrix's components in SLC."""
    if not 0.0 <= slc_rate <= 100.0:
        raise UserError(f"--slc-rate must be in 0..100 (percent), got {slc_rate:g}")
    mats = []
    for name, role, layer, (d_out, d_in) in arch.matrices():
        k = hard_threshold_rank(d_out, d_in)
        n_slc = min(k, round(slc_rate / 100 * k))
        mats.append(MatrixPlan(name=name, role=role, layer=layer, shape=(d_out, d_in), analog=True,
                               unit="component", rank=k, slc=list(range(n_slc)), scorer="uniform"))
    for name, shape in head_matrices(arch):  # digital, as hyflexpim's own plans keep them
        mats.append(MatrixPlan(name=name, role="head", layer=None, shape=shape, analog=False,
                               digital_reason="head/classifier stays digital"))
    return Plan(package_version=__version__, model_name=arch.name, model_fingerprint=f"shape:{arch.name}",
                architecture=arch, policy={"name": "uniform", "slc_rate": float(slc_rate)}, matrices=mats)
