"""Attention capture and streamed metrics on tiny models of every family, exact on hand-built rows."""

import math

import pytest
import torch

from conftest import cls_batches, lm_batches, tiny_bert, tiny_gpt2, tiny_llama, tiny_vit
from hyflexpim.analysis import analyze_attention
from hyflexpim.analysis.metrics import LayerStats, compare_rows, row_stats, update
from hyflexpim.errors import UserError
from hyflexpim.sim.attention_capture import capture_attention


def _reference(model, batch):
    model.set_attn_implementation("eager")
    with torch.no_grad():
        return model(**{k: v for k, v in batch.items() if k != "labels"}, output_attentions=True).attentions


@pytest.mark.parametrize("make, batch", [
    (tiny_bert, cls_batches(1)[0]), (tiny_gpt2, lm_batches(1)[0]), (tiny_llama, lm_batches(1)[0]),
    (tiny_vit, {"pixel_values": torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))}),
])
def test_captured_probabilities_equal_transformers_own(make, batch):
    model = make()
    if "attention_mask" in batch:
        batch = dict(batch)
        batch["attention_mask"] = batch["attention_mask"].clone()
        batch["attention_mask"][1, 8:] = 0  # padding
    ref = _reference(model, batch)
    got = {}
    with torch.no_grad(), capture_attention(model, lambda layer, p, valid: got.__setitem__(layer, (p, valid))):
        model(**{k: v for k, v in batch.items() if k != "labels"})
    assert sorted(got) == list(range(len(ref)))
    for i, a in enumerate(ref):
        p, valid = got[i]
        assert float((p - a).abs().max()) <= 1e-6
        rows = (p * valid).sum(-1)
        assert torch.allclose(rows, torch.ones_like(rows), atol=1e-5)  # rows sum to 1 over valid keys
        assert float((p * ~valid).abs().max()) == 0.0  # nothing on padded / future keys
    if make in (tiny_gpt2, tiny_llama):
        assert not bool(got[0][1][0, 0, 0, 1])  # causal: the first query sees only itself
    assert model.config._attn_implementation == "eager"  # restored


def test_multihead_attention_models_are_captured_with_their_padding():
    class Enc(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList(
                [torch.nn.TransformerEncoderLayer(16, 4, 32, batch_first=True) for _ in range(2)])

        def forward(self, x, mask=None):
            for layer in self.layers:
                x = layer(x, src_key_padding_mask=mask)
            return x

    torch.manual_seed(0)
    enc = Enc().eval()
    x = torch.randn(2, 6, 16)
    kpm = torch.zeros(2, 6, dtype=torch.bool)
    kpm[1, 4:] = True
    with torch.no_grad():
        plain = enc(x, kpm)
    got = {}
    with torch.no_grad(), capture_attention(enc, lambda layer, p, valid: got.__setitem__(layer, (p, valid))):
        out = enc(x, kpm)
    assert torch.allclose(out, plain, atol=1e-5)
    p, valid = got[1]
    assert p.shape == (2, 4, 6, 6) and not bool(valid[1, 0, 0, 5]) and float(p[1, :, :, 4:].abs().max()) == 0
    assert torch.backends.mha.get_fastpath_enabled()


def test_metrics_of_one_hot_and_uniform_rows_are_exact():
    one_hot = torch.zeros(1, 1, 8)
    one_hot[0, 0, 3] = 1
    valid = torch.ones(1, 1, 8, dtype=torch.bool)
    s = row_stats(one_hot, valid)
    assert float(s["entropy"]) == 0 and float(s["top1"]) == 1 and float(s["k90"]) == 1 and float(s["binary"]) == 1
    n = 5
    uni = torch.zeros(1, 1, 8, dtype=torch.float64)
    uni[0, 0, :n] = 1 / n
    v = torch.zeros(1, 1, 8, dtype=torch.bool)
    v[0, 0, :n] = True
    s = row_stats(uni, v)
    assert float(s["entropy"]) == pytest.approx(math.log(n), abs=1e-12)
    assert float(s["entropy_norm"]) == pytest.approx(1.0, abs=1e-12)
    assert float(s["k90"]) == 5 and float(s["k90_frac"]) == 1 and float(s["binary"]) == 0
    assert float(s["first_token"]) == pytest.approx(1 / n)


def test_streamed_statistics_do_not_depend_on_batching():
    torch.manual_seed(1)
    p = torch.softmax(torch.randn(6, 3, 5, 5) * 3, -1)
    valid = torch.ones(1, 1, 5, 5, dtype=torch.bool)
    whole, parts = LayerStats(3), LayerStats(3)
    update(whole, p, valid)
    for chunk in p.split(2):
        update(parts, chunk, valid)
    assert whole.rows == parts.rows == 30
    for k in whole.sums:
        assert torch.allclose(whole.sums[k], parts.sums[k])
    assert torch.equal(whole.hist, parts.hist)
    assert float(whole.hist.sum()) == 6 * 3 * 5 * 5
    assert torch.allclose(whole.js, parts.js) and float(whole.js.diagonal().abs().max()) < 1e-6


def test_twin_comparison_and_report_files(tmp_path):
    from hyflexpim import HardwareConfig, apply_plan, decompose, make_plan, score_importance

    model = tiny_bert()
    decompose(model)
    batches = cls_batches(3)
    plan = make_plan(model, score_importance(model, "singular_value"), 0)
    clean = analyze_attention(model, batches, twin=apply_plan(model, plan, HardwareConfig(noise={"kind": "ideal"})))
    noisy = analyze_attention(model, batches, twin=apply_plan(
        model, plan, HardwareConfig(noise={"kind": "paper", "sigma_mlc": 0.2})))
    same = analyze_attention(model, batches, twin=model)
    for layer in same.comparison:
        n, agree, tv = same.comparison[layer]
        assert agree == n and tv < 1e-6  # the model against itself
    tv_ideal = sum(c[2] for c in clean.comparison.values())
    tv_noisy = sum(c[2] for c in noisy.comparison.values())
    assert 0 < tv_ideal < tv_noisy  # INT8 alone moves attention a little, MLC noise more
    from hyflexpim.report.attention_tables import write_attention

    files = write_attention(noisy, tmp_path)
    names = {f.name for f in files}
    assert {"attention_metrics.csv", "sparsity_profile.json", "attention_histogram.png",
            "attention_heatmaps.png", "attention_heatmaps_twin.png"} <= names
    prof = noisy.sparsity_profile()
    assert set(prof["keep_for_90"]) == {"0", "1"} and len(prof["keep_for_90"]["0"]) == 4


def test_no_attention_and_no_data_are_one_line_errors():
    with pytest.raises(UserError, match="no attention"):
        analyze_attention(torch.nn.Linear(3, 3), [{"input": torch.zeros(1, 3)}])
    with pytest.raises(UserError, match="no batches"):
        analyze_attention(tiny_bert(), [])
    n, agree, tv = compare_rows(torch.ones(1, 1, 2, 2) / 2, torch.ones(1, 1, 2, 2) / 2,
                                torch.ones(1, 1, 2, 2, dtype=torch.bool), None)
    assert (n, agree, tv) == (2, 2, 0.0)


def test_heat_map_data_matches_what_bertviz_shows(minilm_path):
    """bertviz's head view embeds the attention it draws as JSON; on a real MiniLM example it is the
    matrix our heat map draws (bertviz from the model's output_attentions, ours from the capture)."""
    bertviz = pytest.importorskip("bertviz", reason="bertviz (optional extra 'viz') is not installed")
    import json
    import re

    from hyflexpim import load_model

    model, tok = load_model("minilm")
    enc = tok(["a gripping, beautifully shot film about the sea"], return_tensors="pt")
    model.set_attn_implementation("eager")
    with torch.no_grad():
        att = model(**enc, output_attentions=True).attentions
    tokens = tok.convert_ids_to_tokens(enc["input_ids"][0])
    html = bertviz.head_view(att, tokens, html_action="return").data
    params = json.loads(re.search(r"const params = (\{.*?\}); // HACK", html, re.S).group(1))
    shown = torch.tensor(params["attention"][0]["attn"])  # [layers, heads, n, n] as bertviz draws it
    report = analyze_attention(model, [dict(enc)], tokenizer=tok)
    ours = torch.stack([report.example[layer] for layer in sorted(report.example)])
    assert ours.shape == shown.shape
    assert float((ours - shown).abs().max()) <= 1e-6
    assert params["attention"][0]["left_text"] == tokens
