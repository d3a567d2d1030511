"""Resolve a RunConfig from defaults, an optional YAML file and command-line overrides."""

from __future__ import annotations

from hyflexpim.config import load_yaml, validate
from hyflexpim.errors import UserError
from hyflexpim.pipeline.config import DECODER_DEFAULTS, RunConfig


def deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def parse_set(items: list[str]) -> dict:
    """``a.b=1`` style overrides; values are read as YAML scalars/lists (``[0, 5]``, ``null``, ``1e-4``)."""
    import yaml

    out: dict = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"--set expects key=value (e.g. plan.policy=global), got '{item}'")
        key, value = item.split("=", 1)
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            raise UserError(f"--set {key}: cannot read value '{value}'") from None
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = parsed
    return out


def resolve_config(config_file: str | None = None, decoder: bool = False, overrides: dict | None = None) -> RunConfig:
    data: dict = dict(DECODER_DEFAULTS) if decoder else {}
    if config_file:
        data = deep_merge(data, load_yaml(config_file))
    data = deep_merge(data, overrides or {})
    return validate(RunConfig, data)
