"""``hyflexpim jets``: generate JetClass-like jets, train the Particle Transformer on them, analyse its attention."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from hyflexpim.errors import UserError

# Imports inside the commands are lazy on purpose: `hyflexpim --help` and each command load only what they run
# (torch, transformers, pydantic and matplotlib stay out of start-up; checked with `python -X importtime`).

jets_app = typer.Typer(no_args_is_help=True, help="Jets: generate (Pythia 8 + FastJet), train ParT, analyse attention.")

DataOpt = typer.Option("jets", "--data", help="jets (the shipped sample) | a folder or .npz from `jets generate` | "
                                              "JetClass .root files (a path or a glob)")
QuietOpt = typer.Option(False, "--quiet", "-q", help="no progress bars")


def generate(out: Path = typer.Option(..., "--out", help="folder for the jets (parts/ and jets.npz)"),
             per_class: int = typer.Option(200, "--jets-per-class", help="jets kept per class"),
             events: int | None = typer.Option(None, "--events", "--jets", hidden=True,
                                                  help="old name of --jets-per-class (one release)"),
             seed: int = typer.Option(0, "--seed", help="seed of the Pythia random streams"),
             chunk: int = typer.Option(100, "--chunk", help="jets per chunk (the unit of resuming)"),
             classes: str | None = typer.Option(None, "--classes", help="comma-separated subset of "
                                                   "QCD,Hbb,Tbqq,Wqq,Zqq (default: all)"),
             workers: int = typer.Option(1, "--workers", help="processes generating chunks side by side"),
             level: str = typer.Option("detector", "--level", help="detector (the parametric CMS-like detector stage, "
                                       "as JetClass's Delphes) | particle (generator level)"),
             quiet: bool = QuietOpt) -> None:
    """Pythia 8 pp collisions at 13.6 TeV → anti-kT R = 0.8 jets, 500 < pT < 1000 GeV, |η| < 2 → JetClass-style
    features; resumable (chunks), seeded; detector level by default. Needs the jets extra (pythia8mc, fastjet)."""
    from hyflexpim.data.jets import load_jets
    from hyflexpim.data.jets_generate import generate as run

    if events is not None:
        typer.echo("note: --events/--jets are the old names of --jets-per-class (they always counted jets per class); "
                   "they go in the next release", err=True)
        per_class = events
    if not 0 <= seed < 9000:
        raise UserError(f"--seed must be in 0..8999 (Pythia seeds are at most 900,000,000), got {seed}")
    names = [c.strip() for c in classes.split(",") if c.strip()] if classes else None
    if not 1 <= workers <= 256:
        raise UserError(f"--workers must be in 1..256, got {workers}")
    t = time.perf_counter()
    path = run(out, per_class, seed, chunk, names, show_progress=not quiet, workers=workers, level=level)
    data = load_jets(str(path))
    m = data.meta
    typer.echo(f"wrote {path}: {len(data)} jets {data.class_counts()} from {m['events']} events in "
               f"{time.perf_counter() - t:.0f} s ({m['jets_per_second_per_process']} jets/s per process)")


def train(data: str = DataOpt,
          config: str = typer.Option("small", "--config", help="ParT configuration: small | paper"),
          features: str = typer.Option("full", "--features", help="ParT's input set: kin | kinpid | full "
                                       "(JetClass_{kin,kinpid,full}.yaml)"),
          epochs: float | None = typer.Option(None, "--epochs", help="passes over the training split"),
          out: Path | None = typer.Option(None, "--out", help="checkpoint to write (default: the packaged `part` "
                                             "model's cache, for the shipped sample and the default settings)"),
          checkpoint_every: int | None = typer.Option(None, "--checkpoint-every", help="with --out: steps between "
                                                         "training checkpoints (<out>.ckpt; default: every epoch)"),
          quiet: bool = QuietOpt) -> None:
    """Train ParT on the training split; prints test accuracy and per-class one-vs-rest AUC. With --out, a
    checkpoint (<out>.ckpt) is written every epoch: after an interruption the same command resumes from it."""
    from hyflexpim.atomic import write_atomic
    from hyflexpim.data.jets import load_jets
    from hyflexpim.models.part import CONFIGS, FEATURE_SETS, save_part
    from hyflexpim.pipeline.jets_train import JetTrainConfig, packaged_part, train_part

    if config not in CONFIGS:
        raise UserError(f"--config must be one of {', '.join(CONFIGS)}, got {config!r}")
    if features not in FEATURE_SETS:
        raise UserError(f"--features must be one of {', '.join(FEATURE_SETS)}, got {features!r}")
    if checkpoint_every is not None and checkpoint_every < 1:
        raise UserError(f"--checkpoint-every must be at least 1, got {checkpoint_every}")
    if epochs is not None and not 0 < epochs <= 1000:
        raise UserError(f"--epochs must be in (0, 1000], got {epochs:g}")
    default = data == "jets" and config == "small" and epochs is None and features == "full"
    if out is None and default:
        path = packaged_part(not quiet, typer.echo)
        report = json.loads(path.with_suffix(".json").read_text())
    else:
        if out is None:
            raise UserError("--out is needed for other data or settings (the packaged `part` model is the shipped "
                            "sample with the default settings)")
        if out.suffix not in (".pt", ".pth"):
            raise UserError(f"--out must be a .pt file, got {out}")
        cfg = JetTrainConfig(config=config, features=features, **({"epochs": epochs} if epochs is not None else {}))
        ckpt = out.with_suffix(".ckpt")
        model, report = train_part(load_jets(data), cfg, not quiet, typer.echo, checkpoint=ckpt,
                                   checkpoint_every=checkpoint_every)
        path = save_part(model, out)
        write_atomic(out.with_suffix(".json"), json.dumps(report, indent=1))
        ckpt.unlink(missing_ok=True)  # the model is saved: the checkpoint has done its work
    t = report["test"]
    aucs = ", ".join(f"{c} {a:.3f}" for c, a in t["auc"].items() if a is not None)
    typer.echo(f"{path}: test accuracy {100 * t['accuracy']:.1f} % on {t['jets']} jets; one-vs-rest AUC {aucs}")


def analyze(model: str = typer.Option("part", "--model", help="part (the packaged ParT) | a ParT checkpoint .pt"),
            data: str = DataOpt, out: Path = typer.Option(Path("runs/part-jets/jets"), "--out", help="folder to write"),
            jets: int = typer.Option(600, "--jets", help="test jets to analyse"),
            layer: int | None = typer.Option(None, "--layer", help="block of the η–φ graph (default: the last)"),
            threshold: float = typer.Option(0.1, "--threshold", help="attention above which the graph draws a pair"),
            quiet: bool = QuietOpt) -> None:
    """ParT's attention on test jets: binary pattern per layer, with and without the pair bias, subjet shares,
    η–φ graphs; accuracy with top-1/2/4 attention. Jets of the other kind (JetClass's ten labels, the five generated
    classes) go through the class map."""
    from hyflexpim.data.jets import load_jets
    from hyflexpim.data.jets_classes import to_model_classes
    from hyflexpim.models.load import load_model
    from hyflexpim.pipeline.jets_step import analyze_jets

    if not 1 <= jets <= 1_000_000:
        raise UserError(f"--jets must be in 1..1,000,000, got {jets}")
    if not 0 < threshold < 1:
        raise UserError(f"--threshold must be in (0, 1), got {threshold:g}")
    d = load_jets(data)
    if model.lower() == "part":
        from hyflexpim.pipeline.jets_train import packaged_part

        packaged_part(not quiet, typer.echo)
    m, _ = load_model(model, "classification", None)
    d = to_model_classes(d, m.config.class_names, say=typer.echo)
    if layer is not None and not 0 <= layer < m.config.num_layers:
        raise UserError(f"--layer must be in 0..{m.config.num_layers - 1}, got {layer}")
    files = analyze_jets(m, d, out, jets, layer, threshold, progress=not quiet, say=typer.echo)
    typer.echo(f"wrote {len(files)} files to {out}")


def stats(data: str = DataOpt) -> None:
    """Per class: jet mass peak and core width, constituents, share below 1 GeV, leading-constituent share of the
    jet pT, jet width (pT-weighted mean ΔR), photon share — to set generated jets beside JetClass."""
    from hyflexpim.data.jets import load_jets
    from hyflexpim.data.jets_stats import jet_observables

    d = load_jets(data)
    typer.echo(f"{data}: {len(d)} jets, {d.meta.get('source', '')}")
    typer.echo("class  jets  mass peak  core σ  constituents  <1 GeV  leading  width  photons")
    for r in jet_observables(d):
        typer.echo(f"{r['class']:<6} {r['jets']:>4}  {r['mass_peak']:7.1f}  {r['mass_core_sigma']:6.1f}  "
                   f"{r['constituents']:10.1f}  {100 * r['below_1gev']:5.1f} %  {r['leading_fraction']:6.3f}  "
                   f"{r['width']:.3f}  {100 * r['photons']:5.1f} %")


def export(data: str = DataOpt, out: Path = typer.Option(..., "--out", help="ROOT file to write"),
           jets: int | None = typer.Option(None, "--jets", help="only the first N jets of the test split")) -> None:
    """Write jets as a JetClass-layout ROOT file (tree `tree`, part_*, jet_*, label_* through the class map), for
    weaver, the ParT repository or `jets analyze --data file.root`."""
    from hyflexpim.data.jetclass_root import write_jetclass
    from hyflexpim.data.jets import load_jets, subset

    if out.suffix != ".root":
        raise UserError(f"--out must be a .root file, got {out}")
    d = load_jets(data)
    if jets is not None:
        if jets < 1:
            raise UserError(f"--jets must be at least 1, got {jets}")
        d = subset(d, d.split_indices("test")[:jets])
    out.parent.mkdir(parents=True, exist_ok=True)
    write_jetclass(d, out)
    typer.echo(f"wrote {out}: {len(d)} jets {d.class_counts()}")


def _csv_list(text: str, name: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise UserError(f"{name} needs at least one value")
    return items


def study(data: str | None = typer.Option(None, "--data", help="jets from `jets generate` (a folder or .npz)"),
          spec: Path | None = typer.Option(None, "--spec", help="a study file (YAML, StudyConfig's fields, e.g. "
                                              "sweeps/jets_study.yaml); command-line options given override it"),
          out: Path = typer.Option(Path("runs/jets-study"), "--out", help="folder of the points, table and figure"),
          sizes: str | None = typer.Option(None, "--sizes", help="training jets per point, e.g. "
                                              "3000,12000,50000,100000"),
          models: str | None = typer.Option(None, "--models", help="small,paper"),
          pair_bias: str | None = typer.Option(None, "--pair-bias", help="on,off"),
          features: str | None = typer.Option(None, "--features", help="kin | kinpid | full"),
          epochs: float | None = typer.Option(None, "--epochs", help="passes over each point's training jets"),
          analysis_jets: int | None = typer.Option(None, "--analysis-jets", help="test jets analysed per point"),
          checkpoint_every: int | None = typer.Option(None, "--checkpoint-every",
                                                         help="training steps between checkpoints (default: epoch)"),
          dry_run: bool = typer.Option(False, "--dry-run", help="print the plan and a time estimate; run nothing"),
          quiet: bool = QuietOpt) -> None:
    """The scale study: ParT at each training-set size, model size and pair-bias setting, trained (resumably: rerun
    the same command after an interruption) and analysed; writes study.csv, study_blocks.csv and study.png."""
    import yaml
    from pydantic import ValidationError

    from hyflexpim.pipeline.jets_study import StudyConfig, plan, run_study

    fields: dict = {}
    if spec is not None:
        try:
            fields = yaml.safe_load(spec.read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise UserError(f"cannot read study file {spec}: {str(e).splitlines()[0]}") from None
        if not isinstance(fields, dict):
            raise UserError(f"study file {spec} must be a mapping of StudyConfig's fields")
    if data is not None:
        fields["data"] = data
    if sizes is not None:
        try:
            fields["sizes"] = [int(s.replace("_", "")) for s in _csv_list(sizes, "--sizes")]
        except ValueError:
            raise UserError(f"--sizes must be comma-separated whole numbers, got {sizes!r}") from None
    if models is not None:
        fields["models"] = _csv_list(models, "--models")
    if pair_bias is not None:
        words = _csv_list(pair_bias, "--pair-bias")
        if any(w not in ("on", "off") for w in words):
            raise UserError(f"--pair-bias takes on and/or off, got {pair_bias!r}")
        fields["pair_bias"] = [w == "on" for w in words]
    for key, value in (("features", features), ("epochs", epochs), ("analysis_jets", analysis_jets),
                       ("checkpoint_every", checkpoint_every)):
        if value is not None:
            fields[key] = value
    if "data" not in fields:
        raise UserError("--data (or data: in the --spec file) is needed")
    try:
        cfg = StudyConfig(**fields)
    except ValidationError as e:
        err = e.errors()[0]
        raise UserError(f"study setting {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    for line in plan(cfg, out):
        typer.echo(line)
    if dry_run:
        return
    rows = run_study(cfg, out, not quiet, typer.echo)
    for r in rows:
        typer.echo(f"{r['model']:<6} pair bias {'on ' if r['pair_bias'] else 'off'} {r['train_jets']:>7} jets: "
                   f"binary {100 * r['binary_mean']:.1f} % (last block {100 * r['binary_last']:.1f} %), k90 "
                   f"{r['k90_mean']:.1f}, accuracy {100 * r['accuracy']:.1f} %")
    typer.echo(f"wrote {out / 'study.csv'}, {out / 'study_blocks.csv'} and {out / 'study.png'}")


def register(app: typer.Typer, guarded) -> None:
    for fn in (generate, train, analyze, stats, export, study):
        jets_app.command(fn.__name__)(guarded(fn))
    app.add_typer(jets_app, name="jets")
