"""One syntax for settings on the command line: ``key=value`` and ``name:key=value,...``.

Values are read as YAML scalars (``3`` int, ``0.5`` float, ``true`` bool, ``null`` None,
``[1, 2]`` list, anything else a string), with one fix: YAML 1.1 reads ``1e-3`` (no dot) as a
string, here it is the float 0.001. ``--set optim.lr=1e-3`` in ``qdsformer train`` and
``sinkhorn:epsilon=1e-3`` in ``qdsformer analyze`` / ``bench attention`` read the same.
"""

from __future__ import annotations

from typing import Any

import yaml


def parse_value(text: str) -> Any:
    """A setting's value from its text (YAML scalar syntax; ``1e-3`` is a float)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"cannot read setting value {text!r}: {err}") from None
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value`` -> ``(key, value)``; the key may be dotted (``optim.lr``)."""
    key, eq, raw = text.partition("=")
    key = key.strip()
    if not eq or not key:
        raise ValueError(f"setting {text!r} must look like key=value")
    return key, parse_value(raw.strip())


def parse_named_setting(text: str) -> tuple[str, dict[str, Any]]:
    """``name`` or ``name:key=value,key=value`` -> ``(name, {key: value})``.

    Commas separate settings, so a value may not contain one (no YAML lists here).
    """
    name, _, rest = text.strip().partition(":")
    name = name.strip()
    if not name:
        raise ValueError(f"setting {text!r} has no name; expected name[:key=value,...]")
    kwargs: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        try:
            key, value = parse_assignment(item)
        except ValueError:
            raise ValueError(f"setting {text!r}: {item!r} is not key=value") from None
        if key in kwargs:
            raise ValueError(f"setting {text!r} gives {key!r} twice")
        kwargs[key] = value
    return name, kwargs
