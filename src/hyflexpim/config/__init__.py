"""Configuration: the strict base class, its one-line errors, YAML loading, and registries."""

from hyflexpim.config.base import ConfigError, Strict, config_error, nearest, one_line, one_of, require
from hyflexpim.config.load import deep_merge, load_yaml, validate
from hyflexpim.config.registry import Registry, config_by_kind

__all__ = ["ConfigError", "Registry", "Strict", "config_by_kind", "config_error", "deep_merge", "load_yaml", "nearest",
           "one_line", "one_of", "require", "validate"]
