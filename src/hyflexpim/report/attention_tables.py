"""Files of an attention analysis: metrics per layer and head (CSV, JSON), the sparsity profile, figures."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from hyflexpim.atomic import write_atomic


def _csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    if rows:
        keys = [k for k in rows[0] if k != "histogram"]
        w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return buf.getvalue()


def write_attention(report, out: Path, figures: bool = True) -> list[Path]:
    """attention_metrics.csv/json (per layer and head), attention_layers.csv (per layer, with the twin
    comparison), sparsity_profile.json, and the figures."""
    out = Path(out)
    rows = report.rows()
    data = {"label": report.label, "examples": report.examples, "heads": rows, "layers": report.layer_table(),
            "histogram_all": report.histogram()}
    if report.twin_layers:
        data.update(twin_heads=report.rows(twin=True), twin_layers=report.layer_table(twin=True),
                    twin_histogram_all=report.histogram(twin=True))
    files = [write_atomic(out / "attention_metrics.csv", _csv(rows)),
             write_atomic(out / "attention_metrics.json", json.dumps(data, indent=1)),
             write_atomic(out / "attention_layers.csv", _csv(report.layer_table(twin=bool(report.twin_layers))
                                                            if report.twin_layers else report.layer_table())),
             write_atomic(out / "sparsity_profile.json", json.dumps(report.sparsity_profile(), indent=1))]
    if figures:
        from hyflexpim.report.attention_plots import write_attention_figures  # lazy: matplotlib

        files += write_attention_figures(report, out)
    return files


def write_noise_summary(rows: list[dict], out: Path) -> list[Path]:
    """attention_noise.csv/json: per plan (SLC rate) and layer, top-1 agreement and total variation of the
    PIM twin's attention rows against the clean model's; and its figure."""
    files = [write_atomic(Path(out) / "attention_noise.csv", _csv(rows)),
             write_atomic(Path(out) / "attention_noise.json", json.dumps(rows, indent=1))]
    from hyflexpim.report.attention_plots import noise_vs_layer  # lazy: matplotlib

    files.append(noise_vs_layer(rows, Path(out) / "attention_noise.png"))
    return files
