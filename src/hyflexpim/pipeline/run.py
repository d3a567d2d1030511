"""The whole HyFlexPIM algorithm as resumable steps over one run folder.

    load ─► fine-tune (FP32, optional) ─► decompose (SVD) ─► redistribute (fine-tune the SVD model)
        ─► importance ─► plans per SLC rate ─► evaluate under noise (Monte Carlo over seeds)
        ─► results table, plot, chip model

Every step writes its output to the run folder; a re-run reads it back instead of recomputing,
and evaluations already in evaluations.jsonl are skipped, so an interrupted run resumes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import torch
from safetensors.torch import save_model

from hyflexpim.algo.concentrate import concentration_penalty
from hyflexpim.algo.decompose import calibration
from hyflexpim.algo.decompose_checkpoint import decompose_checkpoint
from hyflexpim.algo.factorize import FACTORIZATIONS
from hyflexpim.algo.finetune import check_finite_weights, finetune
from hyflexpim.algo.importance import SCORERS, Importance, concentration, process_group, score_importance
from hyflexpim.algo.plan_policy import PLAN_POLICIES, make_plan
from hyflexpim.algo.rank import rank_hooks
from hyflexpim.artefacts import RunFolder
from hyflexpim.atomic import write_atomic
from hyflexpim.boundary import load_json, load_tensors
from hyflexpim.config import validate
from hyflexpim.config.methods import predictor_methods
from hyflexpim.errors import UserError
from hyflexpim.models.discover import fingerprint
from hyflexpim.models.layers import SVDLinear
from hyflexpim.models.load import load_model, load_tokenizer
from hyflexpim.pipeline.config import RunConfig
from hyflexpim.pipeline.jets_train import packaged_part
from hyflexpim.pipeline.preflight import preflight
from hyflexpim.pipeline.step_keys import check_keys, remember
from hyflexpim.pipeline.task import Task, load_run_task
from hyflexpim.pipeline.workspace import FollowerWorkspace, Workspace, launched_rank
from hyflexpim.plan import Plan, load_plan
from hyflexpim.report.confidence import has_examples
from hyflexpim.report.results import summarize, terminal_line
from hyflexpim.sim.apply import apply_plan, build_noise
from hyflexpim.sim.attention import attention_plan
from hyflexpim.sim.config import HardwareConfig
from hyflexpim.sim.evaluate import METRICS, per_example, record_fields, summary
from hyflexpim.sim.noise_aware import noise_aware
from hyflexpim.sim.sensitivity import noise_sensitivity

Say = Callable[[str], None]


def deterministic(plan: Plan, hardware) -> bool:
    """True when the noise model draws nothing for this plan (e.g. 100% SLC with ideal SLC cells)."""
    hardware = hardware.resolved()
    noise = build_noise(hardware)
    if noise.has_read_noise or hardware.mode != "static":
        return False
    for m in plan.analog:
        if m.slc and not noise.is_ideal(1):
            return False
        if len(m.slc) < m.n_units and not noise.is_ideal(hardware.mlc_bits):
            return False
    return True


def plan_digest_of(hardware) -> str:
    """A short identity of a hardware config (for files that depend on it)."""
    return hashlib.sha256(hardware.resolved().model_dump_json().encode()).hexdigest()[:8]


def plan_digest(plan: Plan, hardware) -> str:
    """Identity of an evaluation's inputs: everything of the plan that changes a result, and the hardware config."""
    h = hashlib.sha256(plan.identity().encode())  # shapes, roles and attention included: an edited plan is new
    h.update(hardware.resolved().model_dump_json().encode())
    return h.hexdigest()[:12]


@dataclass
class Run:
    config: RunConfig
    ws: Workspace
    say: Say = print
    progress: bool = True
    task: Task | None = None
    # which training steps this invocation may run; None: all (``hyflexpim run``). A step command
    # trains only what it is named for and asks for the missing earlier step by its command name.
    may_train: set | None = None
    recompute: bool = True  # False (--no-recompute): a model made with other settings is refused, not recomputed
    _models: dict = field(default_factory=dict)
    _keys_checked: bool = False
    started: float = field(default_factory=time.perf_counter)

    @property
    def files(self) -> RunFolder:
        """The names of the run folder's files (``hyflexpim.artefacts``)."""
        return RunFolder(self.ws.root)

    def _allowed(self, step: str, artefact: str) -> None:
        if self.may_train is not None and step not in self.may_train:
            raise UserError(f"this step needs {artefact} in {self.ws.root}: run `hyflexpim {step}` first "
                            "(or `hyflexpim run` for every step)")

    # -- set-up ----------------------------------------------------------------------------------
    @classmethod
    def open(cls, config: RunConfig, say: Say = print, progress: bool = True, write_config: bool = True,
             may_train: set | None = None, recompute: bool = True) -> Run:
        """The run folder with its task loaded; ``write_config``: record the resolved configuration as config.yaml
        (a command that only reads the folder's models, e.g. ``sweep-device``, leaves it as the run wrote it);
        ``may_train``/``recompute``: see the fields."""
        config.hardware = config.hardware.resolved("config", ("hardware",))  # idempotent: resolve_config did it
        rank, world = launched_rank()
        if world > 1:  # under accelerate launch: join the process group now (gloo on CPUs, NCCL on GPUs)
            from accelerate import PartialState  # lazy: a slow import only a multi-process launch needs

            PartialState()
        ws = Workspace(config.out) if rank == 0 else FollowerWorkspace(config.out)  # one process writes
        if rank != 0:
            say, progress = (lambda *_: None), False
        run = cls(config, ws, say, progress, may_train=may_train, recompute=recompute)
        run.task = load_run_task(config, tokenizer=None)
        for note in getattr(run.task.data, "notes", []):
            say(f"note: {note}")
        run.task.tokenizer = load_tokenizer(config.model)
        preflight(config, run.task.kind, say)
        if write_config:
            ws.write_config(config)
        return run

    # -- cache keys: each model remembers what made it (hyflexpim.pipeline.step_keys) ----------------
    def _remember(self, stage: str) -> None:
        remember(self.ws, self.config, stage)

    def _check_keys(self) -> None:
        """Once, before the first cached result is used: stale models are recomputed (or, for a step command that
        may not retrain them, refused)."""
        if not self._keys_checked:
            check_keys(self.ws, self.config, self.may_train, self.say, self.recompute)
            self._keys_checked = True
            self._barrier()  # every process sees the folder after the main one dropped stale models

    @property
    def is_main(self) -> bool:
        """The process that writes the run folder (the only one, unless under accelerate launch)."""
        return self.ws.writes

    def _barrier(self) -> None:
        if process_group()[1] > 1:
            from accelerate import PartialState  # lazy: a slow import only a multi-process launch needs

            PartialState().wait_for_everyone()

    def collective_steps(self) -> None:
        """What every process of a multi-process run does together, in the order the main process does it: the
        fine-tunes (DDP) and the gradient importance of each curve (its batches shared out, the sums added up).
        The main process writes; the others stop after this."""
        self.finetuned()
        self.redistributed()
        for variant, scorer, _, _ in self.curves():
            if SCORERS.get(scorer, "importance.scorer").needs_batches:
                self.importance(variant, scorer)

    def _base(self):
        torch.manual_seed(self.config.seed)  # a fresh head's initialisation and dropout: the run's seed
        if self.config.model.lower() == "part":
            packaged_part(self.progress, self.say)  # trained once on the shipped sample, then cached
        model, _ = load_model(self.config.model, self.task.kind, max(self.task.num_labels, 2))
        check_finite_weights(model, "load")
        return model

    @property
    def mixed_precision(self) -> str:
        """Accelerate's mixed precision for the fine-tunes: "no" (fp32), "bf16" or "fp16" (GPU only: preflight)."""
        return "no" if self.config.precision == "fp32" else self.config.precision

    @property
    def name(self) -> str:
        return f"{self.config.model}"

    def timed(self, label: str, fn):
        t = time.perf_counter()
        out = fn()
        self.say(f"{label} ({time.perf_counter() - t:.0f} s)")
        return out

    # -- steps -------------------------------------------------------------------------------------
    def finetuned(self):
        """The FP32 model fitted to the task (or the pretrained one when pre_finetune is null)."""
        self._check_keys()
        if "fp32" in self._models:
            return self._models["fp32"]
        model = self._base()
        cfg = self.config.pre_finetune
        if cfg is not None and self.ws.load_into(model, "finetuned"):
            self.say("reused models/finetuned.safetensors")
        elif cfg is not None:
            self._allowed("pre-finetune", "models/finetuned.safetensors")
            batches = self.task.batches("train", shuffle=True, seed=self.config.seed)
            res = self.timed("fine-tuned FP32 model",
                             lambda: finetune(model, batches, cfg, "finetune", self.progress,
                                              mixed_precision=self.mixed_precision))
            self.ws.save_model(model, "finetuned")
            self.say(f"  final training loss {res.final_loss:.4f} after {res.steps} steps")
        model.eval()
        self._remember("finetuned")
        if self.is_main:  # lets a foreign plan be refused early
            write_atomic(self.files.fingerprint, fingerprint(model))
        self._models["fp32"] = model
        return model

    def check_plan_early(self, plan: Plan) -> None:
        """Refuse a plan made for another model before any model is loaded (from the fingerprint the run wrote)."""
        path = self.files.fingerprint
        if path.exists():
            plan.check_model(path.read_text().strip())

    def decomposed(self):
        """SVD of the FP32 model, before any fine-tuning (the 'no redistribution' variant): matrix by matrix from the
        FP32 model's checkpoint (``algo.decompose_checkpoint``), so the step's peak is the decomposed model plus
        one matrix's SVD, not a second copy of the model."""
        if "svd" not in self._models:
            fp32 = self.finetuned()
            d = self.config.decompose
            stats = None
            if FACTORIZATIONS.get(d.method).needs:
                batches = self.task.batches("train", shuffle=True, seed=self.config.seed + 4)
                stats = self.timed(f"calibration for decomposition method '{d.method}' "
                                   f"({d.calibration_batches} batches)",
                                   lambda: calibration(fp32, d, batches, self.progress))
            with self._fp32_checkpoint(fp32) as checkpoint:
                model, places = decompose_checkpoint(lambda: type(fp32)(fp32.config), checkpoint, d, stats=stats)
            _same_extras(fp32, model)
            digital = [p for p in places if not p.analog]
            n = sum(p.analog for p in places)
            self.say(f"decomposed {n} matrices; {len(digital)} stay digital: "
                     + "; ".join(f"{p.info.name} ({p.reason})" for p in digital[:4])
                     + (f"; … {len(digital) - 4} more" if len(digital) > 4 else ""))
            self.ws.save_model(model, "decomposed")
            self._remember("decomposed")
            self._models["svd"] = model
        return self._models["svd"]

    @contextmanager
    def _fp32_checkpoint(self, fp32):
        """The FP32 model's weights as a safetensors file: the pre-fine-tune's own file where this process wrote
        it, else a temporary copy (a pretrained model with a fresh head, or a follower process)."""
        own = self.files.model("finetuned")
        if self.config.pre_finetune is not None and self.is_main and own.exists():
            yield own
            return
        with tempfile.TemporaryDirectory(prefix="hyflexpim-fp32-") as tmp:
            path = f"{tmp}/fp32.safetensors"
            save_model(fp32, path)
            yield path

    def redistributed(self):
        """The SVD model fine-tuned: the paper's gradient redistribution."""
        if "redistributed" not in self._models:
            model = copy.deepcopy(self.decomposed())
            hooks = rank_hooks(self.config.decompose.rank_policy)  # the rank policy's (a static one's do nothing)
            if self.ws.has_model("redistributed"):
                hooks.restore(model, self.files)  # the saved model's shapes
            if self.ws.load_into(model, "redistributed"):
                self.say("reused models/redistributed.safetensors")
            else:
                self._allowed("redistribute", "models/redistributed.safetensors")
                batches = self.task.batches("train", shuffle=True, seed=self.config.seed + 1)
                torch.manual_seed(self.config.seed + 1)  # dropout during redistribution
                state, extra = hooks.before_redistribution(model, self.config.decompose)
                res = self.timed("gradient redistribution (fine-tuned the SVD model)"
                                 + (" with the hardware's noise" if self.config.noise_aware.enabled else "")
                                 + (" and the concentration penalty" if self.config.concentration.strength else ""),
                                 lambda: self._fine_tune(model, batches, extra))
                hooks.after_redistribution(model, state, self.config.decompose, self.files, self.say, self.is_main)
                self.ws.save_model(model, "redistributed")
                self.say(f"  final training loss {res.final_loss:.4f} after {res.steps} steps")
            model.eval()
            self._remember("redistributed")
            self._models["redistributed"] = model
        return self._models["redistributed"]

    def _fine_tune(self, model, batches, extra: dict):
        """The redistribution fine-tune; with ``noise_aware.enabled`` its forward sees the hardware's noise."""
        cc = self.config.concentration
        conc = concentration_penalty(model, cc)
        if conc is not None:
            inner_reg = extra.get("regularizer")
            extra = extra | {"regularizer": conc if inner_reg is None else (lambda: inner_reg() + conc())}
            if cc.sigma_lr_scale != 1:
                if "extra" in extra:
                    raise UserError("concentration.sigma_lr_scale other than 1 cannot be combined with "
                                    "decompose.rank_policy=learned yet (both train their own parameter group)")
                sigmas = [m.S for m in model.modules() if isinstance(m, SVDLinear)]
                extra = extra | {"extra": (sigmas, cc.sigma_lr_scale)}
        na = self.config.noise_aware
        with (noise_aware(model, self.config.hardware, na, self.config.seed) if na.enabled else nullcontext()) as h:
            if h is not None:
                inner = extra.get("on_step")
                extra = extra | {"on_step": lambda step, total: (h.step(step, total),
                                                                   inner and inner(step, total))}
            return finetune(model, batches, self.config.redistribute, "redistribute", self.progress, **extra,
                            mixed_precision=self.mixed_precision)

    def model(self, variant: str):
        return {"fp32": self.finetuned, "original": self.finetuned, "svd": self.decomposed,
                "redistributed": self.redistributed}[variant]()

    def importance(self, variant: str, scorer: str) -> Importance:
        self._check_keys()

        path = self.files.importance(variant, scorer)
        if path.exists():
            data = load_tensors(path, "importance scores")
            try:
                return Importance(data["scorer"], data["unit"], data["scores"], data["batches"])
            except KeyError:
                raise UserError(f"importance scores {path} lack a field hyflexpim writes: delete the file and run "
                                "again") from None
        model = self.model(variant)
        needs = SCORERS.get(scorer, "importance.scorer").needs_batches
        batches = self.task.batches("train", shuffle=True, seed=self.config.seed + 2) if needs else None
        imp = score_importance(model, scorer, batches, self.config.importance.batches, progress=self.progress)
        self.ws.save_tensors({"scorer": imp.scorer, "unit": imp.unit, "scores": imp.scores, "batches": imp.batches},
                             path)
        self._concentration(variant, imp)
        return imp

    def _concentration(self, variant: str, imp: Importance) -> None:
        share = concentration(imp)
        if self.is_main:
            write_atomic(self.files.concentration(variant, imp.scorer),
                         json.dumps(share, indent=1))
        self.say(f"importance ({variant}, {imp.scorer}): the top 5/10/20 % of each matrix's {imp.unit}s hold "
                 + " / ".join(f"{100 * v:.0f}" for v in share.values()) + " % of it")

    def sensitivity(self, variant: str, imp: Importance) -> dict[str, float]:
        """Each analog matrix's noise sensitivity on this run's hardware (``sim.sensitivity``), cached per hardware."""
        path = self.files.sensitivity(variant, imp.unit, plan_digest_of(self.config.hardware))
        if path.exists():
            return load_json(path, "noise sensitivities")
        batches = self.task.batches("train", shuffle=True, seed=self.config.seed + 5)
        sens = self.timed(f"noise sensitivity of {len(imp.scores)} matrices ({variant} model, each alone all-MLC)",
                          lambda: noise_sensitivity(self.model(variant), batches, list(imp.scores), imp.unit,
                                                    self.config.hardware, seed=self.config.seed,
                                                    progress=self.progress))
        if self.is_main:
            write_atomic(path, json.dumps(sens, indent=1))
        top = sorted(sens, key=sens.get, reverse=True)[:3]
        self.say("  most sensitive: " + "; ".join(f"{n} (+{sens[n]:.3f} loss)" for n in top))
        return sens

    def hardware(self, variant: str, plan: Plan | None = None):
        """The run's hardware for one model variant, after its attention method's ``prepare`` hook (a method
        folder's registration, ``hyflexpim.config.methods``: PQ fits its codebooks once on this variant's keys and
        stores them under ``attention/``). A ``plan`` whose attention block is sparse brings its own attention (its
        kind, keep and settings): the accuracy is measured with the attention the plan is priced with."""
        hw = self.config.hardware
        if plan is not None and plan.attention.sparse:
            own = {k: v for k, v in plan.attention.params.items() if k != "prediction"}
            data = hw.model_dump(exclude={"attention"}) | {"attention": {"kind": plan.attention.kind,
                                                                          "keep": plan.attention.keep, **own}}
            hw = validate(HardwareConfig, data, "plan attention").resolved("plan attention")
        method = predictor_methods().get(hw.attention.kind)
        prepare = method.load("prepare") if method is not None else None
        return hw if prepare is None else prepare(self, variant, hw)

    def plan(self, variant: str, scorer: str, rate: float, policy: str | None = None) -> Plan:
        """The plan at one SLC rate; its ``attention`` block is the run's attention kind (keep share, settings,
        the predictor the chip prices), so accuracy and cost come from the same plan."""
        self._check_keys()
        policy = policy or self.config.plan.policy
        needs = getattr(PLAN_POLICIES.get(policy, "plan.policy"), "needs_sensitivity", False)
        # a policy that reads the measured sensitivity depends on the hardware: its plans are named by it
        tag = f"-hw{plan_digest_of(self.config.hardware)}" if needs else ""
        attention = attention_plan(self.hardware(variant).attention)
        sparse = f"-{attention.kind}{attention.keep:g}" if attention.sparse else ""
        path = self.files.plan(variant, scorer, policy, rate, tag, sparse)  # one file per attention: self-consistent
        if path.exists():
            plan = load_plan(path)
            if plan.attention == attention:
                return plan
        dense = self.files.plan(variant, scorer, policy, rate, tag)
        if dense.exists():  # the same placement, another attention
            plan = load_plan(dense)
        else:
            imp = self.importance(variant, scorer)
            sens = self.sensitivity(variant, imp) if needs else None
            plan = make_plan(self.model(variant), imp, rate, policy, model_name=self.name,
                             extra_policy={"variant": variant}, sensitivity=sens)
            if sparse:
                plan.save(dense)
        plan.attention = attention
        plan.save(path)
        return plan

    # -- evaluation --------------------------------------------------------------------------------
    def evaluate_clean(self, variant: str) -> dict:
        self._check_keys()

        key = f"{variant}/clean"
        done = self.ws.done()
        if key in done and has_examples(done[key]):
            return done[key]
        outcome = per_example(self.model(variant), self.task.batches("test"), self.task.kind, self.progress)
        rec = {"key": key, "variant": variant, "scorer": None, "policy": None, "slc_rate": None,
               "seed": None, "metric": METRICS[self.task.kind][0], "value": summary(outcome),
               "slc_weight_fraction": None,
               **record_fields(outcome)}
        self.ws.record(rec)
        return rec

    def evaluate_plan(self, variant: str, scorer: str, rate: float, plan: Plan | None = None,
                      policy: str | None = None) -> list[dict]:
        self._check_keys()

        plan = plan or self.plan(variant, scorer, rate, policy)
        policy = plan.policy.get("name", self.config.plan.policy)
        out = []
        done = self.ws.done()
        batches = None
        hw = self.hardware(variant, plan)
        digest = plan_digest(plan, hw)
        exact = deterministic(plan, hw)
        outcome = None
        for seed in self.config.noise_seeds:
            key = f"{variant}/{scorer}/{policy}/{rate:g}/{seed}/{digest}"
            if key in done and has_examples(done[key]):  # (a record without per-example outcomes is re-measured)
                out.append(done[key])
                continue
            if outcome is None or not exact:  # no draw at all: one evaluation serves every seed
                batches = batches or self.task.batches("test")
                twin = apply_plan(self.model(variant), plan, hw, seed=seed)
                outcome = per_example(twin, batches, self.task.kind, self.progress)
                del twin
            rec = {"key": key, "variant": variant, "scorer": scorer, "policy": policy, "slc_rate": rate,
                   "seed": seed, "metric": METRICS[self.task.kind][0], "value": summary(outcome),
                   "slc_weight_fraction": plan.slc_weight_fraction, "encoding": hw.encoding, "mlc_bits": hw.mlc_bits,
                   **record_fields(outcome)}
            self.ws.record(rec)
            out.append(rec)
        return out

    # -- the whole run ----------------------------------------------------------------------------
    def curves(self) -> list[tuple[str, str, list[float], str | None]]:
        return curves_of(self.config)

    def evaluate_all(self) -> Evaluated:
        """The evaluate step: every curve's evaluations (cached in evaluations.jsonl), summarised."""
        if not self.is_main:  # a follower of a multi-process run: the shared steps, then the main process goes on
            self.collective_steps()
            return Evaluated([], [])
        records = [self.evaluate_clean("fp32"), self.evaluate_clean("redistributed")]
        fp32 = "FP32 pretrained" if self.config.pre_finetune is None else "FP32 fine-tuned"
        self.say(f"{fp32} {records[0]['metric']}: {records[0]['value']:.4f}; "
                 f"after SVD + redistribution (float): {records[1]['value']:.4f}")
        for variant, scorer, rates, policy in self.curves():
            for rate in rates:
                recs = self.evaluate_plan(variant, scorer, rate, policy=policy)
                records.extend(recs)
                self.say(terminal_line(variant, scorer, rate, recs))
        return Evaluated(summarize(records, self.config.importance.scorer), records)


@dataclass
class Evaluated:
    """What the evaluate step hands on: the summarised rows (results.csv) and this run's evaluation records (the
    paired differences between curves read them)."""

    rows: list[dict]
    records: list[dict]


def _same_extras(fp32, model) -> None:
    """What a model built from its checkpoint lacks against the loaded one: the buffers no checkpoint holds
    (non-persistent ones, e.g. position ids) and the name hyflexpim gave it."""
    own = dict(model.named_buffers())
    with torch.no_grad():
        for name, buf in fp32.named_buffers():
            if name in own and own[name].shape == buf.shape:
                own[name].copy_(buf)
    if hasattr(fp32, "hyflexpim_name"):
        model.hyflexpim_name = fp32.hyflexpim_name


def curves_of(c: RunConfig) -> list[tuple[str, str, list[float], str | None]]:
    """(variant, scorer, rates, policy) a run evaluates: the main curve and the ablations (policy None: the run's)."""
    rates = c.plan.slc_rates
    out = [("redistributed", c.importance.scorer, rates, None)]
    if c.compare.no_redistribution:
        out.append(("svd", c.importance.scorer, rates, None))
    rules = [("magnitude_rates", "original", "magnitude", c.compare.magnitude),
             ("singular_value_rates", "redistributed", "singular_value", True),
             ("random_rates", "redistributed", "random", True)]
    for rates_field, variant, scorer, on in rules:
        at = c.compare.rates(rates_field, rates)
        if on and at:
            out.append((variant, scorer, at, None))
    for policy in c.compare.policies:
        if policy != c.plan.policy:
            out.append(("redistributed", c.importance.scorer, c.compare.rates("policy_rates", rates), policy))
    return out
