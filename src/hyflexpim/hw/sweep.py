"""Sweeps behind docs/hw.md: ``python -m hyflexpim.hw.sweep {totals,headline,slc,adc,mechanism,breakdown,decoder}``.

Every gain is HyFlexPIM (uniform plan at the given SLC rate) over the all-SLC INT8 baseline
(ASADI-like) on the same chip and library, under the same spec options.
"""

from __future__ import annotations

import sys

from hyflexpim.hw.evaluate import DEFAULT_SEQ_LENS, evaluate
from hyflexpim.chip.spec import load_spec

MODELS = ("bert-base", "bert-large", "gpt2", "llama-3.2-1b")
RATES = (0.0, 5.0, 10.0, 20.0, 30.0, 50.0, 100.0)  # percent


def gains(model: str, rate: float, seq=DEFAULT_SEQ_LENS, overrides: dict | None = None,
          batch: int | None = None) -> tuple[list, list]:
    hy = evaluate(model, load_spec("hyflexpim", overrides), seq, slc_rate=rate, batch=batch)
    ref = evaluate(model, load_spec("all_slc", overrides), seq, batch=batch)
    thr = [a / b for a, b in zip(hy["throughput_tok_s"], ref["throughput_tok_s"])]
    eff = [a / b for a, b in zip(hy["tops_per_w"], ref["tops_per_w"])]
    return thr, eff


def _fmt(xs) -> str:
    return " ".join(f"{x:5.2f}" for x in xs)


def headline() -> None:
    print(f"gain over all-SLC; columns = seq lens {list(DEFAULT_SEQ_LENS)}")
    best = {"thr": (0, None), "eff": (0, None)}
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
                print(f"    {bits} bits: {r['throughput_tok_s'][0]:.3g} tok/s, {r['tops_per_w'][0]:.3g} TOPS/W, "
                      f"gain over all-SLC {thr[0]:.2f}x / {eff[0]:.2f}x")


def mechanism() -> None:
    print("SLC 10%: gain over all-SLC per MLC-throughput mechanism (and analog/digital overlap)")
    for mech in ("spread", "replicate", "none"):
        for overlap in (False, True):
            o = {"mapping": {"mlc_throughput": mech, "overlap_analog_digital": overlap}}
            for m in ("bert-base", "bert-large"):
                thr, eff = gains(m, 10.0, overrides=o)
                print(f"  {mech:9s} overlap={overlap!s:5s} {m:11s} throughput {_fmt(thr)}   TOPS/W {_fmt(eff)}")


def breakdown() -> None:
    for L in (128, 8192):
        for key in ("hyflexpim", "all_slc"):
            r = evaluate("bert-base", key, [L], slc_rate=10.0)
            tot = r["energy_per_inference_j"][0]
            parts = ", ".join(f"{k} {v[0] / tot:.1%}" for k, v in r["energy_by_component_j"].items())
            print(f"bert-base L={L} {key}: {r['energy_per_token_j'][0] * 1e6:.1f} uJ/token: {parts}")


def totals() -> None:
    from hyflexpim.hw.library import pu_totals

    t = pu_totals(load_spec("hyflexpim"))
    an, dg = t["analog"], t["digital"]
    print(f"analog per PU:  {an['area_mm2']:.3f} mm2 (ref 11.24), {an['power_w']:.3f} W (ref 22.34); "
          f"ADC share {an['area_mm2_by_block']['adc'] / an['area_mm2']:.1%} area (ref 64.2%), "
          f"{an['power_w_by_block']['adc'] / an['power_w']:.1%} power (ref 55%), "
          f"{an['power_w_by_block']['adc'] / 12288 * 1e3:.3f} mW per ADC (ref ~1)")
    print(f"digital per PU: {dg['area_mm2']:.3f} mm2 (ref 64.05), {dg['power_w']:.3f} W (ref 52.26); "
          f"SFU {dg['area_mm2_by_block']['sfu'] / 8:.3f} mm2 (ref 4.79), {dg['power_w_by_block']['sfu'] / 8 * 1e3:.2f} mW "
          f"(ref 138.89) per module")
    for part in ("analog", "digital"):
        print(f"  {part} by block, area mm2:", {k: round(v, 3) for k, v in t[part]["area_mm2_by_block"].items()})
        print(f"  {part} by block, power W: ", {k: round(v, 3) for k, v in t[part]["power_w_by_block"].items()})
    print(f"PU {t['area_mm2']:.2f} mm2, {t['power_w']:.2f} W at full activity; chip (24 PUs) {24 * t['area_mm2']:.0f} mm2")


def decoder() -> None:
    print("decoders, SLC 10%, prompt = seq len, 128 generated tokens: batch and tensor parallelism")
    for m, batch, tp in (("gpt2", None, 0), ("gpt2", 128, 0), ("llama-3.2-1b", None, 0), ("llama-3.2-1b", None, 6),
                         ("llama-3.2-1b", 128, 6)):
        thr, eff = gains(m, 10.0, overrides={"mapping": {"tensor_parallel": tp}}, batch=batch)
        r = evaluate(m, load_spec("hyflexpim", {"mapping": {"tensor_parallel": tp}}), [128], slc_rate=10.0, batch=batch)
        i = r["info"]
        ref = evaluate(m, load_spec("all_slc", {"mapping": {"tensor_parallel": tp}}), [128], batch=batch)["info"]
        print(f"  {m:13s} batch {i['batch']:4d} PUs/layer {i['pus_per_layer']} (all-SLC {ref['pus_per_layer']}) "
              f"chips {i['chips']} (all-SLC {ref['chips']}): throughput {_fmt(thr)}   TOPS/W {_fmt(eff)}")


if __name__ == "__main__":
    cmds = {"headline": headline, "slc": slc, "adc": adc, "mechanism": mechanism, "breakdown": breakdown,
            "decoder": decoder, "totals": totals}
    for name in sys.argv[1:] or cmds:
        if name not in cmds:
            sys.exit(f"unknown sweep '{name}': choose from {', '.join(cmds)}")
        cmds[name]()
