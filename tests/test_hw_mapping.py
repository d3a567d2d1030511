"""Mapping: capacity, chips, SLC/MLC array counts, plan/shape checks."""

import pytest

from hyflexpim import __version__
from hyflexpim.errors import UserError
from hyflexpim.hw import evaluate, get_shape, load_spec, uniform_plan
from hyflexpim.hw.mapping import map_plan
from hyflexpim.plan import Architecture, MatrixPlan, Plan, hard_threshold_rank

TINY = Architecture(name="tiny", layers=1, hidden=64, heads=1, kv_heads=1, head_dim=64, ffn=256)


def test_one_pu_holds_one_bert_large_layer_all_slc():
    shape = get_shape("bert-large")
    weights = sum(d_out * d_in for _, _, l, (d_out, d_in) in shape.matrices() if l == 0)
    assert weights == 12_582_912
    mp = map_plan(uniform_plan(shape, 100), load_spec("all_slc", {"mapping": {"head": "exclude"}}))
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
    arrays = [map_plan(uniform_plan(shape, r), spec).arrays_used for r in (0, 10, 50, 100)]
    assert arrays == sorted(arrays)
    assert arrays[-1] > 1.8 * arrays[0]


def test_encoding_sets_the_cell_columns():
    """Differential pairs store |w| twice over (2x columns); offset adds one reference weight per block."""
    plan = uniform_plan(get_shape("bert-base"), 10)

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
    small = map_plan(uniform_plan(get_shape("bert-base"), 100), spec)
    big = map_plan(uniform_plan(get_shape("llama-3.2-1b"), 100), spec)
    assert small.chips == 1
    assert big.pus_per_layer > 1 and big.chips > 1
    # fewer PUs per chip -> more chips
    tiny = load_spec("all_slc", {"chip": {"pus": 4}})
    # 12 layers on 3, the head's PU on a 4th
    assert map_plan(uniform_plan(get_shape("bert-base"), 100), tiny).chips == 4


def test_too_many_chips_is_a_user_error():
    spec = load_spec("all_slc", {"chip": {"max_chips": 2}})
    with pytest.raises(UserError, match=r"chip\.max_chips"):
        map_plan(uniform_plan(get_shape("llama-3.2-1b"), 100), spec)


def test_tensor_parallel_too_small_is_a_user_error():
    spec = load_spec("all_slc", {"mapping": {"tensor_parallel": 1}})
    with pytest.raises(UserError, match=r"mapping\.tensor_parallel"):
        map_plan(uniform_plan(get_shape("llama-3.2-1b"), 100), spec)


def test_plan_shape_mismatch_names_the_matrix():
    plan = uniform_plan(get_shape("bert-base"), 10)
    with pytest.raises(UserError, match=r"layers.0.attn.q"):
        plan.check_covers(get_shape("bert-large"))
    with pytest.raises(UserError, match=r"layers.0.attn.q"):
        evaluate(plan, "hyflexpim", [128], shape="bert-large")


def _tiny_matrices():
    return [MatrixPlan(name="enc.0.q", role="q", layer=0, shape=(64, 64), analog=True, rank=32, slc=[0, 1]),
            MatrixPlan(name="enc.0.k", role="k", layer=0, shape=(64, 64), analog=True, rank=32),
            MatrixPlan(name="enc.0.v", role="v", layer=0, shape=(64, 64), analog=True, rank=32),
            MatrixPlan(name="enc.0.o", role="o", layer=0, shape=(64, 64), analog=True, rank=32),
            MatrixPlan(name="enc.0.ffn", role="ffn_in", layer=0, shape=(256, 64), analog=True, unit="row", slc=[3]),
            MatrixPlan(name="enc.0.out", role="ffn_out", layer=0, shape=(64, 256), analog=True, rank=51),
            MatrixPlan(name="head", role="head", layer=None, shape=(2, 64), analog=False, digital_reason="tiny")]


def test_real_plan_is_priced_with_its_own_architecture():
    plan = Plan(package_version=__version__, model_name="tiny", model_fingerprint="x", architecture=TINY,
                matrices=_tiny_matrices())
    r = evaluate(plan, "hyflexpim", [16, 32])
    assert r.info.stages == 2  # layer 0 + the stage outside the layers (digital head)
    assert all(v > 0 for v in r.throughput_tok_s)


def test_plan_missing_a_matrix_of_its_architecture_is_refused():
    m = [x for x in _tiny_matrices() if x.role != "v"]
    plan = Plan(package_version=__version__, model_name="tiny", model_fingerprint="x", architecture=TINY, matrices=m)
    with pytest.raises(UserError, match=r"does not cover matrix layers\.0\.attn\.v"):
        evaluate(plan, "hyflexpim", [16])


def test_format_1_plan_is_migrated_with_a_note(tmp_path):
    import json

    from hyflexpim.plan import load_plan

    old = {"format": 1, "package_version": "0.1.0", "model_name": "shape-test", "model_fingerprint": "shape:bert-base",
           "policy": {"name": "uniform", "slc_rate": 0.1},
           "matrices": [m.model_dump() for m in uniform_plan(get_shape("bert-base"), 10).matrices]}
    (tmp_path / "old.json").write_text(json.dumps(old))
    plan = load_plan(tmp_path / "old.json")
    assert plan.format == 2 and plan.policy["slc_rate"] == pytest.approx(10.0)  # a fraction in format 1
    assert any("format 1" in n for n in plan.notes)
    a, b = plan.architecture, get_shape("bert-base")
    assert (a.layers, a.hidden, a.heads, a.kv_heads, a.ffn, a.decoder) == (b.layers, b.hidden, b.heads, b.kv_heads,
                                                                             b.ffn, False)
    r = evaluate(plan, "hyflexpim", [128], decoder=True)  # the user may say what format 1 could not
    assert r.info.gen_tokens == 128


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
    plan = Plan(package_version=__version__, model_name="t", model_fingerprint="x", architecture=TINY, matrices=m)
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


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_mlc_of_1_to_4_bits_is_priced(bits):
    spec = load_spec("hyflexpim", {"analog": {"mlc_bits": bits}})
    assert spec.analog.cells_per_weight(False) == -(-8 // bits)
    plan = uniform_plan(get_shape("bert-base"), 0)
    arrays = map_plan(plan, spec).arrays_used
    ref = map_plan(plan, load_spec("hyflexpim")).arrays_used
    assert (arrays < ref) == (bits > 2) and (arrays > ref) == (bits < 2)
    r = evaluate("bert-base", spec, [128], slc_rate=0)
    assert r.info.cells_per_weight_mlc == -(-8 // bits) and r.throughput_tok_s[0] > 0
