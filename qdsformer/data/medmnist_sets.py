"""MedMNIST 28 x 28 sets, read from the official ``<flag>.npz`` files.

The seven grey single-label sets of QDSFormer's Table 2 (:data:`MEDMNIST_CLASSES`), the RGB
sets pathmnist, dermamnist, bloodmnist and retinamnist (:data:`MEDMNIST_RGB_CLASSES`; images
(N, 28, 28, 3); retinamnist's ordinal grades are 5 classes, as medmnist treats them) and the
multi-label chestmnist (labels (N, 14), :data:`CHESTMNIST_LABELS`).

MedMNIST v2 (Yang et al., Scientific Data 2023) ships each 28 x 28 set as one NumPy archive
``<flag>.npz`` holding the official splits: ``train_images``, ``val_images``, ``test_images``
(uint8, (N, 28, 28) for grey sets) and ``train_labels``, ``val_labels``, ``test_labels``
(uint8, (N, 1) for single-label sets, (N, 14) 0/1 for chestmnist). This module reads those
files as they are; it never fetches anything itself: with ``download=True`` it calls the
``medmnist`` package's own download code (``pip install "qdsformer[medmnist]"``), which
writes ``<flag>.npz`` into the data root.

Class names and counts come from ``medmnist.INFO`` when the package is installed; otherwise
from the built-in tables below.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# The 2-D, single-label, grey 28 x 28 sets of QDSFormer Table 2 -> number of classes
# (medmnist.INFO[flag]["label"], MedMNIST v2 / medmnist 3.0).
MEDMNIST_CLASSES: dict[str, int] = {
    "octmnist": 4,
    "pneumoniamnist": 2,
    "tissuemnist": 8,
    "organamnist": 11,
    "organcmnist": 11,
    "organsmnist": 11,
    "breastmnist": 2,
}
# The RGB single-label sets (medmnist.INFO[flag]["n_channels"] == 3) -> number of classes.
MEDMNIST_RGB_CLASSES: dict[str, int] = {
    "pathmnist": 9,
    "dermamnist": 7,
    "bloodmnist": 8,
    "retinamnist": 5,
}
# chestmnist's 14 findings in label-column order (medmnist.INFO["chestmnist"]["label"]).
CHESTMNIST_LABELS: tuple[str, ...] = (
    "atelectasis", "cardiomegaly", "effusion", "infiltration", "mass", "nodule", "pneumonia",
    "pneumothorax", "consolidation", "edema", "emphysema", "fibrosis", "pleural", "hernia")
# Every loadable flag -> number of classes (labels for chestmnist).
_ALL_CLASSES: dict[str, int] = {**MEDMNIST_CLASSES, **MEDMNIST_RGB_CLASSES,
                                "chestmnist": len(CHESTMNIST_LABELS)}
MEDMNIST_SPLITS = ("train", "val", "test")
# medmnist's own default root (medmnist.info.DEFAULT_ROOT), searched after data.root.
MEDMNIST_DEFAULT_ROOT = Path("~/.medmnist")


def list_medmnist() -> list[str]:
    """The MedMNIST flags this package loads: Table 2's seven, the RGB sets, chestmnist."""
    return list(_ALL_CLASSES)


def medmnist_channels(flag: str) -> int:
    """Image channels of ``flag``: 3 for the RGB sets, else 1."""
    _check_flag(flag)
    return 3 if flag in MEDMNIST_RGB_CLASSES else 1


def medmnist_is_multilabel(flag: str) -> bool:
    """Whether ``flag`` has (N, K) 0/1 labels (chestmnist) rather than (N, 1) classes."""
    _check_flag(flag)
    return flag == "chestmnist"


def _check_flag(flag: str) -> None:
    if flag not in _ALL_CLASSES:
        raise ValueError(f"unknown MedMNIST set {flag!r}; known: {', '.join(_ALL_CLASSES)}")


def _info(flag: str) -> dict | None:
    """``medmnist.INFO[flag]`` when the optional package is installed, else None."""
    try:
        from medmnist import INFO
    except ImportError:
        return None
    return INFO.get(flag)


def medmnist_class_names(flag: str) -> list[str]:
    """Class names in label order: from ``medmnist.INFO`` if installed, else ``class <k>``."""
    _check_flag(flag)
    info = _info(flag)
    if info is not None:
        labels = info["label"]
        return [labels[str(k)] for k in range(len(labels))]
    if flag == "chestmnist":
        return list(CHESTMNIST_LABELS)
    return [f"class {k}" for k in range(_ALL_CLASSES[flag])]


def medmnist_num_classes(flag: str) -> int:
    """Number of classes of ``flag``: ``len(medmnist.INFO[flag]["label"])`` or the built-in table."""
    _check_flag(flag)
    info = _info(flag)
    return len(info["label"]) if info is not None else _ALL_CLASSES[flag]


def medmnist_search_dirs(flag: str, root: str | Path | None) -> list[Path]:
    """Folders searched for ``<flag>.npz``, in order."""
    dirs = []
    if root is not None:
        root = Path(root).expanduser()
        dirs += [root, root / "medmnist"]
    dirs.append(MEDMNIST_DEFAULT_ROOT.expanduser())
    return dirs


def find_medmnist_file(flag: str, root: str | Path | None) -> Path | None:
    """The first ``<flag>.npz`` in :func:`medmnist_search_dirs`, or None."""
    for folder in medmnist_search_dirs(flag, root):
        path = folder / f"{flag}.npz"
        if path.is_file():
            return path
    return None


def download_medmnist(flag: str, root: str | Path) -> Path:
    """Download ``<flag>.npz`` into ``root`` with the ``medmnist`` package's own code.

    Raises:
        ValueError: the optional ``medmnist`` package is not installed, or the download
            failed (offline).
    """
    _check_flag(flag)
    try:
        import medmnist
    except ImportError as err:
        raise ValueError(
            f"downloading {flag} needs the medmnist package: pip install 'qdsformer[medmnist]' "
            f"(or put {flag}.npz into {root} by hand)") from err
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    cls = getattr(medmnist, medmnist.INFO[flag]["python_class"])
    log.info("downloading %s.npz into %s (medmnist %s)", flag, root,
             getattr(medmnist, "__version__", "?"))
    try:
        cls(split="train", root=str(root), download=True)  # fetches the whole <flag>.npz
    except (OSError, RuntimeError) as err:  # no network: URLError / requests / medmnist's own
        raise ValueError(
            f"downloading {flag} into {root} failed (offline?): {err}; put {flag}.npz into "
            f"{root} by hand or run with network access") from err
    return root / f"{flag}.npz"


def read_medmnist_npz(path: str | Path, split: str, num_classes: int | None = None,
                      channels: int = 1, multilabel: bool = False
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Read split ``split`` of an official MedMNIST archive.

    Args:
        path: a ``<flag>.npz`` file.
        split: ``train``, ``val`` or ``test``.
        num_classes: when given, labels must lie in ``[0, num_classes)`` (with ``multilabel``:
            the number of label columns).
        channels: 1 (grey, images (N, 28, 28)) or 3 (RGB, images (N, 28, 28, 3)).
        multilabel: labels are (N, K) 0/1 indicators (chestmnist), not (N, 1) classes.

    Returns:
        ``(images, labels)``: uint8 (N, 28, 28) or (N, 28, 28, 3), and int64 (N,) class
        indices or, with ``multilabel``, float32 (N, K) indicators.

    Raises:
        ValueError: naming the file, when it is not a readable archive, lacks a key, holds
            arrays of the wrong dtype, shape or label range, or the split is empty.
    """
    path = Path(path)
    if split not in MEDMNIST_SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(MEDMNIST_SPLITS)}")
    keys = (f"{split}_images", f"{split}_labels")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is corrupted or truncated: not a .npz (zip) archive")
    try:
        with np.load(path, allow_pickle=False) as archive:
            files = list(archive.files)
            arrays = {k: archive[k] for k in keys if k in files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path} is corrupted or truncated: {err}") from err
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise ValueError(f"{path} has no {', '.join(missing)}; it holds "
                         f"{', '.join(sorted(files))} (not a MedMNIST archive?)")
    images, labels = arrays[keys[0]], arrays[keys[1]]
    image_shape, kind = ((28, 28), "a grey 28x28 set") if channels == 1 else (
        (28, 28, channels), f"an RGB 28x28 set, {channels} channels")
    if images.dtype != np.uint8 or images.shape[1:] != image_shape:
        raise ValueError(f"{path}: {keys[0]} must be uint8 (N, {', '.join(map(str, image_shape))})"
                         f" ({kind}), got {images.dtype} {images.shape}")
    width, kind = (num_classes, "multi-label 0/1") if multilabel else (1, "single-label")
    if (labels.ndim != 2 or (width is not None and labels.shape[1] != width)
            or not np.issubdtype(labels.dtype, np.integer)):
        raise ValueError(f"{path}: {keys[1]} must be integer (N, {width}) ({kind}), got "
                         f"{labels.dtype} {labels.shape}")
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"{path}: {images.shape[0]} {split} images but {labels.shape[0]} labels")
    if labels.shape[0] == 0:  # a run would train on nothing or score an accuracy of nothing
        raise ValueError(f"{path}: the {split} split is empty ({keys[0]} holds 0 images)")
    if multilabel:
        if not np.isin(labels, (0, 1)).all():
            raise ValueError(f"{path}: {keys[1]} must hold only 0 and 1 (multi-label), got "
                             f"values in [{labels.min()}, {labels.max()}]")
        return images, labels.astype(np.float32)  # (N, K)
    labels = labels[:, 0].astype(np.int64)  # (N,)
    if num_classes is not None and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{path}: {split} labels span [{labels.min()}, {labels.max()}], "
                         f"expected [0, {num_classes - 1}]")
    return images, labels


def load_medmnist(flag: str, split: str, root: str | Path | None = None,
                  download: bool = False) -> tuple[np.ndarray, np.ndarray, Path]:
    """Find (or, with ``download``, fetch) ``<flag>.npz`` and read one split.

    Returns:
        ``(images, labels, path)`` as in :func:`read_medmnist_npz` (channels and label kind
        of ``flag``), plus the file read.

    Raises:
        FileNotFoundError: no ``<flag>.npz`` in any searched folder; lists them and the flag
            that downloads the file.
    """
    _check_flag(flag)
    path = find_medmnist_file(flag, root)
    if path is None and download:
        if root is None:
            raise ValueError(f"downloading {flag} needs a data root (--set data.root=DIR)")
        path = download_medmnist(flag, root)
    if path is None:
        where = "; ".join(str(d) for d in medmnist_search_dirs(flag, root))
        raise FileNotFoundError(
            f"{flag}.npz not found; looked in: {where}. Put the official {flag}.npz (MedMNIST v2, "
            f"28x28) into a folder and pass --set data.root=DIR, or download it there with "
            f"--set data.root=DIR --set data.download=true (needs pip install 'qdsformer[medmnist]')."
        )
    images, labels = read_medmnist_npz(path, split, medmnist_num_classes(flag),
                                       channels=medmnist_channels(flag),
                                       multilabel=medmnist_is_multilabel(flag))
    return images, labels, path
