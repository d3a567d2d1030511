"""Run the fast loop once and show that it loads every module of the package; print its wall time.

    PYTHONPATH=src .venv/bin/python scripts/fast_loop_coverage.py [extra pytest arguments]

Runs ``pytest -m "not slow" -q`` with a ``sitecustomize`` on the path that, in the test process and in every Python
process a test starts (the ``hyflexpim`` commands), writes the ``hyflexpim`` modules loaded by the time it exits.
Exit 1 if the tests fail or a module of ``src/hyflexpim`` was never loaded (listed: give it a fast test).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

SITECUSTOMIZE = '''
import atexit, os, sys

def _write_loaded_modules():
    names = [m for m in list(sys.modules) if m == "hyflexpim" or m.startswith("hyflexpim.")]
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)  # python -m hyflexpim.x runs x as __main__
    if spec is not None and spec.name.startswith("hyflexpim."):
        names.append(spec.name)
    path = os.path.join(os.environ["HYFLEXPIM_MODULE_LOG"], f"{os.getpid()}.txt")
    with open(path, "a", encoding="utf-8") as f:
        f.write("\\n".join(names) + "\\n")

if os.environ.get("HYFLEXPIM_MODULE_LOG"):
    atexit.register(_write_loaded_modules)
'''


def package_modules() -> set[str]:
    out = set()
    for p in (SRC / "hyflexpim").rglob("*.py"):
        parts = list(p.relative_to(SRC).with_suffix("").parts)
        out.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


def main(extra: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        hook, log = Path(tmp) / "hook", Path(tmp) / "log"
        hook.mkdir()
        log.mkdir()
        (hook / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
        path = os.pathsep.join(p for p in (str(hook), str(SRC), os.environ.get("PYTHONPATH", "")) if p)
        env = {**os.environ, "PYTHONPATH": path, "HYFLEXPIM_MODULE_LOG": str(log)}
        start = time.monotonic()
        tests = subprocess.run([sys.executable, "-m", "pytest", "-m", "not slow", "-q", "-p", "no:cacheprovider",
                                *extra], cwd=ROOT, env=env)
        seconds = time.monotonic() - start
        loaded = {ln for f in log.glob("*.txt") for ln in f.read_text(encoding="utf-8").split()}
    missing = sorted(package_modules() - loaded)
    print(f"fast loop: exit {tests.returncode}, {seconds:.0f} s wall, {len(loaded)} package modules loaded")
    if missing:
        print(f"not loaded by any fast test ({len(missing)}): " + ", ".join(missing))
    return 1 if tests.returncode or missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
