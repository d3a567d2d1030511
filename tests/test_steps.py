"""The declared steps (hyflexpim.pipeline.steps): each step's cache key is derived from the configuration sections it
reads and the steps it follows. Changing one field of a section changes exactly the keys of the steps written in the
table below (by hand, not from the declarations), and a run folder's stale models are dropped accordingly."""

import json

import pytest

from hyflexpim.pipeline import steps
from hyflexpim.pipeline.config import RunConfig

ALL = {s.name for s in steps.STEPS}
AFTER_PLAN = {"plan", "evaluate", "price", "attention", "report"}

# section -> (the change, the steps that must recompute). Everything from pre-finetune on depends on the model, the
# task and its data; the hardware reaches the training only when it trains with the hardware's noise.
TABLE = [
    ("model", {"model": "tiny"}, ALL),
    ("task", {"task": "sst2"}, ALL),
    ("task_kind", {"task_kind": "lm"}, ALL),
    ("data", {"data.max_train": 7}, ALL),
    ("seed", {"seed": 5}, ALL),
    ("pre_finetune", {"pre_finetune.max_steps": 9}, ALL),
    ("precision", {"precision": "bf16"}, ALL),
    ("decompose", {"decompose.budget": 0.3}, ALL - {"pre-finetune"}),
    ("redistribute", {"redistribute.lr": 1e-3}, ALL - {"pre-finetune", "decompose"}),
    ("noise_aware", {"noise_aware.enabled": True}, ALL - {"pre-finetune", "decompose"}),
    ("concentration", {"concentration.strength": 0.5}, ALL - {"pre-finetune", "decompose"}),
    ("concentration (off)", {"concentration.top": 20.0}, set()),  # strength 0: the penalty is off, nothing reads it
    ("importance", {"importance.batches": 3}, {"importance"} | AFTER_PLAN),
    ("plan", {"plan.policy": "global"}, AFTER_PLAN),
    ("hardware", {"hardware.encoding": "differential"}, AFTER_PLAN),
    ("hardware (noise-aware)", {"noise_aware.enabled": True, "hardware.encoding": "differential"},
     ALL - {"pre-finetune", "decompose"}),
    ("noise_seeds", {"noise_seeds": [7]}, {"evaluate", "attention", "report"}),
    ("compare", {"compare.magnitude": False}, {"evaluate", "report"}),
    ("hw_report", {"hw_report": False}, {"price", "report"}),
    ("attention", {"attention.examples": 4}, {"attention", "report"}),
    ("label", {"label": "x"}, {"price", "report"}),
    ("out", {"out": "elsewhere"}, set()),
]


def changed(base: RunConfig, change: dict) -> RunConfig:
    data = base.model_dump()
    for path, value in change.items():
        *head, last = path.split(".")
        d = data
        for k in head:
            d = d[k]
        d[last] = value
    return RunConfig.model_validate(data)


@pytest.fixture(scope="module")
def base() -> RunConfig:
    return RunConfig()


@pytest.mark.parametrize("what, change, expected", TABLE, ids=[t[0] for t in TABLE])
def test_one_field_recomputes_exactly_the_steps_that_read_it(base, what, change, expected):
    other = changed(base, change)
    recompute = {s.name for s in steps.STEPS if steps.key(other, s.name) != steps.key(base, s.name)}
    assert recompute == expected, what


def test_the_table_covers_every_section_a_step_reads():
    read = {r.section for s in steps.STEPS for r in s.reads}
    assert read <= {t[0].split(" ")[0] for t in TABLE}
    # a section no step reads is either the run's place or resolved into the others before validation
    assert set(RunConfig.model_fields) - read == {"out", "mode", "exclude_up_proj"}


def test_declared_reads_and_the_table_agree(base):
    """The declarations say the same as the table: the steps reading a section and every step after them (a section
    some step reads only under a condition is checked by the key test above alone)."""
    conditional = {r.section for s in steps.STEPS for r in s.reads if r.when is not None}
    for what, _, expected in TABLE:
        section = what.split(" ")[0]
        if section in conditional or section == "out":
            continue
        assert steps.downstream(steps.reading(section)) == expected, what


def test_model_keys_keep_the_format_run_folders_hold(base):
    """The derived key of a cached model is the dict the hand-written keys always held (a folder stays valid)."""
    from hyflexpim import __version__

    old = {"version": __version__, "model": base.model, "task": base.task, "task_kind": base.task_kind,
           "data": base.data.model_dump(mode="json"), "seed": base.seed,
           "pre_finetune": base.pre_finetune.model_dump(mode="json")}
    assert steps.key(base, "pre-finetune") == old
    assert steps.key(base, "decompose") == old | {"decompose": base.decompose.model_dump(mode="json")}
    assert steps.key(base, "redistribute") == old | {"decompose": base.decompose.model_dump(mode="json"),
                                                     "redistribute": base.redistribute.model_dump(mode="json"),
                                                     "noise_aware": base.noise_aware.model_dump(mode="json")}


@pytest.mark.parametrize("change, kept", [
    ({"seed": 1}, []),
    ({"decompose.budget": 0.3}, ["finetuned"]),
    ({"redistribute.lr": 1e-3}, ["finetuned", "decomposed"]),
    ({"importance.batches": 3}, ["finetuned", "decomposed", "redistributed"]),
])
def test_a_run_folder_drops_exactly_the_stale_models(tmp_path, base, change, kept):
    """The real thing: key files written for one configuration, checked against another: the stale models (and what
    they fed) go, the others stay."""
    from hyflexpim.artefacts import RunFolder
    from hyflexpim.pipeline.step_keys import STAGES, check_keys, remember
    from hyflexpim.pipeline.workspace import Workspace, release

    ws = Workspace(tmp_path / "run")
    files = RunFolder(ws.root)
    for stage, _ in STAGES:
        files.model(stage).parent.mkdir(parents=True, exist_ok=True)
        files.model(stage).write_bytes(b"weights")
        remember(ws, base, stage)
    files.importance("original", "magnitude").parent.mkdir(parents=True, exist_ok=True)
    files.importance("original", "magnitude").write_bytes(b"scores")
    said = []
    check_keys(ws, changed(base, change), None, said.append)
    assert [s for s, _ in STAGES if files.model(s).exists()] == kept
    assert files.importance("original", "magnitude").exists() == ("finetuned" in kept)
    assert bool(said) == (len(kept) < len(STAGES))
    for s in kept:
        assert json.loads(files.model_key(s).read_text()) == steps.key(base, steps.step_of_model(s))
    release(ws.root)
