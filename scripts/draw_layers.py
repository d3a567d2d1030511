"""Draw the house: the generated parts of docs/architecture.md.

Three blocks, each from the code, never typed by hand:

- ``layers``: the packages and the imports each may make, from ``ALLOWED`` in tests/test_layering.py (the check
  that fails an upward import), as a Mermaid graph (the transitive reduction: an arrow implied by two others is
  left out) and as a table (every allowed import);
- ``folders``: the method folders found on disk (``src/hyflexpim/methods/<family>/<name>/``), the names each one's
  registration (``METHODS``) gives, the parts it names and its files; a folder no ``*_PACKAGES`` line registers is
  marked;
- ``steps``: the run's declared steps (``hyflexpim.pipeline.steps.STEPS``: what each follows, reads and writes).
  Importing the pipeline loads torch, so this block takes a few seconds.

    python scripts/draw_layers.py                                  # print the blocks
    python scripts/draw_layers.py --write docs/architecture.md     # rewrite them in place
    python scripts/draw_layers.py --check docs/architecture.md     # exit 1 if the doc is stale

(run with ``PYTHONPATH=src``; tests/test_architecture_doc.py checks the doc.)

In the doc each block sits between ``<!-- draw_layers:NAME -->`` and ``<!-- /draw_layers:NAME -->``.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import re
import sys
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "hyflexpim"
LAYERING = ROOT / "tests" / "test_layering.py"
BLOCKS = ("layers", "folders", "steps")


def _literal(node: ast.expr) -> object:
    """``ast.literal_eval`` that also reads ``set()``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "set" and not node.args:
        return set()
    if isinstance(node, ast.Dict):
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values, strict=True) if k is not None}
    return ast.literal_eval(node)


def layer_table(path: Path = LAYERING) -> tuple[dict[str, set[str]], set[str], dict[str, set[str]]]:
    """``ALLOWED``, ``SHARED`` and ``HALVES`` of tests/test_layering.py, read without running it."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text()).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id in ("ALLOWED", "SHARED", "HALVES")):
            found[node.targets[0].id] = _literal(node.value)
    return found["ALLOWED"], found["SHARED"], found["HALVES"]  # type: ignore[return-value]


def _closure(allowed: dict[str, set[str]], pkg: str) -> set[str]:
    seen: set[str] = set()
    todo = list(allowed.get(pkg, ()))
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo.extend(allowed.get(p, ()))
    return seen


def _order(allowed: dict[str, set[str]], shared: set[str]) -> list[str]:
    """The layered packages, top first (most reachable below it), then by name."""
    pkgs = [p for p in allowed if p not in shared]
    return sorted(pkgs, key=lambda p: (-len(_closure(allowed, p)), p))


def draw_layers(allowed: dict[str, set[str]], shared: set[str]) -> str:
    order = _order(allowed, shared)
    edges = []
    for a in order:
        for b in sorted(allowed[a] - shared, key=order.index):
            implied = any(b in _closure(allowed, c) for c in allowed[a] - {b})
            if not implied:
                edges.append(f"    {a} --> {b}")
    lines = ["```mermaid", "graph TD", *edges, "```", "",
             "| package | may import (besides itself and the shared modules) |", "|---|---|"]
    lines += [f"| `{p}` | {', '.join(f'`{q}`' for q in sorted(allowed[p] - shared, key=order.index)) or '—'} |"
              for p in order]
    top = [s for s in sorted(shared) if s != "__init__"]
    lines += ["", f"Shared modules every layer may import: {', '.join(f'`{s}`' for s in top)}; the package's "
              f"`__init__` imports only {', '.join(f'`{q}`' for q in sorted(allowed.get('__init__', ())))} "
              "(its lazy facade)."]
    return "\n".join(lines)


def _registrations() -> dict[str, list[Any]]:
    """package -> its registration's dataclasses (``METHODS``), for every ``*_PACKAGES`` line."""
    methods = importlib.import_module("hyflexpim.config.methods")
    out: dict[str, list[Any]] = {}
    for name in dir(methods):
        if name.endswith("_PACKAGES"):
            for package in getattr(methods, name):
                out[package] = list(importlib.import_module(package).METHODS)
    return out


def draw_folders(halves: dict[str, set[str]]) -> str:
    regs = _registrations()
    lines = ["| folder | registers | parts its registration names | files |", "|---|---|---|---|"]
    for folder in sorted(p.parent for p in (SRC / "methods").glob("*/*/__init__.py")):
        rel = folder.relative_to(SRC.parent)
        package = ".".join(rel.parts)
        files = ", ".join(f"`{f.name}`" for f in sorted(folder.glob("*.py")))
        if package not in regs:
            lines.append(f"| `{rel.relative_to('hyflexpim')}/` | NOT REGISTERED (no `*_PACKAGES` line) | — | {files} |")
            continue
        names, parts = [], []
        for m in regs[package]:
            names.append(f"{type(m).__name__} `{getattr(m, m.key)}`")
            for f in dataclasses.fields(m):
                value = getattr(m, f.name)
                if f.name not in ("package", m.key) and isinstance(value, str) and ":" in value and f.name not in parts:
                    parts.append(f.name)
        lines.append(f"| `{rel.relative_to('hyflexpim')}/` | {', '.join(names)} | {', '.join(parts)} | {files} |")
    lines += ["", "What each file of a folder may import (tests/test_layering.py, `HALVES`; no torch but in "
              "`accuracy.py` and `hooks.py`):", ""]
    lines += [f"- `{name}`: {', '.join(f'`{q}`' for q in sorted(allowed))}" for name, allowed in halves.items()]
    return "\n".join(lines)


def draw_steps() -> str:
    steps = importlib.import_module("hyflexpim.pipeline.steps").STEPS
    lines = ["| step | follows | reads (configuration sections; *if*: only when it applies) | writes | model |",
             "|---|---|---|---|---|"]
    for s in steps:
        reads = ", ".join(f"`{r.section}`" + (" *if*" if getattr(r, "when", None) is not None else "")
                          for r in s.reads)
        after = ", ".join(s.after) or "—"
        writes = ", ".join(f"`{w}`" for w in getattr(s, "writes", ())) or "—"
        model = f"`models/{s.model}`" if getattr(s, "model", None) else "—"
        lines.append(f"| **{s.name}** | {after} | {reads} | {writes} | {model} |")
    return "\n".join(lines)


def blocks() -> dict[str, str]:
    allowed, shared, halves = layer_table()
    return {"layers": draw_layers(allowed, shared), "folders": draw_folders(halves), "steps": draw_steps()}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- draw_layers:{name} -->\n)(.*?)\n?(<!-- /draw_layers:{name} -->)", re.S)


def in_doc(text: str) -> dict[str, str]:
    """The generated blocks as the doc holds them."""
    out = {}
    for name in BLOCKS:
        m = _pattern(name).search(text)
        if m:
            out[name] = m.group(2)
    return out


def _put(body: str, m: re.Match[str]) -> str:
    return m.group(1) + body + "\n" + m.group(3)


def rewrite(text: str, new: dict[str, str]) -> str:
    for name, body in new.items():
        if not _pattern(name).search(text):
            print(f"error: the doc has no <!-- draw_layers:{name} --> block", file=sys.stderr)
            raise SystemExit(2)
        text = _pattern(name).sub(partial(_put, body), text)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, help="rewrite the blocks of this doc in place")
    group.add_argument("--check", type=Path, help="exit 1 if this doc's blocks differ from the code")
    args = ap.parse_args(argv)
    new = blocks()
    if args.write:
        args.write.write_text(rewrite(args.write.read_text(), new))
    elif args.check:
        old = in_doc(args.check.read_text())
        stale = [n for n in BLOCKS if old.get(n) != new[n]]
        if stale:
            print(f"{args.check}: stale block(s) {', '.join(stale)}; run python scripts/draw_layers.py --write "
                  f"{args.check}", file=sys.stderr)
            return 1
    else:
        for name in BLOCKS:
            print(f"<!-- draw_layers:{name} -->\n{new[name]}\n<!-- /draw_layers:{name} -->\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
