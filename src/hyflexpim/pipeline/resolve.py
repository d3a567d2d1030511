"""Resolve a RunConfig from defaults, an optional YAML file and command-line overrides."""

from __future__ import annotations

from hyflexpim.boundary import parse_yaml
from hyflexpim.config import deep_merge, load_yaml, validate
from hyflexpim.errors import UserError
from hyflexpim.models.load import is_part
from hyflexpim.pipeline.config import (
    AUTHORS_DEFAULTS,
    DECODER_DEFAULTS,
    JETS_DEFAULTS,
    RUN_DEFAULTS,
    UP_PROJ_PATTERN,
    RunConfig,
)
from hyflexpim.pipeline.task import is_jets_task


def parse_set(items: list[str]) -> dict:
    """``a.b=1`` style overrides; values are read as YAML scalars/lists (``[0, 5]``, ``null``, ``1e-4``)."""
    flat: dict = {}
    for item in items:
        if "=" not in item:
            raise UserError(f"--set expects key=value (e.g. plan.policy=global), got '{item}'")
        key, value = item.split("=", 1)
        flat[key.strip()] = parse_yaml(value, f"--set {key}")
    return nest(flat, "--set")


def nest(flat: dict, where: str) -> dict:
    """{'a.b': 1} -> {'a': {'b': 1}}: field paths (names separated by dots) to the nested mapping they set."""
    out: dict = {}
    for key, value in flat.items():
        parts = key.split(".") if isinstance(key, str) else []
        if not parts or not all(parts):
            raise UserError(f"{where} {key}: a field path is names separated by dots (e.g. hardware.noise.kind)")
        node = out
        for depth, p in enumerate(parts[:-1]):
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise UserError(f"{where} {key}: '{'.'.join(parts[:depth + 1])}' was already set to a value")
        node[parts[-1]] = value
    return out


def _is_jets(user: dict) -> bool:
    model, task = user.get("model"), user.get("task")
    return (isinstance(model, str) and is_part(model)) or (isinstance(task, str) and is_jets_task(task))


def resolve_config(config_file: str | None = None, decoder: bool = False, overrides: dict | None = None) -> RunConfig:
    """Run defaults (decoder or jets defaults when asked for), then the YAML file, then the overrides."""
    own = load_yaml(config_file) if config_file else {}
    user = deep_merge(own, overrides or {})
    data: dict = deep_merge(RUN_DEFAULTS, DECODER_DEFAULTS) if decoder else dict(RUN_DEFAULTS)
    if not decoder and _is_jets(user):
        data = deep_merge(data, JETS_DEFAULTS)
    if own:  # the file must be valid on its own: an override never hides an invalid section (``data: 5``)
        alone = validate(RunConfig, deep_merge(data, own), f"config {config_file}")
        alone.hardware.resolved(f"config {config_file}", ("hardware",))
        alone.check_files(f"config {config_file}")
    if user.get("mode") == "authors":
        data = deep_merge(data, AUTHORS_DEFAULTS)
    config = validate(RunConfig, deep_merge(data, user))
    config.hardware = config.hardware.resolved("config", ("hardware",))  # the explicit step: reads the chip spec
    config.check_files()
    if config.exclude_up_proj and UP_PROJ_PATTERN not in config.decompose.exclude:
        config.decompose.exclude.append(UP_PROJ_PATTERN)
    return config
