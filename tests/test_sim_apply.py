import pytest
import torch

from conftest import cls_batches, tiny_bert, tiny_llama
from hyflexpim.algo.decompose import decompose
from hyflexpim.algo.importance import score_importance
from hyflexpim.algo.plan_policy import make_plan
from hyflexpim.device.quant import dequantize, int8_scale, quantize
from hyflexpim.errors import UserError
from hyflexpim.sim.apply import apply_plan
from hyflexpim.sim.config import HardwareConfig
from hyflexpim.sim.pim_linear import PIMLinear

NAME = "bert.encoder.layer.0.intermediate.dense"


def decomposed_bert(rate=10):
    model = tiny_bert()
    decompose(model)
    return model, make_plan(model, score_importance(model, "singular_value"), rate)


def test_all_slc_ideal_is_exactly_int8_of_u_and_sigma_vt():
    model, plan = decomposed_bert(100)
    twin = apply_plan(model, plan, HardwareConfig())  # paper noise: SLC ideal by default
    svd, pim = model.get_submodule(NAME), twin.get_submodule(NAME)
    assert isinstance(pim, PIMLinear)
    svh = svd.S.detach()[:, None] * svd.Vh.detach()
    for w, got in ((svh, pim.w0), (svd.U.detach(), pim.w1)):
        s = int8_scale(w)
        assert torch.equal(got, dequantize(quantize(w, s), s))
    assert isinstance(model.get_submodule(NAME), type(svd))  # the original is untouched


def test_paper_noise_statistics_on_mlc_slices():
    model, plan = decomposed_bert(0)
    hw = HardwareConfig(noise={"kind": "paper", "sigma_mlc": 0.05})
    clean = apply_plan(model, plan, HardwareConfig(noise={"kind": "ideal"})).get_submodule(NAME).w1
    noisy = apply_plan(model, plan, hw, seed=1).get_submodule(NAME).w1
    scale = int8_scale(model.get_submodule(NAME).U.detach())
    # weight error / scale = Σ_j place_j · digit_j · σ · N(0,1); its variance is σ² Σ place² digit²
    from hyflexpim.device.slicing import slice_int8

    q = quantize(model.get_submodule(NAME).U.detach(), scale)
    cells = slice_int8(q, 2)
    var = (0.05 ** 2) * ((cells.digits[0] * cells.place.reshape(-1, 1, 1)) ** 2).sum(0)
    z = ((noisy - clean) / scale) / var.clamp_min(1e-12).sqrt()
    z = z[var > 0]
    assert abs(z.mean().item()) < 4 / z.numel() ** 0.5 * 2
    assert 0.85 < z.std().item() < 1.15


def test_same_seed_identical_different_seed_differs():
    model, plan = decomposed_bert(10)
    a = apply_plan(model, plan, seed=3).get_submodule(NAME).w1
    b = apply_plan(model, plan, seed=3).get_submodule(NAME).w1
    c = apply_plan(model, plan, seed=4).get_submodule(NAME).w1
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_slc_components_are_noise_free_by_default():
    model, plan = decomposed_bert(50)
    e = plan.by_name()[NAME]
    ideal = apply_plan(model, plan, HardwareConfig(noise={"kind": "ideal"})).get_submodule(NAME)
    noisy = apply_plan(model, plan, seed=0).get_submodule(NAME)
    slc = torch.tensor(e.slc)
    mlc = torch.tensor([i for i in range(e.rank) if i not in e.slc])
    assert torch.equal(ideal.w0[slc], noisy.w0[slc]) and torch.equal(ideal.w1[:, slc], noisy.w1[:, slc])
    assert not torch.equal(ideal.w0[mlc], noisy.w0[mlc])


def test_noisy_model_runs_and_same_cost_structure():
    model, plan = decomposed_bert(10)
    twin = apply_plan(model, plan, seed=0)
    batch = cls_batches(1)[0]
    with torch.no_grad():
        out = twin(**{k: v for k, v in batch.items() if k != "labels"}).logits
    assert out.shape == (4, 2) and torch.isfinite(out).all()
    assert not any(getattr(m, "dynamic", False) for m in twin.modules())


def test_plan_for_another_model_or_bad_noise_is_refused():
    model, plan = decomposed_bert(10)
    other = tiny_llama()
    decompose(other)
    with pytest.raises(UserError, match="plan was made for"):
        apply_plan(other, plan)
    with pytest.raises(UserError, match="noise"):
        apply_plan(model, plan, HardwareConfig(noise={"kind": "paper", "sigma_mlc": -1}))
    with pytest.raises(UserError, match="noise kind"):
        apply_plan(model, plan, HardwareConfig(noise={"kind": "bogus"}))


def test_row_plan_applies_to_undecomposed_model_only():
    model = tiny_bert()
    plan = make_plan(model, score_importance(model, "magnitude"), 20)
    twin = apply_plan(model, plan)
    assert isinstance(twin.get_submodule(NAME), PIMLinear)
    decompose(model)
    with pytest.raises(UserError, match="decomposed"):
        apply_plan(model, plan)


def test_circuit_mode_with_wide_adc_matches_static_int8_closely():
    """Circuit mode, ideal cells, ADC wide enough: only the 8-bit activation quantization differs from static INT8."""
    model, plan = decomposed_bert(10)
    batch = cls_batches(1)[0]
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    ideal = HardwareConfig(noise={"kind": "ideal"})
    circuit = HardwareConfig(noise={"kind": "ideal"}, mode="circuit",
                             circuit={"adc_bits_slc": 12, "adc_bits_mlc": 12, "input_bits": 16})
    with torch.no_grad():
        a = apply_plan(model, plan, ideal)(**inputs).logits
        b = apply_plan(model, plan, circuit)(**inputs).logits
    assert (a - b).abs().max() < 1e-3 * a.abs().max() + 1e-4
    layer = apply_plan(model, plan, circuit).get_submodule(NAME)
    assert layer.dynamic and layer.circuit is not None


def test_digital_attention_through_hardware_config():
    model, plan = decomposed_bert(100)
    batch = cls_batches(1)[0]
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        a = apply_plan(model, plan, HardwareConfig(noise={"kind": "ideal"}))(**inputs).logits
        b = apply_plan(model, plan, HardwareConfig(noise={"kind": "ideal"}, digital_attention={}))(**inputs).logits
    assert not torch.equal(a, b) and (a - b).abs().max() < 0.05 * a.abs().max() + 1e-3
