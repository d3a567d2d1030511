"""A registry of named extension points (noise models, scorers, policies, encodings, ...).

Adding a method is one file that calls ``REGISTRY.register(name, entry)``; nothing else is edited.
Looking up an unknown name is one line naming what is allowed.

A registry whose built-in entries are method folders (attention kinds, predictors, rank policies, noise models,
designs) is made with ``fill`` (``hyflexpim.config.methods.fill_from``): the explicit registration of those folders
(``hyflexpim.config.methods``), run once, at the first read
(``get``, ``check``, ``names``, ``in``, iteration) or by :meth:`Registry.fill`; importing the module that holds the
registry registers nothing.
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterator
from typing import Any, Generic, TypeVar

from hyflexpim.config.base import Strict, nearest
from hyflexpim.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, what: str, fill: Callable[[Registry[T]], None] | None = None):
        self.what = what  # e.g. "noise kind"
        self._entries: dict[str, T] = {}
        self._fill = fill  # registers the built-in entries (each only if not registered yet), once
        self._filled = fill is None

    def fill(self) -> None:
        """Register the built-in entries (``fill``); idempotent, and an entry already registered is kept."""
        if not self._filled:
            self._filled = True  # set first: the fill's own registrations read the registry
            assert self._fill is not None
            try:
                self._fill(self)
            except BaseException:
                self._filled = False
                raise

    def registered(self) -> list[str]:
        """The names registered so far, without filling (what an import alone registered)."""
        return list(self._entries)

    def register(self, name: str, entry: T, replace: bool = False) -> T:
        self.fill()  # a built-in name is taken before a user's registration (replace=True to override it)
        if not replace and name in self._entries:
            raise ValueError(f"{self.what} '{name}' is already registered (pass replace=True to override)")
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def get(self, name: str, field: str | None = None) -> T:
        self.fill()
        if not isinstance(name, str) or name not in self._entries:
            where = f"{field}: " if field else ""
            raise UserError(f"{where}unknown {self.what} {name!r}{self._nearest(name)}; choose one of "
                            f"{', '.join(self.names())}")
        return self._entries[name]

    def check(self, name: str) -> str:
        """``name`` if registered, else ValueError (for a pydantic field validator: the field path is added)."""
        self.fill()
        if not isinstance(name, str) or name not in self._entries:
            raise ValueError(f"must be a registered {self.what}: {', '.join(self.names())}{self._nearest(name)}")
        return name

    def _nearest(self, name: object) -> str:
        return nearest(name, self.names())

    def names(self) -> list[str]:
        self.fill()
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        self.fill()
        return isinstance(name, str) and name in self._entries

    def __iter__(self) -> Iterator[str]:
        self.fill()
        return iter(self._entries)

    def items(self) -> ItemsView[str, T]:
        self.fill()
        return self._entries.items()


def config_by_kind(registry: Registry[Any], data: object, field: str, default_kind: str) -> Any:
    """The typed config of a registry entry from ``{"kind": ..., **settings}`` (entries carry ``.config``,
    a ``Strict`` class with a ``kind`` field); an instance passes through."""
    if isinstance(data, Strict):
        return data
    if not isinstance(data, dict):
        raise UserError(f"{field}: must be a mapping with a 'kind' ({', '.join(registry.names())}); got {data!r}")
    kind = data.get("kind", default_kind)
    return registry.get(kind, f"{field}.kind").config.model_validate({**data, "kind": kind})
