"""Every file of a run folder, named in one place: the pipeline's steps, the report and the sweep all ask here.

    <run>/
      config.yaml                                   the resolved configuration
      evaluations.jsonl                             one line per finished evaluation (the resume log)
      models/<stage>.safetensors, <stage>.key.json  the cached models and the settings that made them
      models/fingerprint.txt, learned_ranks.json
      importance/<variant>-<scorer>.pt              importance scores (+ -concentration.json, -sensitivity-hw*.json)
      plans/<variant>-<scorer>-<policy>[-hw…]-slc<rate>[-<attention><keep>].json
      attention/codebooks-<variant>-M<m>K<k>.safetensors, attention analysis files
      results[-<label>].csv/.json, differences[-<label>].csv/.json, <metric>_vs_slc[-<label>].png
      hw/[<label>/]hw_results.csv …                 the price step's tables and figures
      learned_ranks.png, report.html

Nothing here reads or writes a file: these are names. No torch.
"""

from __future__ import annotations

from pathlib import Path

# the step folders a run makes (empty ones are tidied away after a refusal)
STEP_FOLDERS = ("models", "importance", "plans")
# the folders whose files belong to one model variant (their names start with ``<variant>-``)
VARIANT_FOLDERS = ("importance", "plans", "attention")
# what a sweep makes once and links into the run folders that share it
SHARED_FOLDERS = ("models", "importance")
CODEBOOKS_PREFIX = "codebooks-"
SWEEP_CELL = "sweep_cell.json"
SWEEP_RECORDS = "sweep_records.jsonl"


def _suffix(label: str) -> str:
    return f"-{label}" if label else ""


class RunFolder:
    """The names of a run folder's files (``root`` is the run's ``out``)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    # -- configuration and the evaluation log ----------------------------------------------------
    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def evaluations(self) -> Path:
        return self.root / "evaluations.jsonl"

    # -- models ------------------------------------------------------------------------------------
    def model(self, stage: str) -> Path:
        return self.root / "models" / f"{stage}.safetensors"

    def model_key(self, stage: str) -> Path:
        return self.root / "models" / f"{stage}.key.json"

    @property
    def fingerprint(self) -> Path:
        return self.root / "models" / "fingerprint.txt"

    @property
    def learned_ranks(self) -> Path:
        return self.root / "models" / "learned_ranks.json"

    # -- importance, sensitivity, codebooks, plans --------------------------------------------------
    def importance(self, variant: str, scorer: str) -> Path:
        return self.root / "importance" / f"{variant}-{scorer}.pt"

    def concentration(self, variant: str, scorer: str) -> Path:
        return self.root / "importance" / f"{variant}-{scorer}-concentration.json"

    def concentrations(self) -> list[Path]:
        return sorted((self.root / "importance").glob("*-concentration.json"))

    def sensitivity(self, variant: str, unit: str, hw_digest: str) -> Path:
        return self.root / "importance" / f"{variant}-{unit}-sensitivity-hw{hw_digest}.json"

    def codebooks(self, variant: str, subspaces: int, centroids: int) -> Path:
        return self.root / "attention" / f"{CODEBOOKS_PREFIX}{variant}-M{subspaces}K{centroids}.safetensors"

    def plan(self, variant: str, scorer: str, policy: str, rate: float, hw_tag: str = "",
             attention: str = "") -> Path:
        """``hw_tag``: ``-hw<digest>`` for a policy that reads the hardware; ``attention``: ``-<kind><keep>`` for a
        sparse attention block (the dense plan of the same placement has none)."""
        return self.root / "plans" / f"{variant}-{scorer}-{policy}{hw_tag}-slc{rate:g}{attention}.json"

    @property
    def plans_folder(self) -> Path:
        return self.root / "plans"

    def plans(self) -> list[Path]:
        return sorted(self.plans_folder.glob("*.json"))

    def variant_files(self, variants: set[str]) -> list[Path]:
        """The importance scores, plans and codebooks made from these model variants."""
        out = []
        for folder in VARIANT_FOLDERS:
            d = self.root / folder
            for f in sorted(d.glob("*")) if d.is_dir() else []:
                stem = f.name.removeprefix(CODEBOOKS_PREFIX)
                if f.is_file() and any(stem.startswith(v + "-") for v in variants):
                    out.append(f)
        return out

    # -- results and report ---------------------------------------------------------------------------
    def results(self, label: str = "", ext: str = "csv") -> Path:
        return self.root / f"results{_suffix(label)}.{ext}"

    def differences(self, label: str = "", ext: str = "csv") -> Path:
        return self.root / f"differences{_suffix(label)}.{ext}"

    def metric_plot(self, task_kind: str, label: str = "") -> Path:
        name = "accuracy_vs_slc" if task_kind == "classification" else "perplexity_vs_slc"
        return self.root / f"{name}{_suffix(label)}.png"

    def metric_plots(self, label: str = "") -> list[Path]:
        return [p for p in (self.metric_plot("classification", label), self.metric_plot("lm", label)) if p.exists()]

    def labels(self) -> list[str]:
        """The labelled variants of the folder (results-<label>.csv), the unlabelled run first ('')."""
        out = [""] if self.results().exists() else []
        out += sorted(p.stem.removeprefix("results-") for p in self.root.glob("results-*.csv"))
        return out

    def hw(self, label: str = "") -> Path:
        """The price step's folder: ``hw/`` (``hw/<label>/`` for a labelled variant)."""
        return self.root / "hw" / label if label else self.root / "hw"

    def hw_results(self, label: str = "") -> Path:
        return self.hw(label) / "hw_results.csv"

    def hw_folders(self) -> list[Path]:
        """Every price step's folder holding a table (the unlabelled one first)."""
        hw = self.hw()
        return [d for d in sorted([hw] + [p for p in hw.glob("*") if p.is_dir()]) if (d / "hw_results.csv").exists()]

    @property
    def attention(self) -> Path:
        return self.root / "attention"

    @property
    def learned_ranks_figure(self) -> Path:
        return self.root / "learned_ranks.png"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    # -- a sweep cell's own files (the cell is an ordinary run folder), and a shared steps folder's log ----------
    @property
    def sweep_cell(self) -> Path:
        """The record of a finished cell (its configuration digest, status, time)."""
        return self.root / SWEEP_CELL

    @property
    def sweep_records(self) -> Path:
        """The cell's evaluation records (the paired differences between cells read them)."""
        return self.root / SWEEP_RECORDS

    @property
    def sweep_log(self) -> Path:
        return self.root / "sweep_cell.log"

    @property
    def shared_log(self) -> Path:
        return self.root / "shared.log"
