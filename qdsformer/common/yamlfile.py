"""Reading YAML files strictly: a key written twice in one mapping is an error.

PyYAML keeps the last of two equal keys without a word, so a sweep variant or a config key
written twice would silently drop one. :func:`read_yaml` refuses that, and reports every
problem (missing file, folder, syntax, duplicate key) as one ValueError line naming the file,
with the line and column where YAML knows them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A key written twice in one YAML mapping."""


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that raises on a key repeated within one mapping."""

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: SafeLoader reports it below
                break
            if duplicate:
                raise DuplicateKeyError(None, None, f"key {key!r} is written twice in one "
                                        "mapping (YAML would keep only the last)",
                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str) -> Any:
    """``text`` as YAML (safe tags only); a duplicate key raises ``yaml.YAMLError``."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)


def read_yaml(path: str | Path, what: str) -> Any:
    """The YAML document in ``path``; ``what`` names the file's role in messages.

    Raises:
        ValueError: ``<what> <path>: ...`` for a missing file, a folder, an unreadable file,
            invalid YAML or a duplicate key (with ``line L, column C`` where known).
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{what} {path} does not exist")
    if not path.is_file():
        raise ValueError(f"{what} {path} is not a file (a folder?)")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"{what} {path}: cannot read it ({err})") from None
    try:
        return parse_yaml(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        if isinstance(err, DuplicateKeyError):
            raise ValueError(f"{what} {path}{where}: {problem}") from None
        raise ValueError(f"{what} {path}{where}: invalid YAML ({problem})") from None
