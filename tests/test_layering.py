"""Dependencies point down the layer table of the README ("Layout"): an upward import fails here.

Every ``import``/``from`` of ``hyflexpim.*`` in the package is checked, lazy ones inside functions too.
"""

import ast
import re
import shutil
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "hyflexpim"
README = Path(__file__).resolve().parents[1] / "README.md"

SHARED = {"errors", "atomic", "boundary", "__init__"}  # small top-level modules every layer may use
ALLOWED = {  # package -> the packages it may import (besides itself and SHARED); the README's table
    "cli": {"sweep", "pipeline", "report", "hw", "analysis", "sim", "algo", "device", "models", "data", "plan", "chip",
            "config", "api"},
    "api": {"sweep", "pipeline", "report", "hw", "analysis", "sim", "algo", "device", "models", "data", "plan", "chip",
            "config"},
    "sweep": {"pipeline", "report", "hw", "analysis", "sim", "algo", "device", "models", "data", "plan", "chip",
              "config"},
    "pipeline": {"report", "hw", "analysis", "sim", "algo", "device", "models", "data", "plan", "chip", "config"},
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
    "__init__": {"api"},  # the package's lazy facade
}


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


def violations(src: Path = SRC):
    out = []
    for path in sorted(src.rglob("*.py")):
        pkg = package_of(path, src)
        allowed = ALLOWED.get(pkg)
        assert allowed is not None, f"{path}: package '{pkg}' is not in the layer table"
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
