"""Dependencies point down the layer table of the README ("Layout"): an upward import fails here.

Every ``import``/``from`` of ``hyflexpim.*`` in the package is checked, lazy ones inside functions too.
"""

import ast
import re
import shutil
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "hyflexpim"
README = Path(__file__).resolve().parents[1] / "README.md"

SHARED = {"errors", "atomic", "boundary", "artefacts", "__init__"}  # small top-level modules every layer may use
ALLOWED = {  # package -> the packages it may import (besides itself and SHARED); the README's table
    "cli": {"sweep", "pipeline", "methods", "report", "hw", "analysis", "sim", "algo", "device", "models", "data",
            "plan", "chip", "config", "api"},
    "api": {"sweep", "pipeline", "methods", "report", "hw", "analysis", "sim", "algo", "device", "models", "data",
            "plan", "chip", "config"},
    "sweep": {"pipeline", "report", "hw", "analysis", "sim", "algo", "device", "models", "data", "plan", "chip",
              "config"},
    "pipeline": {"report", "hw", "analysis", "sim", "algo", "device", "models", "data", "plan", "chip", "config"},
    "methods": {"report", "hw", "sim", "algo", "device", "models", "plan", "chip", "config"},  # halves: HALVES below
    "report": {"hw", "plan", "chip", "config"},
    "hw": {"plan", "chip", "config"},
    "analysis": {"sim", "models", "plan", "chip", "config"},
    "sim": {"device", "models", "plan", "chip", "config"},
    "algo": {"device", "models", "plan", "chip", "config"},
    "device": {"chip", "config"},
    "models": {"plan", "config"},
    "data": {"config"},
    "chip": {"config"},
    "plan": {"config"},
    "config": set(),
    "errors": set(),
    "atomic": set(),
    "boundary": set(),
    "artefacts": set(),
    "__init__": {"api"},  # the package's lazy facade
}


# a method folder (hyflexpim/methods/<family>/<name>/): its registration and its settings import only config; its
# cost half only the cost side's layers (hw and below, no torch); its accuracy half only the accuracy side's (sim,
# algo and below); a rank policy's training hooks the accuracy side's and the report's figures
HALVES = {"__init__.py": {"config"}, "config.py": {"config"}, "cost.py": {"hw", "plan", "chip", "config"},
          "accuracy.py": {"sim", "algo", "device", "models", "plan", "chip", "config"},
          "hooks.py": {"report", "sim", "algo", "device", "models", "plan", "chip", "config"},
          "spec.py": {"chip", "config"}}  # a design's own spec class, if it has one: read by both sides


def package_of(path: Path, src: Path = SRC) -> str:
    rel = path.relative_to(src)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hyflexpim"):
            names = [node.module] if node.module != "hyflexpim" else [f"hyflexpim.{a.name}" for a in node.names]
            for n in names:
                yield node.lineno, n
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("hyflexpim."):
                    yield node.lineno, a.name


def _all_imports(path: Path):
    """Every module named by an import, ``from a import b`` as ``a`` and ``a.b``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def violations(src: Path = SRC):
    out = []
    for path in sorted(src.rglob("*.py")):
        pkg = package_of(path, src)
        allowed = ALLOWED.get(pkg)
        assert allowed is not None, f"{path}: package '{pkg}' is not in the layer table"
        half = HALVES.get(path.name) if pkg == "methods" and len(path.relative_to(src).parts) == 4 else None
        if half is not None:
            allowed = half
            names = list(_all_imports(path))
            if path.name not in ("accuracy.py", "hooks.py") and any(n == "torch" or n.startswith("torch.")
                                                                    for n in names):
                out.append(f"{path.relative_to(src)} imports torch (a method's {path.name} must not)")
            if path.name not in ("accuracy.py", "hooks.py") and any(n.split(".")[-1] == "accuracy" for n in names):
                out.append(f"{path.relative_to(src)} imports an accuracy half (torch)")
        for line, name in imports(path):
            target = name.split(".")[1]
            if target == "__version__" or target in SHARED or target == pkg:
                continue
            if target not in allowed:
                out.append(f"{path.relative_to(src)}:{line} ({pkg}) imports {name}")
    return out


def test_no_import_points_up_the_layer_table():
    assert violations() == []


def test_the_check_catches_an_upward_import(tmp_path):
    src = tmp_path / "hyflexpim"  # a copy of the package: nothing is written into src/
    shutil.copytree(SRC, src, ignore=shutil.ignore_patterns("__pycache__", "*.npz", "*.gguf", "*.safetensors"))
    assert violations(src) == violations()
    (src / "device" / "_layering_probe.py").write_text("def f():\n    from hyflexpim.sim.apply import apply_plan\n")
    assert [v for v in violations(src) if "_layering_probe" in v] == [
        "device/_layering_probe.py:2 (device) imports hyflexpim.sim.apply"]


def test_hw_needs_no_torch_by_its_imports():
    for path in sorted((SRC / "hw").rglob("*.py")) + sorted((SRC / "chip").rglob("*.py")):
        text = path.read_text()
        assert not re.search(r"^\s*(import torch|from torch)", text, re.M), path


def test_readme_layout_table_is_the_checked_one():
    layout = README.read_text().split("## Layout", 1)[1]
    table = {}
    for row in re.findall(r"^\| `(\w+)` \|[^|]*\|([^|]*)\|$", layout, re.M):
        table[row[0]] = set(re.findall(r"`(\w+)`", row[1]))
    packages = {p for p in ALLOWED if p not in SHARED and p != "api"}
    assert set(table) == packages
    for pkg, allowed in table.items():
        if pkg != "cli":  # "everything below"
            assert allowed == ALLOWED[pkg], pkg


def test_a_method_half_that_crosses_its_side_is_caught(tmp_path):
    src = tmp_path / "hyflexpim"
    shutil.copytree(SRC, src, ignore=shutil.ignore_patterns("__pycache__", "*.npz", "*.gguf", "*.safetensors"))
    cost = src / "methods" / "predictors" / "cluster" / "cost.py"
    cost.write_text(cost.read_text() + "\nimport torch\nfrom hyflexpim.sim import attention\n"
                    "from hyflexpim.methods.predictors.cluster import accuracy\n")
    settings = src / "methods" / "predictors" / "topk" / "config.py"
    settings.write_text(settings.read_text() + "\nimport torch\n")
    found = violations(src)
    assert any("topk/config.py imports torch" in v for v in found)  # the settings: torch-free like the cost half
    assert any("cost.py imports torch" in v for v in found)
    assert any("cost.py" in v and "imports hyflexpim.sim" in v for v in found)
    assert any("cost.py imports an accuracy half" in v for v in found)


def test_the_cost_side_of_a_method_folder_loads_no_torch():
    import subprocess
    import sys

    code = ("import sys; from hyflexpim.hw.costs_prediction import predictor; from hyflexpim.chip.spec import "
            "Prediction; predictor(Prediction(kind='cluster')); print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"
