"""Print the markdown tables of docs/accuracy.md §2-§4 from the noise-model sweeps' cells.

    .venv/bin/hyflexpim sweep sweeps/noise_models_minilm.yaml
    .venv/bin/hyflexpim sweep sweeps/noise_models_smollm2.yaml
    python scripts/accuracy_tables.py
"""

import json
from pathlib import Path

RUNS = {"MiniLM-L6, Rotten Tomatoes (accuracy %)": Path("runs/sweep-noise-models-minilm/cells"),
        "SmolLM2-135M, Wikipedia (perplexity)": Path("runs/sweep-noise-models-smollm2/cells")}
VARIANTS = [("paper", "(a) paper noise"), ("levels", "(b) BER-calibrated levels, 1 day"),
            ("levels-circuit", "(c) (b) + ADC in the loop + digital attention"),
            ("levels-slc-ideal", "(b) with ideal SLC cells"),
            ("paper-offset", "(a) with offset encoding"),
            ("paper-differential", "(a) with differential encoding"),
            ("levels-differential", "(b) with differential encoding")]
DRIFT = [("1", "1 s"), ("3600", "1 hour"), ("86400", "1 day"), ("2592000", "1 month (30 days)")]


def main_curve(path: Path) -> dict[float, dict]:
    rows = json.loads(path.read_text())
    return {r["slc_rate"]: r for r in rows
            if r["variant"] == "redistributed" and r["scorer"] == "grad_abs" and r["slc_rate"] is not None}


def cell(r: dict) -> str:
    if r["metric"] != "accuracy":  # perplexity spans 30 to 1e9: significant digits
        spread = f" ± {r['std']:.2g}" if r["n"] > 1 else " (1 seed)"
        return f"{r['mean']:.4g}{spread}"
    spread = f" ± {r['std'] * 100:.1f}" if r["n"] > 1 else " (1 seed)"
    return f"{r['mean'] * 100:.1f}{spread}"


SELECTIONS = [("redistributed", "grad_abs", "SVD + redistribution, gradient selection"),
              ("redistributed", "singular_value", "SVD + redistribution, singular-value selection"),
              ("svd", "grad_abs", "SVD without redistribution, gradient selection"),
              ("original", "magnitude", "no SVD, magnitude selection (rows)")]


def selection_table(title: str, folder: Path) -> None:
    """Which components go to SLC, under the paper's noise (the paper cell: the decoder run as it is)."""
    path = folder / "paper" / "results.json"
    if not path.exists():
        return
    rows = [r for r in json.loads(path.read_text()) if r["slc_rate"] is not None]
    rates = sorted({r["slc_rate"] for r in rows})
    print(f"**{title}**, (a) paper noise, by selection rule\n")
    print("| selection | " + " | ".join(f"{r:g} % SLC" for r in rates) + " |")
    print("|---" * (len(rates) + 1) + "|")
    for variant, scorer, name in SELECTIONS:
        found = {r["slc_rate"]: r for r in rows if r["variant"] == variant and r["scorer"] == scorer}
        if found:
            print(f"| {name} | " + " | ".join(cell(found[r]) if r in found else "" for r in rates) + " |")
    print()


def noise_tables() -> None:
    for title, folder in RUNS.items():
        curves = [(name, main_curve(folder / cell / "results.json")) for cell, name in VARIANTS
                  if (folder / cell / "results.json").exists()]
        if not curves:
            continue
        rates = sorted({rate for _, c in curves for rate in c})
        print(f"**{title}**, SVD + redistribution, gradient selection, uniform plans\n")
        print("| noise model | " + " | ".join(f"{r:g} % SLC" for r in rates) + " |")
        print("|---" * (len(rates) + 1) + "|")
        for name, c in curves:
            print(f"| {name} | " + " | ".join(cell(c[r]) if r in c else "" for r in rates) + " |")
        print()


def drift_table() -> None:
    folder = RUNS["MiniLM-L6, Rotten Tomatoes (accuracy %)"]
    found = [(label, main_curve(folder / f"levels-t{t}" / "results.json")) for t, label in DRIFT
             if (folder / f"levels-t{t}" / "results.json").exists()]
    if found:
        print("**MiniLM-L6, levels model, 10 % SLC, accuracy % by time since programming**\n")
        print("| " + " | ".join(label for label, _ in found) + " |")
        print("|---" * len(found) + "|")
        print("| " + " | ".join(cell(c[10.0]) for _, c in found) + " |\n")


if __name__ == "__main__":
    noise_tables()
    drift_table()
    selection_table("SmolLM2-135M, Wikipedia (perplexity)", RUNS["SmolLM2-135M, Wikipedia (perplexity)"])
