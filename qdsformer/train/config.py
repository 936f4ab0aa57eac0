"""Training configuration: dataclasses, YAML files, ``--set a.b=c`` overrides.

Precedence: dataclass defaults < YAML file < ``--set`` overrides. An unknown key anywhere is a
ValueError naming it; the resolved config is saved with every run as ``config.yaml``.
The loader is generic over the dataclass type, so other commands reuse it with their own
config class.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from qdsformer.common.results import write_yaml
from qdsformer.common.settings import parse_assignment


@dataclass
class ModelConfig:
    """ViT preset and optional overrides of its fields (None keeps the preset's value).

    ``num_classes`` None is resolved by the fit loop to the dataset's class count (MedMNIST sets
    have 2-11 classes) and saved with the run.
    """

    preset: str = "qdsformer_digits"
    depth: int | None = None
    embed_dim: int | None = None
    num_heads: int | None = None
    mlp_ratio: float | None = None
    num_classes: int | None = None


@dataclass
class AttentionConfig:
    """Registered normaliser name and its keyword arguments.

    The default is the embedded run's: QontOT with a 4-layer circuit and one auxiliary qubit,
    which trains reliably on digits (results/quantum/README.md); the paper's setting
    (4 auxiliary qubits, 16 layers) is in experiments/configs/fmnist_qontot.yaml.
    """

    name: str = "qontot"
    kwargs: dict = field(default_factory=lambda: {"n_layers": 4, "n_aux_qubits": 1})


@dataclass
class DataConfig:
    """Dataset, where its files are, batch size, optional subset sizes for quick runs."""

    name: str = "digits"
    root: str | None = None
    download: bool = False
    batch_size: int = 32
    train_limit: int | None = None
    val_limit: int | None = None
    test_limit: int | None = None
    fold: int = 0  # cross-validated data sets (ir): the test fold, 0 .. n_folds - 1
    n_folds: int = 5


@dataclass
class OptimConfig:
    """Optimiser and learning-rate schedule.

    Defaults are the embedded digits run; the paper's Fashion-MNIST setting (Adam 5e-4, 50
    epochs, /10 at epochs 31 and 45, batch 100) is in experiments/configs/fmnist_*.yaml.
    ``warmup_epochs``, ``warmup_lr`` and ``min_lr`` shape the ``cosine`` schedule (linear
    warm-up, then a cosine down to ``min_lr``; :func:`qdsformer.train.schedules.warmup_cosine_lr`);
    their defaults (0, 0, 0) keep the plain cosine to zero.
    """

    name: str = "adam"
    lr: float = 3e-3
    weight_decay: float = 0.0
    epochs: int = 60
    schedule: str = "cosine"
    milestones: list = field(default_factory=lambda: [31, 45])
    gamma: float = 0.1
    grad_clip: float | None = None
    warmup_epochs: int = 0
    warmup_lr: float = 0.0
    min_lr: float = 0.0


@dataclass
class MixedConfig:
    """The gradient-free phase of QontOT's ``attention.kwargs.strategy: mixed``.

    A fit-loop setting, not a property of the attention operator, so it lives in its own
    section (read only when some block is ``mixed``; :mod:`qdsformer.train.mixed`): after every
    ``every``-th epoch, ``steps`` evaluations of the Nevergrad optimiser ``optimizer`` on the
    training loss of a fit batch of ``batch_size`` training examples (null: the data batch
    size), kept only if it lowers the loss of a disjoint check batch of ``check_size`` training
    examples (null: as many as the fit batch); both batches drawn afresh every phase, seeded
    with ``seed`` (null: the run seed) and the epoch.
    """

    optimizer: str = "NGOpt"
    steps: int = 200
    every: int = 1
    batch_size: int | None = None
    check_size: int | None = None
    seed: int | None = None


@dataclass
class RunConfig:
    """Seed, device (auto = CUDA when present), where results go, progress bar, logging, compiling.

    ``log``: ``"none"`` or ``"tensorboard"`` (event files in ``<run>/tensorboard/`` beside
    metrics.csv; the optional ``tensorboard`` package, :mod:`qdsformer.train.tensorboard`).
    ``compile``: train under ``torch.compile`` (:mod:`qdsformer.train.compile`).
    """

    seed: int = 0
    device: str = "auto"
    out_dir: str = "results"
    run_name: str | None = None
    progress: bool = True
    log: str = "none"
    compile: bool = False


@dataclass
class Config:
    """A whole training run; results go to ``<run.out_dir>/<experiment>/<run name>/``."""

    experiment: str = "digits"
    model: ModelConfig = field(default_factory=ModelConfig)
    attention: AttentionConfig = field(default_factory=AttentionConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    mixed: MixedConfig = field(default_factory=MixedConfig)
    run: RunConfig = field(default_factory=RunConfig)


def to_dict(config) -> dict:
    """The config as plain nested dicts and lists (YAML-safe)."""
    return dataclasses.asdict(config)


def from_dict(cls, data: dict, where: str = ""):
    """Build dataclass ``cls`` from nested dicts; unknown keys raise ValueError naming them."""
    if not isinstance(data, dict):
        raise ValueError(f"config section {where or '<root>'} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(
            f"unknown config key(s) {', '.join(where + k for k in unknown)}; "
            f"known in {where or 'the top level'}: {', '.join(sorted(names))}"
        )
    values = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = from_dict(hint, value, f"{where}{name}.")
        else:
            values[name] = _coerce(value, hint, where + name)
    return cls(**values)


def _coerce(value: Any, hint, key: str) -> Any:
    """Check ``value`` against a simple type hint; ints are accepted where floats are."""
    if value is None:
        if type(None) in typing.get_args(hint):
            return None
        raise ValueError(f"config key {key} may not be null")
    options = [t for t in typing.get_args(hint) if t is not type(None)] or [hint]
    for option in options:
        base = typing.get_origin(option) or option
        if base is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if base is float and isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                return float(value)
            except ValueError:
                pass
        if base is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if base in (str, bool, list, dict) and isinstance(value, base):
            return value
    expected = " or ".join(getattr(t, "__name__", str(t)) for t in options)
    raise ValueError(f"config key {key} expects {expected}, got {value!r}")


def apply_override(data: dict, assignment: str) -> None:
    """Apply ``a.b.c=value`` to nested dict ``data`` in place.

    The value syntax is :func:`qdsformer.common.settings.parse_value` (YAML scalars; ``1e-3``
    is a float), the same as ``name:key=value`` settings elsewhere on the command line.
    """
    try:
        key, value = parse_assignment(assignment)
    except ValueError:
        raise ValueError(f"override {assignment!r} must look like key.path=value") from None
    parts = key.split(".")
    node = data
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part) if isinstance(node, dict) else None
        if child is None and isinstance(node, dict) and part in node:
            child = node[part] = {}
        if not isinstance(child, dict):
            if part not in node:
                raise ValueError(f"unknown config key {'.'.join(parts[:depth + 1])}")
            raise ValueError(f"config key {'.'.join(parts[:depth + 1])} is not a section")
        node = child
    node[parts[-1]] = value


def _merge(base: dict, update: dict, where: str = "") -> dict:
    for key, value in update.items():
        if key not in base:
            raise ValueError(f"unknown config key {where}{key}; known: {', '.join(sorted(base))}")
        if isinstance(base[key], dict) and isinstance(value, dict) and key != "kwargs":
            _merge(base[key], value, f"{where}{key}.")
        else:
            base[key] = value
    return base


def load_config(path: str | Path | None = None, overrides: Iterable[str] = (), cls=Config):
    """Defaults of ``cls``, updated by the YAML file at ``path``, then by ``overrides``.

    The default ``kwargs`` of a section with ``name`` and ``kwargs`` (an attention normaliser)
    belong to the default name: a YAML file or override that names the backend starts from
    empty kwargs, so ``--set attention.name=sinkhorn`` does not hand qontot's options to
    Sinkhorn, and ``--set attention.kwargs.n_iters=5`` beside it gives exactly {n_iters: 5}.
    """
    data = to_dict(cls())
    loaded: dict = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ValueError(f"config file {path} does not exist")
        if not path.is_file():
            raise ValueError(f"config file {path} is not a file (a folder?)")
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise ValueError(f"config file {path}{where}: invalid YAML ({problem})") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"config file {path} must hold a mapping, got {type(loaded).__name__}")
    named = [k for k in _dotted_keys(loaded)] + [a.split("=", 1)[0].strip() for a in overrides]
    for key in named:
        section, _, leaf = key.rpartition(".")
        node = data
        for part in section.split(".") if section else []:
            node = node.get(part) if isinstance(node, dict) else None
        if leaf == "name" and isinstance(node, dict) and "kwargs" in node:
            node["kwargs"] = {}
    _merge(data, loaded)
    for assignment in overrides:
        apply_override(data, assignment)
    return from_dict(cls, data)


def _dotted_keys(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        yield prefix + key
        if isinstance(value, dict) and key != "kwargs":
            yield from _dotted_keys(value, f"{prefix}{key}.")


def save_config(config, path: str | Path) -> None:
    """Write the resolved config as YAML (atomically)."""
    write_yaml(to_dict(config), path)
