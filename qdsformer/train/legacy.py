"""Config keys renamed since runs were first saved, read under their current names.

Every reader of a config tree passes it through :func:`upgrade_config` once, so a file written
with an older name and one written with the current name are the same config everywhere: the
config loader (:func:`qdsformer.train.config.from_dict`, which warns), the sweep's stale check
and the report's grouping of saved run folders (which do not warn: a committed run folder keeps
the names it was written with). The renames (docs/glossary.md, "Renames"):

- ``attention.kwargs.trainable`` of QontOT (and of any other section with ``name: qontot``,
  e.g. ``teacher.attention``) -> ``strategy``: ``true`` is ``differentiable``, ``false`` is
  ``static``.
"""

from __future__ import annotations

import copy
from typing import Any

from qdsformer.attention.qontot import strategy_for_trainable


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
    if not paths:
        return tree
    tree = copy.deepcopy(tree)
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
