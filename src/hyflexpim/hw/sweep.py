"""Sweeps behind docs/hw.md: ``python -m hyflexpim.hw.sweep {totals,headline,slc,adc,mechanism,breakdown,
decoder,scaling,reference,validate,baselines,gpu,sparse,hardsea}`` (the last two: hyflexpim.hw.sparse_sweep).

Every gain is HyFlexPIM (uniform plan at the given SLC rate) over the all-SLC INT8 baseline (ASADI†)
on the same chip and library, under the same spec options, iso-area and batch 1 unless stated.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from hyflexpim.chip.spec import GpuSpec, PimSpec, Spec, load_spec
from hyflexpim.hw.evaluate import DEFAULT_SEQ_LENS, compare, evaluate
from hyflexpim.hw.gpu_fit import report
from hyflexpim.hw.library import load_as, pu_totals
from hyflexpim.hw.mapping import map_plan
from hyflexpim.hw.results import HwResult
from hyflexpim.hw.shapes import get_shape, uniform_plan
from hyflexpim.hw.silicon import run
from hyflexpim.hw.uncertainty import band, gain_bands

MODELS = ("bert-base", "bert-large", "gpt2", "llama-3.2-1b")
RATES = (0.0, 5.0, 10.0, 20.0, 30.0, 50.0, 100.0)  # percent


def gains(model: str, rate: float, seq: Sequence[int] = DEFAULT_SEQ_LENS, overrides: dict[str, Any] | None = None,
          batch: int | str = 1, mode: str = "iso-area", reference: str = "all_slc",
          gen_tokens: int = 128) -> tuple[list[float], list[float]]:
    ref_spec = load_spec(reference, overrides if reference in ("all_slc", "all_mlc") else None)
    hy, ref = compare(model, seq, spec=load_spec("hyflexpim", overrides), baselines=(ref_spec,), slc_rate=rate,
                      batch=batch, mode=mode, gen_tokens=gen_tokens)
    thr = [a / b for a, b in zip(hy.throughput_tok_s, ref.throughput_tok_s)]
    eff = [a / b for a, b in zip(hy.tops_per_w, ref.tops_per_w)]
    return thr, eff


def _fmt(xs: Iterable[float]) -> str:
    return " ".join(f"{x:5.2f}" for x in xs)


def headline() -> None:
    print(f"gain over all-SLC; columns = seq lens {list(DEFAULT_SEQ_LENS)}")
    best: dict[str, tuple[float, tuple[str, float, int]]] = {"thr": (0, ("", 0.0, 0)), "eff": (0, ("", 0.0, 0))}
    for m in MODELS:
        for r in (5.0, 10.0, 20.0, 30.0):
            thr, eff = gains(m, r)
            print(f"{m:13s} SLC {r:3.0f}%  throughput {_fmt(thr)}   TOPS/W {_fmt(eff)}")
            for key, xs in (("thr", thr), ("eff", eff)):
                i = max(range(len(xs)), key=xs.__getitem__)
                if xs[i] > best[key][0]:
                    best[key] = (xs[i], (m, r, DEFAULT_SEQ_LENS[i]))
    for key, (v, where) in best.items():
        print(f"max {key}: {v:.2f}x at model={where[0]} SLC={where[1]:.0f}% seq_len={where[2]}")

    for m in ("bert-base", "llama-3.2-1b"):
        for line in gain_bands(m, "hyflexpim", "all_slc", [128, 8192]):
            print(f"{m} 10% SLC: {line}")


def slc() -> None:
    for L in (128, 2048):
        print(f"seq_len {L}: gain over all-SLC vs SLC rate {[f'{r:.0f}%' for r in RATES]}")
        for m in MODELS:
            res = [gains(m, r, [L]) for r in RATES]
            print(f"  {m:13s} throughput {_fmt(t[0] for t, _ in res)}   TOPS/W {_fmt(e[0] for _, e in res)}")


def adc() -> None:
    print("bert-base, SLC 10%, seq_len 128: MLC ADC bits (SLC = bits - 1)")
    for scales in (False, True):
        for mode in ("linear", "walden"):
            print(f"  time scales with bits={scales}, energy {mode}:")
            for bits in (5, 6, 7, 8, 9):
                o = {"analog": {"adc_bits_mlc": bits, "adc_bits_slc": bits - 1, "adc_energy_scaling": mode,
                                "adc_time_scales_with_bits": scales}}
                r = evaluate("bert-base", load_spec("hyflexpim", o), [128], slc_rate=10.0)
                thr, eff = gains("bert-base", 10.0, [128], o)
                print(f"    {bits} bits: {r.throughput_tok_s[0]:.3g} tok/s, {r.tops_per_w[0]:.3g} TOPS/W, "
                      f"gain over all-SLC {thr[0]:.2f}x / {eff[0]:.2f}x")


def mechanism() -> None:
    print("SLC 10%: gain over all-SLC per MLC-throughput mechanism (and analog/digital overlap)")
    for mech in ("spread", "none"):
        for overlap in (False, True):
            o = {"mapping": {"mlc_throughput": mech, "overlap_analog_digital": overlap}}
            for m in ("bert-base", "bert-large"):
                thr, eff = gains(m, 10.0, overrides=o)
                print(f"  {mech:9s} overlap={overlap!s:5s} {m:11s} throughput {_fmt(thr)}   TOPS/W {_fmt(eff)}")
    replicate_note()


def replicate_note() -> None:
    """Why ``replicate`` is left out of the sweeps: its gain is the baseline's idle arrays at one area point."""
    plan = uniform_plan(get_shape("bert-base"), 10.0)
    per_pu = map_plan(plan, load_as(PimSpec, "hyflexpim")).arrays_per_pu
    cells = []
    for pus in (1, 2, 3, 4):
        o = {"mapping": {"mlc_throughput": "replicate", "tensor_parallel": pus}}
        hy, ref = (map_plan(plan, load_as(PimSpec, k, o)).stages[0] for k in ("hyflexpim", "all_slc"))
        copies = [s.pus * per_pu // s.arrays() for s in (hy, ref)]
        cells.append(f"{pus} PU(s): {copies[0]} vs {copies[1]} copies")
    print(f"  replicate: left out (no source says the chip replicates; a layer is copied whole, so its gain over "
          f"all-SLC is a step function of the area: BERT-Base 10 % SLC, arrays per layer {hy.arrays()} vs "
          f"{ref.arrays()} = {ref.arrays() / hy.arrays():.2f}x; " + ", ".join(cells) + ")")


def breakdown() -> None:
    for L in (128, 8192):
        for key in ("hyflexpim", "all_slc"):
            r = evaluate("bert-base", key, [L], slc_rate=10.0)
            tot = r.energy_per_inference_j[0]
            parts = ", ".join(f"{k} {v[0] / tot:.1%}" for k, v in r.energy_by_component_j.items())
            print(f"bert-base L={L} {key}: {r.energy_per_token_j[0] * 1e6:.1f} uJ/token: {parts}")


def totals() -> None:
    t = pu_totals(load_as(PimSpec, "hyflexpim"))
    an, dg = t.analog, t.digital
    print(f"analog per PU:  {an.area_mm2:.3f} mm2 (ref 11.24), {an.power_w:.3f} W (ref 22.34); "
          f"ADC share {an.area_mm2_by_block['adc'] / an.area_mm2:.1%} area (ref 64.2%), "
          f"{an.power_w_by_block['adc'] / an.power_w:.1%} power (ref 55%), "
          f"{an.power_w_by_block['adc'] / 12288 * 1e3:.3f} mW per ADC (ref ~1)")
    print(f"digital per PU: {dg.area_mm2:.3f} mm2 (ref 64.05), {dg.power_w:.3f} W (ref 52.26); "
          f"SFU {dg.area_mm2_by_block['sfu'] / 8:.3f} mm2 (ref 4.79), {dg.power_w_by_block['sfu'] / 8 * 1e3:.2f} mW "
          f"(ref 138.89) per module")
    for part in ("analog", "digital"):
        print(f"  {part} by block, area mm2:", {k: round(v, 3) for k, v in getattr(t, part).area_mm2_by_block.items()})
        print(f"  {part} by block, power W: ", {k: round(v, 3) for k, v in getattr(t, part).power_w_by_block.items()})
    print(f"PU {t.area_mm2:.2f} mm2, {t.power_w:.2f} W at full activity; chip (24 PUs) {24 * t.area_mm2:.0f} mm2")


def decoder() -> None:
    """Decoders in both modes: prefill (the prompt teacher-forced, none generated: what a perplexity measures) and
    generation (prompt + 128 tokens), side by side."""
    print("decoders, SLC 10%, prompt = seq len: gain over all-SLC in prefill (gen_tokens 0) | generation (128 tokens)")
    for m, batch, mode in (("gpt2", 1, "iso-area"), ("gpt2", "fill", "iso-area"), ("llama-3.2-1b", 1, "iso-area"),
                           ("llama-3.2-1b", 1, "min-chips"), ("llama-3.2-1b", "fill", "iso-area"),
                           ("smollm2-135m", 1, "iso-area")):
        cells = []
        for g in (0, 128):
            hy, ref = compare(m, DEFAULT_SEQ_LENS, slc_rate=10.0, baselines=("all_slc",), batch=batch, mode=mode,
                              gen_tokens=g)
            thr = [a / b for a, b in zip(hy.throughput_tok_s, ref.throughput_tok_s)]
            eff = [a / b for a, b in zip(hy.tops_per_w, ref.tops_per_w)]
            cells.append(f"{hy.mode:10s} throughput {_fmt(thr)}  TOPS/W {_fmt(eff)}")
        i, j = hy.pim, ref.pim
        print(f"  {m:13s} batch {batch!s:4s} {mode:9s} PUs/layer {i.pus_per_layer} (all-SLC {j.pus_per_layer}) "
              f"chips {i.chips} (all-SLC {j.chips})")
        for c in cells:
            print(f"      {c}")
    print("prefill vs SLC rate, L=128 (head on the last token | on every token, mapping.head_tokens: all, as the "
          "logits of a perplexity need): throughput gain over all-SLC")
    for m in ("gpt2", "llama-3.2-1b"):
        for head in ("last", "all"):
            o = {"mapping": {"head_tokens": head}}
            thr = [gains(m, r, [128], o, gen_tokens=0)[0][0] for r in (0.0, 10.0, 30.0, 100.0)]
            gen = [gains(m, r, [128], o)[0][0] for r in (0.0, 10.0, 30.0, 100.0)]
            print(f"  {m:13s} head on {head:4s}: prefill {_fmt(thr)}   generation {_fmt(gen)}   (SLC 0 10 30 100 %)")


def _linear(r: HwResult) -> float:
    lin = ("q", "k", "v", "qkv", "o", "ffn_in", "ffn_gate", "ffn_out")
    return sum(v[0] for k, v in r.energy_by_role_j.items() if k in lin)


def reference() -> None:
    """The reference's ratios next to the model's (docs/hw.md, "Against the reference")."""
    rows = []
    best_t = max((gains(m, r, [128])[0][0], m, r) for m in MODELS for r in (5.0, 10.0, 20.0, 30.0))
    best_e = max((gains(m, r, [128])[1][0], m, r) for m in MODELS for r in (5.0, 10.0, 20.0, 30.0))
    rows.append(("throughput vs all-SLC INT8 (max)", "1.86x", f"{best_t[0]:.2f}x",
                 f"{best_t[1]}, {best_t[2]:.0f}% SLC, L=128"))
    rows.append(("TOPS/W vs all-SLC INT8 (max)", "1.45x", f"{best_e[0]:.2f}x",
                 f"{best_e[1]}, {best_e[2]:.0f}% SLC, L=128"))
    for model, task, ref_e, ref_s in (("bert-base", "GLUE", 4.94, 10.6), ("gpt2", "WikiText-2", 4.69, 46.0)):
        hy, sp = compare(model, [128], slc_rate=10.0, baselines=("sprint",))
        e = sp.energy_per_inference_j[0] / hy.energy_per_inference_j[0]
        lin = _linear(sp) / _linear(hy)
        t = hy.throughput_tok_s[0] / sp.throughput_tok_s[0]
        rows.append((f"end-to-end energy vs SPRINT ({task})", f"{ref_e}x", f"{e:.2f}x (linear layers {lin:.2f}x)",
                     f"{model}, 10% SLC, L=128, batch 1"))
        rows.append((f"speed-up vs SPRINT ({task})", f"{ref_s}x", f"{t:.1f}x", f"{model}, 10% SLC, L=128, batch 1"))
    hy, tp = compare("bert-base", [128], slc_rate=10.0, baselines=("transpim",))
    rows.append(("linear-layer energy efficiency vs TransPIM", "3.31x", f"{_linear(tp) / _linear(hy):.2f}x",
                 "bert-base, 10% SLC, L=128"))
    one = evaluate("bert-base", load_spec("hyflexpim", {"mapping": {"tensor_parallel": 1}}), [128], slc_rate=10.0)
    for n, ref in ((2, "1.99x"), (4, "(2x / 4x chips: 1.96x / 3.65x)")):
        r = evaluate("bert-base", load_spec("hyflexpim", {"mapping": {"tensor_parallel": n}}), [128], slc_rate=10.0)
        rows.append((f"{n} PUs per layer vs 1", ref, f"{r.throughput_tok_s[0] / one.throughput_tok_s[0]:.2f}x",
                     f"bert-base, 10% SLC, L=128, {r.pim.chips} chip(s)"))
    print("| ratio | reference | this model | setting |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def scaling() -> None:
    """2x / 4x chips in each ``mapping.scaling`` mode on BERT-Base against one chip, beside the reference."""
    print("bert-base, SLC 10%, L=128: throughput of 2 / 4 chips over 1 chip (1 PU per layer, 13 of its 24 PUs used; "
          "reference: 1.96x / 3.65x, its model and batch not stated)")
    for batch in (1, 64):
        one = evaluate("bert-base", load_spec("hyflexpim", {"mapping": {"chips": 1}}), [128], slc_rate=10.0,
                       batch=batch)
        for mode in ("tensor", "pipeline", "data"):
            cells = []
            for chips in (2, 4):
                r = evaluate("bert-base", load_spec("hyflexpim", {"mapping": {"chips": chips, "scaling": mode}}), [128],
                             slc_rate=10.0, batch=batch)
                i = r.pim
                what = (f"{i.replicas} copies" if mode == "data" else f"{i.pus_per_layer} PUs/layer") + \
                    f", {i.pus_used * i.replicas} PUs used"
                e = r.energy_per_inference_j[0] / one.energy_per_inference_j[0]
                cells.append(f"{chips} chips {r.throughput_tok_s[0] / one.throughput_tok_s[0]:.2f}x "
                             f"({what}, energy {e:.2f}x)")
            print(f"  batch {batch:3d} {mode:8s}: " + "   ".join(cells))


def _gpu_ratio(model: str, metric: str, i: int) -> Callable[[Spec, Spec], float]:
    """HyFlexPIM's ``metric`` over a GPU's at the i-th of L = 128, 512 (10 % SLC), as a function of the two specs."""
    def f(a: Spec, b: Spec) -> float:
        r, ref = compare(model, [128, 512], spec=a, baselines=(b,), slc_rate=10.0)
        return float(getattr(r, metric)[i] / getattr(ref, metric)[i])
    return f


def _baseline_ratio(model: str, metric: str) -> Callable[[Spec, Spec], float]:
    """The baseline's energy over HyFlexPIM's, or HyFlexPIM's speed-up over it, at L = 128."""
    def f(a: Spec, b: Spec) -> float:
        hy, ref = compare(model, [128], spec=a, baselines=(b,), slc_rate=10.0)
        v = getattr(ref, metric)[0] / getattr(hy, metric)[0]
        return float(1 / v if metric == "throughput_tok_s" else v)
    return f


def baselines() -> None:
    """HyFlexPIM against the calibrated GPUs, then the sensitivity of its gains over each baseline to that
    baseline's assumed constants."""
    print("HyFlexPIM (10 % SLC, batch 1, iso-area) over the GPU kernel model, batch 1; bands: the GPU spec's ranges "
          "(operating power, the fitted parameters' per-model spread) at their low and high ends; then with "
          "HyFlexPIM's own spec ranges as well")
    print("| GPU | model | L | GPU latency | GPU TOPS/W | HyFlexPIM throughput / GPU (GPU band; both) | "
          "HyFlexPIM TOPS/W / GPU (GPU band; both) |")
    print("|---|---|---|---|---|---|---|")
    hy = load_spec("hyflexpim")
    hy_fixed = hy.model_copy(update={"ranges": {}})
    for key in ("gpu_a100", "gpu_h100"):
        for model in ("bert-base", "bert-large"):
            for i, L in enumerate((128, 512)):
                cells = []
                for metric in ("throughput_tok_s", "tops_per_w"):
                    ratio = _gpu_ratio(model, metric, i)
                    g = band(ratio, hy_fixed, key)
                    both = band(ratio, hy, key)
                    cells.append(f"{g[0]:.2f}x ({g[1]:.2f}-{g[2]:.2f}; {both[1]:.2f}-{both[2]:.2f})")
                res = evaluate(model, key, [L])
                print(f"| {key} | {model} | {L} | {res.latency_s[0] * 1e3:.3f} ms | {res.tops_per_w[0]:.2f} | "
                      f"{cells[0]} | {cells[1]} |")
    for key in ("gpu_a100", "gpu_h100"):
        print(f"{key}: {load_as(GpuSpec, key).calibration}")
    for key, model in (("sprint", "bert-base"), ("transpim", "bert-base")):
        for metric, what in (("energy_per_inference_j", "energy"), ("throughput_tok_s", "speed-up")):
            point, _, _, rows = band(_baseline_ratio(model, metric), "hyflexpim", key)
            mine = [r for r in rows if r[0] in load_spec(key).ranges]
            text = ", ".join(f"{r[0]} {r[1]:.2f}..{r[2]:.2f}" for r in mine)
            print(f"{key} {what} ({model}, L=128): {point:.2f}x; its assumptions low..high: {text}")


def gpu() -> None:
    """The GPU kernel model's calibration table: fitted rows, predicted rows, per-row error, medians."""
    report()


def validate() -> None:
    """The component library against published RRAM macros (hyflexpim.hw.silicon; ``hyflexpim hw validate``)."""
    run()


if __name__ == "__main__":
    from hyflexpim.hw.sparse_sweep import hardsea, sparse

    cmds = {"headline": headline, "slc": slc, "adc": adc, "mechanism": mechanism, "breakdown": breakdown,
            "decoder": decoder, "scaling": scaling, "totals": totals, "reference": reference, "validate": validate,
            "baselines": baselines, "gpu": gpu, "sparse": sparse, "hardsea": hardsea}
    for name in sys.argv[1:] or cmds:
        if name not in cmds:
            sys.exit(f"unknown sweep '{name}': choose from {', '.join(cmds)}")
        cmds[name]()
