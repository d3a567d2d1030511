"""The scale study (pipeline.jets_study, `hyflexpim jets study`): the plan and its time estimate, bad settings as
one line, and end to end on tiny sizes — points trained and analysed, table and figure, resumed after a failure
without training a finished point again."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("weaver")

from hyflexpim.pipeline.jets_study import StudyConfig, plan, points, run_study


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hyflexpim.cli.main", "jets", "study", *args], capture_output=True,
                          text=True, cwd=cwd, check=False)


def test_dry_run_prints_every_point_and_an_estimate_from_the_step_counts(tmp_path):
    r = _cli("--data", "jets", "--sizes", "3000,12000", "--models", "small,paper", "--pair-bias", "on,off",
             "--epochs", "2", "--out", str(tmp_path / "s"), "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "small-pairoff-12000" in r.stdout and "paper-pairon-3000" in r.stdout
    assert " 94 steps" in r.stdout and " 376 steps" in r.stdout  # 2 epochs of ceil(3000/64), ceil(12000/64)
    assert "estimated training time" in r.stdout and not (tmp_path / "s").exists()  # a dry run writes nothing
    cfg = StudyConfig(data="jets", sizes=[3000], models=["small"], pair_bias=[True], epochs=1)
    # no measurement yet: the documented 1.2 s per step; 47 steps
    assert plan(cfg, tmp_path)[-1].startswith("estimated training time: 0.0 h")
    (tmp_path / "small-pairon-3000").mkdir()  # a measured point replaces the fallback figure
    (tmp_path / "small-pairon-3000" / "train.json").write_text(json.dumps({"seconds_per_step": 100.0,
                                                                          "train": {"batch_size": 64}}))
    lines = plan(cfg, tmp_path)
    assert "100.00 s per 64-jet step (measured here (1 points))" in "\n".join(lines)
    assert lines[-1].startswith("estimated training time: 1.3 h")  # 47 x 100 s


@pytest.mark.parametrize("args,message", [(["--sizes", "60,x"], "--sizes"), (["--pair-bias", "yes"], "--pair-bias"),
                                          (["--models", "big"], "models"), (["--sizes", "0"], "sizes")])
def test_bad_study_settings_are_one_line(tmp_path, args, message):
    r = _cli("--data", "jets", "--dry-run", "--out", str(tmp_path), *args)
    assert r.returncode == 2 and r.stderr.startswith("error:") and message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_tiny_study_end_to_end_and_resumes(tmp_path, monkeypatch):
    cfg = StudyConfig(data="jets", sizes=[60, 120], models=["small"], pair_bias=[True, False], epochs=1,
                      analysis_jets=40)
    import hyflexpim.pipeline.jets_step as step

    real, calls = step.analyze_jets, []

    def failing(model, data, out, *a, **k):  # the third point's analysis fails: an interrupted study
        calls.append(out)
        if len(calls) == 3:
            raise RuntimeError("interrupted")
        return real(model, data, out, *a, **k)

    monkeypatch.setattr(step, "analyze_jets", failing)
    with pytest.raises(RuntimeError):
        run_study(cfg, tmp_path, progress=False, say=lambda *_: None)
    monkeypatch.setattr(step, "analyze_jets", real)
    names = [p["name"] for p in points(cfg)]
    assert names == ["small-pairon-60", "small-pairon-120", "small-pairoff-60", "small-pairoff-120"]
    trained = {n: os.stat(tmp_path / n / "train.json").st_mtime_ns for n in names[:3]}
    rows = run_study(cfg, tmp_path, progress=False, say=lambda *_: None)
    for n in names[:3]:  # finished trainings are not redone (the third point only gets its analysis)
        assert os.stat(tmp_path / n / "train.json").st_mtime_ns == trained[n]
    assert [(r["pair_bias"], r["train_jets"]) for r in rows] == [(True, 60), (True, 120), (False, 60), (False, 120)]
    for r in rows:
        assert r["test_jets"] == 40 and 0 <= r["binary_mean"] <= 1 and r["k90_mean"] >= 1
    off = [r for r in rows if not r["pair_bias"]]
    # without the pair bias the attention-only map is the attention itself
    assert all(r["k90_attention_only_mean"] == pytest.approx(r["k90_mean"], rel=1e-3) for r in off)
    train = json.loads((tmp_path / "small-pairoff-120" / "train.json").read_text())
    assert train["train_jets"] == 120 and train["config"]["pair_embed_dims"] is None and train["steps"] == 2
    assert not (tmp_path / "small-pairoff-120" / "train.ckpt").exists()  # removed once the model is saved
    blocks = (tmp_path / "study_blocks.csv").read_text().splitlines()
    assert len(blocks) == 1 + 4 * 3  # a row per point and block (small: 3 blocks)
    assert (tmp_path / "study.png").stat().st_size > 10_000
