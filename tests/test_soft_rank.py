"""Learned ranks by soft thresholding (hyflexpim.algo.soft_rank): exact when nothing is clipped, the budget
penalty's gradient, hard truncation, bad settings."""

import pytest
import torch

from conftest import cls_batches, tiny_bert
from hyflexpim.algo.decompose import decompose
from hyflexpim.algo.finetune import FinetuneConfig, finetune
from hyflexpim.algo.soft_rank import SoftRankConfig, enable_soft_rank, harden
from hyflexpim.config import validate
from hyflexpim.errors import UserError
from hyflexpim.models.layers import SVDLinear


def _layer(d_out=12, d_in=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    lin = torch.nn.Linear(d_in, d_out)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(d_out, d_in, generator=g))
    return torch.nn.Sequential(SVDLinear.from_module(lin))


def test_a_threshold_at_zero_is_the_plain_decomposed_layer():
    model = _layer()
    x = torch.randn(5, 16)
    ref = model(x)
    soft = enable_soft_rank(model, SoftRankConfig(init="zero", threshold="soft_shrink", penalty=0))
    assert torch.equal(model(x), ref)
    assert soft.ranks() == {"0": 12} and float(soft.penalty().detach()) == 0.0


@pytest.mark.parametrize("init, direction", [("zero", 1), ("budget", None)])
def test_the_budget_penalty_moves_alpha_toward_the_budget(init, direction):
    model = _layer()
    soft = enable_soft_rank(model, SoftRankConfig(init=init, init_fraction=1.0, temperature=0.05), budget=0.25)
    alpha = soft.layers["0"].alpha
    soft.penalty().backward()
    above = float(soft.soft_params()) > soft.target
    # gradient descent raises α (fewer survivors) when the soft count is above the budget, lowers it below
    assert (float(alpha.grad) < 0) == above and float(alpha.grad) != 0
    if direction is not None:
        assert above  # nothing clipped at α = 0: above any budget < 1


def test_truncation_keeps_the_outputs_of_the_soft_model():
    for threshold in ("soft_shrink", "sigmoid_gate"):
        model = _layer(seed=1)
        soft = enable_soft_rank(model, SoftRankConfig(threshold=threshold, temperature=0.002), budget=0.4)
        x = torch.randn(7, 16)
        with torch.no_grad():
            before = model(x)
            dropped = model[0].clipped()[~model[0].alive()].abs().max()  # the largest clipped σ truncation drops
        survivors = soft.ranks()
        ranks = harden(model)
        assert ranks == survivors  # what the handle counted is what truncation keeps
        assert type(model[0]) is SVDLinear and model[0].rank == ranks["0"] < 12
        with torch.no_grad():
            after = model(x)
        # U and Vᵀ are orthonormal: each output row moves by at most the largest dropped clipped σ times ‖x‖
        bound = float(dropped) * x.norm(dim=-1) + 1e-5
        assert bool(((after - before).norm(dim=-1) <= bound).all()), threshold
        if threshold == "soft_shrink":
            assert float(dropped) == 0.0 and torch.allclose(after, before, atol=1e-5)  # dead means zero: exact


def test_the_hardened_layer_runs_as_two_dense_matmuls_with_the_same_output():
    from hyflexpim.models.layers import LowRankLinear

    model = _layer(seed=2)
    enable_soft_rank(model, SoftRankConfig(), budget=0.5)
    ranks = harden(model)
    fast = LowRankLinear.from_svd(model[0])  # Σ folded into U: first [k, d_in], second [d_out, k]
    assert fast.first.shape == (ranks["0"], 16) and fast.second.shape == (12, ranks["0"])
    assert sum(p.numel() for p in fast.parameters()) == ranks["0"] * (12 + 16) + 12  # factors + bias, no Σ
    x = torch.randn(5, 3, 16)
    with torch.no_grad():
        assert torch.allclose(fast(x), model[0](x), atol=1e-5)


@pytest.mark.slow  # a fine-tune with the rank penalty, twice
@pytest.mark.parametrize("project", [True, False])
def test_a_fine_tune_lands_within_two_percent_of_the_budget(project):
    torch.manual_seed(0)
    model = tiny_bert()
    decompose(model)
    soft = enable_soft_rank(model, SoftRankConfig(penalty=50.0, project=project), budget=0.5)
    batches = cls_batches(4)
    finetune(model, batches * 25, FinetuneConfig(lr=1e-4, max_steps=100), progress=False, regularizer=soft.penalty,
             on_step=soft.anneal, extra=(soft.parameters(), soft.config.lr_scale))
    assert abs(soft.achieved() - 0.5) <= 0.02, soft.achieved()
    ranks = harden(model)
    dense = sum(m.hyflexpim_shape[0] * m.hyflexpim_shape[1] for m in model.modules() if isinstance(m, SVDLinear))
    kept = sum(m.rank * sum(m.hyflexpim_shape) for m in model.modules() if isinstance(m, SVDLinear))
    assert abs(kept / dense - 0.5) <= 0.02 and len(set(ranks.values())) > 1  # ranks differ per matrix


def test_bad_settings_are_one_line():
    from hyflexpim.algo.decompose import DecomposeConfig

    for cls, data, word in ((DecomposeConfig, {"rank_policy": "learned", "budget": 0}, "budget"),
                            (DecomposeConfig, {"rank_policy": "learned", "budget": 1.5}, "budget"),
                            (DecomposeConfig, {"rank_policy": "learned"}, "budget"),
                            (SoftRankConfig, {"min_rank": {"v": 0}}, "min_rank")):
        with pytest.raises(UserError) as e:
            validate(cls, data, "decompose")
        assert word in str(e.value) and "\n" not in str(e.value)
    model = _layer()
    with pytest.raises(UserError, match="above the rank"):
        enable_soft_rank(model, SoftRankConfig(min_rank={"v": 50}), roles={"0": "v"})
    with pytest.raises(UserError, match="no decomposed matrices"):
        enable_soft_rank(torch.nn.Sequential(torch.nn.Linear(3, 3)), SoftRankConfig())


def test_the_projection_fits_the_budget_to_one_component():
    torch.manual_seed(0)
    model = tiny_bert()
    decompose(model)
    soft = enable_soft_rank(model, SoftRankConfig(init="zero", min_rank={"v": 3}), budget=0.3)
    roles = {n: ("v" if n.endswith("value") else "") for n in soft.layers}
    for n, m in soft.layers.items():
        m.floor = 3 if roles[n] == "v" else 1
        with torch.no_grad():
            m.alpha.uniform_(0, 0.5)  # some thresholds, all different
    before = {n: m.alive().clone() for n, m in soft.layers.items()}
    soft.project()
    largest = max(sum(m.hyflexpim_shape) for m in soft.layers.values()) / soft.dense
    assert 0.3 - largest <= soft.achieved() <= 0.3 + 1e-9
    assert all(int(m.alive().sum()) >= m.floor for m in soft.layers.values())
    # one shared shift: a matrix never both gains and loses components
    for n, m in soft.layers.items():
        after = m.alive()
        assert bool((after >= before[n]).all()) or bool((after <= before[n]).all())
