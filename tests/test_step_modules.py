"""The run's steps are their own modules over the run's context (``pipeline/run.py:Run``): the context holds no step
body, a step module needs ``Run`` only for its annotations, and the report step calls no step."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from hyflexpim.pipeline import evaluate_step, importance_step, model_steps, plan_step
from hyflexpim.pipeline.run import Run

PIPELINE = Path(__file__).resolve().parents[1] / "src" / "hyflexpim" / "pipeline"
STEP_MODULES = ("model_steps", "importance_step", "plan_step", "evaluate_step", "price_step", "attention_step")


def _runtime_imports(path: Path) -> set[str]:
    """The modules a file imports when it runs (``if TYPE_CHECKING:`` blocks left out), function-level included."""
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and getattr(node.test, "id", None) == "TYPE_CHECKING" for n in ast.walk(node)}
    out = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


@pytest.mark.parametrize("name", ["model_steps", "importance_step", "plan_step", "evaluate_step"])
def test_a_step_module_needs_the_run_only_for_its_annotations(name):
    assert "hyflexpim.pipeline.run" not in _runtime_imports(PIPELINE / f"{name}.py")


def test_the_report_step_calls_no_step():
    imported = _runtime_imports(PIPELINE / "report_run.py")
    assert not {f"hyflexpim.pipeline.{m}" for m in (*STEP_MODULES, "runner")} & imported, imported


@pytest.mark.parametrize("module, names", [
    (model_steps, ["finetuned", "decomposed", "redistributed"]),
    (importance_step, ["importance"]),
    (plan_step, ["plan", "sensitivity", "hardware"]),
    (evaluate_step, ["evaluate_clean", "evaluate_plan", "evaluate_all"]),
])
def test_the_context_holds_no_step_body(module, names):
    for n in names:
        assert callable(getattr(module, n))
        assert not hasattr(Run, n), f"Run.{n}: the step's body belongs in {module.__name__}"

