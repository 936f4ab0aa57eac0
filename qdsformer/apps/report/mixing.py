"""Which runs may be averaged together: the same resolved config, seed keys aside.

A report averages the seeds of a cell (a sweep's ``<sweep>/<cell>/seed<k>`` folders) and, with
``--paper``, pools the cells that land at one position of the paper's table. Both are only
meaningful when the runs differ in nothing but their seed. The rule, applied to each run
folder's ``config.yaml`` flattened to dotted keys:

- bookkeeping keys are ignored: ``experiment`` and ``run.seed``, where a run was written and
  what it was called (``run.out_dir``, ``run.run_name``), where and how it ran
  (``run.device``, ``run.progress``) and where its data was read from (``data.root``,
  ``data.download``);
- the cross-validation fold (``data.fold``) is a replicate like the seed: the folds of a
  protocol are pooled as its seeds are (Table A2: 5 folds per cell);
- when the compared runs do not all share one seed, a key whose value equals ``run.seed`` in
  every one of them is a seed key and ignored (a sweep's ``seed_keys``, e.g. ``attention.kwargs.seed``,
  are not stored in run folders; this finds them). A value that merely equals the seed in some
  runs (``n_layers: 1`` at seed 1) is not a seed key: it must then agree like any other key;
- every other key must have the same value in every compared run. A key that a run's
  ``config.yaml`` lacks counts as its dataclass default (:class:`qdsformer.train.config.Config`;
  runs written before a key existed compare equal to new runs at its default); a key with no
  default (inside ``*.kwargs``, or of another command's config) counts as absent, a value of
  its own.

Runs that break the rule are an error naming the differing keys, never split or averaged.
"""

from __future__ import annotations

from collections.abc import Iterable

from qdsformer.apps.report.collect import RunRecord
from qdsformer.train.config import field_defaults, flatten

#: Keys that say where or how a run was done, not what was trained.
BOOKKEEPING_KEYS = frozenset({"experiment", "run.seed", "run.out_dir", "run.run_name",
                              "run.device", "run.progress", "run.log", "data.root",
                              "data.download"})
#: Keys that index replicates of one protocol, pooled like seeds.
REPLICATE_KEYS = frozenset({"data.fold"})

_ABSENT = "<absent>"


def _is_seed(value: object, seed: object) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool) and isinstance(seed, int)
            and not isinstance(seed, bool) and value == seed)


def config_differences(runs: Iterable[tuple[str, RunRecord]]) -> dict[str, dict[str, list[str]]]:
    """The keys on which ``runs`` (``(label, record)`` pairs) disagree, seed keys aside.

    Returns ``{dotted key: {value as text: [labels of the runs with it]}}``, empty when the
    runs may be averaged together.
    """
    runs = list(runs)
    flats = [(label, flatten(record.config), record.get("run.seed")) for label, record in runs]
    if len(flats) < 2:
        return {}
    defaults = field_defaults()
    flats = [(label, {**{k: v for k, v in defaults.items() if k not in flat and
                         not any(o.startswith(k + ".") for o in flat)}, **flat}, seed)
             for label, flat, seed in flats]
    keys = sorted(set().union(*(flat for _, flat, _ in flats)) - BOOKKEEPING_KEYS - REPLICATE_KEYS)
    varied_seeds = len({repr(seed) for _, _, seed in flats}) > 1
    differences = {}
    for key in keys:
        values = [(label, flat.get(key, _ABSENT), seed) for label, flat, seed in flats]
        if varied_seeds and all(_is_seed(value, seed) for _, value, seed in values):
            continue
        by_value: dict[str, list[str]] = {}
        for label, value, _ in values:
            by_value.setdefault(value if value is _ABSENT else repr(value), []).append(label)
        if len(by_value) > 1:
            differences[key] = by_value
    return differences


def _runs(labels: list[str], limit: int = 2) -> str:
    labels = list(dict.fromkeys(labels))
    more = len(labels) - limit
    return ", ".join(labels[:limit]) + (f" and {more} more" if more > 0 else "")


def describe_differences(differences: dict[str, dict[str, list[str]]], limit: int = 3) -> str:
    """One line: ``key = a (run, run) / b (run)``, for the first ``limit`` keys, naming at most
    two runs (or cells) per value."""
    parts = []
    for key, by_value in list(differences.items())[:limit]:
        parts.append(f"{key} = " + " / ".join(f"{value} ({_runs(labels)})"
                                                for value, labels in by_value.items()))
    more = len(differences) - limit
    return "; ".join(parts) + (f"; and {more} more key(s)" if more > 0 else "")


def check_same_config(what: str, runs: Iterable[tuple[str, RunRecord]]) -> None:
    """Raise ValueError naming the differing keys when ``runs`` are not one config."""
    differences = config_differences(runs)
    if differences:
        raise ValueError(f"{what} mixes runs of different configs: "
                         f"{describe_differences(differences)}; put them in separate cells "
                         "(folders) or remove the odd runs")
