"""The boundary: every file the toolkit reads back is parsed here, with limits, into plain data or one UserError line.

- ``check_file``: a regular file, or one line naming what the path is instead (missing, a folder, a FIFO, a device,
  a symbolic-link loop).
- ``read_text``: a size limit, UTF-8 (a binary, compressed, UTF-16 or Latin-1 file is named as such), OS errors as one
  line.
- ``read_decompressed``: .gz/.bz2/.xz/.zst/.zip read in chunks up to ``MAX_DATA_BYTES`` (a bomb is refused early).
- ``parse_yaml``: ``yaml.safe_load`` (no tags that build objects), refusing documents whose alias expansion
  (billion laughs) or nesting exceeds the limits, or that give one key twice in a mapping, before anything walks them.
- ``parse_json``: no ``NaN``/``Infinity`` constants, bounded nesting, integers of bounded size.
- ``check_finite``: every float of a loaded document finite (a NaN multiplier or an infinite clock is refused).
- ``load_tensors`` / ``load_safetensors_into``: cached tensors through ``torch.load(weights_only=True)`` and
  safetensors, a corrupted or truncated file named with what to do.

Nothing here executes code from a file: YAML is safe-loaded, tensors are weights-only, models are safetensors.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import io
import json
import lzma
import math
import os
import stat
import zipfile
import zlib
from pathlib import Path

import yaml

from hyflexpim.errors import UserError

MAX_TEXT_BYTES = 256 * 2**20  # a plan of a large model with every importance score is a few MB
MAX_DEPTH = 64  # nesting of mappings and lists
MAX_NODES = 2_000_000  # YAML nodes after alias expansion
MAX_INT_DIGITS = 30  # no field of a config, plan or spec needs a larger integer


def check_file(path: str | Path, what: str) -> Path:
    """``path`` if it is a regular file (after links); else one line saying what it is instead: missing, a folder, a
    named pipe, a device, a socket or a symbolic-link loop (a pipe or ``/dev/zero`` would block or never end)."""
    p = Path(path)
    try:
        mode = os.stat(p).st_mode
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UserError(f"{what} {p} is a symbolic link that loops (it never reaches a file)") from None
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            broken = " (a broken symbolic link)" if p.is_symlink() else ""
            raise UserError(f"cannot read {what} {p}: it does not exist{broken}") from None
        raise UserError(f"cannot read {what} {p}: {e.strerror or e}") from None
    kinds = [(stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]
    for test, kind in kinds:
        if test(mode):
            raise UserError(f"{what} {p} is {kind}, not a file: give a regular file")
    return p


def read_bytes(path: str | Path, what: str, limit: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; anything else is one line."""
    p = check_file(path, what)
    try:
        size = p.stat().st_size
        if size > limit:
            raise UserError(f"{what} {p} is {size / 2**20:.0f} MiB; at most {limit / 2**20:.0f} MiB is read")
        return p.read_bytes()
    except OSError as e:
        raise UserError(f"cannot read {what} {p}: {e.strerror or e}") from None


def decode_text(raw: bytes, what: str, p: str | Path) -> str:
    """UTF-8 text (a BOM allowed); a binary, compressed, UTF-16 or Latin-1 file is named as such."""
    if raw.startswith(UTF16_BOMS) or b"\x00" in raw[:4096]:  # valid UTF-8 may hold NUL, but no file we read does
        raise UserError(f"{what} {p} is not UTF-8 text ({_kind_of(raw)}): save it as UTF-8 text, uncompressed")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{what} {p} is not UTF-8 text ({_kind_of(raw)} at byte {e.start}): save it as UTF-8") from None


def read_text(path: str | Path, what: str, limit: int = MAX_TEXT_BYTES) -> str:
    return decode_text(read_bytes(path, what, limit), what, path)


UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")  # UTF-32's BOMs start the same way


def _kind_of(raw: bytes) -> str:
    magic = {b"\xff\xfe\x00\x00": "UTF-32 text", b"\x00\x00\xfe\xff": "UTF-32 text", b"\xff\xfe": "UTF-16 text",
             b"\xfe\xff": "UTF-16 text", b"\x1f\x8b": "gzip-compressed", b"PK": "a zip archive",
             b"\x28\xb5\x2f\xfd": "zstd-compressed", b"BZh": "bzip2-compressed", b"\xfd7zXZ": "xz-compressed",
             b"\x80": "a pickle or binary file"}
    for head, kind in magic.items():
        if raw.startswith(head):
            return kind
    if b"\x00" in raw[:4096]:
        return "binary"
    return "another encoding, e.g. Latin-1,"


COMPRESSIONS = {".gz": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd", ".zip": "zip"}
MAX_DATA_BYTES = 2**30  # a data file, decompressed: far more text than a CPU run reads


def read_decompressed(path: str | Path, what: str, limit: int | None = None) -> bytes:
    """The decompressed bytes of a .gz/.bz2/.xz/.zst/.zip file (a zip holding one file), read in chunks and refused
    in one line as soon as they pass ``limit`` (a compression bomb never fills the memory); a file that is not
    what its suffix says is one line too."""
    limit = MAX_DATA_BYTES if limit is None else limit
    p = check_file(path, what)
    kind = COMPRESSIONS.get(p.suffix.lower())
    if kind is None:
        return read_bytes(p, what, limit)
    errors: tuple = (OSError, EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, ValueError)
    try:
        if kind == "zstd":
            try:
                import zstandard  # optional package: only a .zst file needs it
            except ImportError:
                raise UserError(f"{what} {p} is zstd-compressed and reading it needs the 'zstandard' package: "
                                "bash scripts/setup.sh installs it (or pip install zstandard)") from None
            errors += (zstandard.ZstdError,)
            stream = zstandard.ZstdDecompressor().stream_reader(open(p, "rb"), closefd=True)  # noqa: SIM115 (the reader closes it)
        elif kind == "zip":
            archive = zipfile.ZipFile(p)
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise UserError(f"{what} {p} is a zip archive of {len(names)} files: expected exactly one")
            stream = archive.open(names[0])
        else:
            stream = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}[kind](p, "rb")
        out = io.BytesIO()
        with stream:
            while chunk := stream.read(2**20):
                out.write(chunk)
                if out.tell() > limit:
                    raise UserError(f"{what} {p} expands to more than {limit / 2**20:,.0f} MiB when decompressed: "
                                    "refused (a compression bomb, or more data than hyflexpim reads)")
        return out.getvalue()
    except UserError:
        raise
    except errors as e:
        detail = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise UserError(f"{what} {p} is not a valid {kind} file ({detail}): its suffix says {p.suffix}") from None


def _walk_depth(obj, what: str, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise UserError(f"{what} is nested deeper than {MAX_DEPTH} levels: not a file hyflexpim reads")
    if isinstance(obj, dict):
        for v in obj.values():
            _walk_depth(v, what, depth + 1)
    elif isinstance(obj, list):
        for v in obj:
            _walk_depth(v, what, depth + 1)


def check_finite(obj, what: str, path: str = "") -> None:
    """Every float in ``obj`` finite, every integer of at most ``MAX_INT_DIGITS`` digits; else one line naming it."""
    if isinstance(obj, bool):
        return
    if isinstance(obj, float) and not math.isfinite(obj):
        raise UserError(f"{what}: {path or 'value'} must be a finite number, got {obj}")
    if isinstance(obj, int) and abs(obj) >= 10 ** MAX_INT_DIGITS:
        raise UserError(f"{what}: {path or 'value'} is an integer of more than {MAX_INT_DIGITS} digits")
    if isinstance(obj, dict):
        for k, v in obj.items():
            check_finite(v, what, f"{path}.{k}" if path else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            check_finite(v, what, f"{path}[{i}]")


def _yaml_size(node, what: str) -> int:
    """Nodes of the document with every alias expanded, without expanding it (the graph is shared)."""
    sizes: dict[int, int] = {}
    stack = [(node, 0, False)]
    while stack:
        n, depth, done = stack.pop()
        if depth > MAX_DEPTH:
            raise UserError(f"{what} is nested deeper than {MAX_DEPTH} levels: not a file hyflexpim reads")
        if id(n) in sizes:
            continue
        children = []
        if isinstance(n, yaml.SequenceNode):
            children = n.value
        elif isinstance(n, yaml.MappingNode):
            children = [x for pair in n.value for x in pair]
            if not done:
                _no_duplicate_keys(n, what)
        if done or not children:
            sizes[id(n)] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[id(n)] > MAX_NODES:
                raise UserError(f"{what} expands to more than {MAX_NODES:,} values (YAML aliases): refused")
            continue
        stack.append((n, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)
    return sizes[id(node)]


def _no_duplicate_keys(node, what: str) -> None:
    """A key given twice in one mapping is refused (PyYAML silently keeps the last one)."""
    seen: set[str] = set()
    for key, _ in node.value:
        if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
            if key.value in seen:
                raise UserError(f"{what}: key {key.value!r} is given twice in one mapping (line "
                                f"{key.start_mark.line + 1}): keep one")
            seen.add(key.value)


def parse_yaml(text: str, what: str):
    """Plain data from YAML text (safe tags only), after checking its expanded size and depth."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None:
            return None
        _yaml_size(node, what)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise UserError(f"{what} is not valid YAML{where}: corrupted or not a {what.split()[0]}") from None
    except RecursionError:
        raise UserError(f"{what} is nested too deeply: not a file hyflexpim reads") from None
    except ValueError as e:  # an integer too long for Python to convert (4,300 digits)
        if "integer string conversion" in str(e):
            raise UserError(f"{what}: an integer of thousands of digits is not a value hyflexpim reads (at most "
                            f"{MAX_INT_DIGITS} digits)") from None
        raise UserError(f"{what}: {str(e).splitlines()[0]}") from None
    check_finite(data, what)
    return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number hyflexpim accepts")


def parse_json(text: str, what: str):
    """Plain data from JSON text: no NaN/Infinity, bounded nesting and integer size."""
    try:
        data = json.loads(text, parse_constant=_no_constant,
                          parse_int=lambda s: _bounded_int(s, what))
    except json.JSONDecodeError as e:
        raise UserError(f"{what} is not valid JSON (line {e.lineno}): corrupted or not a {what.split()[0]}") from None
    except RecursionError:
        raise UserError(f"{what} is nested too deeply: not a file hyflexpim reads") from None
    except ValueError as e:
        raise UserError(f"{what}: {e}") from None
    _walk_depth(data, what)
    check_finite(data, what)
    return data


def _bounded_int(s: str, what: str) -> int:
    if len(s.lstrip("-")) > MAX_INT_DIGITS:
        raise UserError(f"{what}: an integer of {len(s)} digits is not a value hyflexpim reads")
    return int(s)


def load_json(path: str | Path, what: str):
    return parse_json(read_text(path, what), f"{what} {path}")


def load_tensors(path: str | Path, what: str = "cached tensors") -> dict:
    """A dict of tensors and plain values written by ``torch.save``, read weights-only; corrupted -> one line."""
    import torch  # lazy: the cost side reads files here without torch

    try:
        data = torch.load(path, weights_only=True)
    except OSError as e:
        raise UserError(f"cannot read {what} {path}: {e.strerror or e}") from None
    except Exception:
        raise UserError(f"{what} {path} is corrupted or not written by hyflexpim: delete it and run again "
                        "(no code from it was run)") from None
    if not isinstance(data, dict):
        raise UserError(f"{what} {path} holds a {type(data).__name__}, not the mapping hyflexpim writes: delete it")
    return data


def load_safetensors_into(model, path: str | Path, what: str = "model weights") -> None:
    """safetensors weights into ``model`` (shapes must match); a corrupted, truncated or foreign file -> one line."""
    from safetensors.torch import load_model  # lazy: torch (the cost side reads files here without it)

    try:
        load_model(model, str(path))
    except OSError as e:
        raise UserError(f"cannot read {what} {path}: {e.strerror or e}") from None
    except Exception as e:
        detail = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise UserError(f"{what} {path} is corrupted or was made for another model ({detail}): delete it and "
                        "run again") from None
