"""The Particle Transformer (ParT, Qu et al. 2022) from ``weaver-core``, as a model the pipeline can run.

``PartClassifier`` wraps ``weaver.nn.model.ParticleTransformer`` so that ``model(**batch)`` takes the jet batch
(``features`` [B, P, 17] normalized, ``vectors`` [B, P, 4], ``mask`` [B, P], ``labels``) and returns an object with
``logits`` and, given labels, ``loss``, as a Hugging Face classifier does. Its ``config`` names the sizes the
cost model reads. Two changes to weaver's attention, both exact (test_part): the packed input projection is called
as a module (``in_proj(x)``, so a decomposed or PIM layer in its place is used), and the attention probabilities
and the pair-interaction bias U can be captured (``capture_attention``) for the analysis.

Configurations by name (``CONFIGS``): ``small`` trains on 2 CPU cores in minutes; ``paper`` is ParT's own
(8 particle-attention blocks, 8 heads, embed dims [128, 512, 128], pair embed [64, 64, 64], 2 class-attention
blocks, the GELU after the pair embedding). Each reads one of ParT's three published input sets (``FEATURE_SETS``:
``kin``, ``kinpid``, ``full``) out of the 17 inputs the batches carry, and names its classes (``class_names``). A
user's checkpoint loads with ``load_part`` (``weights_only=True``): a hyflexpim one, or a weaver state dict in the
ParT repository's layout (``mod.``-prefixed, as ``networks/example_ParticleTransformer.py`` saves it), its
configuration and feature set read from the tensors' shapes (``weaver_config``).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from hyflexpim.errors import UserError

CONFIGS = {
    "small": {"embed_dims": [64, 128, 64], "pair_embed_dims": [16, 16, 16], "num_heads": 8, "num_layers": 3,
              "num_cls_layers": 1},
    # ParT's published network (particle_transformer networks/example_ParticleTransformer.py, get_model)
    "paper": {"embed_dims": [128, 512, 128], "pair_embed_dims": [64, 64, 64], "num_heads": 8, "num_layers": 8,
              "num_cls_layers": 2, "pre_activation_pair": False},
}
# ParT's three published input sets (particle_transformer data/JetClass/JetClass_{kin,kinpid,full}.yaml,
# `pf_features`, in order). The jet batches carry `full` (hyflexpim.data.jets.FEATURES, the same list: test_part);
# a model reads its set's columns of it
FEATURE_SETS = {
    "kin": ["part_pt_log", "part_e_log", "part_logptrel", "part_logerel", "part_deltaR", "part_deta", "part_dphi"],
    "kinpid": ["part_pt_log", "part_e_log", "part_logptrel", "part_logerel", "part_deltaR", "part_charge",
               "part_isChargedHadron", "part_isNeutralHadron", "part_isPhoton", "part_isElectron", "part_isMuon",
               "part_deta", "part_dphi"],
    "full": ["part_pt_log", "part_e_log", "part_logptrel", "part_logerel", "part_deltaR", "part_charge",
             "part_isChargedHadron", "part_isNeutralHadron", "part_isPhoton", "part_isElectron", "part_isMuon",
             "part_d0", "part_d0err", "part_dz", "part_dzerr", "part_deta", "part_dphi"],
}
INPUT_DIM = len(FEATURE_SETS["full"])
# the class names a checkpoint without them is taken to have, by its number of outputs: the generated classes
# (hyflexpim.data.jets.GENERATED_CLASSES) or JetClass's ten labels, in the yaml's `labels` order
DEFAULT_CLASSES = {5: ["QCD", "Hbb", "Tbqq", "Wqq", "Zqq"],
                   10: ["QCD", "Hbb", "Hcc", "Hgg", "H4q", "Hqql", "Zqq", "Wqq", "Tbqq", "Tbl"]}
# the packaged `part` model: ParT small trained on the shipped sample with JetTrainConfig's defaults
# (hyflexpim.pipeline.jets_train); a new sample or new defaults get a new version. v2: signed Δη and weaver's
# clipping of the inputs (issue 32); v3: random training batches instead of length-grouped ones, whose BatchNorm
# statistics the running mean did not match (issue 32, hyflexpim.data.batches.jet_batches)
PACKAGED_VERSION = "small-v3"


def packaged_path(cache: Path) -> Path:
    return Path(cache) / "part" / f"part-{PACKAGED_VERSION}.pt"


def _weaver():
    import logging

    try:
        from weaver.nn.model import ParticleTransformer as module
    except ImportError:
        raise UserError("the ParT model needs weaver-core: pip install --no-deps weaver-core") from None
    logging.getLogger("weaver").setLevel(logging.WARNING)  # its import sets INFO: every model's settings on stdout
    return module


def _attention_class():
    base = _weaver().Attention

    class PartAttention(base):
        """weaver's attention with the input projection called as a module, and an optional capture."""

        # None, or called with (probabilities [B, H, Q, K], pair bias [B, H, P, P] or None, valid keys [B, 1, 1, K])
        hyflexpim_capture = None
        hyflexpim_topk = None  # keep only the k largest logits of every row (top-k sparse attention), or None
        hyflexpim_implementation = None  # a registered attention function (set_attn_implementation), or None

        def forward(self, query, key, value, key_padding_mask=None, attn_mask=None):
            bsz, tgt_len, e = query.shape
            src_len = key.shape[1]
            h, d = self.num_heads, self.head_dim
            if query is key:
                q, k, v = self.in_proj(query).split(e, dim=-1)
            else:  # class attention: the class token queries the particles
                q = self.in_proj(query)[..., :e]
                k, v = self.in_proj(key)[..., e:].split(e, dim=-1)
            q = self.q_norm(q.reshape(bsz, tgt_len, h, d)).transpose(1, 2)
            k = self.k_norm(k.reshape(bsz, src_len, h, d)).transpose(1, 2)
            v = v.reshape(bsz, src_len, h, d).transpose(1, 2)
            bias = torch.zeros((), dtype=q.dtype, device=q.device) if attn_mask is None else attn_mask
            if key_padding_mask is not None:  # True = padding
                pad = torch.zeros_like(key_padding_mask, dtype=q.dtype).masked_fill(key_padding_mask, float("-inf"))
                bias = bias + pad.view(bsz, 1, 1, src_len)
            impl = self.hyflexpim_implementation
            if impl not in (None, "eager") and self.hyflexpim_capture is None and self.hyflexpim_topk is None:
                # a hyflexpim attention kind (digital, top-k, PQ, ...) through transformers' contract; the pair
                # bias and the padding travel as the additive float mask
                from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

                mask = bias.expand(bsz, 1, tgt_len, src_len) if bias.dim() < 4 else bias
                out, _ = ALL_ATTENTION_FUNCTIONS[impl](self, q, k, v, mask, scaling=1.0 / math.sqrt(d),
                                                       dropout=self.dropout if self.training else 0.0)
                return self.out_proj(out.reshape(bsz, tgt_len, e)), None
            logits = (q * (1.0 / math.sqrt(d))) @ k.transpose(-2, -1) + bias
            if self.hyflexpim_topk is not None and self.hyflexpim_topk < src_len:
                kth = logits.topk(self.hyflexpim_topk, dim=-1).values[..., -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = torch.softmax(logits, dim=-1)
            if self.hyflexpim_capture is not None:
                valid = torch.ones(bsz, 1, 1, src_len, dtype=torch.bool, device=q.device) if key_padding_mask is None \
                    else ~key_padding_mask.bool().view(bsz, 1, 1, src_len)
                self.hyflexpim_capture(probs.detach(), None if attn_mask is None else attn_mask.detach(), valid)
            if self.training and self.dropout > 0:
                probs = F.dropout(probs, p=self.dropout)
            out = (probs @ v).transpose(1, 2).reshape(bsz, tgt_len, e)
            return self.out_proj(out), None

    return PartAttention


@dataclass
class PartConfig:
    """What the rest of hyflexpim reads from a model's ``config`` (architecture_of, the plan)."""

    name: str
    num_labels: int
    embed_dims: list
    pair_embed_dims: list | None  # None: no pair-interaction bias (the scale study's pair-bias-off models)
    num_heads: int
    num_layers: int
    num_cls_layers: int
    # weaver's use_pre_activation_pair: True (weaver-core's default) leaves out the GELU after the pair embedding's
    # last layer; the published network sets False. Same state-dict layout either way, different function.
    pre_activation_pair: bool = True
    features: str = "full"  # a FEATURE_SETS key: the inputs the model reads
    class_names: list | None = None  # its outputs' classes; None: DEFAULT_CLASSES by num_labels, else class_0, ...
    model_type: str = "part"

    def __post_init__(self):
        if self.features not in FEATURE_SETS:
            raise UserError(f"unknown ParT feature set {self.features!r}; allowed: {', '.join(FEATURE_SETS)}")
        if self.class_names is None:
            self.class_names = list(DEFAULT_CLASSES.get(self.num_labels,
                                                        [f"class_{i}" for i in range(self.num_labels)]))
        if len(self.class_names) != self.num_labels:
            raise UserError(f"ParT config names {len(self.class_names)} classes for {self.num_labels} outputs")

    @property
    def hidden_size(self) -> int:
        return self.embed_dims[-1]

    @property
    def num_attention_heads(self) -> int:
        return self.num_heads

    @property
    def num_hidden_layers(self) -> int:
        return self.num_layers

    @property
    def intermediate_size(self) -> int:
        return 4 * self.embed_dims[-1]

    hidden_act = "gelu"
    vocab_size = 0
    is_decoder = False
    _attn_implementation = "eager"  # set by PartClassifier.set_attn_implementation, as on a transformers model

    def to_dict(self) -> dict:
        return {"name": self.name, "num_labels": self.num_labels, "embed_dims": list(self.embed_dims),
                "pair_embed_dims": None if self.pair_embed_dims is None else list(self.pair_embed_dims),
                "num_heads": self.num_heads,
                "num_layers": self.num_layers, "num_cls_layers": self.num_cls_layers,
                "pre_activation_pair": self.pre_activation_pair, "features": self.features,
                "class_names": list(self.class_names)}


class PartClassifier(nn.Module):
    def __init__(self, config: PartConfig, seed: int = 0):
        super().__init__()
        module = _weaver()
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.part = module.ParticleTransformer(
                input_dim=len(FEATURE_SETS[config.features]), num_classes=config.num_labels,
                embed_dims=config.embed_dims,
                pair_embed_dims=config.pair_embed_dims, num_heads=config.num_heads, num_layers=config.num_layers,
                num_cls_layers=config.num_cls_layers, fc_params=[], trim=False, pair_input_dim=4,
                use_pre_activation_pair=config.pre_activation_pair,
                cls_block_params={"dropout": 0, "attn_dropout": 0, "activation_dropout": 0})
        cls = _attention_class()
        for m in self.part.modules():
            if isinstance(m, module.Attention):
                m.__class__ = cls
        self.config = config
        self.hyflexpim_name = "part"
        full = FEATURE_SETS["full"]
        self._columns = [full.index(n) for n in FEATURE_SETS[config.features]]

    def forward(self, features, vectors, mask, labels=None):
        """``features`` [B, P, 17]: the `full` inputs, normalized (the model reads its feature set's columns)."""
        if features.shape[-1] != len(self._columns):
            features = features[..., self._columns]
        logits = self.part(features.transpose(1, 2), v=vectors.transpose(1, 2), mask=mask.unsqueeze(1).float())
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return SimpleNamespace(logits=logits, loss=loss)

    def set_attn_implementation(self, name: str) -> None:
        """Run every attention block through the attention function registered as ``name`` in transformers'
        AttentionInterface ("eager": weaver's own), as ``PreTrainedModel.set_attn_implementation`` does — so the
        digital and sparse attention kinds and the codebook fitting of hyflexpim run on ParT unchanged."""
        self.config._attn_implementation = name
        for _, m in self.attention_blocks():
            m.hyflexpim_implementation = None if name == "eager" else name

    def hyflexpim_role(self, name: str) -> str | None:
        return "head" if name.startswith("part.fc.") else None

    def hyflexpim_layer(self, name: str) -> int | None:
        """Particle-attention block i is layer i, class-attention block i layer num_layers + i; the embedding
        networks and the head are outside the layers."""
        parts = name.split(".")
        if len(parts) > 2 and parts[1] == "blocks":
            return int(parts[2])
        if len(parts) > 2 and parts[1] == "cls_blocks":
            return self.config.num_layers + int(parts[2])
        return None

    def hyflexpim_pooling_attention(self, name: str) -> bool:
        """The class-attention blocks pool the jet into its class token: the sparse-attention kinds leave them
        dense (one query per jet: nothing to save, and keeping a share of the particles there costs 9 points at
        keep 0.25 — docs/jets.md §4)."""
        return ".cls_blocks." in f".{name}."

    def attention_blocks(self) -> list[tuple[str, nn.Module]]:
        """(name, attention module) of every particle-attention block, then every class-attention block."""
        out = [(f"blocks.{i}", b.attn) for i, b in enumerate(self.part.blocks)]
        out += [(f"cls_blocks.{i}", b.attn) for i, b in enumerate(self.part.cls_blocks or [])]
        return out


@contextlib.contextmanager
def capture_attention(model: PartClassifier):
    """Within the block, every forward appends per attention block (probabilities [B, H, Q, K], pair bias
    [B, H, P, P] or None) to the lists returned (one list per block, in ``attention_blocks`` order)."""
    blocks = model.attention_blocks()
    lists = [[] for _ in blocks]
    for (_, m), store in zip(blocks, lists):
        m.hyflexpim_capture = lambda p, bias, valid, store=store: store.append((p, bias))
    try:
        yield lists
    finally:
        for _, m in blocks:
            m.hyflexpim_capture = None


@contextlib.contextmanager
def topk_attention(model: PartClassifier, k: int | None, blocks: str = "particle"):
    """Within the block, every particle-attention block (``blocks="all"``: the class attention too) keeps only
    the k largest attention logits (pair bias included) of each row; None: dense."""
    chosen = [m for n, m in model.attention_blocks() if blocks == "all" or n.startswith("blocks.")]
    for m in chosen:
        m.hyflexpim_topk = k
    try:
        yield model
    finally:
        for m in chosen:
            m.hyflexpim_topk = None


def build_part(name: str = "small", num_labels: int = 5, seed: int = 0, **overrides) -> PartClassifier:
    if name not in CONFIGS:
        raise UserError(f"unknown ParT configuration {name!r}; allowed: {', '.join(CONFIGS)}")
    cfg = PartConfig(name=name, num_labels=num_labels, **(CONFIGS[name] | overrides))
    return PartClassifier(cfg, seed)


def weaver_config(state: dict, num_labels: int | None = None) -> PartConfig:
    """The configuration of a weaver ParT state dict (keys as ``ParticleTransformer``'s, the ``mod.`` prefix of the
    ParT repository's ``ParticleTransformerWrapper`` already removed), read from its tensors' shapes: feature set by
    the input width (7 kin, 13 kinpid, 17 full), embedding and pair-embedding widths, heads, blocks, classes. Built as
    the repository's ``get_model`` builds it (``use_pre_activation_pair=False``)."""
    def shape(key):
        if key not in state:
            raise UserError(f"not a weaver ParT state dict: no {key}")
        return tuple(state[key].shape)

    width = shape("embed.input_bn.weight")[0]
    by_width = {len(v): k for k, v in FEATURE_SETS.items()}
    if width not in by_width:
        raise UserError(f"weaver ParT state dict has {width} inputs per particle; the published feature sets have "
                        f"{', '.join(f'{len(v)} ({k})' for k, v in FEATURE_SETS.items())}")
    index = lambda prefix: sorted({int(k[len(prefix):].split(".")[0]) for k in state if k.startswith(prefix)})  # noqa: E731
    embed = [shape(f"embed.embed.{i}.weight")[0] for i in index("embed.embed.")
             if len(shape(f"embed.embed.{i}.weight")) == 2]
    convs = [shape(f"pair_embed.embed.{i}.weight")[0] for i in index("pair_embed.embed.")
             if len(shape(f"pair_embed.embed.{i}.weight")) == 3]
    heads = shape("blocks.0.c_attn")[0] if "blocks.0.c_attn" in state else (convs[-1] if convs else 8)
    classes = shape("fc.0.weight")[0] if "fc.0.weight" in state else None
    if classes is None:
        raise UserError("weaver ParT state dict has no classification head (fc.0.weight)")
    if num_labels is not None and num_labels != classes:
        raise UserError(f"weaver ParT state dict has {classes} classes, not {num_labels}")
    dims = {"embed_dims": embed, "pair_embed_dims": convs[:-1], "num_heads": heads,
            "num_layers": len(index("blocks.")), "num_cls_layers": len(index("cls_blocks."))}
    name = next((n for n, c in CONFIGS.items() if all(c[k] == v for k, v in dims.items())), "weaver")
    return PartConfig(name=name, num_labels=classes, **dims, pre_activation_pair=False,
                      features=by_width[width])


def load_part(path: str | Path, num_labels: int | None = None) -> PartClassifier:
    """A ParT checkpoint: a hyflexpim one (``{"config", "state_dict"}``) or a weaver state dict in the layout of the
    ParT repository (``{"mod.embed...": ...}``, optionally under ``"state_dict"``), its configuration read from the
    tensors' shapes (``weaver_config``). Loaded with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no ParT checkpoint at {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a file that is not a torch checkpoint
        raise UserError(f"cannot read ParT checkpoint {path}: {str(e).splitlines()[0]}") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj.get("config"), dict):
        model = PartClassifier(PartConfig(**obj["config"]))
        state = obj["state_dict"]
    else:
        state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise UserError(f"{path} holds no state dict")
        state = {k.removeprefix("mod."): v for k, v in state.items()}  # the ParT repository's wrapper: `mod`
        state = {k.removeprefix("part."): v for k, v in state.items()}
        model = PartClassifier(weaver_config(state, num_labels))
        state = {"part." + k: v for k, v in state.items()}
    own = model.state_dict()
    wrong = [k for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    if missing or unexpected or wrong:
        first = (wrong or missing or unexpected)[0]
        raise UserError(f"{path} does not fit ParT '{model.config.name}': {len(wrong)} tensors of another shape, "
                        f"{len(missing)} missing, {len(unexpected)} unexpected (first: {first}); "
                        f"configurations: {', '.join(CONFIGS)}")
    model.load_state_dict(state)
    return model


def save_part(model: PartClassifier, path: Path) -> Path:
    from hyflexpim.atomic import atomic_path

    with atomic_path(Path(path)) as tmp:
        torch.save({"config": model.config.to_dict(), "state_dict": model.state_dict()}, tmp)
    return Path(path)
