"""The console script ``qdsformer`` (pyproject.toml) and ``python -m qdsformer``.

A thin entry point: the dispatcher and its command table live in :mod:`qdsformer.apps.cli`.
"""

from qdsformer.apps.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
