"""Decomposition straight from a checkpoint, one matrix at a time: memory that scales with the model.

``decompose(model)`` on a loaded model holds the model twice at its peak: the loaded weights (memory-mapped from
the checkpoint, so their pages stay resident until the last tensor of the file is freed) and the new factors.
Here the model is built without weights (parameters on the meta device, buffers real), every analog matrix is
read alone from the safetensors file (``safe_open``, opened and closed per tensor, so the file's pages do not
accumulate), factorised, its SVDLinear put in place and the full-rank temporaries released; then the other
tensors are read the same way, and parameters the checkpoint lacks (a fresh classification head) are
initialised by the model's own ``_init_weights``. The peak is the decomposed model plus one matrix's SVD.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

from hyflexpim.algo.decompose import DecomposeConfig, Placement, decompose, release_memory
from hyflexpim.errors import UserError
from hyflexpim.models.load import is_part, resolve

SAFETENSORS_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
                      "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
                      "BOOL": torch.bool}


class CheckpointTensors:
    """Tensors of one .safetensors file (or a folder's sharded files), read one at a time by model key.

    Each tensor is read with a plain file read into its own new tensor (the format's header gives its dtype, shape
    and byte range): no memory map, so nothing of the file stays resident and the largest tensor (often the
    embedding) is never held twice."""

    def __init__(self, path: str | Path, base_prefix: str = ""):
        path = Path(path)
        files = [path] if path.is_file() else sorted(path.glob("*.safetensors"))
        if not files:
            raise UserError(f"no .safetensors file in {path}: decomposition from a checkpoint reads safetensors")
        self.where: dict[str, tuple[Path, int, dict]] = {}
        for f in files:
            with open(f, "rb") as h:
                try:
                    (n,) = struct.unpack("<Q", h.read(8))
                    header = json.loads(h.read(n)) if n < 100_000_000 else None
                except (struct.error, ValueError):
                    header = None
            if not isinstance(header, dict):
                raise UserError(f"{f} is not a safetensors file (its header cannot be read)")
            header.pop("__metadata__", None)
            self.where.update({k: (f, 8 + n, v) for k, v in header.items()})
        self.prefix = base_prefix + "." if base_prefix else ""

    def key(self, name: str) -> str | None:
        """The file's key for a model parameter: the same name, or without/with the base model's prefix."""
        for k in (name, name.removeprefix(self.prefix), self.prefix + name):
            if k in self.where:
                return k
        return None

    def get(self, name: str) -> torch.Tensor | None:
        k = self.key(name)
        if k is None:
            return None
        f, data_start, info = self.where[k]
        dtype = SAFETENSORS_DTYPES.get(info.get("dtype"))
        begin, end = info["data_offsets"]
        if dtype is None:
            raise UserError(f"{f}: tensor {k} has dtype {info.get('dtype')!r}, which decomposition cannot read")
        out = torch.empty(info["shape"], dtype=dtype)
        if out.numel() * out.element_size() != end - begin:
            raise UserError(f"{f}: tensor {k} holds {end - begin} bytes for shape {info['shape']} {info['dtype']}")
        with open(f, "rb") as h:
            h.seek(data_start + begin)
            if out.numel() and h.readinto(memoryview(out.view(-1).view(torch.uint8).numpy())) != end - begin:
                raise UserError(f"{f} ends inside tensor {k}: the file is cut short")
        return out


def _dense_from(tensors: CheckpointTensors):
    def weights(name: str, module: nn.Module):
        W = tensors.get(f"{name}.weight")
        if W is None:
            raise UserError(f"the checkpoint has no weight for {name}")
        bias = tensors.get(f"{name}.bias") if getattr(module, "bias", None) is not None else None
        return (W if isinstance(module, nn.Linear) else W.t().contiguous()), bias  # HF Conv1D stores Wᵀ

    return weights


def materialize(model: nn.Module, tensors: CheckpointTensors) -> list[str]:
    """Fill every parameter and buffer still on the meta device from the checkpoint, one tensor at a time; the
    rest (a fresh head, non-persistent buffers such as position ids or rotary frequencies) is initialised by
    transformers' ``initialize_weights``, which skips every tensor marked as loaded. Returns the names initialised."""
    missing, made = [], {}  # made: a meta tensor already filled (tied weights share one), by id
    for mod_name, module in model.named_modules(remove_duplicate=False):
        complete = True
        for n, p in list(module._parameters.items()) + list(module._buffers.items()):
            if p is None:
                continue
            if not p.is_meta:
                p._is_hf_initialized = True  # the factors decompose() made, or a buffer already real
                continue
            full = f"{mod_name}.{n}" if mod_name else n
            if id(p) in made:
                t = made[id(p)]
            else:
                t = tensors.get(full)
                if t is None:
                    complete = False
                    missing.append(full)
                    t = torch.empty(p.shape, dtype=p.dtype)
                else:
                    t = t.to(p.dtype)
                    t._is_hf_initialized = True
                if n in module._parameters:
                    loaded = t.__dict__.get("_is_hf_initialized", False)
                    t = nn.Parameter(t, requires_grad=p.requires_grad)
                    t._is_hf_initialized = loaded
                made[id(p)] = t
            (module._parameters if n in module._parameters else module._buffers)[n] = t
        module._is_hf_initialized = complete  # transformers' initialize_weights skips a module so marked
    if missing:
        if hasattr(model, "initialize_weights"):
            model.initialize_weights()
        elif hasattr(model, "_init_weights"):
            model.apply(model._init_weights)
    return missing


def decompose_checkpoint(model_factory, checkpoint: str | Path, config: DecomposeConfig | None = None,
                         base_prefix: str = "", stats: dict | None = None, progress=None
                         ) -> tuple[nn.Module, list[Placement]]:
    """``model_factory()`` builds the architecture (called with parameters on the meta device); the weights come
    from ``checkpoint`` (a .safetensors file or a folder of them), each analog matrix decomposed as it is read.
    Returns the decomposed model (eval mode) and every matrix's placement."""
    with torch.device("meta"):  # parameters and buffers without memory; every tensor is filled below
        model = model_factory()
    tensors = CheckpointTensors(checkpoint, base_prefix or getattr(model, "base_model_prefix", ""))
    places = decompose(model, config, progress, stats, weights=_dense_from(tensors))
    materialize(model, tensors)
    if hasattr(model, "tie_weights"):
        model.tie_weights()
    release_memory(collect=True)
    return model.eval(), places


def decompose_model_folder(name: str, task: str = "classification", num_labels: int = 2,
                           config: DecomposeConfig | None = None, progress=None) -> tuple[nn.Module, list[Placement]]:
    """A packaged model name, a local folder or a GGUF (its de-quantized cache), decomposed from its checkpoint."""

    if is_part(name):
        raise UserError("ParT checkpoints are .pt files: decompose a loaded ParT with hyflexpim.decompose")
    canonical, path = resolve(name)
    if not Path(path).is_dir():
        raise UserError(f"decomposition from a checkpoint needs a local model folder, not {path}")
    cfg = AutoConfig.from_pretrained(path, **({"num_labels": num_labels} if task == "classification" else {}))
    auto = AutoModelForSequenceClassification if task == "classification" else AutoModelForCausalLM
    model, places = decompose_checkpoint(lambda: auto.from_config(cfg), path, config, progress=progress)
    model.hyflexpim_name = canonical
    return model, places
