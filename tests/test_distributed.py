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
    ia, ib = (torch.load(tmp_path / w / "run" / "importance" / "grad_abs.pt", weights_only=True)
              for w in ("one", "two"))
    assert max(float((ia[k] - ib[k]).abs().max() / ia[k].abs().max()) for k in ia) < 1e-3
    pa, pb = (json.loads((tmp_path / w / "run" / "plans" / "slc10.json").read_text()) for w in ("one", "two"))
    assert [m.get("slc") for m in pa["matrices"]] == [m.get("slc") for m in pb["matrices"]]
    assert any(m.get("slc") for m in pa["matrices"])
    assert sorted(p.name for p in (tmp_path / "two" / "run").rglob("*") if p.is_file() and p.suffix != ".lock") == \
        sorted(p.name for p in (tmp_path / "one" / "run").rglob("*") if p.is_file() and p.suffix != ".lock")


@pytest.mark.slow
def test_two_process_run_writes_the_folder_once(tmp_path):
    """``accelerate launch ... -m hyflexpim.cli.main run``: both processes train together, the main one alone holds
    the lock, writes the folder and evaluates (the other stops after the shared steps)."""
    out = tmp_path / "run"
    tiny = ["--slc-rates", "0,100", "--noise-seeds", "1", "-q", "--set", "data.max_train=64", "--set",
            "data.max_eval=32", "--set", "data.batch_size=16", "--set", "pre_finetune.max_steps=2", "--set",
            "redistribute.max_steps=2", "--set", "importance.batches=2", "--set", "compare.singular_value_rates=[]",
            "--set", "compare.random_rates=[]", "--set", "compare.magnitude=false", "--set", "attention.enabled=false",
            "--set", "hw_report=false"]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    r = subprocess.run([*LAUNCH, "-m", "hyflexpim.cli.main", "run", "--out", str(out), *tiny], capture_output=True,
                       text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("SLC 100.0%") == 2 and r.stdout.count("done in") == 1  # main curve + no-redistribution
    keys = [json.loads(line)["key"] for line in (out / "evaluations.jsonl").read_text().splitlines()]
    assert len(keys) == len(set(keys)) == 6  # FP32, SVD+redistribution, 2 rates x 2 curves: each written once
    assert (out / "results.csv").is_file() and (out / "importance" / "redistributed-grad_abs.pt").is_file()
