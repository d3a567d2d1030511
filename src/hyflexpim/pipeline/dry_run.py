"""``hyflexpim run --dry-run``: the steps a configuration runs, with parameters, memory and time estimates, without
loading any weights or data.

The architecture comes from the model's own config when it is on disk (a packaged model, a local folder, the
local Hugging Face cache of a hub id), otherwise from the built-in catalogue (``hyflexpim.hw.shapes``: bert-base,
bert-large, llama-3.2-1b, ...), matched by name. Sizes of the training split: ``data.max_train`` /
``data.max_train_tokens`` when set, else the catalogue of known data sets (``TRAIN_SIZES``).

Estimates, stated as such: memory per step = weights + (training) gradients and AdamW's two moments (16 bytes per
trained parameter; bf16/fp16 is mixed precision, with float32 master weights) + activations (``ACTIVATION_BYTES`` per
token
per layer per hidden unit, a round figure for a transformer layer with its softmax kept for the backward pass);
time = FLOPs (6 × matmul parameters × tokens to train, 2 × to evaluate; padding not counted, so short texts run
faster than this) / the throughput a 0.3 s matrix-multiply probe
measures on the visible device(s), divided by ``UTILISATION`` (training loops reach a fraction of a bare matmul).
Neither constant is fitted: both are round figures, and the time is an order of magnitude, not a promise.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from hyflexpim.errors import UserError
from hyflexpim.hw.shapes import CATALOGUE
from hyflexpim.models.load import ALIASES, PACKAGED, resolve
from hyflexpim.pipeline.config import RunConfig
from hyflexpim.plan import Architecture

ACTIVATION_BYTES = 34  # per token, layer and hidden unit (fp32; half in bf16/fp16): a round figure, not fitted
UTILISATION = 0.35  # share of the probe's matmul throughput a training/evaluation loop reaches: a round figure
# training-split sizes (rows for classification, words for language modelling) of the data sets recipes name
TRAIN_SIZES = {"rotten_tomatoes": 10246, "wikipedia": 364000, "glue/mrpc": 3668, "glue/sst2": 67349,
               "glue/cola": 8551, "glue/qnli": 104743, "glue/rte": 2490, "glue/qqp": 363846, "glue/mnli": 392702,
               "wikitext-2-raw-v1": 2088628, "ptb_text_only": 887521}
EVAL_SIZES = {"rotten_tomatoes": 1281, "wikipedia": 45000, "glue/mrpc": 408, "glue/sst2": 872,
              "wikitext-2-raw-v1": 245569, "ptb_text_only": 82430}
TOKENS_PER_WORD = 1.3


@dataclass
class Step:
    name: str
    trained: int  # parameters with gradients
    tokens: int  # tokens processed
    memory: float  # bytes
    flops: float


def architecture(model: str):
    """(Architecture, where it came from) — the model's config when on disk, else the catalogue."""
    cfg = _local_config(model)
    if cfg is not None:
        first = lambda *names, default=None: next((getattr(cfg, n) for n in names if getattr(cfg, n, None)  # noqa: E731
                                                  is not None), default)
        hidden = int(first("hidden_size", "n_embd", "d_model"))
        heads = int(first("num_attention_heads", "n_head"))
        arch = Architecture(
            name=model, layers=int(first("num_hidden_layers", "n_layer")), hidden=hidden, heads=heads,
            kv_heads=int(first("num_key_value_heads", default=heads)),
            head_dim=int(first("head_dim", default=hidden // heads)),
            ffn=int(first("intermediate_size", "n_inner", default=4 * hidden)),
            gated=str(first("model_type", default="")) in ("llama", "mistral", "qwen2", "gemma", "gemma3_text",
                                                             "gemma3", "phi3", "olmo"),
            decoder=not str(first("model_type", default="")).startswith(("bert", "roberta", "distilbert", "deberta")),
            vocab=int(first("vocab_size", default=0)), source="model config")
        return arch, "the model's config (local)"
    key = re.sub(r"[^a-z0-9.]+", "-", model.lower().split("/")[-1])
    for name in sorted(CATALOGUE, key=len, reverse=True):
        if key.startswith(name):
            return CATALOGUE[name], f"the built-in catalogue ('{name}'; no local config for {model})"
    raise UserError(f"dry run: no local config for model {model!r} and no catalogue entry matches it "
                    f"(catalogue: {', '.join(CATALOGUE)})")


def _local_config(model: str):
    """The model's transformers config from disk only (never a download, never a de-quantization)."""
    from transformers import AutoConfig  # lazy: a slow import, needed only for a model outside the catalogue

    name = ALIASES.get(model.lower(), model.lower())
    try:
        if name in ("minilm",) or (Path(model).expanduser().is_dir() and (Path(model).expanduser() / "config.json")
                                   .is_file()):
            return AutoConfig.from_pretrained(resolve(model)[1])
        if name in PACKAGED or Path(model).suffix in (".gguf", ".pt", ".pth"):
            return None  # a GGUF or ParT would be converted to read it: the catalogue stands in
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        return AutoConfig.from_pretrained(model, local_files_only=True)
    except (OSError, ValueError, KeyError):
        return None


def parameters(arch) -> tuple[int, int]:
    """(all parameters, those in the layers' matrices) from the architecture (norms and biases left out)."""
    layer = sum(d_out * d_in for _, _, _, (d_out, d_in) in arch.matrices())
    embed = arch.vocab * arch.hidden  # the embedding (a decoder's lm_head taken as tied to it, as Llama-3.2-1B's is)
    return layer + embed, layer


def plan_steps(c: RunConfig, arch) -> list[Step]:
    total, layer = parameters(arch)
    lm = arch.decoder
    compute = layer + (arch.vocab * arch.hidden if lm else 0)  # parameters that cost FLOPs (lookups do not)
    d = c.data
    half = c.precision != "fp32"  # mixed precision: float32 master weights, half-precision activations
    wbytes = 4
    per_token = (d.block_size if lm else d.max_length)
    batch_tokens = d.batch_size * per_token
    act = lambda tokens: ACTIVATION_BYTES * (0.5 if half else 1) * tokens * arch.layers * arch.hidden  # noqa: E731
    size = TRAIN_SIZES.get(c.task)
    if lm:
        train_tokens = d.max_train_tokens or (int(size * TOKENS_PER_WORD) if size else 65536)
        eval_tokens = d.max_eval_tokens or int(EVAL_SIZES.get(c.task, 20000) * TOKENS_PER_WORD)
    else:
        rows = min(d.max_train or size or 10000, size or d.max_train or 10000)
        train_tokens = rows * per_token
        eval_tokens = min(d.max_eval or EVAL_SIZES.get(c.task, 1000), EVAL_SIZES.get(c.task, 10**9)) * per_token

    def train_step(name, cfg, trained):
        if cfg.lora is not None:  # adapters A (r × d_in) and B (d_out × r) on every matrix of the layers
            trained = sum(cfg.lora.r * (d_out + d_in) for *_, (d_out, d_in) in arch.matrices())
            name += f" (LoRA r = {cfg.lora.r})"
        per_epoch = max(1, train_tokens // batch_tokens)
        steps = max(1, round(cfg.epochs * per_epoch))
        steps = min(steps, cfg.max_steps) if cfg.max_steps else steps
        tokens = steps * batch_tokens
        optimizer = trained * 8  # AdamW's two float32 moments
        return Step(name, trained, tokens, total * wbytes + trained * wbytes + optimizer + act(batch_tokens),
                    6 * compute * tokens)

    steps = []
    if c.pre_finetune is not None:
        steps.append(train_step("pre-finetune", c.pre_finetune, total))
    steps.append(Step("decompose", 0, 0, total * 4 * 1.05, 4 * layer * arch.hidden))  # SVD ~ O(m n min(m, n))
    steps.append(train_step("redistribute", c.redistribute, total))
    window = c.importance.batches * batch_tokens
    steps.append(Step(f"importance ({c.importance.scorer})", 0, window, total * wbytes + act(batch_tokens),
                      4 * compute * window))
    n_evals = 2 + len(c.plan.slc_rates) * len(c.noise_seeds)
    eval_batch = d.eval_batch_size * per_token
    steps.append(Step(f"evaluate ({n_evals} evaluations: FP32, SVD, {len(c.plan.slc_rates)} rates × "
                      f"{len(c.noise_seeds)} seeds; ablations add more)", 0, n_evals * eval_tokens,
                      2 * total * 4 + act(eval_batch) / 2, 2 * compute * n_evals * eval_tokens))
    return steps


def devices() -> tuple[str, int, float]:
    """(what, how many, measured matmul FLOP/s of one) for the visible devices: CUDA GPUs when there are, else
    the CPU; the throughput from a 0.3 s matrix-multiply probe."""
    if torch.cuda.is_available():
        dev, n, what = "cuda", torch.cuda.device_count(), torch.cuda.get_device_name(0)
    else:
        dev, n, what = "cpu", 1, f"CPU ({torch.get_num_threads()} threads)"
    size = 4096 if dev == "cuda" else 1024
    a = torch.randn(size, size, device=dev)
    best, t0 = float("inf"), time.perf_counter()
    while time.perf_counter() - t0 < 0.3:  # the fastest of the repeats: a busy machine slows some of them
        t = time.perf_counter()
        a @ a
        if dev == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return what, n, 2 * size ** 3 / best


def _gib(b: float) -> str:
    return f"{b / 2**30:.2f} GiB" if b >= 2**28 else f"{b / 2**20:.0f} MiB"


def _duration(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"


def dry_run(c: RunConfig, say=print, probe: bool = True) -> list[Step]:
    arch, source = architecture(c.model)
    total, layer = parameters(arch)
    say(f"dry run: {c.model} on {c.task} (mode {c.mode}, precision {c.precision}) -> {c.out}; nothing is loaded")
    say(f"  architecture from {source}: {arch.layers} layers, hidden {arch.hidden}, FFN {arch.ffn}, "
        f"{'decoder' if arch.decoder else 'encoder'}; about {total / 1e6:.0f} M parameters, "
        f"{layer / 1e6:.0f} M in the layers' matrices (decomposed: rank policy {c.decompose.rank_policy})")
    steps = plan_steps(c, arch)
    what, n, flops = devices() if probe else ("(not probed)", 1, float("nan"))
    rate = flops * n * UTILISATION
    say(f"  devices: {n} × {what}, probe {flops / 1e12:.2f} TFLOP/s each; times assume {UTILISATION:.0%} of it")
    for s in steps:
        say(f"  {s.name}: {s.trained / 1e6:.0f} M trained parameters, {s.tokens:,} tokens, memory ~{_gib(s.memory)}, "
            f"time ~{_duration(s.flops / rate) if rate == rate else '?'}")
    say(f"  importance scorer {c.importance.scorer}, plan {c.plan.policy} at SLC rates "
        f"{', '.join(f'{r:g}' for r in c.plan.slc_rates)} %"
        + (f"; digital by pattern: {', '.join(c.decompose.exclude)}" if c.decompose.exclude else ""))
    return steps
