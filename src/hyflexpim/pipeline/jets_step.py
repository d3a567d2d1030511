"""``hyflexpim jets analyze``: ParT's attention on jets (binary pattern, pair-bias separation, subjets, η–φ graphs)
and its accuracy with top-k sparse attention, written to one folder.

    files = analyze_jets(model, data, Path("runs/part-jets/jets"))
"""

from __future__ import annotations

import json
from pathlib import Path

from hyflexpim.atomic import write_atomic
from hyflexpim.report.attention_tables import _csv


def sparse_accuracy(model, data, ks=(1, 2, 4), split: str = "test", index=None) -> list[dict]:
    """Accuracy and mean AUC (over the classes present) with top-k attention in every particle-attention block,
    against dense, on ``split`` or on ``index`` (jets of that split)."""
    from hyflexpim.models.part import topk_attention
    from hyflexpim.pipeline.jets_train import mean_auc, measure

    rows = []
    for k in (None, *ks):
        with topk_attention(model, k):
            m = measure(model, data, split, index=index)
        rows.append({"attention": "dense" if k is None else f"top-{k}", "keep": k, "accuracy": m["accuracy"],
                     "mean_auc": mean_auc(m["auc"]), "classes_present": len(m["classes_present"]),
                     "jets": m["jets"]})
    dense = rows[0]["accuracy"]
    for r in rows:
        r["vs_dense"] = r["accuracy"] - dense
    return rows


def analyze_jets(model, data, out: Path, max_jets: int = 600, layer: int | None = None, threshold: float = 0.1,
                 ks=(1, 2, 4), progress: bool = False, say=print) -> list[Path]:
    from hyflexpim.analysis.jets import analyze_part
    from hyflexpim.data import jet_batches
    from hyflexpim.data.jets import PARTICLE_TYPES
    from hyflexpim.pipeline.jets_train import measure
    from hyflexpim.report.attention_tables import write_attention
    from hyflexpim.report.jets_plots import eta_phi_graph, subjet_share

    out = Path(out)
    index = data.split_indices("test")[:max_jets]  # a random sample of the test split (it is shuffled)
    res = analyze_part(model, data, index, jet_batches(data, index, 64), progress=progress)
    last = max(res.full.layers)
    layer = last if layer is None else layer
    if res.examples:
        res.full.example = res.examples[0]["attention"]
        abbrev = ["h±", "h0", "γ", "e", "μ"]
        res.full.tokens = [abbrev[t] if t >= 0 else "?" for t in res.examples[0]["type"]]
    files = write_attention(res.full, out)
    files += write_attention(res.attention_only, out / "attention_only")
    binary = res.binary_table()
    acc = measure(model, data, "test", index=index)  # the same jets as the attention statistics
    sparse = sparse_accuracy(model, data, ks, index=index)
    one_class = len(acc["classes_present"]) < 2
    summary = {"jets_analyzed": res.full.examples, "classes": res.class_names, "test": acc, "binary": binary,
               "correlation_per_head": {str(k): v for k, v in res.correlation.items()}, "subjets": res.subjets,
               "sparse_attention": sparse, "particle_types": PARTICLE_TYPES, "one_class": one_class,
               "what": "test and sparse_attention: the same jets_analyzed jets; mean_auc over the classes present; "
                       "binary = share of attention rows (real particles) with max >= 0.9; k90 = fewest keys holding "
                       "90 % of a row's mass; attention_only = softmax(log(P + 1e-9) - U); within = attention mass "
                       "on the own exclusive-kT subjet (mean over heads), uniform = the same for uniform attention"}
    files += [write_atomic(out / "jets_attention.json", json.dumps(summary, indent=1)),
              write_atomic(out / "jets_binary.csv", _csv(binary)),
              write_atomic(out / "jets_subjets.csv", _csv(res.subjets)),
              write_atomic(out / "jets_sparse_attention.csv", _csv(sparse))]
    title = f"ParT '{model.config.name}' on {data.meta.get('source', 'generated jets')}"
    files.append(eta_phi_graph(res.examples, layer, threshold, out / "jets_eta_phi.png", title, PARTICLE_TYPES))
    files.append(subjet_share(res.subjets, out / "jets_subjet_share.png", f"{title}: attention within the own subjet"))
    for row in binary:
        say(f"layer {row['layer']}: {100 * row['binary']:.0f} % of rows binary (max ≥ 0.9), mean k90 "
            f"{row['k90']:.1f}; pair bias removed: {100 * row['binary_attention_only']:.0f} %, k90 "
            f"{row['k90_attention_only']:.1f}; correlation {row['correlation']:.2f}")
    if one_class:
        say(f"only {', '.join(acc['classes_present']) or 'no class'} in these {acc['jets']} jets: accuracy is the "
            "share called that class and no AUC exists; the top-k comparison below says little")
    for r in sparse:
        say(f"{r['attention']}: accuracy {100 * r['accuracy']:.1f} % ({100 * r['vs_dense']:+.1f} vs dense) on "
            f"{r['jets']} jets")
    return files
