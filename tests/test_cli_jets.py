"""The jets commands end to end on the shipped sample: train a ParT checkpoint, analyse its attention, and run the
whole HyFlexPIM pipeline on it (``hyflexpim run --model <ckpt> --task jets``)."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import one_line_error

pytest.importorskip("weaver")


def hyflexpim(*args):
    return subprocess.run([sys.executable, "-m", "hyflexpim.cli.main", *args], capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("part") / "part.pt"
    r = hyflexpim("jets", "train", "--epochs", "1", "--out", str(path), "-q")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "test accuracy" in r.stdout and "AUC" in r.stdout
    return path


@pytest.mark.slow  # trains ParT on the shipped jets
def test_train_writes_a_checkpoint_and_its_report(checkpoint):
    report = json.loads(checkpoint.with_suffix(".json").read_text())
    assert report["test"]["jets"] == 600 and report["steps"] == 33  # 2,100 training jets, batches of 64
    assert set(report["test"]["auc"]) == {"QCD", "Hbb", "Tbqq", "Wqq", "Zqq"}
    # one epoch already beats chance (20 %) by more than 3 binomial standard errors on 600 jets (0.049)
    assert report["test"]["accuracy"] > 0.2 + 3 * (0.2 * 0.8 / 600) ** 0.5


@pytest.mark.slow  # trains ParT on the shipped jets
def test_analyze_writes_the_binary_table_graph_and_sparse_attention(checkpoint, tmp_path):
    out = tmp_path / "an"
    r = hyflexpim("jets", "analyze", "--model", str(checkpoint), "--jets", "60", "--out", str(out), "-q")
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((out / "jets_attention.json").read_text())
    assert summary["jets_analyzed"] == 60 and len(summary["binary"]) == 3
    for row in summary["binary"]:
        assert 0 <= row["binary"] <= 1 and row["k90"] >= 1 and -1 <= row["correlation"] <= 1
    sparse = {row["attention"]: row
              for row in csv.DictReader((out / "jets_sparse_attention.csv").read_text().splitlines())}
    assert set(sparse) == {"dense", "top-1", "top-2", "top-4"} and float(sparse["dense"]["vs_dense"]) == 0
    # --jets limits the accuracy as well as the attention statistics: the same 60 test jets everywhere
    assert summary["test"]["jets"] == 60 and {int(r["jets"]) for r in sparse.values()} == {60}
    assert float(sparse["dense"]["accuracy"]) == pytest.approx(summary["test"]["accuracy"])
    subjets = list(csv.DictReader((out / "jets_subjets.csv").read_text().splitlines()))
    assert {r["class"] for r in subjets} == {"QCD", "Hbb", "Tbqq", "Wqq", "Zqq"}
    for f in ("jets_eta_phi.png", "jets_subjet_share.png", "attention_histogram.png",
              "attention_only/attention_histogram.png"):
        assert (out / f).stat().st_size > 1000, f


@pytest.mark.slow  # trains ParT on the shipped jets
def test_hyflexpim_runs_unchanged_on_part(checkpoint, tmp_path):
    out = tmp_path / "run"
    r = hyflexpim("run", "--model", str(checkpoint), "--task", "jets", "--out", str(out), "--slc-rates", "0,10,100",
                  "--noise-seeds", "1", "-q", "--set", "data.max_train=256", "--set", "data.max_eval=128",
                  "--set", "redistribute.max_steps=2", "--set", "importance.batches=2",
                  "--set", "attention.examples=8")
    assert r.returncode == 0, r.stderr[-2000:]
    plan = json.loads((out / "plans" / "redistributed-grad_abs-uniform-slc10.json").read_text())
    analog = {m["name"]: m for m in plan["matrices"] if m["analog"]}
    assert "part.blocks.0.attn.in_proj" in analog and analog["part.blocks.0.attn.in_proj"]["role"] == "qkv"
    digital = {m["name"]: m["digital_reason"] for m in plan["matrices"] if not m["analog"]}
    assert any("1×1 convolution" in why for why in digital.values())  # the pair embedding, found and reported
    assert plan["architecture"]["heads"] == 8 and plan["architecture"]["hidden"] == 64
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert {float(r["slc_rate"]) for r in rows if r["slc_rate"]} >= {0.0, 10.0, 100.0}
    assert (out / "attention" / "attention_metrics.csv").exists()


def test_mean_auc_is_over_the_classes_present():
    from hyflexpim.pipeline.jets_train import auc_one_vs_rest, mean_auc

    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0], [0.3, 0.7, 0.0]])
    labels = np.array([0, 1, 0, 1])  # class 2 absent: its AUC does not exist and must not pull the mean down
    auc = dict(zip("abc", auc_one_vs_rest(scores, labels)))
    assert auc == {"a": 1.0, "b": 1.0, "c": None} and mean_auc(auc) == 1.0
    assert mean_auc({"a": None}) is None


def test_generate_takes_jets_per_class_and_the_old_name_with_a_note(tmp_path):
    r = hyflexpim("jets", "generate", "--out", str(tmp_path / "g"), "--jets-per-class", "0")
    one_line_error(r, "--jets-per-class")
    r = hyflexpim("jets", "generate", "--out", str(tmp_path / "g"), "--events", "0")
    assert "old names of --jets-per-class" in r.stderr


@pytest.mark.slow  # five commands, each a process loading torch
def test_jets_bad_input_is_one_line(tmp_path):
    one_line_error(hyflexpim("jets", "analyze", "--threshold", "2"), "--threshold")
    one_line_error(hyflexpim("jets", "train", "--config", "huge"), "--config")
    one_line_error(hyflexpim("jets", "train", "--data", str(tmp_path / "none.root"), "--out", str(tmp_path / "m.pt")),
                   "jets source")
    one_line_error(hyflexpim("run", "--model", str(tmp_path / "missing.pt"), "--task", "jets", "-q"), "checkpoint")
    one_line_error(hyflexpim("run", "--model", "minilm", "--task", "jets", "--out", str(tmp_path / "r"), "-q"),
                   "do not fit")


def test_issue_32_options_refuse_bad_values_in_one_line(tmp_path):
    one_line_error(hyflexpim("jets", "train", "--features", "pid", "--out", str(tmp_path / "m.pt")), "--features")
    one_line_error(hyflexpim("jets", "generate", "--out", str(tmp_path / "g"), "--level", "hadron"), "--level")
    one_line_error(hyflexpim("jets", "export", "--out", str(tmp_path / "jets.txt")), "--out must be a .root file")


def test_stats_prints_each_class_and_export_writes_a_jetclass_file(tmp_path):
    r = hyflexpim("jets", "stats")
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines()[2:]}
    assert list(rows) == ["QCD", "Hbb", "Tbqq", "Wqq", "Zqq"]
    assert 110 < float(rows["Hbb"][2]) < 140 and 150 < float(rows["Tbqq"][2]) < 200  # mass peaks near mH, mt
    pytest.importorskip("uproot")
    r = hyflexpim("jets", "export", "--jets", "50", "--out", str(tmp_path / "j.root"))
    assert r.returncode == 0, r.stderr
    from hyflexpim.data.jets import load_jets

    back = load_jets(str(tmp_path / "j.root"))
    assert len(back) == 50 and len(back.class_names) == 10  # JetClass's ten labels, through the class map
    assert {back.class_names[c] for c in back.labels} <= {"QCD", "Hbb", "Tbqq", "Wqq", "Zqq"}
