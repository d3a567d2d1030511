"""Print the markdown tables of docs/accuracy.md §6–§9 from a run folder: every point with its 95 % interval
(paired bootstrap over test examples × noise seeds) and its difference from INT8, the paired differences between
curves (differences*.json), and the device-requirement map (device/device_map-*.json).

    python scripts/confidence_tables.py runs/minilm-rotten_tomatoes            # the default run
    python scripts/confidence_tables.py runs/minilm-rotten_tomatoes seeds5     # a labelled variant (results-seeds5)
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from hyflexpim.report.results import label


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def curve_table(rows: list[dict]) -> None:
    curves: dict[tuple, dict] = {}
    for r in rows:
        if r["slc_rate"] is not None:
            curves.setdefault((r["variant"], r["scorer"], r["policy"]), {})[r["slc_rate"]] = r
    rates = sorted({r for c in curves.values() for r in c})
    print("Accuracy % [95 % CI]; below it the difference from INT8 in points [95 % CI], **bold** when resolved\n")
    print("| curve | " + " | ".join(f"{r:g} % SLC" for r in rates) + " |")
    print("|---" * (len(rates) + 1) + "|")
    for key, c in curves.items():
        cells = []
        for rate in rates:
            r = c.get(rate)
            if r is None:
                cells.append("")
                continue
            ci = f" [{pct(r['ci_low'])}, {pct(r['ci_high'])}]" if r.get("ci_low") is not None else ""
            d = ""
            if r.get("vs_int8") is not None:
                d = f"{100 * r['vs_int8']:+.1f} [{100 * r['vs_int8_low']:+.1f}, {100 * r['vs_int8_high']:+.1f}]"
                d = f"<br>**{d}**" if r["vs_int8_resolved"] else f"<br>{d}"
            cells.append(pct(r["mean"]) + ci + d)
        print(f"| {label(*key)} ({c[min(c)]['n']} seeds) | " + " | ".join(cells) + " |")
    clean = [r for r in rows if r["slc_rate"] is None]
    for r in clean:
        print(f"\n{label(r['variant'], None)}: {pct(r['mean'])} % [{pct(r['ci_low'])}, {pct(r['ci_high'])}]", end="")
    print("\n")


def difference_table(diffs: list[dict]) -> None:
    print("| curve a | against b | SLC | seeds | a − b (points) | 95 % CI | resolved |")
    print("|---|---|---|---|---|---|---|")
    for d in diffs:
        print(f"| {d['a']} | {d['b']} | {d['slc_rate']:g} % | {d['seeds']} | {100 * d['diff']:+.1f} | "
              f"[{100 * d['ci_low']:+.1f}, {100 * d['ci_high']:+.1f}] | {'**yes**' if d['resolved'] else 'no'} |")
    print()


def device_table(path: Path) -> None:
    data = json.loads(path.read_text())
    rows = data["rows"]
    values = sorted({r["value"] for r in rows})
    rates = sorted({r["slc_rate"] for r in rows})
    print(f"**{data['meaning']}** (`{data['axis']}`): accuracy % by SLC rate; INT8 {pct(data['int8'])} %\n")
    print(f"| {data['meaning']} | " + " | ".join(f"{r:g} % SLC" for r in rates) + " |")
    print("|---" * (len(rates) + 1) + "|")
    for v in values:
        cells = []
        for rate in rates:
            r = next(x for x in rows if x["value"] == v and x["slc_rate"] == rate)
            cells.append(f"{pct(r['mean'])} ({100 * r['vs_int8']:+.1f})")
        print(f"| {v:g} | " + " | ".join(cells) + " |")
    print(f"\nLargest {data['meaning']} within {100 * data['tolerance']:g} point of INT8 (this and every better device "
          "on the grid; point estimate / 95 % sure):\n")
    for rate, need in data["requirement"].items():
        fmt = lambda v: "none on the grid" if v is None else f"{v:g}"  # noqa: E731
        print(f"- {rate} % SLC: {fmt(need['point'])} / {fmt(need['ci'])}")
    print()


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/minilm-rotten_tomatoes")
    suffix = f"-{sys.argv[2]}" if len(sys.argv) > 2 else ""
    results = folder / f"results{suffix}.json"
    if results.exists():
        curve_table(json.loads(results.read_text()))
    diffs = folder / f"differences{suffix}.json"
    if diffs.exists():
        difference_table(json.loads(diffs.read_text()))
    if not suffix:
        for path in sorted((folder / "device").glob("device_map-*.json")):
            device_table(path)


if __name__ == "__main__":
    main()
