"""Two CPU processes (``accelerate launch --multi_gpu --num_processes 2``: torchrun, gloo on a machine without a GPU)
give the model one process gives on the same global batch: pre-finetune, decompose, redistribute, importance and the
plan of tests/distributed_worker.py. Tolerance (float32 sums in another order): losses to 1e-5 relative, weights to
1e-4 absolute, importance to 1e-3 of each matrix's largest score, and the same SLC components. Only the main process
writes the run folder (under its lock); both processes ran."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).parent / "distributed_worker.py"
LAUNCH = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines",
          "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29517"]


def run(cmd, out):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    r = subprocess.run([*cmd, str(WORKER), str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads((out / "losses.json").read_text())


@pytest.mark.slow
def test_two_processes_equal_one(tmp_path):
    from safetensors.torch import load_file

    one = run([sys.executable], tmp_path / "one" / "run")
    two = run(LAUNCH, tmp_path / "two" / "run")
    assert (one["world"], two["world"]) == (1, 2) and one["batches"] == two["batches"] == 6
    assert sorted((tmp_path / "two" / "ranks.txt").read_text().split()) == ["0/2", "1/2"]
    for step in ("pre", "redistribute"):
        assert one[step] == pytest.approx(two[step], rel=1e-5)
    a = load_file(tmp_path / "one" / "run" / "models" / "redistributed.safetensors")
    b = load_file(tmp_path / "two" / "run" / "models" / "redistributed.safetensors")
    assert a.keys() == b.keys() and max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-4
    ia, ib = (torch.load(tmp_path / w / "run" / "importance" / "grad_abs.pt") for w in ("one", "two"))
    assert max(float((ia[k] - ib[k]).abs().max() / ia[k].abs().max()) for k in ia) < 1e-3
    pa, pb = (json.loads((tmp_path / w / "run" / "plans" / "slc10.json").read_text()) for w in ("one", "two"))
    assert [m.get("slc") for m in pa["matrices"]] == [m.get("slc") for m in pb["matrices"]]
    assert any(m.get("slc") for m in pa["matrices"])
    assert sorted(p.name for p in (tmp_path / "two" / "run").rglob("*") if p.is_file() and p.suffix != ".lock") == \
        sorted(p.name for p in (tmp_path / "one" / "run").rglob("*") if p.is_file() and p.suffix != ".lock")
