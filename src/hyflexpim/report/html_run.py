"""`report.html` of a run folder (or several): everything the run wrote, as one self-contained page.

It reads only the files the run left (config.yaml, results*.csv, differences*.csv, plans/, hw/, attention/,
device/, jets/, learned ranks, importance concentration) and shows what is present: the resolved configuration,
the model's matrices (decomposed or digital, and why), the accuracy tables and figures with their intervals, the
selection-rule comparison, labelled variants (noise models, encodings) side by side, the chip model's tables and
figures, the attention analysis, learned ranks, device maps. Every number in a results table is the number of
``results.csv`` (its exact text in ``data-value``). Several folders: an overlay of their main curves first.
"""

from __future__ import annotations

import time
from pathlib import Path

from hyflexpim import __version__
from hyflexpim.artefacts import RunFolder
from hyflexpim.atomic import write_atomic
from hyflexpim.boundary import load_json, parse_yaml, read_text
from hyflexpim.report.html_overlay import main_curve, variants_overlay
from hyflexpim.report.html_page import cell, esc, figure, page, para, pre, table
from hyflexpim.report.html_sweep import sweep_name, sweep_sections
from hyflexpim.report.html_tables import (
    csv_table,
    differences_table,
    hw_table,
    matrices_table,
    metric_text,
    number,
    read_csv,
    results_table,
)


def figures(paths, captions: dict | None = None) -> str:
    return "".join(figure(p, (captions or {}).get(p.name, p.name)) for p in paths)


def within_one_point(main: dict[float, float]) -> list[float]:
    """The SLC rates below 100 % whose accuracy is within 1 point of INT8 (100 % SLC), cheapest first: the rule of
    the run's headline and of its report."""
    return sorted(r for r, v in main.items() if r < 100 and v >= main[100.0] - 0.01)


def gain_text(row: dict) -> str:
    """The chip's throughput gain of one HyFlexPIM row of the price step's table (read back or in memory)."""
    mode = row.get("mode") or ""  # a decoder's first row: prefill (generation follows in the table)
    return (f"{float(row['throughput_vs_all_slc']):.2f}× the all-SLC chip's throughput at L={row['seq_len']}"
            + (f" ({mode})" if mode not in ("", "encoder") else ""))


def _describe(folder: Path) -> tuple[str, dict]:
    cfg_path = RunFolder(folder).config
    if not cfg_path.exists():
        return folder.name, {}

    cfg = parse_yaml(read_text(cfg_path, "run configuration"), "run configuration") or {}
    return f"{cfg.get('model', '?')} on {cfg.get('task', '?')}", cfg


def headline(folder: Path) -> str:
    """INT8 against the cheapest SLC rate within 1 point, and the chip's throughput gain there (from the files)."""
    files = RunFolder(folder)
    if not files.results().exists():
        return ""
    rows = read_csv(files.results())
    main = {number(r["slc_rate"]): number(r["mean"]) for r in main_curve(rows)}
    clean = {r["variant"]: number(r["mean"]) for r in rows if r["slc_rate"] in ("", None)}
    metric = rows[0]["metric"] if rows else "accuracy"
    parts = []
    if "fp32" in clean:
        parts.append(f"FP32 {metric_text(clean['fp32'], metric)}")
    if "redistributed" in clean:
        parts.append(f"SVD + redistribution (float) {metric_text(clean['redistributed'], metric)}")
    if 100.0 in main:
        parts.append(f"INT8 (100 % SLC) {metric_text(main[100.0], metric)}")
        if metric == "accuracy":
            near = within_one_point(main)
            if near:
                gain = _hw_gain(folder, near[0])
                parts.append(f"cheapest SLC rate within 1 point of INT8: {near[0]:g} % "
                             f"({metric_text(main[near[0]], metric)})" + (f", {gain}" if gain else ""))
            else:
                parts.append("no SLC rate below 100 % within 1 point of INT8")
    unit = " (accuracy in %)" if metric == "accuracy" else f" ({metric})"
    return f'<div class="headline">{esc("; ".join(parts) + unit)}</div>' if parts else ""


def _hw_gain(folder: Path, rate: float) -> str:
    path = RunFolder(folder).hw_results()
    if not path.exists():
        return ""
    hits = [r for r in read_csv(path) if r["design"] == "hyflexpim" and number(r["slc_rate"]) == rate]
    return gain_text(hits[0]) if hits else ""


def run_sections(folder: Path, prefix: str = "") -> list[tuple[str, str, str]]:
    """The sections of one run folder's page (anchors prefixed, so several folders share one page)."""
    out: list[tuple[str, str, str]] = []
    what, _ = _describe(folder)
    files = RunFolder(folder)
    tag = f" — {prefix.rstrip('-')}" if prefix else ""

    def add(anchor: str, heading: str, body: str) -> None:
        if body:
            out.append((prefix + anchor, heading + tag, body))

    labels = files.labels()
    for lab in labels:
        suffix = f"-{lab}" if lab else ""
        rows = read_csv(files.results(lab))
        body = figures(files.metric_plots(lab)) + results_table(rows)
        diff = files.differences(lab)
        if diff.exists():
            body += "<h3>Selection rules and ablations against the main curve</h3>" + differences_table(read_csv(diff))
        add(f"results{suffix}", "Accuracy against the SLC rate" + (f" ({lab})" if lab else ""), body)
    if len(labels) > 1:
        series = [(lab or "run's own hardware", read_csv(files.results(lab))) for lab in labels]
        add("variants", "Hardware variants compared (noise models, encodings)",
            variants_overlay(series, f"{what}: main curve of each labelled variant"))
    for hw in files.hw_folders():
        name = hw.relative_to(folder)
        body = figures(sorted(hw.glob("*.png"))) + hw_table(read_csv(hw / "hw_results.csv"))
        add(str(name).replace("/", "-"), f"Chip model ({name}/)", body)
    add("matrices", "Matrices", matrices_table(folder))
    attention = files.attention
    if attention.is_dir():
        body = "".join(csv_table(p) for p in sorted(attention.rglob("attention_layers.csv")))
        body += "".join(csv_table(p) for p in sorted(attention.glob("attention_noise.csv")))
        add("attention", "Attention analysis", figures(sorted(attention.rglob("*.png"))) + body)
    ranks = files.learned_ranks
    if ranks.exists():
        data = load_json(ranks, "learned ranks")
        body = para(f"Learned ranks: {data.get('achieved', 0):.1%} of the decomposed matrices' parameters kept "
                    f"(budget {data.get('budget', 0):.0%}).")
        body += figures([p for p in [files.learned_ranks_figure] if p.exists()])
        body += table(["matrix", "rank"], [[cell(n, text=True), cell(k)] for n, k in data.get("ranks", {}).items()])
        add("ranks", "Learned ranks", body)
    conc = files.concentrations()
    if conc:
        body = []
        for p in conc:
            share = load_json(p, "importance concentration")
            body.append([cell(p.stem.removesuffix("-concentration"), text=True)]
                        + [cell(v, f"{100 * v:.1f}") for v in share.values()])
        keys = list(load_json(conc[0], "importance concentration"))
        add("importance", "Importance concentration",
            table(["variant-scorer"] + [f"share held by {k} (%)" for k in keys], body,
                  "Share of the importance held by the top components of each matrix (averaged over matrices)."))
    for sub, heading in (("device", "Device-requirement maps"), ("jets", "Jets: ParT attention")):
        d = folder / sub
        if d.is_dir() and any(d.glob("*.png")):
            add(sub, heading, figures(sorted(d.glob("*.png"))) + "".join(csv_table(p) for p in sorted(d.glob("*.csv"))))
    if files.config.exists():
        add("config", "Configuration", para(f"The resolved configuration of the run ({files.config}), every "
                                            "default filled in.") + pre(read_text(files.config, "config")))
    return out


def write_report(folders: list[Path], out: Path | None = None, names: list[str] | None = None) -> Path:
    """``report.html`` of one run folder (in it), or of several (an overlay first, then each folder's sections)."""
    folders = [Path(f) for f in folders]
    names = names or [f.name for f in folders]
    if len(folders) == 1 and (folders[0] / "sweep_results.csv").exists():
        out = Path(out) if out else folders[0] / "report.html"
        sections = sweep_sections(folders[0])
        lead = ""
        title = f"hyflexpim sweep: {sweep_name(folders[0])}"
    elif len(folders) == 1:
        what, _ = _describe(folders[0])
        out = Path(out) if out else RunFolder(folders[0]).report
        sections = run_sections(folders[0])
        lead = headline(folders[0])
        title = f"hyflexpim run: {what}"
    else:
        out = Path(out) if out else Path("report.html")
        series = [(n, read_csv(RunFolder(f).results())) for n, f in zip(names, folders)
                  if RunFolder(f).results().exists()]
        sections = [("overlay", "All runs: main curves", variants_overlay(series, "main curve of each run"))]
        for n, f in zip(names, folders):
            sections += run_sections(f, prefix=f"{n}-")
        sections = [s for s in sections if s[2]]
        lead = para(f"{len(folders)} run folders: " + ", ".join(str(f) for f in folders))
        title = f"hyflexpim: {len(folders)} runs"

    stamp = para(f"Written {time.strftime('%Y-%m-%d %H:%M')} by hyflexpim {__version__} from the files of "
                 f"{', '.join(str(f) for f in folders)}; figures embedded, opens without a server or network.")
    return write_atomic(out, page(title, sections, stamp + lead))

