"""The one strict base class of every configuration, and the one formatter of its errors.

``Strict`` forbids unknown fields and turns pydantic's multi-line ``ValidationError`` into a
``ConfigError``: a ``UserError`` (one line: what is wrong, where, what is allowed) that is also a
``ValueError``. Pydantic calls a custom ``__init__`` for nested models too; a nested model's
``ConfigError`` therefore reaches the outer model as a ``ValueError``, and :func:`one_line` joins
the outer path and the inner one (``hardware.noise.mlc.levels_us``).
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Collection, Iterable
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from hyflexpim.errors import UserError


class ConfigError(UserError, ValueError):
    """A configuration problem at ``loc`` (a path of field names), in one line."""

    def __init__(self, where: str, loc: tuple[Any, ...] = (), msg: str = "", got: Any = None,
                 has_got: bool = False):
        self.where, self.loc, self.msg, self.got, self.has_got = where, tuple(loc), msg, got, has_got
        super().__init__(self._line())

    def _line(self) -> str:
        field = ".".join(str(p) for p in self.loc)
        line = f"{self.where}: {field}: {self.msg}" if field else f"{self.where}: {self.msg}"
        if self.has_got:
            line += f"; got {self.got!r}"
        return line.replace("\n", " ")


def nearest(name: Any, choices: Iterable[Any]) -> str:
    """' (did you mean 'x'?)' for the closest of ``choices`` to a misspelled ``name`` (difflib), else ''."""
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def one_of(value: Any, allowed: Collection[Any], what: str) -> Any:
    """``value`` if it is one of ``allowed`` (an enumerated field's choices), else ValueError naming them and the
    nearest (for a pydantic field validator: the field path is added)."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{value!r} is not a {what}; allowed: {', '.join(map(str, allowed))}{nearest(value, allowed)}")
    return value


def _section(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> type[BaseModel] | None:
    for part in loc:
        field = model.model_fields.get(str(part)) if model is not None else None
        ann = getattr(field, "annotation", None)
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return model


def config_error(exc: ValidationError, where: str, model: type[BaseModel] | None = None) -> ConfigError:
    """The first problem of a ValidationError as a ConfigError (nested ConfigErrors keep their path)."""
    first = exc.errors()[0]
    loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, ConfigError):
        return ConfigError(where, loc + cause.loc, cause.msg, cause.got, cause.has_got)
    if isinstance(cause, UserError):
        return ConfigError(where, loc, str(cause))
    msg = first["msg"].removeprefix("Value error, ")
    got, has_got = first.get("input"), True
    if first["type"] == "extra_forbidden":
        section = _section(model, loc[:-1])
        fields = list(section.model_fields) if section is not None else []
        hint = nearest(loc[-1], fields) if loc else ""
        msg, has_got = "unknown field" + hint + (f"; allowed fields: {', '.join(fields)}" if fields else ""), False
    elif first["type"] == "literal_error" and "expected" in first.get("ctx", {}):
        choices = [c.strip().strip("'\"") for c in first["ctx"]["expected"].replace(" or ", ", ").split(",")]
        msg = f"must be {first['ctx']['expected']}{nearest(got, choices)}"
    elif first["type"] == "finite_number":
        msg = "must be a finite number (not inf or nan, however spelled)"
    if isinstance(got, dict):
        has_got = False
    return ConfigError(where, loc, msg, got, has_got)


def one_line(exc: ValidationError, where: str, model: type[BaseModel] | None = None) -> str:
    """'<where>: <field.path>: <what is allowed>; got <value>' for a pydantic ValidationError."""
    return str(config_error(exc, where, model))


def _admits(annotation: Any, kind: type) -> bool:
    """Whether ``kind`` (int, float, bool) appears in a field's annotation (inside Optional, list, Annotated, ...)."""
    if annotation is kind or annotation is Any:
        return True
    return any(_admits(a, kind) for a in typing.get_args(annotation) if not isinstance(a, (str, int, float)))


class Strict(BaseModel):
    """Base of every configuration: unknown fields forbidden (the nearest field suggested), every number finite
    however it is spelled (``inf``, ``1e999``, ``nan`` strings included), no bool where a number is meant; bad input
    -> one-line ConfigError.

    ``config_name`` (class attribute) starts every message; default: the class name.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # "inf", "1e999", "-Infinity", "nan": refused
    config_name: ClassVar[str] = ""

    @field_validator("*", mode="before", check_fields=False)
    @classmethod
    def _no_bool_for_numbers(cls, v: Any, info: ValidationInfo) -> Any:
        """``seed: true`` is not the number 1: a bool is refused wherever a number (or a list of them) is meant."""
        field = cls.model_fields.get(info.field_name) if info.field_name else None
        if field is None or _admits(field.annotation, bool):
            return v
        items = v if isinstance(v, (list, tuple)) else [v]
        if any(isinstance(x, bool) for x in items) and (_admits(field.annotation, int) or
                                                         _admits(field.annotation, float)):
            raise ValueError("must be a number, not true/false")
        return v

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise config_error(exc, type(self).config_name or type(self).__name__, type(self)) from None

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kw: Any) -> Self:
        try:
            return super().model_validate(obj, *args, **kw)
        except ValidationError as exc:
            raise config_error(exc, cls.config_name or cls.__name__, cls) from None


def require(ok: bool, field: str, allowed: str, got: Any, where: str = "config") -> None:
    """Raise a one-line ConfigError unless ``ok``."""
    if not ok:
        raise ConfigError(where, tuple(field.split(".")) if field else (), allowed, got, True)
