"""The end of `hyflexpim run`: results table, plot, and the chip model's numbers for the plans."""

from __future__ import annotations

from hyflexpim.pipeline.run import Run
from hyflexpim.report.plots import plot_metric_vs_slc
from hyflexpim.report.results import compare_curves, write_differences, write_results, write_set


def finish(run: Run, rows: list[dict]) -> None:
    out = run.ws.root
    suffix = f"-{run.config.label}" if run.config.label else ""
    files = write_results(out, rows, suffix)
    files.extend(differences(run, suffix))
    name = ("accuracy_vs_slc" if run.task.kind == "classification" else "perplexity_vs_slc") + suffix + ".png"
    title = describe(run) + (f" ({run.config.label})" if suffix else "")
    files.append(plot_metric_vs_slc(rows, out / name, title, pretrained=run.config.pre_finetune is None))
    if run.config.hw_report:
        files.extend(hardware_report(run))
    ranks = out / "models" / "learned_ranks.json"
    if ranks.exists() and not suffix:
        files.append(learned_ranks_figure(run, ranks, out / "learned_ranks.png"))
    if run.config.attention.enabled and not suffix:
        from hyflexpim.pipeline.attention_step import run_attention_analysis

        a = run.config.attention
        rates = [r for r in a.slc_rates if r in run.config.plan.slc_rates]
        files.extend(run_attention_analysis(run, a.examples, rates))
    from hyflexpim.report.html_run import write_report

    page = write_report([out])  # the whole folder, every labelled variant included
    files.append(page)
    shown = ", ".join(str(f) for f in files[:8])
    run.say(f"wrote {shown}" + (f" and {len(files) - 8} more files under {out}" if len(files) > 8 else ""))
    run.say(headline(run, rows, suffix))


def headline(run: Run, rows: list[dict], suffix: str = "") -> str:
    """The run's answer in one line: total time, INT8 against the cheapest SLC rate within 1 point of it, the
    chip's throughput gain at that rate, and the path of the run's report.html."""
    import csv
    import time

    scorer = run.config.importance.scorer
    main = {r["slc_rate"]: r for r in rows if r["variant"] == "redistributed" and r["scorer"] == scorer
            and r["slc_rate"] is not None and r["policy"] == run.config.plan.policy}
    took = f"done in {(time.perf_counter() - run.started) / 60:.1f} min"
    page = f"report: {run.ws.root / 'report.html'}"
    if 100.0 not in main or run.task.kind != "classification":
        return f"{took}; {page}"
    int8 = main[100.0]["mean"]
    near = sorted(r for r, row in main.items() if r < 100 and row["mean"] >= int8 - 0.01)
    if not near:
        best = max((r for r in main if r < 100), key=lambda r: main[r]["mean"], default=None)
        if best is None:
            return f"{took}: INT8 (100 % SLC) {100 * int8:.1f} %; {page}"
        return (f"{took}: INT8 (100 % SLC) {100 * int8:.1f} %; no SLC rate below 100 % within 1 point of it (best "
                f"{100 * main[best]['mean']:.1f} % at {best:g} %); {page}")
    rate = near[0]
    gain = ""
    table = run.ws.root / "hw" / (run.config.label or "") / "hw_results.csv"
    if table.exists():
        with open(table) as f:
            hits = [x for x in csv.DictReader(f) if x["design"] == "hyflexpim" and float(x["slc_rate"]) == rate]
        if hits:
            mode = hits[0].get("mode") or ""
            gain = (f", {float(hits[0]['throughput_vs_all_slc']):.2f}× the all-SLC chip's throughput at "
                    f"L={hits[0]['seq_len']}" + (f" ({mode})" if mode not in ("", "encoder") else ""))
    return f"{took}: INT8 {100 * int8:.1f} %, {rate:g} % SLC {100 * main[rate]['mean']:.1f} % (within 1 point){gain}; {page}"


def describe(run: Run) -> str:
    """What a figure shows: model, task, noise model with its main parameters, encoding, noise seeds."""
    c = run.config
    hw = c.hardware
    noise = hw.noise.model_dump(mode="json")
    if noise["kind"] == "paper":
        what = f"paper noise σ_MLC={noise['sigma_mlc']:g}" + (f", σ_SLC={noise['sigma_slc']:g}" if noise["sigma_slc"] else "")
    elif noise["kind"] == "levels":
        rate = (noise.get("mlc") or {}).get("error_rate")
        what = "levels noise" + (f", MLC error rate {rate:g}" if rate else ", calibrated")
    else:
        what = f"{noise['kind']} noise"
    return f"{c.model} on {c.task}, {what}, {hw.encoding} encoding, {len(c.noise_seeds)} noise seeds"


def differences(run: Run, suffix: str) -> list:
    """Every ablation curve against the main one at the rates both measured (paired bootstrap): differences.csv."""
    records = run.records
    curves = run.curves()
    policy = run.config.plan.policy
    main = (curves[0][0], curves[0][1], policy)
    rows = [d for v, s, _, p in curves[1:] for d in compare_curves(records, (v, s, p or policy), main)]
    return write_differences(run.ws.root, rows, suffix) if rows else []


def hardware_report(run: Run) -> list:
    """Throughput and energy of the run's plans (their attention block included) on the run's own chip
    (``hardware.chip()``: the spec whose accuracy the run measured) against its baselines, under ``hw/`` (or
    ``hw/<label>/`` for a labelled variant); no torch."""
    from hyflexpim.hw.plans import price_plans
    from hyflexpim.report.hw_plots import plot_gain_vs_slc, write_plots
    from hyflexpim.report.hw_tables import rows, write_table

    plans = [run.plan("redistributed", run.config.importance.scorer, r) for r in run.config.plan.slc_rates]
    if not plans:
        return []
    results = price_plans(plans, run.config.hardware.chip(), say=run.say)
    table = [row for res in results for row in rows(res)]
    folder = run.ws.root / "hw" / run.config.label if run.config.label else run.ws.root / "hw"
    chip = f"{plans[0].architecture.name} ({run.config.model}), {run.config.hardware.encoding} encoding"
    if plans[0].attention.kind != "dense":
        chip += f", {plans[0].attention.kind} attention keeping {plans[0].attention.keep:.0%}"
    # against the sequence length and the energy breakdown: at the plan nearest 10 % SLC (the paper's point)
    at = min(range(len(plans)), key=lambda i: abs(run.config.plan.slc_rates[i] - 10))
    title = f"{chip}; HyFlexPIM at {run.config.plan.slc_rates[at]:g} % SLC"

    def write(tmp):  # the table, its JSON and the figures: all or nothing (report.results.write_set)
        return (write_table(table, results, tmp) + [plot_gain_vs_slc(table, tmp / "hw_gain_vs_slc.png", chip)]
                + write_plots(results[at], tmp, title))

    return write_set(folder, write)


def learned_ranks_figure(run: Run, ranks_file, path):
    """The learned rank share of every matrix (layer × role), the paper's hard-threshold rank marked."""
    import json

    from hyflexpim.models.discover import find_matrices
    from hyflexpim.report.rank_plots import plot_learned_ranks

    data = json.loads(ranks_file.read_text())
    matrices = {m.name: (m.layer, m.role, tuple(m.shape)) for m in find_matrices(run.finetuned())}
    title = (f"{run.config.model} on {run.config.task}: learned ranks, {data['achieved']:.1%} of the parameters "
             f"(budget {data['budget']:.0%})")
    return plot_learned_ranks(data["ranks"], matrices, path, data["budget"], title)
