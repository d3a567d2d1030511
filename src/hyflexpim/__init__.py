"""hyflexpim: hybrid SLC/MLC RRAM processing-in-memory for transformers.

``from hyflexpim import decompose, redistribute, score_importance, make_plan, apply_plan, evaluate``
(the accuracy side, needs torch; loaded on first use). The plan (``hyflexpim.plan``) and the chip
model (``hyflexpim.hw``) need no torch.
"""

__version__ = "0.1.0"

_API = (
    "AttentionReport", "analyze_attention", "write_attention", "DecomposeConfig", "FinetuneConfig", "HardwareConfig",
    "Plan", "SVDLinear", "apply_plan", "batches",
    "decompose", "evaluate", "evaluate_noisy", "load_model", "load_plan", "load_task", "make_plan",
    "redistribute", "score_importance", "SweepConfig", "run_sweep",
)


def __getattr__(name: str):
    if name in _API:
        from hyflexpim import api  # lazy: the one upward arrow; `import hyflexpim` stays light (no torch)

        return getattr(api, name)
    raise AttributeError(f"module 'hyflexpim' has no attribute {name!r}")
