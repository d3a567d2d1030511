"""Loading validated configuration from YAML; every problem becomes one line naming the field."""

from hyflexpim.config.load import format_validation_error, load_yaml, validate

__all__ = ["format_validation_error", "load_yaml", "validate"]
