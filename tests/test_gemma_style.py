"""A Gemma-style decoder: a tokenizer that adds BOS, heads × head size ≠ hidden size (q_proj 64×32), through the
whole `hyflexpim run --decoder` (accuracy and chip model)."""

import json
import subprocess
import sys

import pytest
import torch

TEXT_CHARS = 60_000


@pytest.fixture(scope="module")
def gemma_folder(tmp_path_factory):
    tokenizers = pytest.importorskip("tokenizers")
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast

    from hyflexpim.data import load_task

    root = tmp_path_factory.mktemp("gemma")
    text = load_task("wikipedia", seed=0).split("train")[:200_000]
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.train_from_iterator([text], tokenizers.trainers.WordLevelTrainer(
        vocab_size=500, special_tokens=["<pad>", "<bos>", "<eos>", "<unk>"]))
    tok.post_processor = tokenizers.processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                   unk_token="<unk>")
    fast.save_pretrained(root / "model")
    torch.manual_seed(0)
    cfg = Gemma3TextConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=256,
                           sliding_window=64, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    Gemma3ForCausalLM(cfg).save_pretrained(root / "model")
    (root / "text.txt").write_text(text[:TEXT_CHARS])
    return root, fast, text[:TEXT_CHARS]


def test_language_model_windows_start_with_the_bos_the_tokenizer_adds(gemma_folder):
    from hyflexpim.data import lm_blocks
    from hyflexpim.data.batches import leading_special_tokens

    _, tok, text = gemma_folder
    assert leading_special_tokens(tok) == [1]
    blocks = lm_blocks(text, tok, block_size=64, max_tokens=1000)
    plain = tok(text, add_special_tokens=False)["input_ids"]
    assert blocks.shape == (1000 // 63, 64)
    assert (blocks[:, 0] == 1).all()  # every window opens with BOS, as the model saw in training
    assert blocks[:, 1:].flatten().tolist() == plain[: blocks.shape[0] * 63]  # then the text, contiguous


@pytest.mark.slow  # a whole decoder run, as its own process
def test_a_gemma_style_decoder_runs_through_accuracy_and_the_chip_model(gemma_folder):
    root, _, _ = gemma_folder
    out = root / "run"
    r = subprocess.run([sys.executable, "-m", "hyflexpim.cli.main", "run", "--decoder", "--model", str(root / "model"),
                        "--task", str(root / "text.txt"), "--out", str(out), "-q", "--slc-rates", "0,100",
                        "--noise-seeds", "1", "--set", "data.max_train_tokens=4000",
                        "--set", "data.max_eval_tokens=2000", "--set", "redistribute.max_steps=2",
                        "--set", "importance.batches=1", "--set", "data.block_size=64",
                        "--set", "attention.enabled=false"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "FP32 pretrained perplexity" in r.stdout  # no fine-tuning before SVD: the line says so
    rows = json.loads((out / "results.json").read_text())
    assert all(torch.isfinite(torch.tensor(row["mean"])) for row in rows)
    hw = json.loads((out / "hw" / "hw_results.json").read_text())
    assert hw, "the chip model priced the plans"
