"""The `hyflexpim` command: parse, run, print. Bad input ends in one line and exit code 2."""

from __future__ import annotations

import errno
import functools
import os
import re
import time
import traceback
from pathlib import Path

import typer

from hyflexpim.cli.switches import show_switches_as_switches
from hyflexpim.errors import UserError

# Imports inside the commands are lazy on purpose: `hyflexpim --help` and each command load only what they run
# (torch, transformers, pydantic and matplotlib stay out of start-up; checked with `python -X importtime`).

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_show_locals=False,
                  help="HyFlexPIM: hybrid SLC/MLC RRAM PIM for transformers — accuracy and chip cost from one plan.")

ConfigOpt = typer.Option(None, "--config", "-c", help="YAML run configuration")
DecoderOpt = typer.Option(False, "--decoder", help="decoder defaults: SmolLM2-135M on Wikipedia text, perplexity")
ModelOpt = typer.Option(None, help="minilm | smollm2 | a local model folder | a hub id")
TaskOpt = typer.Option(None, help="rotten_tomatoes | wikipedia | a .csv/.jsonl/.parquet/.txt file")
OutOpt = typer.Option(None, help="run folder (results, plans, cached steps)")
RatesOpt = typer.Option(None, "--slc-rates", help="comma-separated SLC rates in %, e.g. 0,5,10,100")
SeedsOpt = typer.Option(None, "--noise-seeds", help="number of noise seeds (Monte Carlo)")
SetOpt = typer.Option(None, "--set", help="override any config field: --set plan.policy=global (repeatable)")
QuietOpt = typer.Option(False, "--quiet", "-q", help="no progress bars")


ThreadsOpt = typer.Option(None, "--threads", help="torch/BLAS threads (default: $HYFLEXPIM_THREADS, else the CPUs "
                          "this process may use: affinity and cgroup quota)")


@app.callback()
def _start(threads: int | None = ThreadsOpt) -> None:
    """HyFlexPIM: hybrid SLC/MLC RRAM PIM for transformers — accuracy and chip cost from one plan."""
    from hyflexpim.cli.threads import configure  # lazy: not needed by --help

    try:
        configure(threads)
    except UserError as e:
        fail(str(e))


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


# errors of the user's machine, not of hyflexpim: one line naming the path, exit 2
OS_ERRORS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
             errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
             errno.EROFS: "read-only file system"}


def crash_log(exc: BaseException) -> str:
    """Write the traceback of an unexpected exception to a log file; returns its path."""
    import tempfile  # lazy: only a crash needs it (keeps start-up as it was)

    text = "".join(traceback.format_exception(exc))
    for folder in (Path.cwd(), Path(tempfile.gettempdir())):
        try:
            path = folder / f"hyflexpim-crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
            path.write_text(text)
            return str(path)
        except OSError:
            continue
    return "(no writable folder for the log)"


def _tidy() -> None:
    """After a refused or failed command: the run folders it created and left without a result go again."""
    from hyflexpim.pipeline.workspace import tidy_new_folders  # lazy: start-up loads only what --help needs

    tidy_new_folders()


def guarded(fn):
    """Turn a UserError into one line on stderr and exit code 2; an interrupt into a resume hint; a full disk or a
    refused permission into one line naming the path (exit 2); anything else — a bug in hyflexpim — into one line
    with the path of a log holding the traceback (exit 1)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as e:
            _tidy()
            fail(str(e))
        except KeyboardInterrupt:
            _tidy()
            fail("interrupted: finished steps are saved; run the same command again to resume", 130)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except OSError as e:
            _tidy()
            if e.errno in OS_ERRORS:
                where = f" writing {e.filename}" if e.filename else ""
                fail(f"{OS_ERRORS[e.errno]}{where}: finished steps are kept; free space or fix the permission and "
                     "run the same command again")
            fail(f"unexpected {type(e).__name__}: {e} (traceback in {crash_log(e)}; please report it)", 1)
        except Exception as e:
            _tidy()
            fail(f"unexpected {type(e).__name__}: {str(e)[:200]} (traceback in {crash_log(e)}; please report it)", 1)

    return wrapper


def command(fn):
    return app.command(fn.__name__.replace("_", "-"))(guarded(fn))


def _numbers(text: str, flag: str, percent: bool = False) -> list[float]:
    """Comma-separated numbers of one option (percentages in 0..100 when ``percent``), or one line saying so."""
    what = "percentages in 0..100" if percent else "numbers"
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"{flag} must be {what} separated by commas, got '{text}'") from None
    if not values or (percent and any(not 0 <= x <= 100 for x in values)):
        raise UserError(f"{flag} must be {what} separated by commas, got '{text}'")
    return values


def _overrides(model, task, out, slc_rates, noise_seeds, sets) -> dict:
    from hyflexpim.pipeline.resolve import parse_set

    o = parse_set(sets or [])
    if model:
        o["model"] = model
    if task:
        o["task"] = task
    if out:
        o["out"] = out
    if slc_rates:
        o.setdefault("plan", {})["slc_rates"] = _numbers(slc_rates, "--slc-rates")  # the range: the config's check
    if noise_seeds is not None:
        if noise_seeds < 1:
            raise UserError(f"--noise-seeds must be >= 1, got {noise_seeds}")
        o["noise_seeds"] = list(range(noise_seeds))
    return o


def _open_run(config, decoder, model, task, out, slc_rates, noise_seeds, sets, quiet, may_train=None,
              write_config=True, recompute=True):
    """Resolve and validate the whole configuration (before any model is loaded), then open the run folder."""
    from hyflexpim.pipeline.resolve import resolve_config
    from hyflexpim.pipeline.run import Run

    cfg = resolve_config(config, decoder, _overrides(model, task, out, slc_rates, noise_seeds, sets))
    if quiet:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    return Run.open(cfg, say=typer.echo, progress=not quiet, write_config=write_config, may_train=may_train,
                    recompute=recompute)


@command
def run(config: str | None = ConfigOpt, decoder: bool = DecoderOpt, model: str | None = ModelOpt,
        task: str | None = TaskOpt, out: str | None = OutOpt, slc_rates: str | None = RatesOpt,
        noise_seeds: int | None = SeedsOpt, set_: list[str] | None = SetOpt, quiet: bool = QuietOpt,
        no_recompute: bool = typer.Option(False, "--no-recompute",
                                          help="refuse, naming the field, instead of recomputing a cached model that "
                                               "was made with other settings"),
        dry_run: bool = typer.Option(False, "--dry-run", help="print the steps with parameter, memory and time "
                                     "estimates for the visible devices, loading no weights and no data")):
    """Everything: fine-tune, decompose, redistribute, plan, evaluate under noise, report."""
    from hyflexpim.pipeline.runner import run_steps

    if dry_run:
        from hyflexpim.pipeline.dry_run import dry_run as print_dry_run
        from hyflexpim.pipeline.resolve import resolve_config

        print_dry_run(resolve_config(config, decoder, _overrides(model, task, out, slc_rates, noise_seeds, set_)),
                      say=typer.echo)
        return

    r = _open_run(config, decoder, model, task, out, slc_rates, noise_seeds, set_, quiet, recompute=not no_recompute)
    run_steps(r)  # (under accelerate launch the other processes share the training steps and stop)


def _model_step(name: str, method: str, artefact: str, may_train: set, doc: str):
    """A step command that opens the run, builds one model (training only what the step is named for)
    and says which file it wrote."""

    def step(config: str | None = ConfigOpt, decoder: bool = DecoderOpt, model: str | None = ModelOpt,
             task: str | None = TaskOpt, out: str | None = OutOpt, slc_rates: str | None = RatesOpt,
             noise_seeds: int | None = SeedsOpt, set_: list[str] | None = SetOpt, quiet: bool = QuietOpt):
        from hyflexpim.pipeline import model_steps  # lazy: torch stays out of the CLI's start-up

        r = _open_run(config, decoder, model, task, out, slc_rates, noise_seeds, set_, quiet, may_train)
        getattr(model_steps, method)(r)
        if method == "finetuned" and r.config.pre_finetune is None:
            typer.echo("pre_finetune is null in this configuration: the pretrained model is used as it is")
        else:
            typer.echo(f"wrote {r.files.model(artefact)}")

    step.__doc__ = doc
    step.__name__ = name.replace("-", "_")
    return step


pre_finetune = command(_model_step(
    "pre-finetune", "finetuned", "finetuned", {"pre-finetune"},
    "Fine-tune the FP32 model on the task (before SVD; fits a classification head); writes "
    "models/finetuned.safetensors."))
decompose = command(_model_step(
    "decompose", "decomposed", "decomposed", set(),
    "Replace the chosen matrices of the fine-tuned model by their SVD; writes models/decomposed.safetensors."))
redistribute = command(_model_step(
    "redistribute", "redistributed", "redistributed", {"redistribute"},
    "Gradient redistribution: fine-tune the decomposed model; writes models/redistributed.safetensors."))


@app.command("finetune", hidden=True)
@guarded
def finetune_alias(config: str | None = ConfigOpt, decoder: bool = DecoderOpt, model: str | None = ModelOpt,
                   task: str | None = TaskOpt, out: str | None = OutOpt, slc_rates: str | None = RatesOpt,
                   noise_seeds: int | None = SeedsOpt, set_: list[str] | None = SetOpt, quiet: bool = QuietOpt):
    """Deprecated name of `redistribute` (kept for one release)."""
    typer.echo("note: `hyflexpim finetune` is deprecated (it runs gradient redistribution): use "
               "`hyflexpim redistribute`; the FP32 fine-tune is `hyflexpim pre-finetune`", err=True)
    redistribute.__wrapped__(config, decoder, model, task, out, slc_rates, noise_seeds, set_, quiet)


@command
def plan(config: str | None = ConfigOpt, decoder: bool = DecoderOpt, model: str | None = ModelOpt,
         task: str | None = TaskOpt, out: str | None = OutOpt, slc_rates: str | None = RatesOpt,
         noise_seeds: int | None = SeedsOpt, set_: list[str] | None = SetOpt, quiet: bool = QuietOpt):
    """Score importance and write one plan per SLC rate into plans/."""
    from hyflexpim.pipeline.plan_step import plan as make_plan  # lazy: torch stays out of the CLI's start-up

    r = _open_run(config, decoder, model, task, out, slc_rates, noise_seeds, set_, quiet, set())
    for rate in r.config.plan.slc_rates:
        p = make_plan(r, "redistributed", r.config.importance.scorer, rate)
        typer.echo(f"plan SLC {rate:g}%: {p.slc_weight_fraction:.1%} of analog weights in SLC "
                   f"({len(p.analog)} analog, {len(p.digital)} digital matrices)")
    typer.echo(f"plans in {r.files.plans_folder}")


@command
def evaluate(config: str | None = ConfigOpt, decoder: bool = DecoderOpt, model: str | None = ModelOpt,
             task: str | None = TaskOpt, out: str | None = OutOpt,
             plan_file: str | None = typer.Option(None, "--plan", help="a plan JSON to evaluate"),
             slc_rates: str | None = RatesOpt, noise_seeds: int | None = SeedsOpt,
             set_: list[str] | None = SetOpt, quiet: bool = QuietOpt):
    """Evaluate plans under noise (the run's plans, or one --plan file) and print one line per rate."""
    from hyflexpim.pipeline.evaluate_step import evaluate_plan  # lazy: torch stays out of the CLI's start-up
    from hyflexpim.pipeline.plan_step import check_plan_early
    from hyflexpim.plan import load_plan
    from hyflexpim.report.results import terminal_line

    p = load_plan(plan_file) if plan_file else None  # a bad plan is refused before the run folder is touched
    r = _open_run(config, decoder, model, task, out, slc_rates, noise_seeds, set_, quiet, set())
    if p is not None:
        check_plan_early(r, p)
        variant = p.policy.get("variant", "redistributed")
        rate = float(p.policy.get("slc_rate", 100 * p.slc_weight_fraction))
        recs = evaluate_plan(r, variant, p.policy.get("scorer", "custom"), rate, plan=p)
        typer.echo(terminal_line(variant, p.policy.get("scorer", "custom"), rate, recs))
        return
    for rate in r.config.plan.slc_rates:
        recs = evaluate_plan(r, "redistributed", r.config.importance.scorer, rate)
        typer.echo(terminal_line("redistributed", r.config.importance.scorer, rate, recs))


@command
def attention(config: str | None = ConfigOpt, decoder: bool = DecoderOpt, model: str | None = ModelOpt,
              task: str | None = TaskOpt, out: str | None = OutOpt,
              examples: int = typer.Option(32, "--examples", help="test examples analysed"),
              slc_rates: str | None = typer.Option(None, "--slc-rates", "--slc-rate",
                                                      help="SLC rates of the PIM twins compared (e.g. 0,10,100)"),
              plan_file: str | None = typer.Option(None, "--plan", help="also this plan's twin (made for the model)"),
              set_: list[str] | None = SetOpt, quiet: bool = QuietOpt):
    """Attention of the model (the run's redistributed one when --out holds it): heat maps, score histograms,
    per-head sparsity, and what the PIM twin does to them; writes <out>/attention/."""
    from hyflexpim.pipeline.attention_step import run_attention_analysis

    asked = sorted(set(_numbers(slc_rates, "--slc-rates", percent=True))) if slc_rates is not None else None
    if plan_file:
        from hyflexpim.plan import load_plan

        load_plan(plan_file)  # a bad plan is refused before the run folder is touched, as by evaluate and hw
    r = _open_run(config, decoder, model, task, out, None, None, set_, quiet, set())
    rates = r.config.attention.slc_rates if asked is None else asked
    files = run_attention_analysis(r, examples, rates, plan_file)
    more = f" and {len(files) - 6} more" if len(files) > 6 else ""
    typer.echo("wrote " + ", ".join(str(f) for f in files[:6]) + more)


@command
def sweep_device(config: str | None = ConfigOpt, decoder: bool = DecoderOpt, out: str | None = OutOpt,
                 noise: str = typer.Option("levels", help="levels (MLC level error rate) | levels-sigma "
                                                           "(MLC programming σ, µS) | paper (relative σ of a slice)"),
                 grid: str | None = typer.Option(None, help="comma-separated MLC qualities (default: a log grid)"),
                 slc_rates: str | None = typer.Option("0,5,10,100", "--slc-rates", help="SLC rates in %"),
                 tolerance: float = typer.Option(1.0, help="allowed loss against INT8, in accuracy points"),
                 name: str | None = typer.Option(None, help="name of the map's files (default: the noise kind)"),
                 noise_seeds: int | None = SeedsOpt, set_: list[str] | None = SetOpt, quiet: bool = QuietOpt):
    """Device-requirement map of a finished run: accuracy over a log grid of MLC quality × SLC rate, and for each
    rate the worst MLC cells that stay within --tolerance points of INT8; writes <out>/device/."""
    from hyflexpim.pipeline.device_sweep import AXES, check_grid
    from hyflexpim.pipeline.device_sweep import sweep_device as sweep

    values = _numbers(grid, "--grid") if grid else AXES[noise].grid if noise in AXES else []
    rates = _numbers(slc_rates or "", "--slc-rates", percent=True)
    if not 0 < tolerance < 100:
        raise UserError(f"--tolerance must be in (0, 100) accuracy points, got {tolerance:g}")
    if name is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise UserError(f"--name must be letters, digits, '_', '.', '-' (at most 64), got {name!r}")
    check_grid(noise, values)
    if config is None and out and (Path(out) / "config.yaml").is_file():
        config = str(Path(out) / "config.yaml")  # the run's own settings: its models were made with them
    r = _open_run(config, decoder, None, None, out, None, noise_seeds, set_, quiet, set(), write_config=False)
    if r.task.kind != "classification":
        raise UserError("sweep-device measures accuracy: give a classification run (perplexity is not supported yet)")
    files = sweep(r, noise, values, sorted(set(rates)), tolerance / 100, name)
    typer.echo("wrote " + ", ".join(str(f) for f in files))


@command
def report(sources: list[str] = typer.Argument(..., help="run folders (or results JSON files), each as PATH or "
                                                          "PATH:LABEL"),
           html: bool = typer.Option(False, "--html", help="write report.html: one self-contained page (a run "
                                                            "folder's own, or an overlay page of several)"),
           check: bool = typer.Option(False, "--check", help="with --html: render the page in headless Chromium, "
                                                              "check every figure and table, save report.png "
                                                              "beside it"),
           out: str | None = typer.Option(None, help="file to write (default: curves.png; with --html: "
                                                         "RUN/report.html for one folder, report.html for several)"),
           variant: str = typer.Option("redistributed"), scorer: str = typer.Option("grad_abs"),
           title: str = typer.Option("")):
    """The report of runs: --html writes one self-contained web page per run folder (or one over several); without
    it, the metric-vs-SLC curves of several runs overlaid in one PNG."""
    from hyflexpim.boundary import load_json
    from hyflexpim.report.plots import plot_overlay

    items = [(Path(p), name) for p, _, name in (s.partition(":") for s in sources)]
    if html:
        from hyflexpim.report.html_run import write_report

        for path, _ in items:
            if not path.is_dir() or not ((path / "results.csv").exists() or any(path.glob("results-*.csv"))
                                         or (path / "sweep_results.csv").exists()):
                raise UserError(f"--html takes run folders (holding results.csv from hyflexpim run), got {path}")
            from hyflexpim.report.results import check_hw_csv, check_results_csv

            for table in sorted(path.glob("results*.csv")):
                check_results_csv(table)  # a garbage or edited table is one line, not a page
            for table in sorted(path.glob("hw/**/hw_results.csv")):
                check_hw_csv(table)
        page = write_report([p for p, _ in items], Path(out) if out else None,
                            [name or p.name for p, name in items])
        typer.echo(f"wrote {page}")
        if check:
            from hyflexpim.report.browser import render

            shot = page.with_suffix(".png")
            seen = render(page, shot)
            typer.echo(f"rendered in headless Chromium: {len(seen.images)} figures, {len(seen.tables)} tables, "
                       f"{len(seen.sections)} sections; screenshot {shot}")
            if seen.problems:
                raise UserError("the page did not render completely: " + "; ".join(seen.problems[:5]))
        return
    if check:
        raise UserError("--check renders an HTML report: give --html too")
    series = []
    for path, name in items:
        if path.is_dir():
            path = path / "results.json"
        rows = load_json(path, "results file")
        need = {"variant", "scorer", "slc_rate", "mean", "std", "metric"}
        if not isinstance(rows, list) or not all(isinstance(r, dict) and need <= r.keys() for r in rows):
            raise UserError(f"results file {path} is not a results*.json written by hyflexpim run (a list of rows with "
                            f"{', '.join(sorted(need))})")
        from hyflexpim.report.results import check_result_row

        for i, row in enumerate(rows):
            check_result_row(row, f"results file {path} row {i}")  # an edited or corrupted row is one line
        series.append((name or path.stem, rows))
    typer.echo(f"wrote {plot_overlay(series, Path(out or 'curves.png'), variant, scorer, title)}")


@command
def sweep(file: str = typer.Argument(..., help="sweep YAML: a base run config plus a grid (or list) of overrides"),
          address: str | None = typer.Option(None, "--address", help="an existing Ray cluster: auto, host:port or "
                                                                        "ray://host:port (default: Ray embedded here)"),
          no_ray: bool = typer.Option(False, "--no-ray", help="run the cells one after another in this process"),
          out: str | None = typer.Option(None, help="sweep folder (default: the file's out, or runs/sweep-<name>)"),
          quiet: bool = QuietOpt):
    """Every cell of a sweep file as an ordinary run folder (shared steps made once, finished cells skipped), on Ray
    or in-process; then one combined table, overlay figures and the sweep's report.html."""
    from hyflexpim.sweep import run_sweep

    if quiet:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    res = run_sweep(file, ray=False if no_ray else (True if address else None), address=address, out=out,
                    progress=not quiet, say=typer.echo)
    done = sum(r["status"] == "done" for r in res.records)
    earlier = sum(bool(r.get("skipped")) for r in res.records)
    typer.echo(f"sweep done in {res.seconds / 60:.1f} min: {done} of {len(res.records)} cells finished ({earlier} "
               f"earlier); table: {res.folder / 'sweep_results.csv'}; report: {res.report}")
    if res.failed:
        typer.echo(f"error: {len(res.failed)} cell(s) failed: " + "; ".join(f"{r['name']}: {r['error']}"
                                                                          for r in res.failed[:3])
                   + f" (all in {res.folder / 'sweep_cells.csv'}); run the same command again to retry them", err=True)
        raise typer.Exit(1)


def _register_optional() -> None:
    from hyflexpim.cli.jets_cmd import register as register_jets

    register_jets(app, guarded)
    try:
        from hyflexpim.cli.hw_cmd import register
    except ImportError:
        return
    register(app)
    for c in app.registered_commands:  # every command, the hardware one too, ends bad input the same way
        if not hasattr(c.callback, "__wrapped__"):
            c.callback = guarded(c.callback)


_register_optional()
show_switches_as_switches(app)  # our own commands' class, set once every command is registered


def main() -> None:
    app()


if __name__ == "__main__":
    main()
