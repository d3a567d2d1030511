"""Help shows a switch as a switch: typer 0.29 prints every option's type, ``--decoder <bool>`` included.

No library patching: the app and its commands are built with :class:`SwitchGroup` / :class:`SwitchCommand`, whose
flag options (``--help`` too) are :class:`SwitchOption`, an option that displays no type when it is a flag.
:func:`show_switches_as_switches` sets those classes on an app and everything registered on it; the CLI calls it
once, after registering its commands.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption


class SwitchOption(TyperOption):
    """A typer option whose help shows no type when it is a flag."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None if self.is_flag else super().display_type_rich(ctx)


def _switches(params: list[Any]) -> list[Any]:
    for p in params:
        if type(p) is TyperOption:  # typer builds every option, --help included, as exactly this class
            p.__class__ = SwitchOption
    return params


class SwitchCommand(TyperCommand):
    """A typer command whose flag options are :class:`SwitchOption`."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _switches(super().get_params(ctx))


class SwitchGroup(TyperGroup):
    """A typer group (an app with sub-commands) whose own flag options are :class:`SwitchOption`."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _switches(super().get_params(ctx))


def show_switches_as_switches(app: typer.Typer) -> None:
    """Build ``app``, its commands and its sub-apps with the switch classes (where typer's defaults stand)."""
    if getattr(app.info.cls, "value", app.info.cls) in (None, TyperGroup):  # unset (typer's default placeholder)
        app.info.cls = SwitchGroup
    for c in app.registered_commands:
        if c.cls in (None, TyperCommand):
            c.cls = SwitchCommand
    for g in app.registered_groups:
        if g.typer_instance is not None:
            show_switches_as_switches(g.typer_instance)
