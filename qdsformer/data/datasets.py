"""Datasets: the embedded default (sklearn digits), Fashion-MNIST and MNIST.

Every dataset is an :class:`ArrayDataset` of standardised float images (N, 1, H, W) and int64
labels, held in memory (the largest, 60k 28x28 images, is 190 MB as float32).

Splits are fixed and seeded (seed :data:`SPLIT_SEED`, independent of the run seed), so every
run sees the same train/val/test partition:

- ``digits``: 1,797 8x8 images from ``sklearn.datasets.load_digits`` (ships with
  scikit-learn), shuffled once, then 20% test, 10% val, 70% train.
- ``fashion-mnist`` / ``mnist``: the official 10k test set; the 60k training set is split into
  55k train and 5k val.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from qdsformer.common.registry import Registry
from qdsformer.data.idx import read_idx

log = logging.getLogger(__name__)

SPLIT_SEED = 0
SPLITS = ("train", "val", "test")
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
MNIST_VAL_SIZE = 5000


class ArrayDataset(Dataset):
    """Images (N, C, H, W) float32 and labels (N,) int64 held as tensors."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, name: str, split: str) -> None:
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
        self.images = images
        self.labels = labels
        self.name = name
        self.split = split

    def __len__(self) -> int:
        return self.labels.shape[0]

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    def subset(self, limit: int | None) -> ArrayDataset:
        """The first ``limit`` examples (splits are already shuffled), or self when None."""
        if limit is None or limit >= len(self):
            return self
        if limit < 1:
            raise ValueError(f"a dataset limit must be >= 1, got {limit}")
        return ArrayDataset(self.images[:limit], self.labels[:limit], self.name, self.split)


@dataclass(frozen=True)
class _IdxSpec:
    folder: str  # torchvision's folder name: <root>/<folder>/raw/
    mean: float
    std: float
    torchvision_class: str
    debian_dir: Path | None


_IDX_DATASETS = {
    "fashion-mnist": _IdxSpec("FashionMNIST", 0.2860, 0.3530, "FashionMNIST", DEBIAN_FASHION_MNIST),
    "mnist": _IdxSpec("MNIST", 0.1307, 0.3081, "MNIST", None),
}
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def list_datasets() -> list[str]:
    """Names accepted by :func:`build_dataset`, sorted."""
    return DATASETS.names()


def build_dataset(
    name: str = "digits",
    split: str = "train",
    root: str | Path | None = None,
    download: bool = False,
) -> ArrayDataset:
    """Load split ``split`` of dataset ``name``.

    Args:
        name: ``digits`` (embedded), ``fashion-mnist`` or ``mnist``.
        split: ``train``, ``val`` or ``test``.
        root: folder holding the IDX files (directly, or torchvision's ``<root>/<Name>/raw``).
        download: allow torchvision to download into ``root`` when the files are absent.
    """
    builder = DATASETS.get(name)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return builder(split, root=root, download=download)


def _standardise(images: np.ndarray, mean: float, std: float) -> torch.Tensor:
    return torch.from_numpy(((images.astype(np.float32) - mean) / std).astype(np.float32))


def _digits(split: str, root=None, download: bool = False) -> ArrayDataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.astype(np.float32) / 16.0  # (1797, 8, 8) in [0, 1]
    labels = bunch.target.astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    n_test = int(round(0.2 * len(labels)))
    n_val = int(round(0.1 * len(labels)))
    parts = {
        "test": order[:n_test],
        "val": order[n_test:n_test + n_val],
        "train": order[n_test + n_val:],
    }
    train = images[parts["train"]]
    mean, std = float(train.mean()), float(train.std())
    idx = parts[split]
    x = _standardise(images[idx], mean, std).unsqueeze(1)  # (N, 1, 8, 8)
    return ArrayDataset(x, torch.from_numpy(labels[idx]), "digits", split)


def _find_idx_files(name: str, part: str, root: Path | None) -> tuple[Path, Path] | None:
    spec = _IDX_DATASETS[name]
    folders = []
    if root is not None:
        folders += [root, root / spec.folder / "raw", root / name]
    if spec.debian_dir is not None:
        folders.append(spec.debian_dir)
    for folder in folders:
        found = []
        for stem in _IDX_FILES[part]:
            hits = [folder / (stem + ext) for ext in ("", ".gz") if (folder / (stem + ext)).exists()]
            if not hits:
                break
            found.append(hits[0])
        if len(found) == 2:
            return found[0], found[1]
    return None


def _idx_dataset(name: str, split: str, root, download: bool) -> ArrayDataset:
    spec = _IDX_DATASETS[name]
    root = Path(root).expanduser() if root is not None else None
    part = "test" if split == "test" else "train"
    files = _find_idx_files(name, part, root)
    if files is None and download:
        if root is None:
            raise ValueError(f"downloading {name} needs a data root (--set data.root=DIR)")
        import torchvision.datasets

        log.info("downloading %s into %s", name, root)
        getattr(torchvision.datasets, spec.torchvision_class)(str(root), train=True, download=True)
        getattr(torchvision.datasets, spec.torchvision_class)(str(root), train=False, download=True)
        files = _find_idx_files(name, part, root)
    if files is None:
        where = [str(root), str(root / spec.folder / "raw")] if root else []
        if spec.debian_dir is not None:
            where.append(f"{spec.debian_dir} (apt-get install dataset-fashion-mnist)")
        raise FileNotFoundError(
            f"{name} files {', '.join(_IDX_FILES[part])}[.gz] not found; looked in: "
            f"{'; '.join(where) or '(no data root given)'}. Put the IDX files in a folder and "
            f"pass it as data.root, or allow downloading with data.download=true."
        )
    images = read_idx(files[0])  # (N, 28, 28) uint8
    labels = read_idx(files[1]).astype(np.int64)  # (N,)
    if split != "test":
        order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
        idx = order[MNIST_VAL_SIZE:] if split == "train" else order[:MNIST_VAL_SIZE]
        images, labels = images[idx], labels[idx]
    x = _standardise(images / 255.0, spec.mean, spec.std).unsqueeze(1)  # (N, 1, 28, 28)
    return ArrayDataset(x, torch.from_numpy(labels), name, split)


#: Dataset builders by name: ``builder(split, root=..., download=...) -> ArrayDataset``.
#: A new dataset registers its builder here (``DATASETS.add(name, builder)``).
DATASETS: Registry[Callable[..., ArrayDataset]] = Registry("dataset", {
    "digits": _digits,
    **{name: partial(_idx_dataset, name) for name in _IDX_DATASETS},
})
