"""Every method family (attention kinds and predictors, rank policies, noise models, designs) is a set of folders
(hyflexpim.config.methods) filling its registries one way: importing the modules that hold them registers nothing;
the explicit registration fills every former built-in name; the cost side's registration loads no torch; the rank
policy hooks are what the redistribution step calls."""

import json
import subprocess
import sys

import pytest

SPARSE = ["topk", "window", "block", "spatten", "quest", "h2o", "sanger", "cluster", "pq"]
BUILTIN = {  # every registry a method folder fills, with the names its folders register (the former built-ins)
    "hyflexpim.plan.schema:SPARSE_KINDS": SPARSE,
    "hyflexpim.chip.spec:SPEC_KINDS": ["pim", "roofline", "attention", "gpu"],
    "hyflexpim.hw.designs:COST_MODELS": ["pim", "roofline", "attention", "gpu"],
    "hyflexpim.hw.designs:COST_SCOPES": ["pim", "roofline", "attention", "gpu"],
    "hyflexpim.hw.costs_prediction:PREDICTORS": ["none", "exact", "accumulated", "page_bound", "low_bit", "cluster",
                                                 "pq"],
    "hyflexpim.sim.attention:ATTENTION_KINDS": ["float", "digital", *SPARSE],
    "hyflexpim.sim.sparse_attention:PREDICTORS": SPARSE,
    "hyflexpim.algo.rank:RANK_POLICIES": ["hard_threshold", "full", "fixed", "ratio", "energy", "uniform",
                                          "energy_budget", "learned"],
    "hyflexpim.device.noise:NOISE_MODELS": ["paper", "ideal", "levels"],
    "hyflexpim.sim.noise_aware:CODE_NOISE": ["paper", "ideal"],
}


def _fresh(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.strip()


def test_every_registry_a_folder_fills_is_listed_once():
    from hyflexpim.config.methods import ACCURACY_SIDE_REGISTRIES, COST_SIDE_REGISTRIES, REGISTRIES

    assert sorted(REGISTRIES) == sorted(BUILTIN) and len(set(REGISTRIES)) == len(REGISTRIES)
    assert set(COST_SIDE_REGISTRIES).isdisjoint(ACCURACY_SIDE_REGISTRIES)


@pytest.mark.parametrize("ref", list(BUILTIN))
def test_a_registry_fills_from_its_folders_only_when_asked_and_a_users_replacement_wins(ref):
    """In a fresh interpreter: importing the registry's module (and the modules that once registered on import)
    registers nothing; the one explicit registration fills every former built-in name, in the folders' order (the
    cost side's without torch); a name a user replaced is kept by a later registration."""
    from hyflexpim.config.methods import COST_SIDE_REGISTRIES

    accuracy = ref not in COST_SIDE_REGISTRIES
    old = ("hyflexpim.sim.config, hyflexpim.device, hyflexpim.sim.apply, hyflexpim.sim.attention" if accuracy
           else "hyflexpim.hw.evaluate, hyflexpim.hw.costs")
    code = ("import importlib, json, sys\n"
            f"module, attr = {ref!r}.split(':')\n"
            "reg = getattr(importlib.import_module(module), attr)\n"
            f"import {old}\n"
            "before = reg.registered()\n"
            "from hyflexpim.config.methods import register_all_methods\n"
            f"register_all_methods(accuracy_side={accuracy}); register_all_methods(accuracy_side={accuracy})\n"
            "after = reg.registered()\n"
            "mine = object()\n"
            "reg.register(after[0], mine, replace=True)\n"
            f"register_all_methods(accuracy_side={accuracy})\n"
            "print(json.dumps([before, after, reg.get(after[0]) is mine, 'torch' in sys.modules]))\n")
    before, after, kept, torch_loaded = json.loads(_fresh(code))
    assert before == []
    assert after == BUILTIN[ref]
    assert kept
    assert accuracy or not torch_loaded  # the cost side's registries load no torch


def test_a_registry_fills_itself_at_its_first_read_and_a_user_replaces_a_builtin_explicitly():
    from hyflexpim.config import Registry

    calls = []

    def fill(reg):
        calls.append(1)
        for name in ("a", "b"):
            if name not in reg:
                reg.register(name, f"builtin {name}")

    reg = Registry("thing", fill=fill)
    assert reg.registered() == []
    with pytest.raises(ValueError, match="already registered"):
        reg.register("b", "mine")  # registering fills first: a built-in name is taken ...
    assert calls == [1] and reg.get("b") == "builtin b"
    reg.register("b", "mine", replace=True)  # ... unless replaced explicitly
    assert reg.names() == ["a", "b"] and reg.get("b") == "mine" and calls == [1]
    reg.fill()  # idempotent
    assert calls == [1] and reg.get("b") == "mine"


def test_the_cost_side_registration_loads_no_torch():
    code = ("import sys\nfrom hyflexpim.config.methods import register_all_methods, design_methods\n"
            "register_all_methods(accuracy_side=False)\n"
            "from hyflexpim.hw.designs import COST_MODELS\n"
            "assert [COST_MODELS.get(k).__module__ for k in design_methods()] == "
            "[m.package + '.cost' for m in design_methods().values()]\n"
            "from hyflexpim.hw.evaluate import evaluate\n"
            "evaluate('bert-base', 'hyflexpim', slc_rate=10)\n"
            "print('torch' in sys.modules)")
    assert _fresh(code) == "False"


def test_every_folder_says_what_it_registers_and_a_missing_cost_half_is_none():
    from hyflexpim.config.methods import design_methods, noise_methods, rank_methods

    assert all(m.cost is None for m in rank_methods().values())  # a rank policy has no price of its own
    assert all(m.cost is None for m in noise_methods().values())  # nor a noise model
    assert all(m.load("cost") is not None and m.load("spec") is not None for m in design_methods().values())
    assert {k: m.scope for k, m in design_methods().items()}["attention"] == "self-attention only"


def test_only_learned_has_redistribution_hooks(tmp_path):
    import torch

    from hyflexpim.algo.rank import RANK_POLICIES, RankHooks, rank_hooks
    from hyflexpim.algo.soft_rank import SoftRankConfig
    from hyflexpim.artefacts import RunFolder
    from hyflexpim.models.layers import SVDLinear

    files = RunFolder(tmp_path)
    static = {n for n in RANK_POLICIES if type(rank_hooks(n)) is RankHooks}  # a user's (another test's) may be there
    assert set(BUILTIN["hyflexpim.algo.rank:RANK_POLICIES"]) - {"learned"} <= static and "learned" not in static
    assert rank_hooks("full").before_redistribution(None, None) == (None, {})
    hooks = rank_hooks("learned")
    assert hooks.artefacts(files) == [files.learned_ranks]

    class Decompose:  # the fields of DecomposeConfig the hooks read
        soft_rank = SoftRankConfig()
        budget = 0.5

    torch.manual_seed(0)
    model = torch.nn.Sequential(SVDLinear.from_module(torch.nn.Linear(16, 12)))
    state, extra = hooks.before_redistribution(model, Decompose)
    assert set(extra) == {"regularizer", "on_step", "extra"}
    said = []
    hooks.after_redistribution(model, state, Decompose, files, said.append, write=True)
    ranks = json.loads(files.learned_ranks.read_text())["ranks"]
    assert said[0].startswith("learned ranks:") and set(ranks) == {"0"}
    fresh = torch.nn.Sequential(SVDLinear.from_module(torch.nn.Linear(16, 12)))
    hooks.restore(fresh, files)  # the saved model's shapes
    assert fresh[0].U.shape[1] == ranks["0"]


def test_a_noise_model_describes_itself_for_the_figures():
    from hyflexpim.device.noise import describe_noise, noise_config

    assert describe_noise(noise_config({"kind": "paper"})) == "paper noise σ_MLC=0.025"
    assert describe_noise(noise_config({"kind": "paper", "sigma_slc": 0.01})) == \
        "paper noise σ_MLC=0.025, σ_SLC=0.01"
    assert describe_noise(noise_config({"kind": "levels"})) == "levels noise, calibrated"
    assert describe_noise(noise_config({"kind": "levels", "mlc": {"error_rate": 0.03}})) == \
        "levels noise, MLC error rate 0.03"
    assert describe_noise(noise_config({"kind": "ideal"})) == "ideal noise"  # no describe: the kind
