"""How much SVD truncation alone (no fine-tuning) costs SmolLM2-135M in perplexity, by rank policy
and by which role is truncated. Explains the decoder default `decompose.rank_policy: full`.

    .venv/bin/python scripts/decoder_rank_probe.py      # ~4 min on 2 cores; table for docs/accuracy.md
"""

import copy

from hyflexpim.algo.decompose import DecomposeConfig, decompose
from hyflexpim.data import lm_blocks, load_task
from hyflexpim.models.load import load_model
from hyflexpim.sim.evaluate import perplexity

TOKENS, BLOCK, BATCH = 4096, 128, 8
PROBES = [
    ("full rank (exact SVD)", DecomposeConfig(rank_policy="full")),
    ("energy 0.99, every matrix", DecomposeConfig(rank_policy="energy", rank_value=0.99)),
    ("hard threshold, every matrix", DecomposeConfig(rank_policy="hard_threshold")),
    *[(f"hard threshold, {role} only", DecomposeConfig(roles=[role]))
      for role in ("q", "k", "v", "o", "ffn_gate", "ffn_in", "ffn_out")],
]


def main() -> None:
    model, tokenizer = load_model("smollm2", task="lm")
    blocks = lm_blocks(load_task("wikipedia", seed=0).split("test"), tokenizer, BLOCK, TOKENS)
    batches = [{"input_ids": blocks[i:i + BATCH], "labels": blocks[i:i + BATCH]} for i in range(0, len(blocks), BATCH)]
    base_params = sum(p.numel() for p in model.parameters())
    print(f"| SVD of SmolLM2-135M, no fine-tuning | perplexity ({TOKENS} test tokens) | parameters vs original |")
    print("|---|---|---|")
    print(f"| original | {perplexity(model, batches):.1f} | 1.00 |")
    for name, config in PROBES:
        m = copy.deepcopy(model)
        decompose(m, config)
        ratio = sum(p.numel() for p in m.parameters()) / base_params
        print(f"| {name} | {perplexity(m, batches):.4g} | {ratio:.2f} |", flush=True)


if __name__ == "__main__":
    main()
