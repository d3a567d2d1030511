"""Turn configuration mistakes into one ``UserError`` line that names the field and what is allowed.

``StrictConfig`` is a pydantic base class whose construction (``Cls(**kw)`` or
``Cls.model_validate(d)``) raises ``UserError`` instead of pydantic's multi-line
``ValidationError``. Sections nested in it should derive from ``ConfigSection`` (plain pydantic,
extra fields forbidden): their errors are then reported by the outer model with a dotted path,
e.g. ``mlc.levels_us``. (A nested ``StrictConfig`` would report the inner name only, because
pydantic calls a custom ``__init__`` for nested models too.)
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from hyflexpim.errors import UserError


def _loc(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "config"


def _section(model: type[BaseModel] | None, loc: tuple) -> type[BaseModel] | None:
    """The (nested) model class at ``loc`` below ``model``, if it is one."""
    for part in loc:
        field = model.model_fields.get(str(part)) if model is not None else None
        ann = getattr(field, "annotation", None)
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return model


def validation_error_line(exc: ValidationError, where: str, model: type[BaseModel] | None = None) -> str:
    """One line for a pydantic ValidationError: '<where>: <field>: <what is allowed>; got <value>'."""
    errors = exc.errors()
    first = errors[0]
    field, msg = _loc(first["loc"]), first["msg"]
    if first["type"] == "extra_forbidden":
        section = _section(model, first["loc"][:-1])
        allowed = ", ".join(section.model_fields) if section is not None else ""
        msg = "unknown field" + (f"; allowed fields: {allowed}" if allowed else "")
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    got = first.get("input")
    line = f"{where}: {field}: {msg}"
    if first["type"] != "extra_forbidden" and not isinstance(got, dict):
        line += f"; got {got!r}"
    if len(errors) > 1:
        line += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return line.replace("\n", " ")


def require(ok: bool, field: str, allowed: str, got: Any, where: str = "noise config") -> None:
    """Raise a one-line UserError unless ``ok``."""
    if not ok:
        raise UserError(f"{where}: {field}: {allowed}; got {got!r}")


class ConfigSection(BaseModel):
    """A section nested in a ``StrictConfig``: extra fields forbidden, errors reported by the parent."""

    model_config = ConfigDict(extra="forbid")


class StrictConfig(BaseModel):
    """Pydantic model with extra fields forbidden and UserError on bad input.

    ``config_name`` (class attribute) starts every message; default: the class name.
    """

    model_config = ConfigDict(extra="forbid")
    config_name: ClassVar[str] = ""

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise UserError(validation_error_line(exc, type(self).config_name or type(self).__name__, type(self))) from None

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kw: Any):  # type: ignore[override]
        try:
            return super().model_validate(obj, *args, **kw)
        except ValidationError as exc:
            raise UserError(validation_error_line(exc, cls.config_name or cls.__name__, cls)) from None
