"""The application layer: commands and loops that put the library's blocks together.

One module per ``qdsformer`` subcommand (``train``, ``distill``, ``list``, ``analyze``,
``circuits``, ``evaluate``, ``bench ...``, ``sweep``, ``report``) and the dispatcher
:mod:`qdsformer.apps.cli`.
Helpers that several commands share live in :mod:`qdsformer.apps.shared`; no command module is
imported by another. Nothing in the library packages imports this package (import-linter
``layers`` contract in pyproject.toml).
"""
