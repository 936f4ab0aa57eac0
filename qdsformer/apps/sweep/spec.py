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
config is resolved (defaults < base file < set < variant < grid < seed) when the file is
expanded, so an unknown key or a value of the wrong type is an error before any cell starts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from qdsformer.models.checkpoint import CHECKPOINT_NAME
from qdsformer.train.config import Config, load_config, to_dict
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
    """One run of a sweep: its folder, the overrides that make it, and its resolved config."""

    name: str
    seed: int
    run_dir: Path
    overrides: tuple[str, ...]
    config: Config

    @property
    def label(self) -> str:
        """``<sweep>/<cell>/seed<k>``: the last three parts of the run folder."""
        return "/".join(self.run_dir.parts[-3:])


def _yaml_error(path: Path, err: yaml.YAMLError) -> ValueError:
    mark = getattr(err, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    problem = getattr(err, "problem", None) or str(err)
    return ValueError(f"sweep file {where}: malformed YAML: {problem}")


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and check a sweep file; relative ``base`` and ``out_dir`` are resolved.

    ``base`` is relative to the sweep file; ``out_dir`` to the current directory (like
    ``run.out_dir``). Raises ValueError naming the file (and line, for YAML errors).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"sweep file {path} does not exist or is not a file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise _yaml_error(path, err) from None
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
        out_dir = load_config(base_path).run.out_dir
    return SweepSpec(name=name, base=base_path, out_dir=Path(out_dir), seeds=tuple(seeds),
                     seed_keys=tuple(seed_keys), fixed=sections["set"], variants=sections["variants"],
                     grid=sections["grid"], source=path.resolve())


def _assignments(overrides: dict) -> list[str]:
    """``{dotted key: value}`` -> ``key=value`` strings (JSON values: YAML reads them back).

    A key that names a normaliser (``*.name``) without its ``*.kwargs`` also resets the kwargs,
    so a cell never inherits the base config's options of another backend.
    """
    out = []
    for key, value in overrides.items():
        out.append(f"{key}={json.dumps(value)}")
        if key.endswith(".name"):
            kwargs_key = key[: -len("name")] + "kwargs"
            if kwargs_key not in overrides and not any(
                    k.startswith(kwargs_key + ".") for k in overrides):
                out.append(f"{kwargs_key}={{}}")
    return out


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


def expand(spec: SweepSpec, *, check_device: bool = True) -> list[Cell]:
    """All cells of ``spec`` in file order (variants outer, grid, seeds inner), configs resolved.

    Every cell's config is checked whole (:func:`qdsformer.train.validate.validate_config`:
    preset vs dataset, heads vs width, optimiser numbers, output folder, and the device unless
    ``check_device`` is False, for cells that will run on other machines), so a bad cell fails
    before any cell runs. Raises ValueError naming the cell and the key when a cell's config
    does not resolve or validate, and when two cells would share a folder.
    """
    variants = list(spec.variants.items()) or [("", {})]
    axes = [[(key, value) for value in values] for key, values in spec.grid.items()]
    combos: list[list[tuple[str, object]]] = [[]]
    for axis in axes:
        combos = [combo + [pair] for combo in combos for pair in axis]
    cells, seen = [], {}
    for label, variant in variants:
        for combo in combos:
            parts = [str(label)] if label else []
            parts += [f"{key.rsplit('.', 1)[-1]}{_value_tag(value)}" for key, value in combo]
            name = "-".join(parts) or "base"
            for seed in spec.seeds:
                overrides = {**spec.fixed, **variant, **dict(combo)}
                assignments = _assignments(overrides) + [
                    f"run.seed={seed}", f"experiment={json.dumps(spec.name)}",
                    f"run.out_dir={json.dumps(str(spec.out_dir))}"]
                try:
                    config = load_config(spec.base, assignments)
                    seeded = [f"{key}={seed}" for key in spec.seed_keys
                              if _has_key(to_dict(config), key)]
                    if seeded:
                        assignments += seeded
                        config = load_config(spec.base, assignments)
                    run_dir = spec.out_dir / spec.name / name / f"seed{seed}"
                    validate_config(config, run_dir, check_device=check_device)
                except ValueError as err:
                    raise ValueError(f"sweep {spec.name}, cell {name}/seed{seed}: {err}") from None
                if run_dir in seen:
                    raise ValueError(f"sweep {spec.name}: cells {seen[run_dir]} and {name} "
                                     f"would share the folder {run_dir}; rename a variant")
                seen[run_dir] = name
                cells.append(Cell(name, seed, run_dir, tuple(assignments), config))
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
