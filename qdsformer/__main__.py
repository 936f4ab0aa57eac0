"""``python -m qdsformer`` is the same as the ``qdsformer`` console script."""

from qdsformer.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
