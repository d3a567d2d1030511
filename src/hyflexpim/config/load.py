"""YAML in, a validated pydantic object out; any problem is one UserError line naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from hyflexpim.errors import UserError

T = TypeVar("T", bound=BaseModel)


def format_validation_error(e: ValidationError, what: str = "config") -> str:
    err = e.errors()[0]
    msg = err["msg"].removeprefix("Value error, ")
    if not err["loc"]:  # a check across fields: its message names them
        return f"{what}: {msg}"
    where = ".".join(str(x) for x in err["loc"])
    if err.get("type") == "extra_forbidden":
        msg = "unknown field"
    elif err.get("type") == "literal_error" and "expected" in err.get("ctx", {}):
        msg = f"must be {err['ctx']['expected']}"
    return f"{what} field '{where}': {msg} (got {err.get('input')!r})"


def validate(cls: type[T], data: dict, what: str = "config") -> T:
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        cause = e.errors()[0].get("ctx", {}).get("error")
        if isinstance(cause, UserError):  # a validator that already wrote a full line
            raise UserError(str(cause)) from None
        raise UserError(format_validation_error(e, what)) from None


def load_yaml(path: str | Path) -> dict:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as e:
        raise UserError(f"cannot read config {p}: {e.strerror}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise UserError(f"config {p} is not valid YAML{where}: corrupted or not a config") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"config {p} must be a mapping of fields, got {type(data).__name__}")
    return data
