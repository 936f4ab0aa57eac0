"""Datasets: the embedded default (sklearn digits), Fashion-MNIST, MNIST, MedMNIST, Eureka.

Every dataset is an :class:`ArrayDataset` of float images (N, C, H, W) and int64 labels, held in
memory: grey sets are standardised (N, 1, H, W) (60k 28x28 images are 190 MB as float32);
``eureka`` is (N, 3, 56, 56), unnormalised like its reference code (55k training images: 2.1 GB).

Splits are fixed and seeded (seed :data:`SPLIT_SEED`, independent of the run seed), so every
run sees the same train/val/test partition:

- ``digits``: 1,797 8x8 images from ``sklearn.datasets.load_digits`` (ships with
  scikit-learn), shuffled once, then 20% test, 10% val, 70% train.
- ``fashion-mnist`` / ``mnist``: the official 10k test set; the 60k training set is split into
  55k train and 5k val (a training file must hold more than 5k images).

No split is ever empty: :func:`build_dataset` refuses one, naming the split and its size.
- MedMNIST (:mod:`qdsformer.data.medmnist_sets`): the seven grey sets of QDSFormer Table 2,
  the RGB sets (N, 3, 28, 28) and the multi-label chestmnist (labels (N, 14)); the official
  train/val/test splits of ``<flag>.npz``, standardised per channel with the train images'
  mean and standard deviation.
- ``eureka`` (:mod:`qdsformer.data.eureka`): 56x56 RGB compositions of MNIST and Fashion-MNIST,
  each split composed from the same split of both (55k/5k/10k), no normalisation (as in
  Hoffmann et al.'s code).
- ``ir`` (:mod:`qdsformer.data.ir`): IR spectra (N, 1, 1, 1800) with 37 functional-group
  labels (multi-label), 5-fold cross-validation (``data.fold``, ``data.n_folds``).
- ``mnist1d`` (:mod:`qdsformer.data.mnist1d_set`): 40-point sequences (N, 1, 1, 40) generated
  locally by the ``mnist1d`` package; the official 1,000 test sequences, 10% of the 4,000
  training sequences as val.
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
from qdsformer.data.eureka import (
    EUREKA_SEED,
    colorize,
    compose_canvas,
    default_cache_dir,
    draw_eureka,
    load_eureka,
    source_fingerprint,
)
from qdsformer.data.functional_groups import FUNCTIONAL_GROUPS
from qdsformer.data.idx import read_idx
from qdsformer.data.ir import IR_LENGTH, load_ir
from qdsformer.data.medmnist_sets import (
    CHESTMNIST_LABELS,
    list_medmnist,
    load_medmnist,
    medmnist_channels,
    medmnist_num_classes,
)
from qdsformer.data.mnist1d_set import MNIST1D_LENGTH, load_mnist1d

log = logging.getLogger(__name__)

SPLIT_SEED = 0
SPLITS = ("train", "val", "test")
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
MNIST_VAL_SIZE = 5000


class ArrayDataset(Dataset):
    """Images (N, C, H, W) float32 and labels held as tensors.

    Labels are (N,) int64 class indices (single-label), or (N, K) float32 0/1 indicators for
    a multi-label set (``ir``, ``chestmnist``); :attr:`multilabel` tells which, and the fit
    loop picks its loss and metrics from it.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, name: str, split: str) -> None:
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{images.shape[0]} images but {labels.shape[0]} labels")
        self.images = images
        self.labels = labels
        self.name = name
        self.split = split

    def __len__(self) -> int:
        return self.labels.shape[0]

    @property
    def multilabel(self) -> bool:
        """True when the labels are (N, K) indicators (BCE, micro-F1), not (N,) classes."""
        return self.labels.ndim == 2

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    def subset(self, limit: int | None) -> ArrayDataset:
        """The first ``limit`` examples (splits are already shuffled), or self when None."""
        if limit is None or limit >= len(self):
            return self
        if limit < 1:
            raise ValueError(f"a dataset limit must be >= 1, got {limit}")
        return self._first(limit)

    def _first(self, limit: int) -> ArrayDataset:
        return ArrayDataset(self.images[:limit], self.labels[:limit], self.name, self.split)

    def set_epoch(self, epoch: int) -> None:
        """Called by the loader before each training epoch: a fixed data set ignores it."""


class RedrawnEureka(ArrayDataset):
    """The Eureka training set redrawn at every epoch, as Hoffmann et al.'s code does.

    :meth:`set_epoch` composes the images of epoch ``e`` from the stream (``seed``, train,
    ``e``) of :func:`qdsformer.data.eureka.draw_eureka`, so the compositions depend only on the
    seed and the epoch (a resumed run sees what an uninterrupted one saw). Only the first
    ``limit`` examples are composed.
    """

    def __init__(self, sources: tuple[np.ndarray, ...], seed: int, limit: int | None = None
                 ) -> None:
        self.sources = sources  # MNIST images, labels, Fashion-MNIST images, labels
        self.seed = seed
        self.limit = limit
        self.epoch = None
        super().__init__(*self._compose(0), "eureka", "train")
        self.epoch = 0

    def _compose(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        mnist_images, mnist_labels, fashion_images, fashion_labels = self.sources
        recipe = draw_eureka(mnist_labels, fashion_labels, self.seed, "train", epoch=epoch)
        keep = slice(0, self.limit)
        canvas = compose_canvas(mnist_images, fashion_images, recipe["sources"][keep])
        images = colorize(canvas, recipe["colors"][keep])  # (N, 3, 56, 56)
        return torch.from_numpy(images), torch.from_numpy(recipe["labels"][keep])

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.images, self.labels = self._compose(epoch)
            self.epoch = epoch

    def _first(self, limit: int) -> ArrayDataset:
        return RedrawnEureka(self.sources, self.seed, limit)  # composes only ``limit`` examples


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


def dataset_num_classes(name: str) -> int:
    """Number of classes of dataset ``name`` (MedMNIST: from medmnist.INFO or the built-in table)."""
    DATASETS.get(name)  # unknown names: a ValueError listing the known ones
    if name in MULTILABEL_LABELS:
        return len(MULTILABEL_LABELS[name])
    return medmnist_num_classes(name) if name in list_medmnist() else 10


#: Multi-label datasets and the names of their labels (in label-column order).
MULTILABEL_LABELS: dict[str, tuple[str, ...]] = {"ir": FUNCTIONAL_GROUPS,
                                                 "chestmnist": CHESTMNIST_LABELS}

#: Datasets split by k-fold cross-validation: their builders take ``fold`` and ``n_folds``
#: (``data.fold``, ``data.n_folds``).
CROSS_VALIDATED = frozenset({"ir"})


def dataset_is_multilabel(name: str) -> bool:
    """Whether dataset ``name`` is multi-label (the fit loop's task kind)."""
    DATASETS.get(name)
    return name in MULTILABEL_LABELS


#: Where the ``eureka`` val split comes from (``data.eureka_val``): ``holdout``, the 5k
#: training images held out (the default), or ``test``, the composed official test set.
EUREKA_VAL_SOURCES = ("holdout", "test")


def dataset_options(name: str, fold: int, n_folds: int, redraw_seed: int | None = None,
                    eureka_val: str = "holdout") -> dict:
    """The extra builder options of dataset ``name``.

    The fold of a cross-validated set; for ``eureka`` the seed of the per-epoch redraw of its
    training set (``data.redraw``: the run seed, None for the fixed draw) and the source of
    its val split (``data.eureka_val``).
    """
    if name in CROSS_VALIDATED:
        return {"fold": fold, "n_folds": n_folds}
    if name == "eureka":
        return {"redraw_seed": redraw_seed, "val_source": eureka_val}
    return {}


#: Image shape (channels, height, width) of each built-in dataset, so that a run can check its
#: model preset against its data before anything is loaded or written. A dataset added to
#: :data:`DATASETS` without an entry here is not checked.
DATASET_SHAPES: dict[str, tuple[int, int, int]] = {
    "digits": (1, 8, 8),
    **{name: (1, 28, 28) for name in _IDX_DATASETS},
    **{flag: (medmnist_channels(flag), 28, 28) for flag in list_medmnist()},
    "eureka": (3, 56, 56),
    # 1-D signals as 1 x L images (tokens are stripes of the signal; qdsformer.models.signal)
    "ir": (1, 1, IR_LENGTH),
    "mnist1d": (1, 1, MNIST1D_LENGTH),
}


def dataset_image_shape(name: str) -> tuple[int, int, int] | None:
    """(channels, height, width) of dataset ``name``'s images, None when not recorded.

    Raises:
        ValueError: ``name`` is not a registered dataset (the message lists the known ones).
    """
    DATASETS.get(name)
    return DATASET_SHAPES.get(name)


def build_dataset(
    name: str = "digits",
    split: str = "train",
    root: str | Path | None = None,
    download: bool = False,
    **options,
) -> ArrayDataset:
    """Load split ``split`` of dataset ``name``.

    Args:
        name: ``digits`` (embedded), ``fashion-mnist``, ``mnist``, a MedMNIST flag
            (``octmnist``, ...; see :func:`list_datasets`) or ``eureka``.
        split: ``train``, ``val`` or ``test``.
        root: folder holding the IDX files (directly, or torchvision's ``<root>/<Name>/raw``),
            the MedMNIST ``<flag>.npz`` files, and the ``eureka/`` cache.
        download: allow torchvision (MNIST, Fashion-MNIST) or the ``medmnist`` package to
            download into ``root`` when the files are absent (``ir``: the public archive).
        **options: builder options (:func:`dataset_options`: ``fold``, ``n_folds`` of ``ir``;
            ``redraw_seed``, ``val_source`` of ``eureka``).

    Raises:
        ValueError: an unknown name or split, a damaged file, or an empty split (also an MNIST
            or Fashion-MNIST training file with no more images than the 5,000-image val split).
    """
    builder = DATASETS.get(name)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    dataset = builder(split, root=root, download=download, **options)
    if len(dataset) == 0:  # the built-in builders name the file first; this catches the rest
        raise ValueError(f"{name}: the {split} split is empty (0 samples)")
    return dataset


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


def _locate_idx_files(name: str, part: str, root: Path | None, download: bool) -> tuple[Path, Path]:
    spec = _IDX_DATASETS[name]
    files = _find_idx_files(name, part, root)
    if files is None and download:
        if root is None:
            raise ValueError(f"downloading {name} needs a data root (--set data.root=DIR)")
        import torchvision.datasets

        log.info("downloading %s into %s", name, root)
        try:
            for train in (True, False):
                getattr(torchvision.datasets, spec.torchvision_class)(str(root), train=train,
                                                                      download=True)
        except (OSError, RuntimeError) as err:  # no network: URLError or torchvision's own
            raise ValueError(f"downloading {name} into {root} failed (offline?): {err}") from err
        files = _find_idx_files(name, part, root)
    if files is None:
        where = [str(root), str(root / spec.folder / "raw"), str(root / name)] if root else []
        if spec.debian_dir is not None:
            where.append(f"{spec.debian_dir} (apt-get install dataset-fashion-mnist)")
        names = [f"{stem}[.gz]" for part_files in _IDX_FILES.values() for stem in part_files]
        put = (f"{root / spec.folder / 'raw'}" if root is not None
               else f"<DIR>/{spec.folder}/raw (then pass --set data.root=DIR)")
        raise FileNotFoundError(
            f"{name} files {', '.join(_IDX_FILES[part])}[.gz] not found; looked in: "
            f"{'; '.join(where) or '(no data root given)'}. Put the four IDX files "
            f"({', '.join(names)}) into {put} (torchvision's layout) or directly into the data "
            f"root, or let torchvision download them there with --set data.root=DIR "
            f"--set data.download=true."
        )
    return files


def _idx_arrays(name: str, split: str, root, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (N, 28, 28) and int64 labels (N,) of ``split`` of an IDX dataset."""
    root = Path(root).expanduser() if root is not None else None
    part = "test" if split == "test" else "train"
    files = _locate_idx_files(name, part, root, download)
    images = read_idx(files[0])  # (N, 28, 28) uint8
    labels = read_idx(files[1]).astype(np.int64)  # (N,)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"{files[0]} (shape {images.shape}) and {files[1]} (shape "
                         f"{labels.shape}) do not hold matching (N, 28, 28) images and (N,) labels")
    if len(labels) == 0:
        raise ValueError(f"{name}: {files[0]} holds no images; the {split} split would be empty")
    if split != "test":
        if len(labels) <= MNIST_VAL_SIZE:
            raise ValueError(
                f"{name}: {files[0]} holds {len(labels)} training images, but the val split "
                f"takes {MNIST_VAL_SIZE} of them, leaving {max(len(labels) - MNIST_VAL_SIZE, 0)} "
                f"for the train split; the file needs more than {MNIST_VAL_SIZE} images")
        order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
        idx = order[MNIST_VAL_SIZE:] if split == "train" else order[:MNIST_VAL_SIZE]
        images, labels = images[idx], labels[idx]
    return images, labels


def _idx_dataset(name: str, split: str, root, download: bool) -> ArrayDataset:
    spec = _IDX_DATASETS[name]
    images, labels = _idx_arrays(name, split, root, download)
    x = _standardise(images / 255.0, spec.mean, spec.std).unsqueeze(1)  # (N, 1, 28, 28)
    return ArrayDataset(x, torch.from_numpy(labels), name, split)


def _medmnist_dataset(flag: str, split: str, root, download: bool) -> ArrayDataset:
    images, labels, path = load_medmnist(flag, split, root, download)
    train = images if split == "train" else load_medmnist(flag, "train", root)[0]
    if images.ndim == 3:  # grey (N, 28, 28) -> (N, 28, 28, 1)
        images, train = images[..., None], train[..., None]
    channels = []
    for c in range(images.shape[-1]):  # standardised per channel with the train split's stats
        mean, std = float(train[..., c].mean()) / 255.0, float(train[..., c].std()) / 255.0
        if std == 0.0:
            which = "" if images.shape[-1] == 1 else f" (channel {c})"
            raise ValueError(f"{path}: the train images are constant{which}; cannot standardise")
        channels.append(_standardise(images[..., c] / 255.0, mean, std))  # (N, 28, 28)
    x = torch.stack(channels, dim=1)  # (N, C, 28, 28)
    return ArrayDataset(x, torch.from_numpy(labels), flag, split)  # labels (N,) or (N, 14)


def _eureka_dataset(split: str, root, download: bool, redraw_seed: int | None = None,
                    val_source: str = "holdout") -> ArrayDataset:
    if val_source not in EUREKA_VAL_SOURCES:
        raise ValueError(f"data.eureka_val must be one of {', '.join(EUREKA_VAL_SOURCES)}, "
                         f"got {val_source!r}")
    source_split = "test" if split == "val" and val_source == "test" else split
    root_path = Path(root).expanduser() if root is not None else None
    part = "test" if source_split == "test" else "train"
    mnist_files = _locate_idx_files("mnist", part, root_path, download)
    fashion_files = _locate_idx_files("fashion-mnist", part, root_path, download)
    if set(mnist_files) == set(fashion_files):  # both use the same IDX file names
        raise ValueError(
            f"eureka needs MNIST and Fashion-MNIST in separate folders, but both resolve to "
            f"{mnist_files[0].parent}; use {root_path}/MNIST/raw and {root_path}/FashionMNIST/raw")
    files = [*mnist_files, *fashion_files]

    def sources():
        return (*_idx_arrays("mnist", source_split, root, download),
                *_idx_arrays("fashion-mnist", source_split, root, download))

    if split == "train" and redraw_seed is not None:
        return RedrawnEureka(sources(), redraw_seed)
    images, labels = load_eureka(source_split, EUREKA_SEED, default_cache_dir(root),
                                 source_fingerprint(files), sources)
    return ArrayDataset(torch.from_numpy(images), torch.from_numpy(labels), "eureka", split)


def _ir_dataset(split: str, root, download: bool, fold: int = 0, n_folds: int = 5
                ) -> ArrayDataset:
    spectra, labels = load_ir(split, root, download, fold=fold, n_folds=n_folds)
    x = torch.from_numpy(spectra).reshape(len(spectra), 1, 1, -1)  # (N, 1, 1, 1800)
    return ArrayDataset(x, torch.from_numpy(labels), "ir", split)  # labels (N, 37)


def _mnist1d_dataset(split: str, root=None, download: bool = False) -> ArrayDataset:
    x, y = load_mnist1d(split)
    images = torch.from_numpy(x).reshape(len(x), 1, 1, -1)  # (N, 1, 1, 40)
    return ArrayDataset(images, torch.from_numpy(y), "mnist1d", split)


#: Dataset builders by name: ``builder(split, root=..., download=...) -> ArrayDataset``.
#: A new dataset registers its builder here (``DATASETS.add(name, builder)``).
DATASETS: Registry[Callable[..., ArrayDataset]] = Registry("dataset", {
    "digits": _digits,
    **{name: partial(_idx_dataset, name) for name in _IDX_DATASETS},
    **{flag: partial(_medmnist_dataset, flag) for flag in list_medmnist()},
    "eureka": _eureka_dataset,
    "ir": _ir_dataset,
    "mnist1d": _mnist1d_dataset,
})
