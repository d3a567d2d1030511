"""Mapping: capacity, chips, SLC/MLC array counts, plan/shape checks."""

import pytest

from hyflexpim import __version__
from hyflexpim.errors import UserError
from hyflexpim.hw import evaluate, get_shape, load_spec, uniform_plan
from hyflexpim.hw.mapping import map_plan
from hyflexpim.hw.shapes import check_plan_against_shape, hard_threshold_rank
from hyflexpim.plan import MatrixPlan, Plan


def test_one_pu_holds_one_bert_large_layer_all_slc():
    shape = get_shape("bert-large")
    weights = sum(d_out * d_in for _, _, l, (d_out, d_in) in shape.matrices() if l == 0)
    assert weights == 12_582_912
    mp = map_plan(uniform_plan(shape, 1.0), load_spec("all_slc"))
    assert mp.pus_per_layer == 1
    assert mp.stages[0].arrays() == 24 * 512  # exactly full
    assert mp.utilisation == pytest.approx(1.0)
    assert mp.chips == 1


def test_hard_threshold_rank():
    assert hard_threshold_rank(768, 768) == 384
    assert hard_threshold_rank(3072, 768) == 614
    assert hard_threshold_rank(1, 1) == 1
    assert hard_threshold_rank(1, 2) == 1


def test_mlc_uses_fewer_arrays_and_slc_rate_in_between():
    shape = get_shape("bert-base")
    spec = load_spec("hyflexpim")
    arrays = [map_plan(uniform_plan(shape, r), spec).arrays_used for r in (0.0, 0.1, 0.5, 1.0)]
    assert arrays == sorted(arrays)
    assert arrays[-1] > 1.8 * arrays[0]


def test_encoding_sets_the_cell_columns():
    """Differential pairs store |w| twice over (2x columns); offset adds one reference weight per block."""
    plan = uniform_plan(get_shape("bert-base"), 0.1)

    def cells(encoding):
        mp = map_plan(plan, load_spec("hyflexpim", {"analog": {"encoding": encoding}}))
        return sum(b.rows * b.cols for s in mp.stages for b in s.blocks)

    twos, diff, off = cells("twos_complement"), cells("differential"), cells("offset")
    assert diff == 2 * twos
    assert twos < off < 1.01 * twos
    with pytest.raises(UserError, match="encoding"):
        load_spec("hyflexpim", {"analog": {"encoding": "sign_magnitude"}})


def test_chips_grow_when_model_does_not_fit():
    spec = load_spec("all_slc")
    small = map_plan(uniform_plan(get_shape("bert-base"), 1.0), spec)
    big = map_plan(uniform_plan(get_shape("llama-3.2-1b"), 1.0), spec)
    assert small.chips == 1
    assert big.pus_per_layer > 1 and big.chips > 1
    # fewer PUs per chip -> more chips
    tiny = load_spec("all_slc", {"chip": {"pus": 4}})
    assert map_plan(uniform_plan(get_shape("bert-base"), 1.0), tiny).chips == 3


def test_too_many_chips_is_a_user_error():
    spec = load_spec("all_slc", {"chip": {"max_chips": 2}})
    with pytest.raises(UserError, match=r"chip\.max_chips"):
        map_plan(uniform_plan(get_shape("llama-3.2-1b"), 1.0), spec)


def test_tensor_parallel_too_small_is_a_user_error():
    spec = load_spec("all_slc", {"mapping": {"tensor_parallel": 1}})
    with pytest.raises(UserError, match=r"mapping\.tensor_parallel"):
        map_plan(uniform_plan(get_shape("llama-3.2-1b"), 1.0), spec)


def test_plan_shape_mismatch_names_the_matrix():
    plan = uniform_plan(get_shape("bert-base"), 0.1)
    with pytest.raises(UserError, match="layers.0.attn.q"):
        check_plan_against_shape(plan, get_shape("bert-large"))
    with pytest.raises(UserError, match="layers.0.attn.q"):
        evaluate(plan, "hyflexpim", [128], shape="bert-large")


def test_real_plan_without_shape_infers_dimensions():
    m = [MatrixPlan(name="enc.0.q", role="q", layer=0, shape=(64, 64), analog=True, rank=32, slc=[0, 1]),
         MatrixPlan(name="enc.0.ffn", role="ffn_in", layer=0, shape=(256, 64), analog=True, unit="row", slc=[3]),
         MatrixPlan(name="head", role="head", layer=None, shape=(2, 64), analog=False, digital_reason="tiny")]
    plan = Plan(package_version=__version__, model_name="tiny", model_fingerprint="x", matrices=m)
    r = evaluate(plan, "hyflexpim", [16, 32])
    assert r["info"]["stages"] == 2  # layer 0 + the stage outside the layers (digital head)
    assert all(v > 0 for v in r["throughput_tok_s"])


def test_gqa_shapes_and_gated_mlp():
    llama = {r: s for _, r, l, s in get_shape("llama-3.2-1b").matrices() if l == 0}
    assert llama["k"] == (512, 2048) and llama["v"] == (512, 2048) and llama["ffn_gate"] == (8192, 2048)
    smol = {r: s for _, r, l, s in get_shape("smollm2-135m").matrices() if l == 0}
    assert smol["k"] == (192, 576) and smol["ffn_out"] == (576, 1536)
    assert len(get_shape("smollm2-135m").matrices()) == 30 * 7
    assert get_shape("gpt2").matrices()[0][1:] == ("qkv", 0, (2304, 768))


def test_digital_matrices_excluded_or_on_digital_pim():
    m = [MatrixPlan(name="l0.q", role="q", layer=0, shape=(64, 64), analog=True, rank=32),
         MatrixPlan(name="l0.o", role="o", layer=0, shape=(64, 64), analog=False, digital_reason="test")]
    plan = Plan(package_version=__version__, model_name="t", model_fingerprint="x", matrices=m)
    on = map_plan(plan, load_spec("hyflexpim"))
    assert on.stages[0].digital_macs == 64 * 64 and on.excluded == []
    off = map_plan(plan, load_spec("hyflexpim", {"mapping": {"digital_matrices": "exclude"}}))
    assert off.stages[0].digital_macs == 0 and off.excluded == ["l0.o"]


def test_slc_components_go_to_slc_arrays():
    spec = load_spec("hyflexpim")
    m = MatrixPlan(name="x", role="q", layer=0, shape=(768, 768), analog=True, rank=384, slc=list(range(64)))
    from hyflexpim.hw.mapping import matrix_blocks

    b = {(blk.step % 2, blk.slc): blk for blk in matrix_blocks(m, spec)}
    assert (b[(0, True)].rows, b[(0, True)].cols) == (768, 64 * 8)  # ΣVᵀ: SLC output columns
    assert (b[(0, False)].rows, b[(0, False)].cols) == (768, 320 * 4)
    assert (b[(1, True)].rows, b[(1, True)].cols) == (64, 768 * 8)  # U: SLC input rows
    assert (b[(1, False)].rows, b[(1, False)].cols) == (320, 768 * 4)
    assert b[(1, False)].merge_adds == 768
