"""Small data files in the exact official formats, written by the tests (no real data needed).

- IDX (MNIST, Fashion-MNIST): big-endian header (0, 0, type 0x08, ndim, dims...), uint8 data,
  gzip-compressed, in torchvision's ``<root>/<Name>/raw/`` layout.
- MedMNIST ``<flag>.npz``: ``{split}_images`` uint8 (N, 28, 28), ``{split}_labels`` uint8 (N, 1)
  for split in train, val, test (medmnist/dataset.py reads exactly these keys); RGB sets hold
  (N, 28, 28, 3) images, chestmnist (N, 14) 0/1 labels.
- IR spectra: parquet chunks with the data set's columns (``smiles``, ``molecular_formula``,
  ``ir_spectra`` list<float32>, and unused NMR / MS/MS columns), written with pyarrow.
"""

import gzip
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

IDX_STEMS = {"train": "train", "test": "t10k"}


def write_idx(path: Path, array: np.ndarray, code: int = 0x08) -> None:
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.tobytes())


def write_idx_set(folder: Path, images: dict, labels: dict) -> None:
    """Write the four IDX files of an MNIST-style set; images/labels keyed by train/test."""
    for part, stem in IDX_STEMS.items():
        write_idx(folder / f"{stem}-images-idx3-ubyte.gz", images[part])
        write_idx(folder / f"{stem}-labels-idx1-ubyte.gz", labels[part])


def coded_images(n: int, offset: int) -> np.ndarray:
    """uint8 (n, 28, 28) images that each say who they are: image k has the bits of k + offset
    (20 bits) as 0/255 pixels in row 0, a 255 marker at (27, 27) and 0 elsewhere."""
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    codes = np.arange(n) + offset
    for bit in range(20):
        images[:, 0, bit] = ((codes >> bit) & 1) * 255
    images[:, 27, 27] = 255
    return images


def decode_image(image: np.ndarray) -> int:
    """The code of a grey (28, 28) image from :func:`coded_images` (0/1 pixels after scaling)."""
    return int(sum(int(image[0, bit] > 0.5) << bit for bit in range(20)))


@pytest.fixture
def eureka_root(tmp_path):
    """A data root with synthetic MNIST and Fashion-MNIST in torchvision's layout.

    5,200 training images (the loaders hold out 5,000 for validation) and 120 test images each;
    MNIST codes start at 0, Fashion-MNIST codes at 100,000, so every image is identifiable.
    """
    rng = np.random.default_rng(1)
    sizes = {"train": 5200, "test": 120}
    mnist_labels = {p: rng.integers(0, 10, n).astype(np.uint8) for p, n in sizes.items()}
    fashion_labels = {p: rng.integers(0, 10, n).astype(np.uint8) for p, n in sizes.items()}
    mnist_images = {"train": coded_images(5200, 0), "test": coded_images(120, 10_000)}
    fashion_images = {"train": coded_images(5200, 100_000), "test": coded_images(120, 110_000)}
    write_idx_set(tmp_path / "MNIST" / "raw", mnist_images, mnist_labels)
    write_idx_set(tmp_path / "FashionMNIST" / "raw", fashion_images, fashion_labels)
    return tmp_path


def medmnist_arrays(n_classes: int, sizes=(60, 20, 30), seed: int = 0, channels: int = 1,
                    multilabel: bool = False) -> dict[str, np.ndarray]:
    """Official-format arrays: images (N, 28, 28) grey or (N, 28, 28, 3) RGB; labels (N, 1)
    classes or, ``multilabel``, (N, n_classes) 0/1 (chestmnist)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    shape = (28, 28) if channels == 1 else (28, 28, channels)
    for split, n in zip(("train", "val", "test"), sizes):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
        arrays[f"{split}_labels"] = (rng.integers(0, 2, (n, n_classes)) if multilabel
                                     else rng.integers(0, n_classes, (n, 1))).astype(np.uint8)
    return arrays


@pytest.fixture
def write_medmnist():
    """``write(folder, flag, n_classes, channels=1, multilabel=False, **overrides) -> (path,
    arrays)`` in the official format."""

    def write(folder: Path, flag: str, n_classes: int, channels: int = 1,
              multilabel: bool = False, **overrides):
        arrays = {**medmnist_arrays(n_classes, channels=channels, multilabel=multilabel),
                  **overrides}
        arrays = {k: v for k, v in arrays.items() if v is not None}
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{flag}.npz"
        np.savez_compressed(path, **arrays)
        return path, arrays

    return write


@pytest.fixture
def write_mnist():
    """``write(root, n_train, n_test) -> raw folder``: MNIST IDX files of coded images."""

    def write(root: Path, n_train: int, n_test: int) -> Path:
        rng = np.random.default_rng(0)
        raw = root / "MNIST" / "raw"
        write_idx_set(raw, {"train": coded_images(n_train, 0),
                            "test": coded_images(n_test, 50_000)},
                      {p: rng.integers(0, 10, n).astype(np.uint8)
                       for p, n in (("train", n_train), ("test", n_test))})
        return raw

    return write


#: Molecules of the IR-spectra stand-ins (``ir_data``).
IR_MOLECULES = ["CCO", "CC(=O)O", "c1ccccc1", "CC=O", "CC#N", "CCS", "CC(=O)OCC", "Oc1ccccc1",
             "CC(C)=O", "CCN"]


def _ir_spectra(n, length, rng):
    return [(rng.random(length) * 0.9 + 0.05).astype(np.float32) for _ in range(n)]


def _write_ir_chunk(path: Path, smiles, spectra, *, drop=(), big=64):
    """A chunk in the data set's schema, with unused columns (a big NMR-like one)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = len(smiles)
    columns = {
        "smiles": pa.array(smiles, pa.string()),
        "molecular_formula": pa.array(["C2H6O"] * n, pa.string()),
        "ir_spectra": pa.array(spectra, pa.list_(pa.float32())),
        "h_nmr_spectra": pa.array([np.zeros(big, np.float64)] * n, pa.list_(pa.float64())),
        "msms_positive_40ev": pa.array([[[1.0, 2.0]]] * n, pa.list_(pa.list_(pa.float64()))),
    }
    table = pa.table({k: v for k, v in columns.items() if k not in drop})
    pq.write_table(table, path)


def _make_ir_root(tmp_path, n_chunks=2, rows=25, length=1800, invalid=(), name="ir"):
    root = tmp_path / name
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for c in range(n_chunks):
        smiles = [IR_MOLECULES[(c * rows + i) % len(IR_MOLECULES)] for i in range(rows)]
        for i in invalid:
            if c == 0:
                smiles[i] = "C1CC"
        _write_ir_chunk(root / f"chunk_{c:03d}.parquet", smiles, _ir_spectra(rows, length, rng))
    return root


@pytest.fixture
def ir_data():
    """Writers of IR-spectra parquet chunks in the data set's schema (pyarrow needed)."""
    pytest.importorskip("pyarrow")
    return SimpleNamespace(MOLECULES=IR_MOLECULES, spectra=_ir_spectra,
                           write_chunk=_write_ir_chunk, make_root=_make_ir_root)
