"""Low-rank baselines at one parameter budget: ASVD scaling, SVD-LLM whitening, FWSVD Fisher weights
(hyflexpim.algo.factorize), their calibration (hyflexpim.algo.calibration) and the budget rank policies."""

import pytest
import torch

from conftest import cls_batches, lm_batches, tiny_bert, tiny_llama
from hyflexpim.algo.calibration import fisher_rows, input_statistics
from hyflexpim.algo.decompose import DecomposeConfig, calibration, decompose
from hyflexpim.algo.factorize import factorize
from hyflexpim.algo.rank import RANK_POLICIES, budget_rank
from hyflexpim.config import validate
from hyflexpim.errors import UserError
from hyflexpim.models.layers import SVDLinear

CFG = DecomposeConfig()


def _problem(d_out=24, d_in=32, n=4000, seed=0):
    """A weight and correlated, unevenly scaled inputs (the case where weighting matters)."""
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(d_out, d_in, generator=g, dtype=torch.float64)
    mix = torch.randn(d_in, d_in, generator=g, dtype=torch.float64) * torch.logspace(0, -2, d_in, dtype=torch.float64)
    X = torch.randn(n, d_in, generator=g, dtype=torch.float64) @ mix.T
    return W, X


def _stats(X):
    return {"abs_mean": X.abs().mean(0), "gram": X.T @ X / X.shape[0], "fisher": torch.ones(24, dtype=torch.float64)}


@pytest.mark.parametrize("method", ["svd", "asvd", "whiten", "fisher"])
def test_every_method_is_exact_at_full_rank(method):
    W, X = _problem()
    U, S, Vh = factorize(method, W, _stats(X), CFG)
    assert torch.allclose((U * S) @ Vh, W.to(U.dtype), atol=1e-4)
    assert bool((S[:-1] >= S[1:]).all())  # sorted: a rank keeps the first k


def test_whitened_truncation_costs_exactly_the_dropped_singular_values():
    """SVD-LLM's point: with L Lᵀ = E[x xᵀ], dropping component i costs σ_i² of E‖(W − W_k) x‖²; plain SVD loses
    more."""
    W, X = _problem()
    st = _stats(X)
    k = 8
    U, S, Vh = factorize("whiten", W, st, CFG)
    err = (((W - (U[:, :k] * S[:k]) @ Vh[:k]) @ X.T) ** 2).sum(0).mean()
    assert abs(float(err) / float((S[k:] ** 2).sum()) - 1) < 1e-3
    Up, Sp, Vp = factorize("svd", W, st, CFG)
    plain = (((W - ((Up[:, :k] * Sp[:k]) @ Vp[:k]).double()) @ X.T) ** 2).sum(0).mean()
    assert float(err) < 0.8 * float(plain)


def test_asvd_and_fisher_reduce_to_plain_svd_without_weights():
    W, X = _problem()
    ref = factorize("svd", W, None, CFG)[1].double()
    flat = {"abs_mean": torch.full((32,), 3.0, dtype=torch.float64),
            "fisher": torch.full((24,), 2.0, dtype=torch.float64)}
    for method in ("asvd", "fisher"):
        S = factorize(method, W, flat, CFG)[1]
        assert torch.allclose(S / S[0], ref / ref[0], atol=1e-5), method
    S = factorize("asvd", W, _stats(X), CFG.model_copy(update={"asvd_alpha": 0.0}))[1]
    assert torch.allclose(S, ref, atol=1e-4)


def test_fisher_rows_match_the_gradients_by_hand():
    torch.manual_seed(0)
    model = tiny_bert()
    batches = cls_batches(3)
    name = "bert.encoder.layer.0.attention.self.query"
    got = fisher_rows(model, batches, [name], 3, progress=False)[name]
    assert all(p.requires_grad and p.grad is None for p in model.parameters())  # left as it was
    lin = model.get_submodule(name)
    want = torch.zeros_like(got)
    model.eval()
    for b in batches:
        model.zero_grad()
        model(**b).loss.backward()
        want += (lin.weight.grad.double() ** 2).sum(1)
    assert torch.allclose(got, want, rtol=1e-6) and float(got.min()) > 0


def test_input_statistics_leave_padding_out():
    torch.manual_seed(0)
    model = tiny_bert()
    batch = cls_batches(1)[0]
    batch["attention_mask"][:, 6:] = 0
    name = "bert.encoder.layer.0.attention.self.query"
    st = input_statistics(model, [batch], [name], 1, gram=True, progress=False)
    assert st.count[name] == int(batch["attention_mask"].sum()) and st.gram[name].shape == (32, 32)


@pytest.mark.parametrize("method", ["asvd", "whiten", "fisher"])
def test_a_calibrated_decomposition_at_full_rank_keeps_the_model(method):
    torch.manual_seed(0)
    model = tiny_llama()
    batches = lm_batches(3)
    model.eval()
    with torch.no_grad():
        ref = model(**batches[0]).logits
    cfg = DecomposeConfig(rank_policy="full", method=method, calibration_batches=3)
    decompose(model, cfg, stats=calibration(model, cfg, batches, progress=False))
    with torch.no_grad():
        out = model(**batches[0]).logits
    assert torch.allclose(out, ref, atol=1e-3)


def _share(model):
    layers = [m for m in model.modules() if isinstance(m, SVDLinear)]
    return (sum(m.rank * sum(m.hyflexpim_shape) for m in layers) / sum(m.hyflexpim_shape[0] * m.hyflexpim_shape[1]
            for m in layers)), layers


@pytest.mark.parametrize("policy", ["uniform", "energy_budget"])
def test_budget_policies_spend_the_budget(policy):
    torch.manual_seed(0)
    model = tiny_bert()
    decompose(model, DecomposeConfig(rank_policy=policy, budget=0.4))
    share, layers = _share(model)
    largest = max(sum(m.hyflexpim_shape) for m in layers) / sum(m.hyflexpim_shape[0] * m.hyflexpim_shape[1]
                                                               for m in layers)
    assert 0.4 - len(layers) * largest <= share <= 0.4 + 1e-9 if policy == "uniform" else 0.4 - largest <= share <= 0.4
    if policy == "uniform":
        assert all(m.rank == budget_rank(m.hyflexpim_shape, 0.4) for m in layers)
    else:
        assert len({m.rank for m in layers}) > 1  # one shared energy fraction, ranks per matrix


def test_budget_policy_and_method_settings_are_one_line():
    for data, word in (({"rank_policy": "uniform"}, "budget"), ({"rank_policy": "energy_budget"}, "budget"),
                       ({"method": "qr"}, "method"), ({"method": "asvd", "asvd_alpha": -1}, "asvd_alpha"),
                       ({"calibration_batches": 0}, "calibration_batches")):
        with pytest.raises(UserError) as e:
            validate(DecomposeConfig, data, "decompose")
        assert word in str(e.value) and "\n" not in str(e.value)
    assert RANK_POLICIES.get("uniform").uses_budget
    with pytest.raises(UserError, match="calibration"):
        decompose(tiny_bert(), DecomposeConfig(method="whiten"))
