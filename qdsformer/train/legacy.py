"""Config keys renamed since runs were first saved, read under their current names.

Every reader of a config passes it through here, so a file written with an older name and one
written with the current name are the same config everywhere:

- each layer the user writes (a config file, ``--set``, a sweep file's layers) has its dotted
  keys renamed by :func:`current_key` as it is merged (:mod:`qdsformer.train.merge`), with a
  FutureWarning; the resolved tree then goes through :func:`upgrade_config` with a warning
  (:func:`qdsformer.train.config.load_config`, the sweep's ``expand``);
- every tree that becomes a config (:func:`qdsformer.train.config.from_dict`: resuming,
  ``qdsformer evaluate``) and every saved run folder that is compared (the sweep's stale check,
  the report's grouping) goes through :func:`upgrade_config` silently: a committed run folder
  keeps the names it was written with.

The renames (docs/glossary.md, "Renames"):

- ``attention.kwargs.trainable`` of QontOT (and of any other section with ``name: qontot``,
  e.g. ``teacher.attention``) -> ``strategy``: ``true`` is ``differentiable``, ``false`` is
  ``static``;
- :data:`RENAMED_KEYS`: ``mixed.steps`` -> ``mixed.evaluations`` (Nevergrad evaluations;
  ``steps`` elsewhere are optimiser steps).
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

from qdsformer.attention.qontot import strategy_for_trainable

#: Renamed fields of the config dataclasses: old dotted key -> current dotted key.
RENAMED_KEYS = {"mixed.steps": "mixed.evaluations"}


def current_key(path: tuple[str, ...], warn: bool = True) -> tuple[str, ...]:
    """The current name of the dotted key ``path`` (itself when it was never renamed).

    With ``warn``, an old name gives a FutureWarning naming the current one.
    """
    old = ".".join(path)
    new = RENAMED_KEYS.get(old)
    if new is None:
        return path
    if warn:
        warnings.warn(f"config: {old} is deprecated; use {new}", FutureWarning, stacklevel=4)
    return tuple(new.split("."))


def upgrade_config(tree: dict, warn: bool = False) -> dict:
    """``tree`` (a config as nested dicts) with every older key under its current name.

    Args:
        tree: the config; it is not changed.
        warn: emit a FutureWarning for each older key, naming its replacement.

    Returns:
        A new tree (the same object when nothing was renamed).

    Raises:
        ValueError: one line naming the key, when an older key's value is invalid or the
            current name is given too.
    """
    paths = list(_legacy_sections(tree, ()))
    renamed = [(old, new) for old, new in RENAMED_KEYS.items() if _has(tree, old)]
    if not paths and not renamed:
        return tree
    tree = copy.deepcopy(tree)
    for old, new in renamed:
        *parents, last = old.split(".")
        section = tree
        for part in parents:
            section = section[part]
        new_last = new.rsplit(".", 1)[-1]
        if new_last in section:
            raise ValueError(f"config: give {new} only, not also {old} (deprecated), got "
                             f"{section[new_last]!r} and {section[last]!r}")
        if warn:
            warnings.warn(f"config: {old} is deprecated; use {new}", FutureWarning, stacklevel=2)
        section[new_last] = section.pop(last)
    for path in paths:
        section = tree
        for part in path:
            section = section[part]
        kwargs = dict(section["kwargs"])
        prefix = ".".join((*path, "kwargs")) + "."
        kwargs["strategy"] = strategy_for_trainable(kwargs.pop("trainable"),
                                                    kwargs.get("strategy"), "config", prefix,
                                                    warn=warn)
        section["kwargs"] = kwargs
    return tree


def _has(tree: dict, dotted: str) -> bool:
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _legacy_sections(node: Any, path: tuple[str, ...]):
    """Paths of the QontOT sections (``name: qontot``) whose ``kwargs`` say ``trainable``."""
    if not isinstance(node, dict):
        return
    kwargs = node.get("kwargs")
    if node.get("name") == "qontot" and isinstance(kwargs, dict) and "trainable" in kwargs:
        yield path
    for key, value in node.items():
        if key != "kwargs":
            yield from _legacy_sections(value, (*path, str(key)))
