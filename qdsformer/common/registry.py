"""One small generic registry: a name -> object table with a decorator and clear errors.

Every registry of the package is an instance: attention normalisers, quantum ansaetze,
f-divergences, ViT presets, datasets, and the command tables of the CLI.

    NORMALIZERS = Registry("attention normaliser")

    @NORMALIZERS.register("softmax")
    class Softmax(...): ...

    NORMALIZERS.get("softmax")      # -> the class
    NORMALIZERS.get("nope")         # ValueError: unknown attention normaliser 'nope'; known: ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind, registered once each.

    Args:
        kind: what the entries are, used in error messages (``"attention normaliser"``).
        entries: initial ``{name: entry}`` table (registered in order, as by :meth:`add`).
        name_attribute: if given, :meth:`add` also sets this attribute of each entry to its
            name (registered classes learn their registry name, e.g. ``registry_name``).
    """

    def __init__(self, kind: str, entries: Mapping[str, T] | None = None, *,
                 name_attribute: str | None = None) -> None:
        self.kind = kind
        self.name_attribute = name_attribute
        self._entries: dict[str, T] = {}
        for name, entry in (entries or {}).items():
            self.add(name, entry)

    def add(self, name: str, entry: T) -> T:
        """Register ``entry`` under ``name``; a second, different entry under it is an error."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")
        if name in self._entries and self._entries[name] is not entry:
            raise ValueError(f"{self.kind} name {name!r} is already registered")
        self._entries[name] = entry
        if self.name_attribute is not None:
            setattr(entry, self.name_attribute, name)
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`: ``@registry.register("name")``."""

        def decorate(entry: T) -> T:
            return self.add(name, entry)

        return decorate

    def remove(self, name: str) -> T:
        """Unregister ``name`` and return its entry (tests register throw-away entries)."""
        self.get(name)
        return self._entries.pop(name)

    def get(self, name: str) -> T:
        """The entry registered as ``name``; ValueError listing the known names otherwise."""
        if name not in self._entries:
            raise ValueError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        return self._entries[name]

    def __getitem__(self, name: str) -> T:
        """``registry[name]`` is :meth:`get` (ValueError, not KeyError, for unknown names)."""
        return self.get(name)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) pairs, sorted by name."""
        return sorted(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
