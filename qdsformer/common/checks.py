"""One checker for scalar arguments: type, range and finiteness, one message naming the key.

Every public constructor that takes numbers calls :func:`check_number` (or
:func:`check_int`), so a bad value raises ``ValueError("<owner>: <key> must be ..., got
<value>")`` at the call, never a TypeError or an all-NaN result deep inside.
"""

from __future__ import annotations

import math
import numbers


def _describe(kind: str, low, high, low_open: bool) -> str:
    parts = [kind]
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'and ' if low is not None else ''}<= {high:g}")
    return " ".join(parts)


def check_number(owner: str, key: str, value, *, low: float | None = None,
                 high: float | None = None, low_open: bool = False) -> float:
    """``value`` as a float, if it is a finite real number (not a bool) in the range.

    Args:
        owner: who takes the value (e.g. ``"esp"``), the message's prefix.
        key: the argument's name.
        value: what was passed.
        low: lower bound (None: unbounded).
        high: upper bound, inclusive (None: unbounded).
        low_open: make ``low`` exclusive.

    Raises:
        ValueError: ``"<owner>: <key> must be a finite number [range], got <value!r>"``.
    """
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and math.isfinite(float(value))
          and (low is None or (float(value) > low if low_open else float(value) >= low))
          and (high is None or float(value) <= high))
    if not ok:
        raise ValueError(f"{owner}: {key} must be {_describe('a finite number', low, high, low_open)}"
                         f", got {value!r}")
    return float(value)


def check_int(owner: str, key: str, value, *, low: int | None = None,
              high: int | None = None) -> int:
    """``value`` if it is an int (not a bool) in [low, high].

    Raises:
        ValueError: ``"<owner>: <key> must be an int [range], got <value!r>"``.
    """
    ok = (isinstance(value, numbers.Integral) and not isinstance(value, bool)
          and (low is None or value >= low) and (high is None or value <= high))
    if not ok:
        raise ValueError(f"{owner}: {key} must be {_describe('an int', low, high, False)}, "
                         f"got {value!r}")
    return int(value)
