"""A Gemma-3 GGUF folder (no config.json, no tokenizer files: everything comes from the GGUF) works like the packaged
SmolLM2: loaded and de-quantized once with its own SentencePiece tokenizer (BOS first), and through the whole
`hyflexpim run --decoder`. The GGUF file is written here with the gguf package from a tiny random Gemma-3, the way
llama.cpp's converter lays one out (tensor names from gguf's map, RMSNorm weights stored as 1 + w)."""

import json
import subprocess
import sys

import pytest
import torch

gguf = pytest.importorskip("gguf")

WORDS = ["the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not",
         "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "they", "you", "were", "her",
         "she", "there", "one", "all", "we", "their"]
LETTERS = list("abcdefghijklmnopqrstuvwxyz.,'")


def write_tiny_gemma3_gguf(path):
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    tokens = ["<pad>", "<eos>", "<bos>", "<unk>"] + ["\u2581" + w for w in WORDS] + ["\u2581" + c for c in LETTERS] \
        + LETTERS
    torch.manual_seed(0)
    cfg = Gemma3TextConfig(vocab_size=len(tokens), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=256,
                           sliding_window=64, pad_token_id=0, bos_token_id=2, eos_token_id=1)
    model = Gemma3ForCausalLM(cfg).eval()
    w = gguf.GGUFWriter(str(path), "gemma3")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_key_length(cfg.head_dim)
    w.add_value_length(cfg.head_dim)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(10000.0)
    w.add_sliding_window(cfg.sliding_window)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * 4 + [-float(i) for i in range(len(tokens) - 4)])
    w.add_token_types([3, 3, 3, 2] + [1] * (len(tokens) - 4))
    w.add_bos_token_id(2)
    w.add_eos_token_id(1)
    w.add_pad_token_id(0)
    w.add_unk_token_id(3)
    w.add_add_bos_token(True)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA3, cfg.num_hidden_layers)
    for name, t in model.state_dict().items():
        if name == "lm_head.weight":  # tied to the embedding
            continue
        base, suffix = name.rsplit(".", 1)
        data = t.float().numpy()
        w.add_tensor(f"{names.get_name(base)}.{suffix}", data + 1 if name.endswith("norm.weight") else data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return model


@pytest.fixture(scope="module")
def gemma_gguf(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gemma-gguf") / "gemma-3-tiny-gguf"
    folder.mkdir()
    original = write_tiny_gemma3_gguf(folder / "tiny-gemma3.gguf")
    return folder, original


def test_a_gemma3_gguf_folder_and_file_load_with_their_own_tokenizer(gemma_gguf):
    from transformers import AutoModelForCausalLM

    from hyflexpim.models.load import load_model

    folder, original = gemma_gguf
    ref = AutoModelForCausalLM.from_pretrained(folder, gguf_file="tiny-gemma3.gguf").eval()
    for name in (str(folder), str(folder / "tiny-gemma3.gguf")):
        model, tok = load_model(name, "lm")
        assert model.config.model_type == "gemma3_text"
        ids = tok("the cat was here")["input_ids"]
        assert ids[0] == 2  # Gemma's BOS, from the GGUF's own tokenizer
        x = torch.tensor([ids])
        with torch.no_grad():
            torch.testing.assert_close(model(x).logits, ref(x).logits)
            # the GGUF holds the original model (norms stored as 1 + w and read back as w)
            torch.testing.assert_close(model(x).logits, original(x).logits, atol=1e-4, rtol=1e-4)


@pytest.mark.slow  # a whole decoder run, as its own process
def test_a_gemma3_gguf_folder_runs_through_the_decoder_pipeline(gemma_gguf, tmp_path):
    from hyflexpim.data import load_task

    folder, _ = gemma_gguf
    text = tmp_path / "text.txt"
    text.write_text(load_task("wikipedia", seed=0).split("train")[:60_000])
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "hyflexpim.cli.main", "run", "--decoder", "--model", str(folder),
                        "--task", str(text), "--out", str(out), "-q", "--slc-rates", "0,100", "--noise-seeds", "1",
                        "--set", "data.max_train_tokens=4000", "--set", "data.max_eval_tokens=2000",
                        "--set", "redistribute.max_steps=2", "--set", "importance.batches=1",
                        "--set", "data.block_size=64", "--set", "attention.enabled=false"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = json.loads((out / "results.json").read_text())
    assert {row["slc_rate"] for row in rows} >= {0.0, 100.0}
    assert all(torch.isfinite(torch.tensor(row["mean"])) for row in rows)
    assert (out / "report.html").exists() and (out / "hw" / "hw_results.csv").exists()
