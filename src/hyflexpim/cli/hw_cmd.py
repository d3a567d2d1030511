"""``hyflexpim hw``: the chip model across sequence lengths vs baselines (no torch needed)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from hyflexpim.errors import UserError

# Imports inside the commands are lazy on purpose: `hyflexpim --help` and each command load only what they run
# (torch, transformers, pydantic and matplotlib stay out of start-up; checked with `python -X importtime`).

MAX_TOKENS = 2**20  # a sequence (or a generation) of a million tokens is the largest the chip model prices


def _ints(text: str, flag: str, limit: int = MAX_TOKENS) -> list[int]:
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"{flag} must be comma-separated positive integers, got '{text}'") from None
    if not vals or min(vals) <= 0 or max(vals) > limit:
        raise UserError(f"{flag} must be comma-separated integers in 1..{limit:,}, got '{text}'")
    return vals


def hw(
    action: str | None = typer.Argument(None, help="'validate': the chip library against published RRAM "
                                           "macros (docs/hw.md, Silicon validation); omit to price a model"),
    model: str | None = typer.Option(
        None, "--model", help="catalogue shape: bert-base, bert-large, gpt2, llama-3.2-1b, minilm-l6, smollm2-135m"),
    slc_rate: float = typer.Option(10.0, "--slc-rate", help="percent of components in SLC (uniform plan), 0..100"),
    plan: Path | None = typer.Option(None, "--plan", help="plan JSON from the accuracy side (it carries its "
                                        "architecture; with --model it must cover every matrix of that model)"),
    seq_lens: str = typer.Option("128,512,1024,2048,4096,8192", "--seq-lens", help="comma-separated sequence lengths"),
    spec: str = typer.Option("hyflexpim", "--spec", help="HyFlexPIM spec: built-in name or YAML file"),
    baselines: str = typer.Option("all_slc,all_mlc,asadi,sprint,transpim,gpu_a100,gpu_h100", "--baselines",
                                  help="comma-separated baseline specs (names or YAML files); '' for none"),
    batch: str = typer.Option("1", "--batch", help="sequences in flight, every design (default 1); 'fill': one per "
                              "pipeline stage (the PIM pipeline's steady state)"),
    compare_mode: str = typer.Option("iso-area", "--compare", help="iso-area (same silicon for the PIM designs of "
                                     "HyFlexPIM's chip), iso-pus (same PUs per layer) or min-chips (each the fewest)"),
    band: bool = typer.Option(False, "--band", help="print the low/high band of the gains over all-SLC from the "
                              "spec's assumption ranges"),
    gen_tokens: int = typer.Option(128, "--gen-tokens", help="tokens generated per inference (decoders: printed "
                                   "beside the prefill, the prompt teacher-forced with none generated)"),
    decoder: bool = typer.Option(False, "--decoder", help="a format-1 plan (no architecture in it) is a decoder"),
    out: Path | None = typer.Option(None, "--out", help="folder for CSV, JSON and PNG plots"),
    macros: str = typer.Option("", "--macros", help="validate: comma-separated macros (built-in names or YAML "
                               "files); default every built-in one"),
    no_fit: bool = typer.Option(False, "--no-fit", help="validate: fit nothing (the library as it is)"),
) -> None:
    """Throughput, latency, energy and area of HyFlexPIM and its baselines, from a plan or a model shape;
    "hw validate": the component library against published RRAM macros."""
    if action is not None:
        if action != "validate":
            raise UserError(f"unknown hw action '{action}': the only one is 'validate' (or give --model / --plan)")
        if model is not None or plan is not None:
            raise UserError("hw validate prices published macros, not a model: drop --model / --plan")
        from hyflexpim.hw.silicon import run

        run([m.strip() for m in macros.split(",") if m.strip()] or None, fit=not no_fit, out=out, say=typer.echo)
        return

    from hyflexpim.hw import compare_modes
    from hyflexpim.hw.shapes import get_shape
    from hyflexpim.report.hw_tables import rich_tables, write_results

    if model is None and plan is None:
        raise UserError("give --model (one of bert-base, bert-large, gpt2, llama-3.2-1b, minilm-l6, smollm2-135m) "
                        "or --plan")
    if not 0.0 <= slc_rate <= 100.0:
        raise UserError(f"--slc-rate must be in 0..100 (percent), got {slc_rate:g}")
    seq = _ints(seq_lens, "--seq-lens")
    if not 1 <= gen_tokens <= MAX_TOKENS:
        raise UserError(f"--gen-tokens must be in 1..{MAX_TOKENS:,} (tokens generated per inference), got {gen_tokens}")
    if batch != "fill":
        batch = _ints(batch, "--batch")[0] if batch.strip().isdigit() else batch
        if not isinstance(batch, int):
            raise UserError(f"--batch must be a positive integer or 'fill', got '{batch}'")
    shape = get_shape(model) if model else None
    if plan is not None:
        from hyflexpim.plan import load_plan

        subject = load_plan(plan)
    else:
        subject = shape
    base = [b.strip() for b in baselines.split(",") if b.strip()]
    # a decoder in both modes: prefill (the prompt teacher-forced, what a perplexity measures) and generation
    results = compare_modes(subject, seq, spec=spec, baselines=base, batch=batch, gen_tokens=gen_tokens,
                            slc_rate=slc_rate, shape=shape if plan is not None else None, decoder=decoder,
                            mode=compare_mode)
    console = Console()
    info = results[0].info
    for note in getattr(subject, "notes", []):
        console.print(f"note: {note}")
    sparse = (f", attention density {info.attention_density:.0%} (prediction: {info.prediction})"
              if info.attention_density < 1 else "")
    console.print(f"[bold]{results[0].spec}[/]: {info.summary()}{sparse}")  # the design's own line (its kind's info)
    for t in rich_tables(results):
        console.print(t)
    if info.attention_density < 1:
        from hyflexpim.hw.sparse_sweep import ACCURACY_CAVEAT

        dense = [r.key for r in results[1:] if r.info.attention_density >= 1]
        if dense:
            one = len(dense) == 1
            console.print(f"note: {', '.join(dense)} compute{'s' if one else ''} dense attention: ratios over "
                          f"{'it' if one else 'them'} include the sparsity's share (`python -m hyflexpim.hw.sweep "
                          "sparse` attributes it)")
        console.print(f"note: {ACCURACY_CAVEAT}")
    if band and any(r.key == "all_slc" for r in results):
        from hyflexpim.hw.uncertainty import gain_bands

        for line in gain_bands(subject, spec, "all_slc", seq, batch, gen_tokens, shape if plan is not None else None,
                               compare_mode):
            console.print(line + (f" (generation, {gen_tokens} tokens)" if results[-1].mode == "generation"
                                  else ""))
    if out is not None:
        from hyflexpim.report.hw_plots import write_plots
        from hyflexpim.report.results import write_set

        paths = write_set(out, lambda tmp: write_results(results, tmp) + write_plots(results, tmp))  # all or nothing
        console.print("wrote " + ", ".join(str(p) for p in paths))


def register(app: typer.Typer) -> None:
    """Add the ``hw`` command to the main app."""
    app.command("hw")(hw)
