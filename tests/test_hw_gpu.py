"""The GPU kernel model (hyflexpim.hw.gpu) and its calibration on NVIDIA's TensorRT BERT latencies (gpu_fit)."""

import dataclasses
import itertools

import pytest

from hyflexpim.chip.spec import load_spec
from hyflexpim.hw import evaluate
from hyflexpim.hw.attention_only import roofline_attention
from hyflexpim.hw.gpu_fit import TOLERANCE, fit, fit_ranges, load_points, median_error, table
from hyflexpim.hw.shapes import get_shape


def test_predicted_rows_stay_within_the_stated_tolerance():
    rows = table()
    assert sum(r.point.fit for r in rows) == 4  # exactly the four fit points
    assert {(r.point.model, r.point.batch) for r in rows if r.point.fit} == {
        ("bert-base", 1), ("bert-base", 128), ("bert-large", 1), ("bert-large", 128)}
    for L, tol in TOLERANCE.items():
        assert median_error(rows, L) <= tol, f"L={L}: median |error| {median_error(rows, L):.1%} > {tol:.0%}"


def test_the_yaml_holds_a_refit_not_hand_edited_values():
    spec = load_spec("gpu_a100")
    f = fit(spec)
    assert spec.gemm_efficiency == pytest.approx(f["gemm_efficiency"], abs=6e-5)  # written with 4 decimals
    assert spec.kernel_us == pytest.approx(f["kernel_us"], abs=6e-4)  # 3 decimals
    rng = fit_ranges(spec)
    for k in ("gemm_efficiency", "kernel_us"):
        assert spec.ranges[k] == pytest.approx(rng[k], abs=6e-4)
    assert "TensorRT" in spec.calibration


def test_the_fit_sees_only_the_fit_rows():
    pts = load_points()
    base = fit(points=pts)
    moved = [dataclasses.replace(p, ms=p.ms * 3) if not p.fit else p for p in pts]
    assert fit(points=moved) == base  # predicted rows never enter the fit
    moved = [dataclasses.replace(p, ms=p.ms * 1.5) if p.fit and p.batch == 1 else p for p in pts]
    assert fit(points=moved)["kernel_us"] > 1.3 * base["kernel_us"]  # the batch-1 points set the per-kernel cost


@pytest.mark.parametrize("model", ["bert-base", "bert-large", "gpt2"])
def test_monotone_in_batch(model):
    lat, per_seq = [], []
    for b in (1, 2, 4, 8, 16, 64, 128):
        r = evaluate(model, "gpu_a100", [128, 512], batch=b, gen_tokens=16)
        lat.append(r.latency_s)
        per_seq.append([t / b for t in r.latency_s])
    for i in range(2):
        assert all(a[i] < b[i] for a, b in itertools.pairwise(lat))  # a bigger batch takes longer
        assert all(a[i] > b[i] for a, b in itertools.pairwise(per_seq))  # and less time per sequence


def test_kernel_structure_and_energy():
    a100 = load_spec("gpu_a100")
    r = evaluate("bert-base", a100, [128])
    assert r.info.kernel_launches == [12 * 7 + 1 + 2]  # 7 per layer, embedding, pooler + classifier
    assert r.bottleneck_stage == ("kernel overhead",)  # batch 1 is bound by per-kernel costs
    assert sum(v[0] for v in r.energy_by_role_j.values()) == pytest.approx(r.energy_per_inference_j[0])
    assert r.energy_per_inference_j[0] == pytest.approx(a100.operating_power_w * r.latency_s[0])
    tdp = evaluate("bert-base", load_spec("gpu_a100", {"energy_model": "tdp"}), [128])
    assert tdp.energy_per_inference_j[0] == pytest.approx(a100.tdp_w * r.latency_s[0])
    unfused = evaluate("bert-base", load_spec("gpu_a100", {"fused_attention": False, "fused_epilogues": False}),
                       [128])
    assert unfused.info.kernel_launches[0] == 87 + 12 * (2 + 2 + 1)  # 3 attention, 2 adds, 2 norms, 1 act
    dec = evaluate("gpt2", a100, [128], gen_tokens=32)
    pre = evaluate("gpt2", a100, [128], gen_tokens=0)
    assert dec.latency_s[0] > pre.latency_s[0] + 32 * 12 * 5 * a100.kernel_us * 1e-6  # a step per token


def test_attention_only_counts_q_k_v_and_the_scores():
    a100 = load_spec("gpu_a100")
    shape = get_shape("bert-base")
    fused = roofline_attention(a100, shape, [128, 2048], 1, 0)
    unfused = roofline_attention(load_spec("gpu_a100", {"fused_attention": False}), shape, [128, 2048], 1, 0)
    assert unfused.latency_s[1] > 3 * fused.latency_s[1]  # the L x L scores through DRAM
    hd = shape.hidden / shape.heads
    macs = 2 * 2048 ** 2 * hd * shape.heads * shape.layers
    qkv_ctx_bytes = 4 * 2048 * shape.hidden * shape.layers
    floor = max(macs / (a100.peak_tmacs * 1e12 * a100.gemm_efficiency), qkv_ctx_bytes / (a100.mem_gbps * 1e9))
    assert fused.latency_s[1] == pytest.approx(floor + shape.layers * a100.kernel_us * 1e-6, rel=1e-9)


def test_h100_is_marked_not_calibrated_and_inherits_the_a100_fit():
    h, a = load_spec("gpu_h100"), load_spec("gpu_a100")
    assert h.calibration.startswith("not calibrated")
    assert (h.gemm_efficiency, h.kernel_us) == (a.gemm_efficiency, a.kernel_us)
    assert h.peak_tmacs > a.peak_tmacs and h.mem_gbps > a.mem_gbps


def test_a_bad_gpu_spec_is_one_error_naming_the_field():
    from hyflexpim.errors import UserError

    with pytest.raises(UserError, match="gemm_efficiency"):
        load_spec("gpu_a100", {"gemm_efficiency": 1.5})
    with pytest.raises(UserError, match="energy_model"):
        load_spec("gpu_a100", {"energy_model": "nameplate"})
