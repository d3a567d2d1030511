"""Bad and hostile input through the command: one `error:` line, exit code 2, no traceback, nothing written."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import one_line_error, slow_beyond


def hyflexpim(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hyflexpim.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)) + "plan: {slc_rates: *a8}\n"


def only_line(r, *words):
    """The project's one-line refusal, and nothing else on stderr (no warning of a library before it)."""
    one_line_error(r, *words)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("name,content,words", slow_beyond(1, [
    ("binary", bytes(range(256)), ["not UTF-8", "binary"]),
    ("latin1", "seed: 1 # caf\xe9\n".encode("latin-1"), ["not UTF-8", "Latin-1"]),
    ("zstd", b"\x28\xb5\x2f\xfd" + b"\x00" * 64, ["zstd"]),
    ("bomb", BOMB.encode(), ["YAML aliases"]),
    ("nan", b"hardware: {t_seconds: .nan}\n", ["finite"]),
    ("typed", b"data: [1, 2]\n", ["data"]),
    # issue 28: numbers however spelled, enumerated fields, duplicate keys, bools, huge integers, encodings, typos
    ("lr", b"redistribute: {lr: 1e999}\n", ["redistribute.lr", "finite"]),
    ("lr-string", b"redistribute: {lr: '-Infinity'}\n", ["redistribute.lr", "finite"]),
    ("roles", b"decompose: {roles: [qq]}\n", ["decompose.roles", "allowed: q, k, v"]),
    ("duplicate", b"seed: 1\nseed: 2\n", ["'seed' is given twice"]),
    ("bool seed", b"seed: true\n", ["seed", "not true/false"]),
    ("huge", b"seed: " + b"9" * 5000 + b"\n", ["at most 30 digits"]),
    ("utf16", "seed: 1\n".encode("utf-16"), ["UTF-16"]),
    ("misspelled", b"data: {max_trian: 3}\n", ["did you mean 'max_train'"]),
]))
def test_bad_config_files(tmp_path, name, content, words):
    """Refused at load, before anything is written, in one line and nothing else on stderr."""
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(content)
    r = hyflexpim("run", "--config", str(cfg), "--out", str(tmp_path / "out"))
    only_line(r, *words)
    assert not (tmp_path / "out").exists()  # refused before anything was written


@pytest.mark.parametrize("sets,words", slow_beyond(1, [
    (["a=1", "a.b=2"], ["'a' was already set"]),
    (["seed=18446744073709551616"], ["seed"]),
    (["noise_seeds=[-1]"], ["noise_seeds"]),
    (["hardware.noise.kind=[paper]"], ["kind"]),
    (["hardware.noise={kind: {a: 1}}"], ["kind"]),
    (["decompose.exclude=['(']"], ["exclude"]),
    (["hardware.noise.sigma_mlc=.inf"], ["finite"]),
    (["data.max_length=100000"], ["positions"]),
    (["decompose.rank_policy=fixed", "decompose.rank_value=500"], ["above the rank of", "[384, 384]"]),
]))
def test_bad_overrides(tmp_path, sets, words):
    args = [x for s in sets for x in ("--set", s)]
    r = hyflexpim("run", "--out", str(tmp_path / "out"), *args)
    one_line_error(r, *words)


def test_hardware_command_bounds(tmp_path):
    one_line_error(hyflexpim("hw", "--model", "minilm-l6", "--seq-lens", "1000000000000"), "--seq-lens")
    one_line_error(hyflexpim("hw", "--model", "minilm-l6", "--gen-tokens", "0"), "--gen-tokens")
    plan = tmp_path / "p.json"
    plan.write_text("[" * 100000)
    one_line_error(hyflexpim("hw", "--plan", str(plan)), "nested")
    spec = tmp_path / "s.yaml"
    spec.write_text("base: hyflexpim\nclock_ghz: .nan\n")
    one_line_error(hyflexpim("hw", "--model", "minilm-l6", "--spec", str(spec)), "finite")


def test_report_of_a_wrong_file(tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps({"rows": [1, 2]}))
    one_line_error(hyflexpim("report", str(bad), "--out", str(tmp_path / "x.png")), "not a results")
    assert not (tmp_path / "x.png").exists()


def test_a_bad_plan_is_refused_before_the_run_folder_is_touched(tmp_path):
    plan = tmp_path / "p.json"
    plan.write_bytes(b'{"format": 2, "matrices": NaN}')
    out = tmp_path / "out"
    one_line_error(hyflexpim("evaluate", "--out", str(out), "--plan", str(plan)), "not a number")
    assert not out.exists()


def test_a_full_disk_or_a_refused_permission_is_one_line(capsys):
    import errno

    import typer

    from hyflexpim.cli.main import guarded

    for code, words in ((errno.ENOSPC, "no space left on the device writing /x/models/a.safetensors"),
                        (errno.EACCES, "permission denied writing /x/models/a.safetensors")):
        def step(code=code):
            raise OSError(code, "msg", "/x/models/a.safetensors")

        with pytest.raises(typer.Exit) as e:
            guarded(step)()
        assert e.value.exit_code == 2 and words in capsys.readouterr().err


def test_a_bug_is_one_line_with_the_path_of_its_traceback(capsys, tmp_path, monkeypatch):
    import typer

    from hyflexpim.cli.main import guarded

    monkeypatch.chdir(tmp_path)
    with pytest.raises(typer.Exit) as e:
        guarded(lambda: {}["missing"])()
    err = capsys.readouterr().err.strip()
    assert e.value.exit_code == 1 and err.startswith("error: unexpected KeyError") and "\n" not in err
    log = err.split("traceback in ")[1].split(";")[0]
    assert "Traceback" in Path(log).read_text() and log.startswith(str(tmp_path))


def test_a_model_folder_asking_for_its_own_code_is_named_and_not_run(tmp_path, minilm_path):
    from hyflexpim.pipeline.config import RunConfig
    from hyflexpim.pipeline.preflight import check_lengths

    folder = tmp_path / "custom"
    folder.mkdir()
    for f in minilm_path.iterdir():
        (folder / f.name).symlink_to(f)
    cfg = json.loads((minilm_path / "config.json").read_text())
    cfg["auto_map"] = {"AutoModel": "evil.EvilModel"}
    (folder / "config.json").unlink()
    (folder / "config.json").write_text(json.dumps(cfg))
    said = []
    check_lengths(RunConfig(model=str(folder)), "classification", said.append)
    assert said == [f"note: {folder} asks for its own code (auto_map: AutoModel); hyflexpim never runs code from a "
                    "model folder: it loads transformers' own 'bert' classes instead"]


def test_help_shows_switches_as_switches():
    r = hyflexpim("run", "--help")
    assert r.returncode == 0 and "--decoder" in r.stdout and "--no-recompute" in r.stdout
    assert "<bool>" not in r.stdout and "<int>" in r.stdout  # values keep their type


@pytest.mark.parametrize("cmd", slow_beyond(3, [
    ["attention", "--slc-rates", "a,b"], ["attention", "--slc-rates", "200"], ["sweep-device", "--grid", "x"],
    ["run", "--slc-rates", "5,,x"]]))
def test_bad_number_lists_are_refused_before_the_run_folder_is_made(tmp_path, cmd):
    out = tmp_path / "out"
    one_line_error(hyflexpim(cmd[0], "--out", str(out), *cmd[1:]), cmd[-2])
    assert not out.exists()


# -- issue 28 ----------------------------------------------------------------------------------------------------



@pytest.mark.parametrize("sets,words", slow_beyond(0, [  # test_bad_overrides runs the same path fast
    (["redistribute.lr=inf"], ["redistribute.lr", "finite"]), (["redistribute.lr=1e999"], ["finite"]),
    (["plan.slc_rates=[0, nan]"], ["plan.slc_rates", "finite"]), (["noise_seeds=[true]"], ["true/false"]),
    (["importance.scorer=grad_ab"], ["did you mean 'grad_abs'"]),
]))
def test_bad_overrides_are_refused_at_load(tmp_path, sets, words):
    r = hyflexpim("run", "--out", str(tmp_path / "out"), *[x for s in sets for x in ("--set", s)])
    only_line(r, *words)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # test_fuzz_boundary checks the same in-process
def test_an_invalid_section_is_an_error_whatever_set_says(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data: 5\n")
    r = hyflexpim("run", "--config", str(cfg), "--set", "data.max_train=64", "--out", str(tmp_path / "out"))
    only_line(r, "data", "got 5")
    assert not (tmp_path / "out").exists()


@pytest.fixture
def model_folder(tmp_path, minilm_path):
    def make(weights: str):
        folder = tmp_path / f"model-{weights}"
        folder.mkdir()
        if weights == "empty":
            return folder
        for f in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"):
            (folder / f).symlink_to(minilm_path / f)
        data = (minilm_path / "model.safetensors").read_bytes()[:200_000]
        if weights == "truncated":
            (folder / "model.safetensors").write_bytes(data)
        elif weights == "garbage":
            (folder / "model.safetensors").write_bytes(bytes(range(256)) * 64)
        elif weights == "pickle-only":
            import torch

            torch.save({"w": torch.zeros(2)}, folder / "pytorch_model.bin")
        return folder
    return make


@pytest.mark.parametrize("weights,words", slow_beyond(1, [
    ("truncated", ["model.safetensors", "is not a complete safetensors file", "incomplete metadata"]),
    ("garbage", ["model.safetensors", "is not a complete safetensors file"]),
    ("pickle-only", ["holds only pytorch_model.bin", "expected model.safetensors"]),
    ("empty", ["is empty: expected a Hugging Face model folder"]),
]))
def test_every_model_folder_failure_is_one_line(tmp_path, model_folder, weights, words):
    folder = model_folder(weights)
    r = hyflexpim("run", "--model", str(folder), "--out", str(tmp_path / "out"))
    only_line(r, str(folder), *words)
    assert not (tmp_path / "out").exists()


def test_a_raw_pickle_part_checkpoint_is_one_line_and_runs_nothing(tmp_path):
    import pickle

    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    ckpt = tmp_path / "evil.pt"
    ckpt.write_bytes(pickle.dumps({"state_dict": Evil()}))
    r = hyflexpim("run", "--model", str(ckpt), "--task", "jets", "--out", str(tmp_path / "out"))
    only_line(r, str(ckpt), "holds Python objects", "ran none of it")
    assert not marker.exists()


def test_a_hub_id_without_network_is_one_line_within_seconds(tmp_path):
    import os
    import time

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    start = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "hyflexpim.cli.main", "run", "--model", "nobody/no-such-model", "--out",
                        str(tmp_path / "out")], capture_output=True, text=True, timeout=300, env=env)
    only_line(r, "nobody/no-such-model", "cannot be reached", "local Hugging Face cache")
    assert time.monotonic() - start < 120  # the process start and the data set dominate; no hub retries (76 s)


@pytest.fixture(scope="module")
def tiny_plan():
    from conftest import tiny_bert
    from hyflexpim.algo.decompose import decompose
    from hyflexpim.algo.importance import score_importance
    from hyflexpim.algo.plan_policy import make_plan

    model = tiny_bert()
    decompose(model)
    return json.loads(make_plan(model, score_importance(model, "singular_value"), 10).model_dump_json())


@pytest.mark.parametrize("edit,words", [
    ({"policy": {"slc_rate": 150}}, ["policy.slc_rate", "0..100", "150"]),
    ({"policy": {"slc_rate": -1}}, ["policy.slc_rate", "-1"]),
    ({"attention": {"kind": "nope", "keep": 0.5}}, ["attention.kind", "unknown attention kind 'nope'"]),
])
@pytest.mark.parametrize("command", ["hw", "evaluate"])
def test_an_invalid_plan_is_refused_by_every_command_that_reads_it(tmp_path, tiny_plan, edit, words, command):
    plan = json.loads(json.dumps(tiny_plan))
    for k, v in edit.items():
        plan[k] = {**plan[k], **v} if k == "policy" else v
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    args = ["hw", "--plan", str(path)] if command == "hw" else ["evaluate", "--plan", str(path), "--out",
                                                                  str(tmp_path / "out")]
    only_line(hyflexpim(*args), *words)
    assert not (tmp_path / "out").exists()


def _results_folder(tmp_path, mean, low, high, metric="accuracy"):
    from hyflexpim.report.results import COLUMNS

    run = tmp_path / "run"
    run.mkdir()
    row = dict.fromkeys(COLUMNS, "") | {"variant": "redistributed", "scorer": "grad_abs", "policy": "uniform",
                                      "slc_rate": "10", "metric": metric, "mean": mean, "std": "0", "n": "3",
                                      "ci_low": low, "ci_high": high, "values": mean}
    (run / "results.csv").write_text(",".join(COLUMNS) + "\n" + ",".join(str(row[c]) for c in COLUMNS) + "\n")
    return run


@pytest.mark.parametrize("mean,low,high,words", [
    ("0.99", "0.375", "0.688", ["outside its own 95 % interval"]), ("1.7", "", "", ["outside 0..1"]),
    ("abc", "", "", ["mean 'abc' is not a number"]), ("inf", "", "", ["not a finite number"])])
def test_report_html_refuses_a_results_table_that_is_not_what_it_says(tmp_path, mean, low, high, words):
    run = _results_folder(tmp_path, mean, low, high)
    only_line(hyflexpim("report", str(run), "--html"), "results.csv", *words)
    assert not (run / "report.html").exists()


def test_report_html_refuses_a_garbage_results_table(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.csv").write_bytes(b"\x00\x01garbage" * 100)
    only_line(hyflexpim("report", str(run), "--html"), "results.csv")
    (run / "results.csv").write_text("a,b\n1,2\n")
    only_line(hyflexpim("report", str(run), "--html"), "is not a results.csv written by hyflexpim run")
    assert not (run / "report.html").exists()


# -- in-process (no subprocess): data paths, records, result sets --------------------------------------------------

def test_data_paths_are_named_for_what_they_are(tmp_path):
    import os

    from hyflexpim.data.files import read_table
    from hyflexpim.errors import UserError

    os.mkfifo(tmp_path / "fifo.csv")
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "loop.csv").symlink_to(tmp_path / "loop.csv")
    (tmp_path / "u16.csv").write_bytes("text,label\na,0\nb,1\n".encode("utf-16"))
    (tmp_path / "bad.csv.gz").write_bytes(b"not gzip at all")
    for name, words in [("fifo.csv", "named pipe (FIFO)"), ("zero.csv", "character device"), ("folder.csv", "a folder"),
                        ("loop.csv", "symbolic link that loops"), ("u16.csv", "UTF-16"),
                        ("bad.csv.gz", "not a valid gzip file"), ("missing.csv", "does not exist")]:
        with pytest.raises(UserError, match=re.escape(words)) as e:
            read_table(tmp_path / name)
        assert "\n" not in str(e.value)


def test_a_compression_bomb_is_refused_and_zst_loads(tmp_path, monkeypatch):
    import gzip

    import zstandard  # a dependency (pyproject ml extra, constraints.txt): scripts/setup.sh installs it

    from hyflexpim import boundary
    from hyflexpim.data.files import load_classification, read_table
    from hyflexpim.errors import UserError

    rows = "text,label\n" + "".join(f"snippet number {i},{i % 2}\n" for i in range(200))
    (tmp_path / "d.csv.zst").write_bytes(zstandard.ZstdCompressor().compress(rows.encode()))
    assert len(read_table(tmp_path / "d.csv.zst")) == 200
    assert load_classification(tmp_path / "d.csv.zst").label_names == ["0", "1"]
    with gzip.open(tmp_path / "bomb.csv.gz", "wb") as f:  # 8 MiB of one byte: a few KiB compressed
        f.write(b"text,label\n" + b"a" * (8 * 2**20))
    assert (tmp_path / "bomb.csv.gz").stat().st_size < 100_000
    monkeypatch.setattr(boundary, "MAX_DATA_BYTES", 2**20)
    with pytest.raises(UserError, match="expands to more than 1 MiB when decompressed"):
        read_table(tmp_path / "bomb.csv.gz")


def test_edited_evaluation_records_are_not_trusted(tmp_path, capsys):
    import base64

    import numpy as np

    from hyflexpim.pipeline.workspace import STEP_FOLDERS, Workspace

    ws = Workspace(tmp_path / "run")
    assert not any((tmp_path / "run" / s).exists() for s in STEP_FOLDERS)  # made by their first file only
    bits = np.array([1, 0, 1, 1, 0, 0, 1, 0], dtype=bool)
    rec = {"key": "redistributed/grad_abs/uniform/10/0/abc", "variant": "redistributed", "scorer": "grad_abs",
           "policy": "uniform", "slc_rate": 10.0, "seed": 0, "metric": "accuracy", "value": 0.5,
           "correct": base64.b64encode(np.packbits(bits).tobytes()).decode(), "n_examples": 8}
    ws.record(rec)
    ws.record({**rec, "key": rec["key"].replace("/0/", "/1/"), "seed": 1, "value": 0.99})  # edited by hand
    ws.record({**rec, "key": rec["key"].replace("/0/", "/2/"), "seed": 3})  # key and content disagree
    ws.record({**rec, "key": "svd/clean", "variant": "svd", "scorer": None, "policy": None, "slc_rate": None,
               "seed": None, "value": 1.5})  # an accuracy above 1
    assert list(ws.done()) == [rec["key"]]
    err = capsys.readouterr().err
    assert "is not the 0.5 its own per-example outcomes give" in err and "its key says seed '2'" in err
    assert "not a finite accuracy in 0..1" in err


def test_result_sets_are_written_all_or_nothing(tmp_path, tiny_plan, monkeypatch):
    import errno

    from typer.testing import CliRunner

    from hyflexpim.cli.main import app
    from hyflexpim.report import hw_plots

    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(tiny_plan))

    def full_disk(results, out, title=""):
        raise OSError(errno.ENOSPC, "No space left on device", str(out / "throughput_vs_seq.png"))

    monkeypatch.setattr(hw_plots, "write_plots", full_disk)
    out = tmp_path / "hw"
    r = CliRunner().invoke(app, ["hw", "--plan", str(plan), "--seq-lens", "128", "--baselines", "", "--out", str(out)])
    assert r.exit_code == 2 and "no space left" in r.output
    assert not out.exists()  # no hw_results.csv without its JSON and figures
    out.mkdir()
    (out / "hw_results.csv").write_text("the earlier set\n")
    r = CliRunner().invoke(app, ["hw", "--plan", str(plan), "--seq-lens", "128", "--baselines", "", "--out", str(out)])
    assert r.exit_code == 2 and sorted(p.name for p in out.iterdir()) == ["hw_results.csv"]
    assert (out / "hw_results.csv").read_text() == "the earlier set\n"


def test_report_refuses_an_edited_results_json(tmp_path):
    rows = [{"variant": "redistributed", "scorer": "grad_abs", "policy": "uniform", "slc_rate": 10,
             "metric": "accuracy", "mean": 0.99, "std": 0.0, "n": 3, "ci_low": 0.375, "ci_high": 0.688}]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(rows))
    only_line(hyflexpim("report", str(path), "--out", str(tmp_path / "x.png")), "row 0",
              "outside its own 95 % interval")
    assert not (tmp_path / "x.png").exists()


def test_report_html_refuses_a_garbage_chip_table(tmp_path):
    run = _results_folder(tmp_path, "0.5", "0.4", "0.6")
    (run / "hw").mkdir()
    (run / "hw" / "hw_results.csv").write_text("a,b\n1,2\n")
    only_line(hyflexpim("report", str(run), "--html"), "hw_results.csv", "is not a hw_results.csv written by hyflexpim")
    assert not (run / "report.html").exists()
