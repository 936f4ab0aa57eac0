"""The Eureka compositional task (Hoffmann et al., "Eureka-Moments in Transformers", ICML 2024).

Their main task (``spacial_decision_indicator_digit_1_2_fashion`` in boschresearch/eurekaMoments,
``datasets.py``), rebuilt from their code:

- A 56 x 56 RGB image is a 2 x 2 grid of 28 x 28 images: top-left and bottom-right hold MNIST
  digits (the *indicators*), top-right and bottom-left Fashion-MNIST items (the *targets*).
- Indicators are drawn uniformly, independently and with replacement from the MNIST images of
  digit 1 or 2 of the same split, so the two digits are equal with probability p1^2 + p2^2
  (p_k the share of digit k among those images: 0.502 on MNIST train). There is no forced
  50/50 (their ``top_right_probability`` is 0.5, which means "no forcing").
- The top-right item is Fashion-MNIST image ``index`` (so the set has one image per Fashion-MNIST
  image: 60k train, 10k test); the bottom-left item is a uniformly drawn Fashion-MNIST image.
- Label: the top-right item's class if the two digits are equal, else the bottom-left item's.
- Channels: every 28 x 28 part is ``uint8 / 255`` repeated over 3 channels and multiplied by an
  RGB vector: indicators get blue (0, 0, 1) or red (1, 0, 0) (their colour index is uniform over
  10 entries, 5 blue and 5 red, independent of the digit), targets white (1, 1, 1); each vector
  gets N(0, 0.05^2) noise per channel. The colour carries no label information in this task.
- Normalisation: none. Their code builds an ImageNet ``Normalize`` but never applies it.

Two modes. The default is one fixed draw per split from ``seed`` (deterministic, cached), with
the package's convention of a 55k/5k train/val split of the training images and the official
10k as test, each split composed only from its own source images. Their code instead redraws
every random part of a training example on every access (``np.random`` in ``__getitem__``), so
each epoch sees new compositions, and validates on the composed official test set: with
``data.redraw: true`` the training compositions are redrawn at every epoch from (run seed,
epoch) (deterministic, so a resumed run sees what an uninterrupted one saw; not cached), and
with ``data.eureka_val: test`` the val split is the composed test set.

The composed set is cached as an ``.npz`` (grey 56 x 56 canvas uint8, colour vectors, labels):
the RGB float images are ``canvas / 255 * colour`` per quadrant, rebuilt on load exactly.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qdsformer.data.cache import read_cache, write_cache

log = logging.getLogger(__name__)

CACHE_VERSION = 1
EUREKA_SEED = 0  # the composition seed of the registered ``eureka`` dataset
SIDE = 28  # one grid cell
INDICATOR_DIGITS = (1, 2)
N_COLOR_INDICES = 10  # their color_dict: indices 0-4 blue, 5-9 red
BLUE = (0.0, 0.0, 1.0)
RED = (1.0, 0.0, 0.0)
WHITE = (1.0, 1.0, 1.0)
COLOR_NOISE_STD = 0.05
SPLIT_STREAMS = {"train": 0, "val": 1, "test": 2}
# Quadrant order everywhere: 0 top-left (digit), 1 top-right (item), 2 bottom-left (item),
# 3 bottom-right (digit): their samples[0..3].


def draw_eureka(mnist_labels: np.ndarray, fashion_labels: np.ndarray, seed: int,
                split: str = "train", epoch: int | None = None) -> dict[str, np.ndarray]:
    """Draw the composition of every example (which source images, colours, label).

    Args:
        mnist_labels: (M,) digit labels of the split's MNIST images.
        fashion_labels: (F,) labels of the split's Fashion-MNIST images; the set has F examples.
        seed: base seed; each split draws from its own stream (seed, split).
        split: ``train``, ``val`` or ``test``.
        epoch: None for the fixed draw of the split; an epoch index for the redrawn training
            set (``data.redraw``): the stream (seed, split, 1, epoch), so every epoch differs and
            the same (seed, epoch) always draws the same.

    Returns:
        ``sources`` (F, 4) int64 indices (quadrants 0 and 3 into MNIST, 1 and 2 into
        Fashion-MNIST), ``colors`` (F, 4, 3) float32 RGB multipliers, ``digits`` (F, 2) the
        top-left and bottom-right digits, ``items`` (F, 2) the top-right and bottom-left classes,
        ``labels`` (F,) int64.
    """
    if split not in SPLIT_STREAMS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLIT_STREAMS)}")
    mnist_labels = np.asarray(mnist_labels, dtype=np.int64)
    fashion_labels = np.asarray(fashion_labels, dtype=np.int64)
    pool = np.flatnonzero(np.isin(mnist_labels, INDICATOR_DIGITS))
    if pool.size == 0:
        raise ValueError(f"the MNIST {split} images hold no digit 1 or 2 to use as indicators")
    n = fashion_labels.shape[0]
    if n == 0:
        raise ValueError(f"no Fashion-MNIST {split} images to compose")
    # a redraw gets its own (seed, split, 1, epoch) stream: trailing zeros do not change a
    # numpy SeedSequence, so (seed, split, epoch 0) would repeat the fixed draw (seed, split)
    stream = [seed, SPLIT_STREAMS[split]] + ([] if epoch is None else [1, epoch])
    rng = np.random.default_rng(stream)
    top_left = pool[rng.integers(0, pool.size, n)]
    bottom_right = pool[rng.integers(0, pool.size, n)]
    top_right = np.arange(n)
    bottom_left = rng.integers(0, n, n)
    color_index = rng.integers(0, N_COLOR_INDICES, (n, 2))  # (F, 2) for the two indicators
    base = np.empty((n, 4, 3))
    base[:, [1, 2]] = WHITE
    base[:, [0, 3]] = np.where((color_index < N_COLOR_INDICES // 2)[..., None], BLUE, RED)
    colors = (base + rng.normal(0.0, COLOR_NOISE_STD, (n, 4, 3))).astype(np.float32)
    digits = np.stack([mnist_labels[top_left], mnist_labels[bottom_right]], axis=1)  # (F, 2)
    items = np.stack([fashion_labels[top_right], fashion_labels[bottom_left]], axis=1)
    labels = eureka_label(digits[:, 0], digits[:, 1], items[:, 0], items[:, 1])
    sources = np.stack([top_left, top_right, bottom_left, bottom_right], axis=1)  # (F, 4)
    return {"sources": sources, "colors": colors, "digits": digits, "items": items,
            "labels": labels}


def eureka_label(digit_tl, digit_br, item_tr, item_bl) -> np.ndarray:
    """The rule: the top-right item's class if the two digits are equal, else the bottom-left's."""
    return np.where(np.asarray(digit_tl) == np.asarray(digit_br), item_tr, item_bl).astype(np.int64)


def compose_canvas(mnist_images: np.ndarray, fashion_images: np.ndarray,
                   sources: np.ndarray) -> np.ndarray:
    """Tile the four source images of each example into a grey (N, 56, 56) uint8 canvas."""
    tl, tr, bl, br = (sources[:, k] for k in range(4))
    top = np.concatenate([mnist_images[tl], fashion_images[tr]], axis=2)  # (N, 28, 56)
    bottom = np.concatenate([fashion_images[bl], mnist_images[br]], axis=2)  # (N, 28, 56)
    return np.concatenate([top, bottom], axis=1)  # (N, 56, 56)


def colorize(canvas: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """RGB float32 images (N, 3, 56, 56): ``canvas / 255`` times each quadrant's colour vector."""
    grey = canvas.astype(np.float32) / np.float32(255.0)  # (N, 56, 56)
    colors = colors.astype(np.float32)
    out = np.empty((canvas.shape[0], 3, 2 * SIDE, 2 * SIDE), dtype=np.float32)  # (N, 3, 56, 56)
    for quadrant in range(4):  # one block at a time: no (N, 3, 56, 56) temporaries
        rows = slice((quadrant // 2) * SIDE, (quadrant // 2 + 1) * SIDE)
        cols = slice((quadrant % 2) * SIDE, (quadrant % 2 + 1) * SIDE)
        out[:, :, rows, cols] = grey[:, None, rows, cols] * colors[:, quadrant, :, None, None]
    return out


def default_cache_dir(root: str | Path | None) -> Path:
    """``<data root>/eureka`` when a root is given, else ``~/.cache/qdsformer/eureka``."""
    if root is not None:
        return Path(root).expanduser() / "eureka"
    return Path("~/.cache/qdsformer/eureka").expanduser()


def cache_path(cache_dir: str | Path, split: str, seed: int) -> Path:
    return Path(cache_dir) / f"eureka_{split}_seed{seed}_v{CACHE_VERSION}.npz"


def source_fingerprint(files) -> str:
    """A cheap identity of the source IDX files: names, sizes and the bytes of the label files."""
    digest = hashlib.sha1()
    for path in files:
        path = Path(path)
        digest.update(f"{path.name}:{path.stat().st_size};".encode())
        if "labels" in path.name:
            digest.update(path.read_bytes())
    return digest.hexdigest()


def load_eureka(split: str, seed: int, cache_dir: str | Path, fingerprint: str,
                load_sources: Callable[[], tuple]) -> tuple[np.ndarray, np.ndarray]:
    """The split's RGB images (N, 3, 56, 56) float32 and labels (N,), from cache or built.

    Args:
        split: ``train``, ``val`` or ``test``.
        seed: the composition seed.
        cache_dir: where ``eureka_<split>_seed<seed>_v<version>.npz`` lives.
        fingerprint: identity of the source files (:func:`source_fingerprint`); a cache built
            from other files is rebuilt.
        load_sources: ``() -> (mnist_images, mnist_labels, fashion_images, fashion_labels)``
            (uint8 (M, 28, 28), (M,), (F, 28, 28), (F,)), called only when (re)building.
    """
    path = cache_path(cache_dir, split, seed)
    data = read_cache(path, fingerprint, "eureka cache")
    if data is None:
        mnist_images, mnist_labels, fashion_images, fashion_labels = load_sources()
        recipe = draw_eureka(mnist_labels, fashion_labels, seed, split)
        canvas = compose_canvas(mnist_images, fashion_images, recipe["sources"])
        data = {"canvas": canvas, "colors": recipe["colors"], "labels": recipe["labels"],
                "digits": recipe["digits"], "items": recipe["items"],
                "sources": recipe["sources"], "fingerprint": np.array(fingerprint)}
        write_cache(path, data)
        log.info("built the eureka %s set (%d images) into %s", split, len(canvas), path)
    return colorize(data["canvas"], data["colors"]), data["labels"].astype(np.int64)
