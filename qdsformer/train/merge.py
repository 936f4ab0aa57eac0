"""The one merge rule of run configs, wherever a value comes from.

A config is resolved as a stack of *layers* over the dataclass defaults: the YAML file, the
``--set`` options of the command line (together one layer), and in a sweep its ``set``, the
variant, the grid values and the seed (one layer each, in that order). Each layer is a mapping
whose keys may be dotted (``optim.lr``) or nested (``optim: {lr: ...}``); :func:`merge_layer`
applies one layer:

- a mapping given for a config *section* (``optim``, ``attention``, ``data``, ...) merges key
  by key into it: ``optim: {epochs: 1}`` keeps the section's ``lr`` and schedule;
- any other value replaces: a scalar, a list, and the mapping of a ``kwargs`` field (the whole
  argument list of a normaliser); a dotted key into it (``attention.kwargs.shots``) sets one
  entry;
- a layer that names a section's ``name`` (``attention.name``) starts that section's
  ``kwargs`` afresh: they become what the same layer gives (``attention.kwargs: {...}`` or
  ``attention.kwargs.<key>`` entries), else empty (the normaliser's own defaults). Options of
  one normaliser never reach another. Sections without ``kwargs`` (data, optim) never get any;
- a key the config does not have is a ValueError naming it and the known keys;
- a renamed key is read under its current name, with a FutureWarning
  (:func:`qdsformer.train.legacy.current_key`).
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from qdsformer.train.legacy import current_key

Layer = Mapping[str, Any] | Iterable[tuple[str, Any]]


def _fields(cls) -> dict[str, Any]:
    """Field name -> type hint of dataclass ``cls``."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _assignments(layer: Layer, cls, prefix: tuple[str, ...] = ()) -> list[tuple[tuple, Any]]:
    """``(path, value)`` pairs of a layer; mappings given for sections are opened up; an older
    key name is read as its current one, with a warning (and is an error next to it)."""
    items = layer.items() if isinstance(layer, Mapping) else layer
    out: list[tuple[tuple, Any]] = []
    renamed: dict[tuple, tuple] = {}
    for key, value in items:
        if not isinstance(key, str) or not key or any(not p for p in key.split(".")):
            raise ValueError(f"config key {key!r} must be a (dotted) name")
        given = prefix + tuple(key.split("."))
        path = current_key(given)
        if path != given:
            renamed[path] = given
        section = _section_type(cls, path)
        if section is not None:
            if not isinstance(value, Mapping):
                raise ValueError(f"config key {'.'.join(path)} is a section: give a mapping "
                                 f"or dotted keys, got {value!r}")
            out += _assignments(value, cls, path)
        else:
            out.append((path, value))
    for path, old in renamed.items():
        if sum(p == path for p, _ in out) > 1:
            raise ValueError(f"config: give {'.'.join(path)} only, not also {'.'.join(old)} "
                             "(deprecated)")
    return out


def _section_type(cls, path: tuple[str, ...]):
    """The dataclass at ``path`` of ``cls`` when ``path`` names a section, else None.

    Raises ValueError for a key the config does not have (inside a section)."""
    node = cls
    for depth, part in enumerate(path):
        if not dataclasses.is_dataclass(node):
            return None  # inside a free mapping (kwargs)
        fields = _fields(node)
        if part not in fields:
            where = ".".join(path[:depth])
            raise ValueError(f"unknown config key {'.'.join(path[:depth + 1])}; known in "
                             f"{where or 'the top level'}: {', '.join(sorted(fields))}")
        node = fields[part]
    return node if dataclasses.is_dataclass(node) else None


def merge_layer(tree: dict, layer: Layer, cls) -> dict:
    """Apply one layer to ``tree`` (the nested dicts of a ``cls`` config) in place.

    Args:
        tree: the config so far as plain nested dicts (``dataclasses.asdict`` of ``cls``).
        layer: a mapping (or ``(key, value)`` pairs, in order) of dotted or nested keys.
        cls: the config dataclass; it tells sections from values.

    Returns:
        ``tree``.

    Raises:
        ValueError: an unknown key (naming it and the known keys of its section), or a
            non-mapping value given for a section.
    """
    assignments = _assignments(layer, cls)
    for path, _ in assignments:
        if path[-1] == "name":
            section = path[:-1]
            node = _walk(tree, section)
            if isinstance(node, dict) and "kwargs" in node:  # the layer's own kwargs follow
                node["kwargs"] = {}
    for path, value in assignments:
        _set(tree, path, value)
    return tree


def _walk(tree: dict, path: tuple[str, ...]):
    node = tree
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _set(tree: dict, path: tuple[str, ...], value: Any) -> None:
    """``tree[path] = value``, creating entries of free mappings (kwargs) on the way."""
    node = tree
    for depth, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ValueError(f"config key {'.'.join(path[:depth + 1])} holds {child!r}, not a "
                             f"mapping; cannot set {'.'.join(path)}")
        node = child
    node[path[-1]] = copy.deepcopy(value)  # a later layer never edits this one's values
