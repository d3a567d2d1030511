"""Digital-PIM attention hook on tiny random BERT and Llama (grouped-query) models."""

import pytest
import torch
from transformers import BertConfig, BertModel, LlamaConfig, LlamaModel

from hyflexpim.errors import UserError
from hyflexpim.sim.digital_attention import DigitalAttentionConfig, digital_attention, enable_digital_attention

HIGH = DigitalAttentionConfig(qk_bits=16, prob_bits=24, value_bits=24)


def _bert():
    torch.manual_seed(0)
    cfg = BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                     vocab_size=100, initializer_range=0.3)  # large weights: attention far from uniform
    return BertModel(cfg).eval()


def _llama():
    torch.manual_seed(0)
    cfg = LlamaConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      intermediate_size=128, vocab_size=100, initializer_range=0.3)
    return LlamaModel(cfg).eval()


def _inputs():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 100, (2, 12), generator=g)
    mask = torch.ones(2, 12, dtype=torch.long)
    mask[1, 8:] = 0  # padding
    return ids, mask


def _run(model, ids, mask):
    with torch.no_grad():
        return model(input_ids=ids, attention_mask=mask).last_hidden_state


def _rel(a, b, mask):
    v = mask.bool()
    return float((a - b)[v].norm() / b[v].norm())


@pytest.mark.parametrize("make", [_bert, _llama])
def test_matches_original_model(make):
    model = make()
    ids, mask = _inputs()
    ref = _run(model, ids, mask)
    before = model.config._attn_implementation
    with enable_digital_attention(model, HIGH):
        assert model.config._attn_implementation == "hyflexpim_digital"
        hi = _run(model, ids, mask)
    h = enable_digital_attention(model)  # defaults (the chip spec): INT8 Q·Kᵀ, 12-bit probs × 8-bit V
    lo = _run(model, ids, mask)
    h.disable()
    with enable_digital_attention(model, {"softmax": "fixed_point"}):  # a dict of fields works too
        fx = _run(model, ids, mask)
    assert model.config._attn_implementation == before
    assert torch.equal(_run(model, ids, mask), ref)
    assert _rel(hi, ref, mask) < 1e-3  # high bits: tight
    assert 1e-5 < _rel(lo, ref, mask) < 0.05  # defaults: quantization visible, small
    assert _rel(fx, ref, mask) < 0.05


@pytest.mark.parametrize("make", [_bert, _llama])
def test_padding_and_causal_masks(make):
    """Valid tokens of a padded sequence see the same result as the unpadded sequence (padding mask);
    for Llama, a prefix gives the same outputs as the full sequence (causal mask)."""
    model = make()
    ids, mask = _inputs()
    with enable_digital_attention(model, HIGH):
        padded = _run(model, ids, mask)[1, :8]
        alone = _run(model, ids[1:, :8], mask[1:, :8])[0]
        torch.testing.assert_close(padded, alone, rtol=1e-4, atol=1e-4)
        if make is _llama:
            full = _run(model, ids[:1], mask[:1])[0, :5]
            prefix = _run(model, ids[:1, :5], mask[:1, :5])[0]
            torch.testing.assert_close(full, prefix, rtol=1e-4, atol=1e-4)


def test_grouped_query_attention_direct():
    g = torch.Generator().manual_seed(2)
    q = torch.randn(1, 4, 6, 8, generator=g)
    k = torch.randn(1, 2, 6, 8, generator=g)
    v = torch.randn(1, 2, 6, 8, generator=g)
    out, p = digital_attention(q, k, v, None, None, HIGH, is_causal=True)
    kk, vv = k.repeat_interleave(2, 1), v.repeat_interleave(2, 1)
    ref = torch.nn.functional.scaled_dot_product_attention(q, kk, vv, is_causal=True).transpose(1, 2)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
    assert p.shape == (1, 4, 6, 6)
    with pytest.raises(UserError, match="multiple"):
        digital_attention(q, k[:, :1].expand(1, 3, 6, 8), v[:, :1].expand(1, 3, 6, 8), None, None, HIGH)


def test_unknown_attention_class_is_user_error():
    class WeirdAttention(torch.nn.Module):
        def forward(self, x):
            return x

    model = _bert()
    model.encoder.layer[0].extra = WeirdAttention()
    with pytest.raises(UserError, match="WeirdAttention"):
        enable_digital_attention(model)
    with pytest.raises(UserError, match="PreTrainedModel"):
        enable_digital_attention(torch.nn.Linear(2, 2))


def test_bad_config_is_user_error():
    with pytest.raises(UserError, match="qk_bits"):
        DigitalAttentionConfig(qk_bits=1)
    with pytest.raises(UserError, match="prob_bits"):
        enable_digital_attention(_bert(), {"prob_bits": 0})
    with pytest.raises(UserError, match="softmax"):
        DigitalAttentionConfig(softmax="approx")
