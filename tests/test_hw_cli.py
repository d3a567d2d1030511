"""The ``hw`` command through typer's CliRunner on a tiny app it registers into."""

import json

import pytest
import typer
from typer.testing import CliRunner

from hyflexpim.cli.hw_cmd import register
from hyflexpim.errors import UserError

runner = CliRunner()


def _app():
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # a second command keeps typer in multi-command mode
        pass

    return app


def test_cli_writes_results_and_plots(tmp_path):
    r = runner.invoke(_app(), ["hw", "--model", "minilm-l6", "--slc-rate", "10", "--seq-lens", "128,512",
                               "--baselines", "all_slc,gpu_h100", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "throughput" in r.output and "all_slc" in r.output
    for f in ("hw_results.csv", "hw_results.json", "throughput_vs_seq.png", "efficiency_vs_seq.png",
              "energy_breakdown.png"):
        assert (tmp_path / f).stat().st_size > 0
    data = json.loads((tmp_path / "hw_results.json").read_text())
    assert [d["key"] for d in data] == ["hyflexpim", "all_slc", "gpu_h100"]
    assert (tmp_path / "hw_results.csv").read_text().count("\n") == 1 + 3 * 2


def test_cli_with_plan_file_checks_shape(tmp_path):
    from hyflexpim.hw import get_shape, uniform_plan

    p = uniform_plan(get_shape("bert-base"), 5).save(tmp_path / "plan.json")
    ok = runner.invoke(_app(), ["hw", "--plan", str(p), "--model", "bert-base", "--seq-lens", "128", "--baselines", ""])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(_app(), ["hw", "--plan", str(p), "--model", "gpt2", "--seq-lens", "128"])
    assert isinstance(bad.exception, UserError) and "does not cover matrix layers.0.attn.qkv" in str(bad.exception)


@pytest.mark.parametrize("args, word", [
    (["--model", "bert-base", "--slc-rate", "150"], "--slc-rate"),
    (["--model", "bert-base", "--seq-lens", "128,abc"], "--seq-lens"),
    (["--model", "nope"], "--model"),
    ([], "--model"),
    (["--model", "bert-base", "--spec", "missing.yaml"], "spec"),
])
def test_cli_bad_input_raises_user_error(args, word):
    r = runner.invoke(_app(), ["hw", *args])
    assert isinstance(r.exception, UserError), r.output
    assert word in str(r.exception)


def test_price_plans_reads_the_architecture_from_the_plan_not_the_name():
    from hyflexpim.hw import get_shape, uniform_plan
    from hyflexpim.hw.plans import price_plans
    from hyflexpim.report.hw_tables import rows

    plans = [uniform_plan(get_shape("minilm-l6"), r) for r in (5, 20)]
    plans = [p.model_copy(update={"model_name": "my-phi-encoder"}) for p in plans]  # a decoder-sounding name
    lines = []
    results = price_plans(plans, say=lines.append, seq_lens=(128, 512))
    assert len(lines) == 2 and "over all-SLC" in lines[0]
    assert all(r.info.gen_tokens == 0 for res in results for r in res)  # priced as the encoder it is
    from hyflexpim.hw import BASELINES

    assert len([row for res in results for row in rows(res)]) == 2 * (1 + len(BASELINES)) * 2
    assert [r.slc_rate for r in (res[0] for res in results)] == [5.0, 20.0]  # percent, as everywhere


def test_cli_prices_the_attention_only_design_and_a_sparse_plan(tmp_path):
    r = runner.invoke(_app(), ["hw", "--model", "bert-base", "--spec", "hardsea", "--baselines", "gpu_a100",
                               "--seq-lens", "128,512", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "self-attention only" in r.output and "attention density 25%" in r.output
    assert (tmp_path / "hw_results.json").stat().st_size > 0 and (tmp_path / "energy_breakdown.png").stat().st_size > 0
    from hyflexpim.hw.sparse_sweep import sparse_plan

    plan = tmp_path / "pq.json"
    sparse_plan("bert-base", "pq", 0.25).save(plan)
    r = runner.invoke(_app(), ["hw", "--plan", str(plan), "--baselines", "all_slc", "--seq-lens", "8192"])
    assert r.exit_code == 0, r.output
    assert "prediction: pq" in r.output


def test_decoder_is_priced_in_both_modes_side_by_side(tmp_path):
    """A decoder: prefill (the prompt teacher-forced, none generated: what a perplexity measures) and generation,
    each labelled, in the table, the CSV/JSON and a run's pricing; gains against the all-SLC of the same mode."""
    import csv

    r = runner.invoke(_app(), ["hw", "--model", "gpt2", "--seq-lens", "128", "--baselines", "all_slc",
                               "--gen-tokens", "16", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    text = "".join(r.output.split())  # the table titles wrap in a narrow terminal
    assert "(prefill:promptteacher-forced,0generated)" in text and "(generation:prompt+16tokens)" in text
    table = list(csv.DictReader((tmp_path / "hw_results.csv").read_text().splitlines()))
    assert [(x["design"], x["mode"]) for x in table] == [("hyflexpim", "prefill"), ("all_slc", "prefill"),
                                                         ("hyflexpim", "generation"), ("all_slc", "generation")]
    data = json.loads((tmp_path / "hw_results.json").read_text())
    assert [d["info"]["gen_tokens"] for d in data] == [0, 0, 16, 16]
    for row, res in zip(table[::2], data[::2]):  # each gain over the all-SLC of its own mode
        ref = data[data.index(res) + 1]
        assert float(row["throughput_vs_all_slc"]) == pytest.approx(res["throughput_tok_s"][0]
                                                                    / ref["throughput_tok_s"][0])
    assert float(table[0]["throughput_vs_all_slc"]) > float(table[2]["throughput_vs_all_slc"])  # prefill gains more

    from hyflexpim.hw import get_shape, uniform_plan
    from hyflexpim.hw.plans import price_plans

    lines = []
    res = price_plans([uniform_plan(get_shape("gpt2"), 10)], say=lines.append, seq_lens=(128,), baselines=("all_slc",))
    assert [x.mode for x in res[0]] == ["prefill", "prefill", "generation", "generation"]
    assert [line.split(":")[0] for line in lines] == ["hw prefill", "hw generation"]
    enc = price_plans([uniform_plan(get_shape("minilm-l6"), 10)], say=lines.append, seq_lens=(128,),
                      baselines=("all_slc",))
    assert [x.mode for x in enc[0]] == ["encoder", "encoder"]
