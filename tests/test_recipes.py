"""recipes/*.yaml load and dry-run offline (no weights, no data: the model's config or the built-in catalogue); the
authors' mode and its named option; the last-batch importance scorer."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import cls_batches, tiny_bert
from hyflexpim.algo.decompose import decompose
from hyflexpim.algo.importance import gradient_importance
from hyflexpim.pipeline.config import AUTHORS_DEFAULTS, UP_PROJ_PATTERN
from hyflexpim.pipeline.dry_run import dry_run
from hyflexpim.pipeline.resolve import resolve_config

RECIPES = sorted((Path(__file__).parent.parent / "recipes").glob("*.yaml"))


def test_the_recipes_the_issue_names_exist():
    names = {p.stem for p in RECIPES}
    assert {f"bert-{s}-glue-{t}" for s in ("base", "large") for t in ("mrpc", "sst2")} <= names
    assert {"llama-3.2-1b-ptb", "llama-3.2-1b-wikitext2"} <= names


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_recipe_loads_and_dry_runs(recipe, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    c = resolve_config(str(recipe))
    assert c.mode == "authors" and c.importance.scorer == "grad_last"
    assert c.plan.slc_rates == AUTHORS_DEFAULTS["plan"]["slc_rates"]
    lines = []
    steps = dry_run(c, say=lines.append, probe=False)
    assert [s.name.split(" ")[0] for s in steps][:4] == ["pre-finetune", "decompose", "redistribute", "importance"]
    assert "nothing is loaded" in lines[0] and "parameters" in lines[1]
    big = "llama" in recipe.stem or "large" in recipe.stem
    assert (steps[2].trained > 3e8) == big  # redistribution: BERT-large 335 M, Llama-3.2-1B 1.2 G; BERT-base 110 M
    assert all(s.memory > 0 for s in steps) and steps[2].memory > 16 * steps[2].trained  # AdamW in fp32
    if "llama" in recipe.stem:  # the authors' LoRA pre-fine-tune: a few million adapter weights, not the model
        assert "LoRA r = 8" in steps[0].name and 1e6 < steps[0].trained < 3e7 and c.pre_finetune.lora.alpha == 32
    if "llama" in recipe.stem:
        assert c.exclude_up_proj and UP_PROJ_PATTERN in c.decompose.exclude and c.task_kind == "lm"


def test_dry_run_command_loads_nothing(tmp_path):
    out = tmp_path / "never"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    r = subprocess.run([sys.executable, "-m", "hyflexpim.cli.main", "run", "--config", str(RECIPES[0]), "--dry-run",
                        "--out", str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "built-in catalogue" in r.stdout and "pre-finetune" in r.stdout and "GiB" in r.stdout
    assert not out.exists()


def test_default_mode_beside_authors():
    default = resolve_config(str(RECIPES[0]), overrides={"mode": "default"})
    assert default.importance.scorer == "grad_abs" and 20 in default.plan.slc_rates
    mine = resolve_config(str(RECIPES[0]), overrides={"importance": {"scorer": "grad_sq"}})
    assert mine.mode == "authors" and mine.importance.scorer == "grad_sq"  # the user's own setting wins


def test_lora_pre_finetune_merges_into_the_weights():
    from conftest import lm_batches, tiny_llama
    from hyflexpim.algo.finetune import FinetuneConfig, LoraOptions, finetune

    model = tiny_llama()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    res = finetune(model, lm_batches(n=4), FinetuneConfig(lr=1e-2, max_steps=4, lora=LoraOptions(r=4, alpha=8)),
                   progress=False)
    after = model.state_dict()
    assert res.steps == 4 and set(after) == set(before)  # no adapter left behind: an ordinary model
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    assert "model.layers.0.mlp.up_proj.weight" in changed and "model.embed_tokens.weight" not in changed
    assert all(".weight" in k and ("_proj" in k) for k in changed)
    assert type(model.model.layers[0].self_attn.q_proj) is torch.nn.Linear
    assert all(p.requires_grad for p in model.parameters())  # the next fine-tune trains every weight again


def test_half_precision_is_refused_on_a_cpu(tmp_path):
    from hyflexpim.errors import UserError
    from hyflexpim.pipeline.preflight import preflight

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: bf16 runs")
    with pytest.raises(UserError, match=r"precision: bf16 .* only fp32 runs"):
        preflight(resolve_config(None, overrides={"precision": "bf16", "out": str(tmp_path)}), "classification")


def test_last_batch_importance_is_the_last_batch_alone():
    model = tiny_bert()
    decompose(model)
    batches = cls_batches(n=3)
    last = gradient_importance(model, batches, 3, "last", progress=False)
    alone = gradient_importance(model, batches[2:], 1, "abs", progress=False)
    assert last.batches == 1 and last.scorer == "grad_last"
    for k in alone.scores:
        assert torch.allclose(last.scores[k], alone.scores[k])
    mean = gradient_importance(model, batches, 3, "abs", progress=False)
    assert any(not torch.allclose(mean.scores[k], alone.scores[k]) for k in alone.scores)
