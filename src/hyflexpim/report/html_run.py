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

from hyflexpim.atomic import write_atomic
from hyflexpim.boundary import load_json, read_text
from hyflexpim.report.html_overlay import main_curve, variants_overlay
from hyflexpim.report.html_page import cell, esc, figure, page, para, pre, table
from hyflexpim.report.html_tables import (csv_table, differences_table, hw_table, matrices_table, metric_text, number,
                                          read_csv, results_table)

def figures(paths, captions: dict | None = None) -> str:
    return "".join(figure(p, (captions or {}).get(p.name, p.name)) for p in paths)


def _labels(folder: Path) -> list[str]:
    """The labelled variants of a run folder (results-<label>.csv), the unlabelled run first ('')."""
    out = [""] if (folder / "results.csv").exists() else []
    out += sorted(p.stem.removeprefix("results-") for p in folder.glob("results-*.csv"))
    return out


def _describe(folder: Path) -> tuple[str, dict]:
    cfg_path = folder / "config.yaml"
    if not cfg_path.exists():
        return folder.name, {}
    from hyflexpim.boundary import parse_yaml

    cfg = parse_yaml(read_text(cfg_path, "run configuration"), "run configuration") or {}
    return f"{cfg.get('model', '?')} on {cfg.get('task', '?')}", cfg


def headline(folder: Path) -> str:
    """INT8 against the cheapest SLC rate within 1 point, and the chip's throughput gain there (from the files)."""
    if not (folder / "results.csv").exists():
        return ""
    rows = read_csv(folder / "results.csv")
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
            near = sorted(x for x, v in main.items() if x < 100 and v >= main[100.0] - 0.01)
            if near:
                gain = _hw_gain(folder, near[0])
                parts.append(f"cheapest SLC rate within 1 point of INT8: {near[0]:g} % "
                             f"({metric_text(main[near[0]], metric)})" + (f", {gain}" if gain else ""))
            else:
                parts.append("no SLC rate below 100 % within 1 point of INT8")
    unit = " (accuracy in %)" if metric == "accuracy" else f" ({metric})"
    return f'<div class="headline">{esc("; ".join(parts) + unit)}</div>' if parts else ""


def _hw_gain(folder: Path, rate: float) -> str:
    path = folder / "hw" / "hw_results.csv"
    if not path.exists():
        return ""
    hits = [r for r in read_csv(path) if r["design"] == "hyflexpim" and number(r["slc_rate"]) == rate]
    if not hits:
        return ""
    mode = hits[0].get("mode") or ""  # a decoder's first row: prefill (generation follows in the table)
    return (f"{float(hits[0]['throughput_vs_all_slc']):.2f}× the all-SLC chip's throughput at L={hits[0]['seq_len']}"
            + (f" ({mode})" if mode not in ("", "encoder") else ""))


def run_sections(folder: Path, prefix: str = "") -> list[tuple[str, str, str]]:
    """The sections of one run folder's page (anchors prefixed, so several folders share one page)."""
    out: list[tuple[str, str, str]] = []
    what, _ = _describe(folder)
    tag = f" — {prefix.rstrip('-')}" if prefix else ""

    def add(anchor: str, heading: str, body: str) -> None:
        if body:
            out.append((prefix + anchor, heading + tag, body))

    for lab in _labels(folder):
        suffix = f"-{lab}" if lab else ""
        rows = read_csv(folder / f"results{suffix}.csv")
        body = results_table(rows)
        figs = [p for p in (folder / f"accuracy_vs_slc{suffix}.png", folder / f"perplexity_vs_slc{suffix}.png")
                if p.exists()]
        body = figures(figs) + body
        diff = folder / f"differences{suffix}.csv"
        if diff.exists():
            body += "<h3>Selection rules and ablations against the main curve</h3>" + differences_table(read_csv(diff))
        add(f"results{suffix}", "Accuracy against the SLC rate" + (f" ({lab})" if lab else ""), body)
    labels = _labels(folder)
    if len(labels) > 1:
        series = [(lab or "run's own hardware", read_csv(folder / (f"results-{lab}.csv" if lab else "results.csv")))
                  for lab in labels]
        add("variants", "Hardware variants compared (noise models, encodings)",
            variants_overlay(series, f"{what}: main curve of each labelled variant"))
    for hw in sorted([folder / "hw"] + [p for p in (folder / "hw").glob("*") if p.is_dir()]):
        if (hw / "hw_results.csv").exists():
            name = hw.relative_to(folder)
            body = figures(sorted(hw.glob("*.png"))) + hw_table(read_csv(hw / "hw_results.csv"))
            add(str(name).replace("/", "-"), f"Chip model ({name}/)", body)
    add("matrices", "Matrices", matrices_table(folder))
    attention = folder / "attention"
    if attention.is_dir():
        body = "".join(csv_table(p) for p in sorted(attention.rglob("attention_layers.csv")))
        body += "".join(csv_table(p) for p in sorted(attention.glob("attention_noise.csv")))
        add("attention", "Attention analysis", figures(sorted(attention.rglob("*.png"))) + body)
    ranks = folder / "models" / "learned_ranks.json"
    if ranks.exists():
        data = load_json(ranks, "learned ranks")
        body = para(f"Learned ranks: {data.get('achieved', 0):.1%} of the decomposed matrices' parameters kept "
                    f"(budget {data.get('budget', 0):.0%}).")
        body += figures([p for p in [folder / "learned_ranks.png"] if p.exists()])
        body += table(["matrix", "rank"], [[cell(n, text=True), cell(k)] for n, k in data.get("ranks", {}).items()])
        add("ranks", "Learned ranks", body)
    conc = sorted((folder / "importance").glob("*-concentration.json"))
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
    if (folder / "config.yaml").exists():
        add("config", "Configuration", para(f"The resolved configuration of the run ({folder / 'config.yaml'}), every "
                                            "default filled in.") + pre(read_text(folder / "config.yaml", "config")))
    return out


def write_report(folders: list[Path], out: Path | None = None, names: list[str] | None = None) -> Path:
    """``report.html`` of one run folder (in it), or of several (an overlay first, then each folder's sections)."""
    folders = [Path(f) for f in folders]
    names = names or [f.name for f in folders]
    if len(folders) == 1 and (folders[0] / "sweep_results.csv").exists():
        from hyflexpim.report.html_sweep import sweep_name, sweep_sections

        out = Path(out) if out else folders[0] / "report.html"
        sections = sweep_sections(folders[0])
        lead = ""
        title = f"hyflexpim sweep: {sweep_name(folders[0])}"
    elif len(folders) == 1:
        what, _ = _describe(folders[0])
        out = Path(out) if out else folders[0] / "report.html"
        sections = run_sections(folders[0])
        lead = headline(folders[0])
        title = f"hyflexpim run: {what}"
    else:
        out = Path(out) if out else Path("report.html")
        series = [(n, read_csv(f / "results.csv")) for n, f in zip(names, folders) if (f / "results.csv").exists()]
        sections = [("overlay", "All runs: main curves", variants_overlay(series, "main curve of each run"))]
        for n, f in zip(names, folders):
            sections += run_sections(f, prefix=f"{n}-")
        sections = [s for s in sections if s[2]]
        lead = para(f"{len(folders)} run folders: " + ", ".join(str(f) for f in folders))
        title = f"hyflexpim: {len(folders)} runs"
    from hyflexpim import __version__

    stamp = para(f"Written {time.strftime('%Y-%m-%d %H:%M')} by hyflexpim {__version__} from the files of "
                 f"{', '.join(str(f) for f in folders)}; figures embedded, opens without a server or network.")
    return write_atomic(out, page(title, sections, stamp + lead))

