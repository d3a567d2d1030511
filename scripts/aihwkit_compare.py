"""Side by side with IBM's hardware-aware training (aihwkit-lightning, the optional extra ``[hwa]``).

From a finished run's FP32 fine-tuned model: aihwkit-lightning's noise-injection training (additive Gaussian
weight noise, σ relative to each matrix's max |w|) at a level matched to the run's all-MLC programming — the RMS
weight error hyflexpim's programming leaves on the same matrices, over their max |w| — with the run's own
redistribution schedule (same batches, steps and learning rate). The trained model is then evaluated under the
run's hardware with every matrix all-MLC (no SVD: rows, 0 % SLC), next to the FP32 model without it, over the
run's noise seeds on the same test examples (paired differences). The time per training step of each is measured
in the same process.

    pip install -e '.[hwa]'
    python scripts/aihwkit_compare.py runs/minilm-rotten_tomatoes      # writes <run>/aihwkit/compare.json
"""

import copy
import json
import sys
import time
from pathlib import Path

import torch


def matched_sigma(model, hardware) -> float:
    """Mean over the analog matrices of RMS(programmed − W) / max|W| with every row in MLC (seed 0)."""
    from hyflexpim.algo.decompose import placements
    from hyflexpim.models.layers import dense_weight
    from hyflexpim.sim.apply import build_noise
    from hyflexpim.sim.program import program_matrix

    noise = build_noise(hardware)
    out = []
    for p in placements(model):
        if not p.analog:
            continue
        w = dense_weight(model.get_submodule(p.info.name)).detach().float()
        prog = program_matrix(w, [], 0, noise=noise, seed=0, name=p.info.name, per_channel=hardware.per_channel,
                              clip=hardware.clip, encoding=hardware.encoding, mlc_bits=hardware.mlc_bits,
                              t_seconds=hardware.t_seconds)
        out.append(((prog.weight() - w).pow(2).mean().sqrt() / w.abs().max()).item())
    return sum(out) / len(out)


def all_mlc(run, model, label: str) -> list[dict]:
    """The model with every analog matrix all-MLC (rows, 0 % SLC) under the run's hardware, per noise seed."""
    from hyflexpim.algo.importance import score_importance
    from hyflexpim.algo.plan_policy import make_plan
    from hyflexpim.sim.apply import apply_plan
    from hyflexpim.sim.evaluate import per_example, record_fields, summary

    plan = make_plan(model, score_importance(model, "magnitude", progress=False), 0.0, model_name=run.name)
    batches = run.task.batches("test")
    recs = []
    for seed in run.config.noise_seeds:
        outcome = per_example(apply_plan(model, plan, run.config.hardware, seed=seed), batches)
        recs.append({"variant": label, "scorer": "magnitude", "policy": "uniform", "slc_rate": 0.0, "seed": seed,
                     "metric": "accuracy", "value": summary(outcome), **record_fields(outcome)})
    return recs


def train(run, model, steps_timed: list):
    from hyflexpim.algo.finetune import finetune

    batches = run.task.batches("train", shuffle=True, seed=run.config.seed + 1)
    torch.manual_seed(run.config.seed + 1)
    last = [time.perf_counter()]

    def on_step(step, total):
        now = time.perf_counter()
        if step:
            steps_timed.append(now - last[0])
        last[0] = now

    return finetune(model, batches, run.config.redistribute, "hwa", progress=False, on_step=on_step)


def main() -> None:
    from aihwkit_lightning.nn.conversion import convert_to_analog
    from aihwkit_lightning.simulator.configs import TorchInferenceRPUConfig
    from aihwkit_lightning.simulator.parameters import WeightNoiseInjectionType

    from hyflexpim.algo.decompose import placements
    from hyflexpim.pipeline.resolve import resolve_config
    from hyflexpim.pipeline.run import Run
    from hyflexpim.report.confidence import difference, interval, point

    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/minilm-rotten_tomatoes")
    cfg = resolve_config(str(folder / "config.yaml"), False, {"out": str(folder)})
    run = Run.open(cfg, say=print, progress=False)
    run.may_train = set()
    fp32 = run.model("fp32")
    sigma = matched_sigma(fp32, cfg.hardware)
    print(f"matched weight noise: σ = {sigma:.4f} × max|w| (RMS error of the run's all-MLC programming)")

    digital = [p.info.name for p in placements(fp32) if not p.analog]
    rpu = TorchInferenceRPUConfig()
    rpu.modifier.noise_type = WeightNoiseInjectionType.ADD_NORMAL
    rpu.modifier.std_dev = sigma
    analog = convert_to_analog(copy.deepcopy(fp32), rpu, exclude_modules=digital)
    hwa_steps, plain_steps = [], []
    t = time.perf_counter()
    res = train(run, analog, hwa_steps)
    print(f"aihwkit-lightning noise-injection fine-tune: {res.steps} steps, {time.perf_counter() - t:.0f} s, "
          f"final loss {res.final_loss:.4f}")
    plain = copy.deepcopy(fp32)
    train(run, plain, plain_steps)  # the same schedule without noise: the step-time reference and a control
    hwa = copy.deepcopy(fp32)
    missing = hwa.load_state_dict({k.removeprefix("module."): v for k, v in analog.state_dict().items()}, strict=False)
    if missing.missing_keys:
        raise SystemExit(f"could not map the trained weights back: missing {missing.missing_keys[:3]}")
    moved = sum(not torch.equal(a, b) for a, b in zip(hwa.state_dict().values(), fp32.state_dict().values()))
    print(f"{moved} of {len(fp32.state_dict())} tensors changed by the HWA fine-tune")
    if not moved:
        raise SystemExit("the HWA fine-tune changed no weight: the mapping back failed")

    rows = {}
    for name, model in (("FP32 fine-tuned, no HWA", fp32), ("FP32 + one more plain epoch", plain),
                        ("FP32 + aihwkit-lightning HWA epoch", hwa)):
        recs = all_mlc(run, model, name)
        p = point(recs)
        lo, hi = interval(p)
        rows[name] = {"mean": sum(r["value"] for r in recs) / len(recs), "ci": [lo, hi], "recs": recs}
        print(f"{name}: all-MLC accuracy {100 * rows[name]['mean']:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}]")
    d = difference(point(rows["FP32 + aihwkit-lightning HWA epoch"]["recs"]),
                   point(rows["FP32 + one more plain epoch"]["recs"]))
    print(f"HWA − plain epoch at all-MLC: {100 * d['diff']:+.1f} points [{100 * d['ci_low']:+.1f}, "
          f"{100 * d['ci_high']:+.1f}], resolved: {d['resolved']}")
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    ratio = med(hwa_steps) / med(plain_steps)
    print(f"time per training step: aihwkit-lightning {med(hwa_steps):.2f} s, plain {med(plain_steps):.2f} s "
          f"({ratio:.2f}×; median over {len(hwa_steps)} steps, one process)")
    out = folder / "aihwkit"
    out.mkdir(exist_ok=True)
    summary = {"sigma": sigma, "steps": res.steps, "step_s": {"hwa": med(hwa_steps), "plain": med(plain_steps)},
               "rows": {k: {"mean": v["mean"], "ci": v["ci"]} for k, v in rows.items()}, "hwa_minus_plain": d}
    (out / "compare.json").write_text(json.dumps(summary, indent=1))
    print(f"wrote {out / 'compare.json'}")


if __name__ == "__main__":
    main()
