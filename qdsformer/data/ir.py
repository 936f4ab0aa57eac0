"""The IR-spectra data set of QDSFormer Table A2: parquet chunks -> spectra and 37 labels.

Alberts et al., "Unraveling molecular structure: a multimodal spectroscopic dataset for
chemistry" (NeurIPS 2024 Datasets and Benchmarks), about 790k molecules. The public archive
(:data:`ARCHIVE_URL`, named in the README / ``download_spectra.sh`` of
rxn4chemistry/multimodal-spectroscopic-dataset) unpacks to a folder of about 245 parquet chunks,
``multimodal_spectroscopic_dataset/*.parquet``; ``data.root`` is that folder (or its parent).

Read per chunk, by pyarrow column projection, only ``smiles`` and ``ir_spectra``
(list<float32>, 1,800 points on ``linspace(400, 4000, 1800)`` cm^-1, each scaled to max 1);
the chunks' other columns (NMR spectra, HSQC maps, MS/MS lists) are never read. Processed copies
with 1,791 points (400 to 3,980 cm^-1, step 2) are accepted and interpolated linearly onto the
1,800-point grid (the last points, above 3,980 cm^-1, repeat the last value).

Labels: the 37 functional groups of :mod:`qdsformer.data.functional_groups`, computed once from
the SMILES and cached atomically beside the chunks in :data:`LABEL_CACHE` (versioned; rebuilt
when the chunks' names or sizes change). A row whose SMILES RDKit cannot parse is dropped (the
count is logged).

Splits (5-fold cross-validation, 80/20, as in the paper): the valid rows are permuted once with
``SPLIT_SEED`` (independent of the run seed) and cut into ``n_folds`` near-equal folds; fold
``fold`` is the test split, and of the other folds (in permuted order) the first 10% is the
validation split and the rest the training split (72% / 8% / 20% of the rows for 5 folds).

Damaged input fails in one line naming the file and the row or column: an unreadable chunk, a
missing column, a spectrum of another length, a missing spectrum, NaN or infinite values.

pyarrow and RDKit are imported inside the functions (optional extra ``ir``).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

from qdsformer.data.cache import read_cache, write_cache
from qdsformer.data.functional_groups import FUNCTIONAL_GROUPS, match_functional_groups

log = logging.getLogger(__name__)

ARCHIVE_URL = "https://zenodo.org/records/11611178/files/multimodal_spectroscopic_dataset.zip"
ARCHIVE_FOLDER = "multimodal_spectroscopic_dataset"
SPECTRUM_COLUMN = "ir_spectra"
SMILES_COLUMN = "smiles"
IR_LENGTH = 1800
IR_GRID = np.linspace(400.0, 4000.0, IR_LENGTH)  # cm^-1
TRIMMED_LENGTH = 1791
TRIMMED_GRID = 400.0 + 2.0 * np.arange(TRIMMED_LENGTH)  # 400 .. 3980 cm^-1
CACHE_VERSION = 1
LABEL_CACHE = f"qdsformer_ir_labels_v{CACHE_VERSION}.npz"
SPLIT_SEED = 0
VAL_FRACTION = 0.1  # of the training folds


def find_chunks(root: str | Path | None) -> list[Path]:
    """The sorted ``*.parquet`` chunks in ``root`` or ``root/multimodal_spectroscopic_dataset``."""
    if root is None:
        return []
    root = Path(root).expanduser()
    for folder in (root, root / ARCHIVE_FOLDER):
        chunks = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
        if chunks:
            return chunks
    return []


def download_archive(root: str | Path, url: str = ARCHIVE_URL) -> None:
    """Fetch the public archive into ``root`` and unpack it there (``root/<folder>/*.parquet``).

    Raises:
        ValueError: the download or the unpacking failed (offline, say); the partial
            archive is removed.
    """
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    archive = root / (ARCHIVE_FOLDER + ".zip.part")
    log.info("downloading the IR data set from %s into %s", url, root)
    try:
        with urllib.request.urlopen(url) as response, open(archive, "wb") as handle:
            shutil.copyfileobj(response, handle)
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(root)
    except (OSError, urllib.error.URLError, zipfile.BadZipFile) as err:
        raise ValueError(f"downloading the IR data set from {url} into {root} failed "
                         f"(offline?): {err}") from err
    finally:
        archive.unlink(missing_ok=True)


def _open_chunk(path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as err:
        raise ValueError(f"{path}: unreadable parquet chunk ({err})") from err


def _read_columns(path: Path, columns: list[str]):
    """The chunk's ``columns`` only (pyarrow column projection), each checked present."""
    import pyarrow as pa

    chunk = _open_chunk(path)
    names = chunk.schema_arrow.names
    for column in columns:
        if column not in names:
            raise ValueError(f"{path}: missing column {column!r}")
    try:
        return chunk.read(columns=columns)
    except (OSError, pa.ArrowException) as err:
        raise ValueError(f"{path}: unreadable parquet chunk ({err})") from err


def _spectra(path: Path, table) -> np.ndarray:
    """The chunk's spectra on the 1,800-point grid, float32 (n, 1800), checked row by row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    column = table.column(SPECTRUM_COLUMN).combine_chunks()
    if not pa.types.is_list(column.type) and not pa.types.is_large_list(column.type):
        raise ValueError(f"{path}: column {SPECTRUM_COLUMN!r} is {column.type}, not a list of "
                         "floats")
    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise ValueError(f"{path}: row {row}: {SPECTRUM_COLUMN} is missing")
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)  # (n,)
    if len(lengths):
        length = int(lengths[0]) if lengths[0] in (IR_LENGTH, TRIMMED_LENGTH) else IR_LENGTH
        bad = np.flatnonzero(lengths != length)
        if len(bad):
            row = int(bad[0])
            raise ValueError(f"{path}: row {row}: {SPECTRUM_COLUMN} has {int(lengths[row])} "
                             f"points; expected {IR_LENGTH} or {TRIMMED_LENGTH} (all rows alike)")
    else:
        length = IR_LENGTH
    values = column.flatten().to_numpy(zero_copy_only=False)
    spectra = np.asarray(values, dtype=np.float32).reshape(len(lengths), length)  # (n, L)
    finite = np.isfinite(spectra).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise ValueError(f"{path}: row {row}: {SPECTRUM_COLUMN} holds NaN or infinite values")
    if length == TRIMMED_LENGTH:
        spectra = resample_to_grid(spectra)
    return spectra


def resample_to_grid(spectra: np.ndarray) -> np.ndarray:
    """1,791-point spectra (400-3,980 cm^-1, step 2) linearly onto :data:`IR_GRID`.

    Above 3,980 cm^-1 each spectrum keeps its last value. Returns float32 (n, 1800).
    """
    pos = np.clip((IR_GRID - TRIMMED_GRID[0]) / 2.0, 0, TRIMMED_LENGTH - 1)  # (1800,)
    left = np.minimum(np.floor(pos).astype(np.int64), TRIMMED_LENGTH - 2)
    weight = (pos - left).astype(np.float32)  # (1800,)
    return (spectra[:, left] * (1 - weight) + spectra[:, left + 1] * weight).astype(np.float32)


def _fingerprint(chunks: list[Path]) -> str:
    digest = hashlib.sha1(f"groups={len(FUNCTIONAL_GROUPS)};".encode())  # the table's size too
    for path in chunks:
        digest.update(f"{path.name}:{path.stat().st_size};".encode())
    return digest.hexdigest()


def chunk_labels(chunks: list[Path]) -> dict[str, np.ndarray]:
    """Labels (N, 37) uint8, valid (N,) bool and rows per chunk, from the cache or computed.

    The cache :data:`LABEL_CACHE` is written atomically into the chunks' folder.
    """
    path = chunks[0].parent / LABEL_CACHE
    fingerprint = _fingerprint(chunks)
    data = read_cache(path, fingerprint, "IR label cache")
    if data is not None:
        return data
    labels, valid, counts = [], [], []
    for chunk in chunks:
        smiles = _read_columns(chunk, [SMILES_COLUMN]).column(SMILES_COLUMN).to_pylist()
        chunk_labels_, chunk_valid = match_functional_groups(smiles)
        labels.append(chunk_labels_)
        valid.append(chunk_valid)
        counts.append(len(smiles))
    data = {"labels": np.concatenate(labels), "valid": np.concatenate(valid),
            "counts": np.asarray(counts, dtype=np.int64), "fingerprint": np.array(fingerprint)}
    dropped = int((~data["valid"]).sum())
    if dropped:
        log.warning("IR data set: dropped %d of %d rows whose SMILES RDKit cannot parse",
                    dropped, len(data["valid"]))
    write_cache(path, data)
    log.info("computed the functional-group labels of %d molecules into %s",
             len(data["valid"]), path)
    return data


def fold_indices(n_valid: int, fold: int, n_folds: int) -> dict[str, np.ndarray]:
    """Positions (into the valid rows) of the train / val / test splits of fold ``fold``."""
    if not (isinstance(n_folds, int) and n_folds >= 2):
        raise ValueError(f"data.n_folds must be an integer >= 2, got {n_folds!r}")
    if not (isinstance(fold, int) and 0 <= fold < n_folds):
        raise ValueError(f"data.fold must be an integer in 0..{n_folds - 1}, got {fold!r}")
    folds = np.array_split(np.random.default_rng(SPLIT_SEED).permutation(n_valid), n_folds)
    rest = np.concatenate([part for k, part in enumerate(folds) if k != fold])
    n_val = int(round(VAL_FRACTION * len(rest)))
    return {"test": folds[fold], "val": rest[:n_val], "train": rest[n_val:]}


def load_ir(split: str, root, download: bool = False, fold: int = 0, n_folds: int = 5
            ) -> tuple[np.ndarray, np.ndarray]:
    """Spectra (N, 1800) float32 and labels (N, 37) float32 of ``split`` of fold ``fold``.

    Raises:
        FileNotFoundError: no chunks under ``root`` and ``download`` is off.
        ValueError: damaged input (one line naming the file and row or column), bad fold
            options, or a failed download.
    """
    chunks = find_chunks(root)
    if not chunks and download:
        if root is None:
            raise ValueError("downloading the IR data set needs a data root "
                             "(--set data.root=DIR)")
        download_archive(root)
        chunks = find_chunks(root)
    if not chunks:
        raise FileNotFoundError(
            f"no IR parquet chunks (*.parquet) in {root} or {root}/{ARCHIVE_FOLDER}; unpack "
            f"{ARCHIVE_URL} there, or pass --set data.download=true")
    data = chunk_labels(chunks)
    valid_rows = np.flatnonzero(data["valid"])  # (N_valid,) global row numbers
    rows = valid_rows[fold_indices(len(valid_rows), fold, n_folds)[split]]  # split order
    spectra = np.empty((len(rows), IR_LENGTH), dtype=np.float32)  # (N, 1800)
    start = 0
    for chunk, count in zip(chunks, data["counts"].tolist(), strict=True):
        here = np.flatnonzero((rows >= start) & (rows < start + count))
        if len(here):
            chunk_spectra = _spectra(chunk, _read_columns(chunk, [SPECTRUM_COLUMN]))
            if len(chunk_spectra) != count:
                raise ValueError(f"{chunk}: {len(chunk_spectra)} rows, but the label cache "
                                 f"counted {count}; delete {chunk.parent / LABEL_CACHE}")
            spectra[here] = chunk_spectra[rows[here] - start]
        start += count
    return spectra, data["labels"][rows].astype(np.float32)
