"""One process of tests/test_distributed.py: pre-finetune, decompose, redistribute, importance and a plan on the
tiny BERT, under ``accelerate launch --num_processes N --cpu`` or alone. The main process alone writes the results
into the run folder (holding its lock); every process appends its rank to ``ranks.txt`` beside it."""

import json
import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).parent))
from conftest import tiny_bert
from hyflexpim.algo.decompose import decompose
from hyflexpim.algo.finetune import FinetuneConfig, finetune
from hyflexpim.algo.importance import process_group, score_importance
from hyflexpim.algo.plan_policy import make_plan


def main(out: Path) -> None:
    model = tiny_bert()
    for m in model.modules():  # no dropout: its masks would differ between one process and two
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 100, (64, 12), generator=g)
    labels = (ids[:, 0] > 50).long()  # a learnable rule
    examples = [{"input_ids": i, "attention_mask": torch.ones_like(i), "labels": y} for i, y in zip(ids, labels)]
    loader = DataLoader(examples, batch_size=8, shuffle=False)
    pre = finetune(model, loader, FinetuneConfig(lr=1e-3, max_steps=6), "finetune", progress=False)
    decompose(model)
    red = finetune(model, loader, FinetuneConfig(lr=5e-4, max_steps=6), "redistribute", progress=False)
    imp = score_importance(model, "grad_abs", loader, n_batches=6, progress=False)
    plan = make_plan(model, imp, 10)
    rank, world = process_group()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / "ranks.txt", "a") as f:
        f.write(f"{rank}/{world}\n")
    if rank == 0:
        from safetensors.torch import save_model

        from hyflexpim.pipeline.workspace import Workspace

        ws = Workspace(out)  # the run folder's lock: one writer
        for step in ("models", "importance", "plans"):  # step folders are made by their first write in a real run
            ws.path(step).mkdir(exist_ok=True)
        save_model(model, str(ws.path("models", "redistributed.safetensors")))
        torch.save(dict(imp.scores.items()), ws.path("importance", "grad_abs.pt"))
        plan.save(ws.path("plans", "slc10.json"))
        (out / "losses.json").write_text(json.dumps({"pre": pre.losses, "redistribute": red.losses,
                                                     "world": world, "batches": imp.batches}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
