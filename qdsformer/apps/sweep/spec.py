"""Sweep files: parse, validate and expand into cells (pure; nothing is run or written here).

A sweep file names a base config, fixed overrides, a grid and seeds::

    name: fmnist_comparison              # results go to <out_dir>/<name>/<cell>/seed<k>/
    base: ../configs/fmnist_softmax.yaml # relative to the sweep file
    out_dir: results                     # optional (default: the base config's run.out_dir)
    seeds: [0, 1, 2]
    seed_keys: [attention.kwargs.seed]   # optional: more keys that take each run's seed
    set: {optim.epochs: 20, optim.milestones: [12, 18]}   # every cell (optional)
    variants:                            # optional axis of named alternatives
      softmax: {attention.name: softmax}
      qontot: {attention.name: qontot, attention.kwargs: {n_aux_qubits: 2, n_layers: 8}}
    grid:                                # optional cartesian axes: dotted key -> values
      model.depth: [1, 2]

``run.seed`` always takes the cell's seed; ``seed_keys`` names further keys that do (e.g. the
seed of a circuit's static parameters, so the spread over seeds includes the circuit draw),
in the cells whose config has that key (a softmax cell has no circuit seed).
Cells are the product variants x grid (x seeds); each is an ordinary run folder
``<out_dir>/<name>/<variant>-<leaf><value>.../seed<k>/`` made by ``qdsformer train``. Every cell's
config is resolved (defaults < base file < set < variant < grid < seed, each a layer of the one
merge rule, :mod:`qdsformer.train.merge`) and validated when the file is expanded, so every bad
key or value of every cell is an error before any cell starts; the cell then trains exactly
that resolved config.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from qdsformer.common.yamlfile import read_yaml
from qdsformer.models.checkpoint import CHECKPOINT_NAME
from qdsformer.train.config import Config, config_tree, from_dict
from qdsformer.train.legacy import upgrade_config
from qdsformer.train.merge import merge_layer
from qdsformer.train.validate import validate_config

SWEEP_KEYS = {"name", "base", "out_dir", "seeds", "seed_keys", "set", "variants", "grid"}
_SAFE = re.compile(r"[^A-Za-z0-9._=+-]+")


@dataclass(frozen=True)
class SweepSpec:
    """A parsed sweep file; ``base`` is an absolute path or None (dataclass defaults)."""

    name: str
    base: Path | None
    out_dir: Path
    seeds: tuple[int, ...]
    seed_keys: tuple[str, ...] = ()
    fixed: dict = field(default_factory=dict)
    variants: dict = field(default_factory=dict)
    grid: dict = field(default_factory=dict)
    source: Path | None = None


@dataclass(frozen=True)
class Cell:
    """One run of a sweep: its folder and its resolved, validated config (what it trains)."""

    name: str
    seed: int
    run_dir: Path
    config: Config

    @property
    def label(self) -> str:
        """``<sweep>/<cell>/seed<k>``: the last three parts of the run folder."""
        return "/".join(self.run_dir.parts[-3:])


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and check a sweep file; relative ``base`` and ``out_dir`` are resolved.

    ``base`` is relative to the sweep file; ``out_dir`` to the current directory (like
    ``run.out_dir``). Raises ValueError naming the file (and line, for YAML errors and keys
    written twice, such as a variant name).
    """
    path = Path(path)
    data = read_yaml(path, "sweep file")
    if not isinstance(data, dict):
        raise ValueError(f"sweep file {path} must hold a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - SWEEP_KEYS)
    if unknown:
        raise ValueError(f"sweep file {path}: unknown key(s) {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(SWEEP_KEYS))}")
    name = data.get("name")
    if not isinstance(name, str) or not name or _SAFE.search(name):
        raise ValueError(f"sweep file {path}: name must be a folder-safe string, got {name!r}")
    seeds = data.get("seeds", [0])
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
            or len(set(seeds)) != len(seeds)):
        raise ValueError(f"sweep file {path}: seeds must be a list of distinct ints, got {seeds!r}")
    seed_keys = data.get("seed_keys") or []
    if not isinstance(seed_keys, list) or not all(isinstance(k, str) for k in seed_keys):
        raise ValueError(f"sweep file {path}: seed_keys must be a list of dotted keys, "
                         f"got {seed_keys!r}")
    sections = {}
    for key in ("set", "variants", "grid"):
        value = data.get(key) or {}
        if not isinstance(value, dict):
            raise ValueError(f"sweep file {path}: {key} must be a mapping, got {value!r}")
        sections[key] = value
    for label, overrides in sections["variants"].items():
        if not isinstance(overrides, dict):
            raise ValueError(f"sweep file {path}: variant {label!r} must map dotted keys to "
                             f"values, got {overrides!r}")
        if _SAFE.search(str(label)):
            raise ValueError(f"sweep file {path}: variant name {label!r} must be folder-safe")
    for key, values in sections["grid"].items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"sweep file {path}: grid key {key} must list its values, "
                             f"got {values!r}")
    base = data.get("base")
    base_path = (path.parent / base).resolve() if base else None
    if base_path is not None and not base_path.is_file():
        raise ValueError(f"sweep file {path}: base config {base_path} does not exist")
    out_dir = data.get("out_dir")
    if out_dir is None:
        out_dir = config_tree(base_path)["run"]["out_dir"]
    return SweepSpec(name=name, base=base_path, out_dir=Path(out_dir), seeds=tuple(seeds),
                     seed_keys=tuple(seed_keys), fixed=sections["set"], variants=sections["variants"],
                     grid=sections["grid"], source=path.resolve())


def _has_key(tree: dict, dotted: str) -> bool:
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _value_tag(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ""))
    return _SAFE.sub("_", str(text)).strip("_") or "_"


def _cell_names(spec: SweepSpec) -> list[tuple[str, list[dict]]]:
    """``(cell name, layers)`` in file order: variants outer, grid inner; layers set, variant,
    grid values (one layer each: the merge rule of :mod:`qdsformer.train.merge`)."""
    variants = list(spec.variants.items()) or [("", {})]
    combos: list[list[tuple[str, object]]] = [[]]
    for key, values in spec.grid.items():
        combos = [combo + [(key, value)] for combo in combos for value in values]
    out = []
    for label, variant in variants:
        for combo in combos:
            parts = [str(label)] if label else []
            parts += [f"{key.rsplit('.', 1)[-1]}{_value_tag(value)}" for key, value in combo]
            out.append(("-".join(parts) or "base", [spec.fixed, variant, dict(combo)]))
    return out


def expand(spec: SweepSpec, *, check_device: bool = True) -> list[Cell]:
    """All cells of ``spec`` in file order (variants outer, grid, seeds inner), configs resolved.

    Each cell's config is the base file with the layers ``set`` < variant < grid values <
    seed merged in by the one rule (:func:`qdsformer.train.merge.merge_layer`); the seed
    layer sets ``run.seed`` and each ``seed_keys`` entry that the cell's config has. Every
    config is checked whole (:func:`qdsformer.train.validate.validate_config`: the model built
    from its attention kwargs, optimiser, output folder, and the device unless
    ``check_device`` is False, for cells that will run on other machines).

    Raises:
        ValueError: one line listing every bad cell (cells of one name with one problem are
            listed once, with their seeds), a ``seed_keys`` entry no cell has, or two cells
            sharing a folder. Nothing is run or written.
    """
    base = config_tree(spec.base)
    cells, seen, problems = [], {}, {}
    matched: set[str] = set()
    for name, layers in _cell_names(spec):
        for seed in spec.seeds:
            run_dir = spec.out_dir / spec.name / name / f"seed{seed}"
            try:
                tree = copy.deepcopy(base)
                for layer in layers:
                    merge_layer(tree, layer, Config)
                keys = [key for key in spec.seed_keys if _has_key(tree, key)]
                matched.update(keys)
                merge_layer(tree, [("run.seed", seed), ("experiment", spec.name),
                                   ("run.out_dir", str(spec.out_dir))]
                            + [(key, seed) for key in keys], Config)
                config = from_dict(Config, upgrade_config(tree, warn=True))
                validate_config(config, run_dir, check_device=check_device)
            except ValueError as err:
                problems.setdefault((name, str(err)), []).append(seed)
                continue
            if run_dir in seen:
                raise ValueError(f"sweep {spec.name}: cells {seen[run_dir]} and {name} "
                                 f"would share the folder {run_dir}; rename a variant")
            seen[run_dir] = name
            cells.append(Cell(name, seed, run_dir, config))
    lines = [f"cell {name}/seed{seeds[0]}: {err}" if len(seeds) == 1 else
             f"cell {name} (seeds {', '.join(map(str, seeds))}): {err}"
             for (name, err), seeds in problems.items()]
    unmatched = [key for key in spec.seed_keys if key not in matched]
    if unmatched and not problems:
        lines.append(f"seed_keys {', '.join(unmatched)} match no key of any cell")
    if lines:
        raise ValueError(f"sweep {spec.name}: " + ("bad cells: " if problems else "")
                         + "; ".join(lines))
    return cells


def cell_status(cell: Cell) -> str:
    """``finished`` (summary.json says so), ``partial`` (a checkpoint to resume) or ``new``."""
    summary = cell.run_dir / "summary.json"
    if summary.exists():
        try:
            if json.loads(summary.read_text()).get("finished"):
                return "finished"
        except (OSError, ValueError):
            pass
    if (cell.run_dir / CHECKPOINT_NAME).exists():
        return "partial"
    return "new"
