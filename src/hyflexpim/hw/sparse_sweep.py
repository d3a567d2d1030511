"""Sweeps behind docs/sparse_attention.md (chip side): ``python -m hyflexpim.hw.sweep sparse hardsea``.

``sparse``  HyFlexPIM (10 % SLC) with dynamic sparse attention on its digital PIM — each predictor's own
            cost priced (``chip.spec.Prediction``) — over the dense all-SLC INT8 baseline, against L;
``hardsea`` the HARDSEA-like attention-only design against the calibrated A100 (``gpu_a100``, fused and unfused
            attention kernels) on the same self-attention work.
"""

from __future__ import annotations

from hyflexpim.chip.spec import load_spec
from hyflexpim.hw.evaluate import DEFAULT_SEQ_LENS, compare, evaluate
from hyflexpim.hw.shapes import get_shape, uniform_plan
from hyflexpim.plan import AttentionPlan

PREDICTIONS = {"pq": {"kind": "pq", "subspaces": 8, "centroids": 16}, "topk": {"kind": "exact"},
               "sanger": {"kind": "low_bit", "bits": 4}, "quest": {"kind": "page_bound", "page": 16},
               "spatten": {"kind": "accumulated"}, "window": {"kind": "none"}}


def sparse_plan(model: str, kind: str, keep: float, slc_rate: float = 10.0):
    """The uniform plan of ``model`` at ``slc_rate`` % SLC with a sparse attention block."""
    plan = uniform_plan(get_shape(model), slc_rate)
    return plan.model_copy(update={"attention": AttentionPlan(kind=kind, keep=keep,
                                                              params={"prediction": PREDICTIONS[kind]})})


def sparse_gains(model: str, kind: str, keep: float, seq=DEFAULT_SEQ_LENS, slc_rate: float = 10.0) -> dict:
    """Throughput and TOPS/W of HyFlexPIM with sparse attention over dense all-SLC INT8 (iso-area, batch 1), and
    over all-SLC running the same sparse attention; the share of HyFlexPIM's energy spent predicting."""
    dense_hy, dense_ref = compare(uniform_plan(get_shape(model), slc_rate), seq, baselines=("all_slc",))
    hy, ref = compare(sparse_plan(model, kind, keep, slc_rate), seq, baselines=("all_slc",))
    pred = hy["energy_by_role_j"].get("prediction", [0.0] * len(seq))
    return {"over_dense": [a / b for a, b in zip(hy["throughput_tok_s"], dense_ref["throughput_tok_s"])],
            "eff_over_dense": [a / b for a, b in zip(hy["tops_per_w"], dense_ref["tops_per_w"])],
            "over_same": [a / b for a, b in zip(hy["throughput_tok_s"], ref["throughput_tok_s"])],
            "dense_hyflexpim": [a / b for a, b in zip(dense_hy["throughput_tok_s"], dense_ref["throughput_tok_s"])],
            "prediction_share": [p / e for p, e in zip(pred, hy["energy_per_inference_j"])]}


def sparse(model: str = "bert-base") -> None:
    seq = DEFAULT_SEQ_LENS
    print(f"{model}, 10 % SLC, batch 1, iso-area: throughput over dense all-SLC INT8; L = {list(seq)}")
    print("| attention | " + " | ".join(f"L={L}" for L in seq) + " | TOPS/W at 8192 | prediction energy at 8192 |")
    print("|---|" + "---|" * (len(seq) + 2))
    g = sparse_gains(model, "pq", 1.0, seq)
    print("| dense (HyFlexPIM as published) | " + " | ".join(f"{x:.2f}x" for x in g["dense_hyflexpim"]) + " | | |")
    for kind, keep in (("pq", 0.33), ("pq", 0.25), ("pq", 0.12), ("topk", 0.25), ("sanger", 0.25),
                       ("quest", 0.25), ("spatten", 0.25)):
        g = sparse_gains(model, kind, keep, seq)
        print(f"| {kind} keep {keep:.0%} | " + " | ".join(f"{x:.2f}x" for x in g["over_dense"])
              + f" | {g['eff_over_dense'][-1]:.2f}x | {g['prediction_share'][-1]:.1%} |")
    g = sparse_gains(model, "pq", 0.25, seq)
    print(f"pq keep 25 % over all-SLC running the same sparse attention: "
          + " ".join(f"{x:.2f}x" for x in g["over_same"]))


HARDSEA_REPORTED = {"speedup": (13.5, 28.5), "efficiency": (291.6, 1894.3), "gops": 802.1, "gops_w": 821.3}


def hardsea() -> None:
    from hyflexpim.hw.attention_only import roofline_attention

    spec, gpu = load_spec("hardsea"), load_spec("gpu_a100")
    unfused = load_spec("gpu_a100", {"fused_attention": False})
    print(f"{spec.name}: keep {spec.keep:.0%}, {spec.prediction.kind} prediction; against {gpu.name} on the same "
          "self-attention (no linear layers), batch 1; GPU attention fused (TensorRT's one MHA kernel per layer) / "
          "unfused (Q·Kᵀ, softmax, score×V: three kernels, the scores through DRAM)")
    print("| model | L | model GOPS (dense-equiv.) | model GOPS/W | speed-up over GPU fused / unfused | energy eff. "
          "over GPU fused / unfused | GPU attention µs per layer for HARDSEA's lowest speed-up (kernels at "
          "kernel_us) |")
    print("|---|---|---|---|---|---|---|")
    for model, L in (("bert-base", 128), ("bert-base", 512), ("gpt2", 1024)):
        h = evaluate(model, spec, [L], gen_tokens=0)
        shape = get_shape(model)
        g = [roofline_attention(s, shape, [L], 1, 0) for s in (gpu, unfused)]
        speed = [x["latency_s"][0] / h["latency_s"][0] for x in g]
        eff = [h["tops_per_w"][0] / x["tops_per_w"][0] for x in g]
        need = HARDSEA_REPORTED["speedup"][0] * h["latency_s"][0] / shape.layers
        print(f"| {model} | {L} | {h['tops'][0] * 1e3:.0f} | {h['tops_per_w'][0] * 1e3:.0f} | "
              f"{speed[0]:.2f}x / {speed[1]:.2f}x | {eff[0]:.0f}x / {eff[1]:.0f}x | {need * 1e6:.0f} µs "
              f"({need / (gpu.kernel_us * 1e-6):.0f} kernels; modelled: {g[0]['latency_s'][0] / shape.layers * 1e6:.1f}"
              f" / {g[1]['latency_s'][0] / shape.layers * 1e6:.1f} µs) |")
    r = HARDSEA_REPORTED
    h = evaluate("bert-base", spec, [128], gen_tokens=0)
    g = roofline_attention(gpu, get_shape("bert-base"), [128], 1, 0)
    t_pub = h["ops_per_inference"][0] / (r["gops"] * 1e9)
    print(f"HARDSEA at its published Table V rate ({r['gops']} GOPS, {r['gops_w']} GOPS/W) on bert-base L=128 against "
          f"the calibrated GPU (fused): speed-up {g['latency_s'][0] / t_pub:.2f}x, energy efficiency "
          f"{r['gops_w'] * 1e-3 / g['tops_per_w'][0]:.0f}x")
    print(f"HARDSEA reports {r['speedup'][0]}-{r['speedup'][1]}x speed-up and {r['efficiency'][0]}-"
          f"{r['efficiency'][1]}x energy efficiency over a GPU; Table V [3P]: {r['gops']} GOPS, {r['gops_w']} GOPS/W")
    print(f"GPU: {gpu.calibration}; kernel_us {gpu.kernel_us:.2f}, gemm_efficiency {gpu.gemm_efficiency:.3f}, "
          f"energy at {gpu.operating_power_w:.0f} W ({gpu.energy_model})")
