"""The lowest layer: small generic pieces that every other package uses.

- :class:`~qdsformer.common.registry.Registry`: the one name -> object table behind every
  registry (normalisers, ansaetze, divergences, presets, datasets) and the CLI dispatch.
- :mod:`~qdsformer.common.results`: atomic JSON / CSV / YAML / bytes writes and a figure
  saver that never switches the matplotlib backend.
- :func:`~qdsformer.common.checks.check_number`, :func:`~qdsformer.common.checks.check_int`:
  the one type / range / finiteness check of scalar arguments.
- :mod:`~qdsformer.common.settings`: one value syntax for ``name:key=value`` and
  ``--set key=value``.

This package imports no other qdsformer package.
"""

from qdsformer.common.checks import check_int, check_number
from qdsformer.common.registry import Registry
from qdsformer.common.results import (
    atomic_write_bytes,
    atomic_write_text,
    remove_stale_temporaries,
    save_figure,
    write_csv,
    write_json,
    write_yaml,
)
from qdsformer.common.settings import parse_assignment, parse_named_setting, parse_value

__all__ = [
    "Registry",
    "atomic_write_bytes",
    "check_int",
    "check_number",
    "atomic_write_text",
    "parse_assignment",
    "parse_named_setting",
    "parse_value",
    "remove_stale_temporaries",
    "save_figure",
    "write_csv",
    "write_json",
    "write_yaml",
]
