import pytest
import torch

from conftest import cls_batches, lm_batches, tiny_bert, tiny_gpt2, tiny_llama
from hyflexpim.algo.decompose import DecomposeConfig, decompose
from hyflexpim.algo.finetune import FinetuneConfig, finetune
from hyflexpim.algo.importance import score_importance
from hyflexpim.algo.plan_policy import make_plan
from hyflexpim.algo.rank import choose_rank, hard_threshold_rank
from hyflexpim.errors import NumericalError, UserError
from hyflexpim.models.layers import SVDLinear


@pytest.mark.parametrize("make", [tiny_bert, tiny_gpt2, tiny_llama])
def test_full_rank_reproduces_the_original_model(make):
    model = make()
    batch = lm_batches(1)[0] if make is not tiny_bert else cls_batches(1)[0]
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        before = model(**inputs).logits
        decompose(model, DecomposeConfig(rank_policy="full"))
        after = model(**inputs).logits
    assert any(isinstance(m, SVDLinear) for m in model.modules())
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-5)


def test_hard_threshold_rank_per_matrix_keeps_weight_count_and_no_original_copy():
    model = tiny_llama()
    n_before = sum(p.numel() for p in model.parameters())
    decompose(model)
    q = model.get_submodule("model.layers.0.self_attn.q_proj")
    k = model.get_submodule("model.layers.0.self_attn.k_proj")
    assert q.rank == hard_threshold_rank(48, 48) == 24
    assert k.rank == hard_threshold_rank(16, 48) == 12  # its own rank, not q's
    assert not hasattr(q, "weight") or not isinstance(q.weight, torch.nn.Parameter)
    n_after = sum(p.numel() for p in model.parameters())
    # U and ΣVᵀ hold at most as many weights as W; Σ adds k per matrix
    assert n_after <= n_before + sum(m.rank for m in model.modules() if isinstance(m, SVDLinear))


def test_rank_policies_and_errors():
    S = torch.tensor([4.0, 2.0, 1.0, 0.5])
    assert choose_rank("ratio", (8, 4), S, 0.5) == 2
    assert choose_rank("energy", (8, 4), S, 0.9) == 2  # 16+4=20 of 21.25 -> 94%
    assert choose_rank("energy", (8, 4), S, 0.5) == 1
    with pytest.raises(UserError, match=r"1\.\.4"):
        choose_rank("fixed", (8, 4), S, 5)
    with pytest.raises(UserError, match=r"1\.\.4"):
        choose_rank("fixed", (8, 4), S, 0)
    with pytest.raises(UserError, match="rank policy"):
        choose_rank("bogus", (8, 4), S, 1)


def test_gradient_importance_averages_over_many_batches():
    model = tiny_bert()
    decompose(model)
    batches = cls_batches(6)
    one = score_importance(model, "grad_abs", batches[:1], n_batches=1, progress=False)
    many = score_importance(model, "grad_abs", batches, n_batches=6, progress=False)
    name = "bert.encoder.layer.0.attention.self.query"
    assert many.batches == 6 and one.batches == 1
    assert many.scores[name].shape == (16,) and (many.scores[name] >= 0).all()
    # mean of |g| over batches: recompute by hand
    layer = model.get_submodule(name)
    acc = torch.zeros(16, dtype=torch.float64)
    for b in batches:
        model.zero_grad()
        model(**b).loss.backward()
        acc += layer.S.grad.double().abs()
    torch.testing.assert_close(many.scores[name], (acc / 6).float(), rtol=1e-4, atol=1e-8)
    assert not torch.allclose(one.scores[name], many.scores[name])


def test_uniform_plan_picks_top_components_per_matrix():
    model = tiny_bert()
    decompose(model)
    imp = score_importance(model, "singular_value")
    plan = make_plan(model, imp, 25, "uniform")
    for e in plan.analog:
        assert len(e.slc) == round(0.25 * e.rank)
        assert e.slc == list(range(len(e.slc)))  # singular values come sorted: the leading ones
    assert {e.digital_reason for e in plan.digital} >= {"head/classifier stays digital"}


def test_global_plan_spends_budget_on_importance_per_weight():
    model = tiny_bert()
    decompose(model)
    imp = score_importance(model, "singular_value")
    plan = make_plan(model, imp, 10, "global")
    assert 0.08 <= plan.slc_weight_fraction <= 0.10 + 1e-9
    counts = [len(e.slc) for e in plan.analog]
    assert len(set(counts)) > 1  # not uniform


def test_magnitude_plan_uses_rows_of_the_undecomposed_matrix():
    model = tiny_bert()
    imp = score_importance(model, "magnitude")
    plan = make_plan(model, imp, 50)
    e = plan.by_name()["bert.encoder.layer.0.intermediate.dense"]
    assert (e.unit, e.rank, e.n_units, len(e.slc)) == ("row", None, 64, 32)


def test_slc_rate_outside_range_is_refused():
    model = tiny_bert()
    decompose(model)
    imp = score_importance(model, "singular_value")
    for bad in (-1, 100.5, float("nan")):
        with pytest.raises(UserError, match=r"0..100"):
            make_plan(model, imp, bad)


def test_finetune_lowers_loss_and_stops_on_nan():
    model = tiny_bert()
    decompose(model)
    batches = cls_batches(4, seed=3)
    res = finetune(model, batches, FinetuneConfig(epochs=15, lr=3e-3, warmup_fraction=0.0), progress=False)
    assert res.steps == 60
    assert sum(res.losses[-4:]) < sum(res.losses[:4])
    with torch.no_grad():
        model.get_submodule("bert.encoder.layer.1.output.dense").S.fill_(float("nan"))
    with pytest.raises(NumericalError, match=r"finetune.*bert.encoder.layer.1.output.dense"):
        finetune(model, batches, FinetuneConfig(epochs=1), progress=False)
