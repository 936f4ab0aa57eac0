"""MNIST-1D (Greydanus & Kobak, 2020), generated here from the ``mnist1d`` package's templates.

The data are made locally by ``mnist1d.data.make_dataset`` with the package's default
arguments (``get_dataset_args()``: 5,000 sequences of 40 points from the 10 built-in digit
templates, seed 42, the first 4,000 for training); the package's download function is never
called. The package seeds Python's and NumPy's global generators; their states are restored
afterwards, so building the data leaves a run's random streams as they were.

Splits: the official 1,000 test sequences; of the 4,000 training sequences a seeded 10%
(``SPLIT_SEED``) is the validation split (3,600 / 400 / 1,000). The sequences are already
standardised by the package (mean 0, std 1 over the whole set).
"""

from __future__ import annotations

import functools
import random

import numpy as np

SPLIT_SEED = 0
VAL_FRACTION = 0.1
MNIST1D_LENGTH = 40


@functools.lru_cache(maxsize=1)
def _generate() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from mnist1d.data import get_dataset_args, make_dataset

    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(get_dataset_args())
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
    return (np.asarray(data["x"], dtype=np.float32), np.asarray(data["y"], dtype=np.int64),
            np.asarray(data["x_test"], dtype=np.float32),
            np.asarray(data["y_test"], dtype=np.int64))


def load_mnist1d(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Sequences (N, 40) float32 and labels (N,) int64 of ``split``."""
    x, y, x_test, y_test = _generate()
    if split == "test":
        return x_test.copy(), y_test.copy()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(y))
    n_val = int(round(VAL_FRACTION * len(y)))
    idx = order[:n_val] if split == "val" else order[n_val:]
    return x[idx], y[idx]
