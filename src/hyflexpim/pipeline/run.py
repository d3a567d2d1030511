"""The context of one run: its configuration, run folder, task, messages and process group, and the cache of the
models its steps made. The steps themselves are their own modules (``pipeline.steps`` declares them):

    model_steps (pre-finetune, decompose, redistribute) ─► importance_step ─► plan_step ─► evaluate_step
        ─► price_step ─► attention_step ─► report_run            (ordered by ``pipeline.runner``)

Every step writes its output to the run folder; a re-run reads it back instead of recomputing,
and evaluations already in evaluations.jsonl are skipped, so an interrupted run resumes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from hyflexpim.algo.importance import process_group
from hyflexpim.artefacts import RunFolder
from hyflexpim.errors import UserError
from hyflexpim.models.load import load_tokenizer
from hyflexpim.pipeline.config import RunConfig
from hyflexpim.pipeline.model_steps import model_of
from hyflexpim.pipeline.preflight import preflight
from hyflexpim.pipeline.step_keys import check_keys, remember
from hyflexpim.pipeline.task import Task, load_run_task
from hyflexpim.pipeline.workspace import FollowerWorkspace, Workspace, launched_rank

if TYPE_CHECKING:
    from torch import nn

Say = Callable[[str], None]
T = TypeVar("T")


def _join_process_group() -> None:
    from accelerate import PartialState  # lazy: a slow import only a multi-process launch needs

    PartialState()


@dataclass
class Run:
    config: RunConfig
    ws: Workspace
    task: Task
    say: Say = print
    progress: bool = True
    # which training steps this invocation may run; None: all (``hyflexpim run``). A step command
    # trains only what it is named for and asks for the missing earlier step by its command name.
    may_train: set[str] | None = None
    recompute: bool = True  # False (--no-recompute): a model made with other settings is refused, not recomputed
    models: dict[str, nn.Module] = field(default_factory=dict)  # the model steps' models, by variant
    _keys_checked: bool = False
    started: float = field(default_factory=time.perf_counter)

    @property
    def files(self) -> RunFolder:
        """The names of the run folder's files (``hyflexpim.artefacts``)."""
        return RunFolder(self.ws.root)

    def allowed(self, step: str, artefact: str) -> None:
        """Refuse to make ``artefact`` when this invocation may not run ``step`` (a step command for a later step)."""
        if self.may_train is not None and step not in self.may_train:
            raise UserError(f"this step needs {artefact} in {self.ws.root}: run `hyflexpim {step}` first "
                            "(or `hyflexpim run` for every step)")

    # -- set-up ----------------------------------------------------------------------------------
    @classmethod
    def open(cls, config: RunConfig, say: Say = print, progress: bool = True, write_config: bool = True,
             may_train: set[str] | None = None, recompute: bool = True) -> Run:
        """The run folder with its task loaded; ``write_config``: record the resolved configuration as config.yaml
        (a command that only reads the folder's models, e.g. ``sweep-device``, leaves it as the run wrote it);
        ``may_train``/``recompute``: see the fields."""
        started = time.perf_counter()
        config.hardware = config.hardware.resolved("config", ("hardware",))  # idempotent: resolve_config did it
        rank, world = launched_rank()
        if world > 1:  # under accelerate launch: join the process group now (gloo on CPUs, NCCL on GPUs)
            _join_process_group()
        ws = Workspace(config.out) if rank == 0 else FollowerWorkspace(config.out)  # one process writes
        if rank != 0:
            say, progress = (lambda *_: None), False
        task = load_run_task(config, tokenizer=None)
        for note in getattr(task.data, "notes", []):
            say(f"note: {note}")
        task.tokenizer = load_tokenizer(config.model)
        preflight(config, task.kind, say)
        if write_config:
            ws.write_config(config)
        return cls(config, ws, task, say, progress, may_train=may_train, recompute=recompute, started=started)

    # -- cache keys: each model remembers what made it (hyflexpim.pipeline.step_keys) ----------------
    def remember(self, stage: str) -> None:
        remember(self.ws, self.config, stage)

    def check_keys(self) -> None:
        """Once, before the first cached result is used: stale models are recomputed (or, for a step command that
        may not retrain them, refused)."""
        if not self._keys_checked:
            check_keys(self.ws, self.config, self.may_train, self.say, self.recompute)
            self._keys_checked = True
            self.barrier()  # every process sees the folder after the main one dropped stale models

    @property
    def is_main(self) -> bool:
        """The process that writes the run folder (the only one, unless under accelerate launch)."""
        return self.ws.writes

    def barrier(self) -> None:
        if process_group()[1] > 1:
            from accelerate import PartialState  # lazy: a slow import only a multi-process launch needs

            PartialState().wait_for_everyone()

    @property
    def mixed_precision(self) -> str:
        """Accelerate's mixed precision for the fine-tunes: "no" (fp32), "bf16" or "fp16" (GPU only: preflight)."""
        return "no" if self.config.precision == "fp32" else self.config.precision

    @property
    def name(self) -> str:
        return f"{self.config.model}"

    def timed(self, label: str, fn: Callable[[], T]) -> T:
        t = time.perf_counter()
        out = fn()
        self.say(f"{label} ({time.perf_counter() - t:.0f} s)")
        return out

    def model(self, variant: str) -> nn.Module:
        """The model ``variant`` ("fp32"/"original", "svd", "redistributed"), made by its step or reused
        (``pipeline.model_steps``; a method's preparation hook reads it through here)."""
        return model_of(self, variant)

