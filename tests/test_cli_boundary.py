"""Bad and hostile input through the command: one `error:` line, exit code 2, no traceback, nothing written."""

import json
import subprocess
import sys

import pytest
from conftest import one_line_error


def hyflexpim(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hyflexpim.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)) + "plan: {slc_rates: *a8}\n"


@pytest.mark.parametrize("name,content,words", [
    ("binary", bytes(range(256)), ["not UTF-8", "binary"]),
    ("latin1", "seed: 1 # caf\xe9\n".encode("latin-1"), ["not UTF-8", "Latin-1"]),
    ("zstd", b"\x28\xb5\x2f\xfd" + b"\x00" * 64, ["zstd"]),
    ("bomb", BOMB.encode(), ["YAML aliases"]),
    ("nan", b"hardware: {t_seconds: .nan}\n", ["finite"]),
    ("typed", b"data: [1, 2]\n", ["data"]),
])
def test_bad_config_files(tmp_path, name, content, words):
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(content)
    r = hyflexpim("run", "--config", str(cfg), "--out", str(tmp_path / "out"))
    one_line_error(r, *words)
    assert not (tmp_path / "out").exists()  # refused before anything was written


@pytest.mark.parametrize("sets,words", [
    (["a=1", "a.b=2"], ["'a' was already set"]),
    (["seed=18446744073709551616"], ["seed"]),
    (["noise_seeds=[-1]"], ["noise_seeds"]),
    (["hardware.noise.kind=[paper]"], ["kind"]),
    (["hardware.noise={kind: {a: 1}}"], ["kind"]),
    (["decompose.exclude=['(']"], ["exclude"]),
    (["hardware.noise.sigma_mlc=.inf"], ["finite"]),
    (["data.max_length=100000"], ["positions"]),
    (["decompose.rank_policy=fixed", "decompose.rank_value=500"], ["above the rank of", "[384, 384]"]),
])
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
        def step():
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
    assert "Traceback" in open(log).read() and log.startswith(str(tmp_path))


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
    assert said == [f"note: {folder} asks for its own code (auto_map: AutoModel); hyflexpim never runs code from a model "
                    "folder: it loads transformers' own 'bert' classes instead"]


def test_help_shows_switches_as_switches():
    r = hyflexpim("run", "--help")
    assert r.returncode == 0 and "--decoder" in r.stdout and "--no-recompute" in r.stdout
    assert "<bool>" not in r.stdout and "<int>" in r.stdout  # values keep their type


@pytest.mark.parametrize("cmd", [["attention", "--slc-rates", "a,b"], ["attention", "--slc-rates", "200"],
                                 ["sweep-device", "--grid", "x"], ["run", "--slc-rates", "5,,x"]])
def test_bad_number_lists_are_refused_before_the_run_folder_is_made(tmp_path, cmd):
    out = tmp_path / "out"
    one_line_error(hyflexpim(cmd[0], "--out", str(out), *cmd[1:]), cmd[-2])
    assert not out.exists()
