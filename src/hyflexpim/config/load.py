"""YAML in (the one YAML reader), a validated pydantic object out; deep merge of nested overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from hyflexpim.boundary import parse_yaml, read_text
from hyflexpim.config.base import ConfigError, config_error
from hyflexpim.errors import UserError

T = TypeVar("T", bound=BaseModel)


def validate(cls: type[T], data: dict[str, Any], what: str = "config") -> T:
    """``cls`` from ``data``; any problem is one UserError line naming the field path."""
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise config_error(e, what, cls) from None
    except ConfigError as e:  # a Strict class names itself; name the thing being loaded instead
        raise ConfigError(what, e.loc, e.msg, e.got, e.has_got) from None


def load_yaml(path: str | Path, what: str = "config") -> dict[str, Any]:
    """A YAML mapping from a file, through the boundary (size, aliases, depth, UTF-8, finite numbers) -> one line."""
    p = Path(path)
    data = parse_yaml(read_text(p, what), f"{what} {p}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{what} {p} must be a mapping of fields, got {type(data).__name__}")
    return data


def deep_merge(base: dict[Any, Any], extra: dict[Any, Any]) -> dict[Any, Any]:
    """``extra`` over ``base``; nested mappings merge key by key, anything else replaces. A mapping that names another
    ``kind`` than the one it lands on (a noise model, an attention kind) replaces it whole: the old kind's fields
    mean nothing to the new one."""
    out = dict(base)
    for k, v in extra.items():
        old = out.get(k)
        if isinstance(v, dict) and isinstance(old, dict) and ("kind" not in v or v["kind"] == old.get("kind")):
            out[k] = deep_merge(old, v)
        else:
            out[k] = v
    return out
