"""Input sets for the DSM expressivity study: grids, random scores, scores from a trained model.

QDSFormer (Born et al., "Quantum Doubly Stochastic Transformers", NeurIPS 2025, section 3)
feeds operators (softmax, Sinkhorn, QR, QontOT) with a discretised unit hypercube of 4x4
score matrices (3 levels per entry, 3^16 inputs), with a 625-matrix grid of 4x4 matrices whose
columns are unit vectors, and with the 8x8 score matrices of a trained ViT. This module builds
all of them as float tensors of shape (N, n, n).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable
from pathlib import Path

import torch

from qdsformer.attention import Normalizer
from qdsformer.models import run_image_batch

log = logging.getLogger(__name__)

__all__ = [
    "capture_scores",
    "grid_unit_vectors",
    "hypercube_grid",
    "random_scores",
    "sphere_grid",
]


def _check_positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def random_scores(n_matrices: int, n: int = 8, scale: float = 1.0, seed: int = 0,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Independent Gaussian score matrices, entries N(0, scale^2).

    Args:
        n_matrices: how many matrices.
        n: matrix size (n x n).
        scale: standard deviation of the entries (> 0).
        seed: seed of a private ``torch.Generator`` (the global RNG is untouched).
        dtype: floating dtype of the result.

    Returns:
        Scores, shape (n_matrices, n, n).
    """
    n_matrices = _check_positive_int(n_matrices, "n_matrices")
    n = _check_positive_int(n, "n")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randn(n_matrices, n, n, generator=gen, dtype=dtype) * scale  # (N, n, n)


def grid_unit_vectors(dim: int = 4, levels: int = 3) -> torch.Tensor:
    """The points of the grid {0, 1/(L-1), ..., 1}^dim that lie exactly on the unit sphere.

    A point k / (L - 1), k in {0..L-1}^dim, has unit norm iff sum_i k_i^2 = (L - 1)^2, an
    integer test (no rounding). For dim = 4 and L = 3 (levels {0, 1/2, 1}) the solutions are
    the 4 basis vectors e_i (one k_i = 2) and (1/2, 1/2, 1/2, 1/2) (all k_i = 1): 5 vectors.

    Args:
        dim: dimension of the vectors.
        levels: grid levels per coordinate (>= 2).

    Returns:
        Unit vectors in lexicographic order of k, shape (V, dim), float64.
    """
    dim = _check_positive_int(dim, "dim")
    levels = _check_positive_int(levels, "levels", minimum=2)
    top = levels - 1
    points = [k for k in itertools.product(range(levels), repeat=dim)
              if sum(x * x for x in k) == top * top]
    return torch.tensor(points, dtype=torch.float64) / top  # (V, dim)


def sphere_grid(n: int = 4, levels: int = 3, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The unit-sphere grid of QDSFormer: n x n matrices whose columns are grid unit vectors.

    Construction (the paper gives only "4x4, unit vectors, 3 levels, 625 matrices"; this is
    the reading that yields exactly 625): discretise the unit hypercube [0, 1] with 3 levels
    {0, 1/2, 1} per coordinate, the same grid as :func:`hypercube_grid`, and keep the grid
    points of R^4 with unit Euclidean norm. They are exactly 5 (:func:`grid_unit_vectors`):
    e_1, e_2, e_3, e_4 and (1, 1, 1, 1) / 2. Each of the 4 columns of a matrix is chosen
    independently among them, so the grid has 5^4 = 625 matrices, all distinct, and it is the
    subset of the 3^16 hypercube grid whose columns have unit norm.

    Other readings were ruled out by counting: levels {-1, 0, 1} give only the 8 vectors
    +-e_i (8^4 = 4096 matrices); normalising every non-zero point of {0, 1/2, 1}^4 gives 65
    directions and of {-1, 0, 1}^4 gives 80 (65^4 and 80^4 matrices). Only the
    "grid points on the sphere" reading gives 5 per column and 625 in all.

    Args:
        n: matrix size; column vectors live in R^n.
        levels: grid levels per coordinate.
        dtype: floating dtype of the result.

    Returns:
        Matrices, shape (V^n, n, n) with V = len(grid_unit_vectors(n, levels)); (625, 4, 4)
        by default. Matrix number k has column j = vector number digit_j(k) in base V, the
        first column being the most significant digit.
    """
    vectors = grid_unit_vectors(n, levels)  # (V, n)
    v = vectors.shape[0]
    choice = torch.tensor(list(itertools.product(range(v), repeat=n)), dtype=torch.int64)
    columns = vectors[choice]  # (V^n, n columns, n entries)
    return columns.transpose(-2, -1).contiguous().to(dtype)  # (V^n, n, n), columns unit


def _decode_base(index: torch.Tensor, base: int, digits: int) -> torch.Tensor:
    """Digits of integers in base ``base``, least significant first, shape (N, digits)."""
    powers = base ** torch.arange(digits, dtype=torch.int64)  # (digits,)
    return torch.div(index[:, None], powers, rounding_mode="floor") % base  # (N, digits)


def hypercube_grid(n: int = 4, levels: int = 3, n_samples: int | None = 4096, seed: int = 0,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Matrices with entries on the grid {0, 1/(L-1), ..., 1}: the discretised unit hypercube.

    The full grid has L^(n*n) matrices (3^16 = 43,046,721 for the paper's 4x4, 3 levels),
    too many to analyse on a laptop, so by default a uniform sample *without replacement* of
    ``n_samples`` grid indices is drawn with a private generator seeded by ``seed`` and sorted;
    matrix number k of the full grid has entry (r, c) = digit_{r*n + c}(k) / (L - 1) in base L
    (least significant digit first). ``n_samples=None`` enumerates the whole grid, allowed up
    to 2^20 matrices.

    Args:
        n: matrix size.
        levels: grid levels per entry (>= 2).
        n_samples: how many distinct grid matrices to draw; None for all of them.
        seed: seed of the sample.
        dtype: floating dtype of the result.

    Returns:
        Matrices, shape (n_samples, n, n) (or (L^(n*n), n, n) for the full grid), sorted by
        grid index.
    """
    n = _check_positive_int(n, "n")
    levels = _check_positive_int(levels, "levels", minimum=2)
    total = levels ** (n * n)
    if total >= 2**62:
        raise ValueError(f"grid {levels}^{n * n} is too large to index with int64")
    if n_samples is None:
        if total > 2**20:
            raise ValueError(
                f"the full grid has {total} matrices (> 2^20); pass n_samples to subsample it"
            )
        index = torch.arange(total, dtype=torch.int64)
    else:
        n_samples = _check_positive_int(n_samples, "n_samples")
        if n_samples > total:
            raise ValueError(f"n_samples={n_samples} exceeds the grid size {total}")
        index = _sample_without_replacement(total, n_samples, seed)
    digits = _decode_base(index, levels, n * n)  # (N, n*n)
    return (digits.to(torch.float64) / (levels - 1)).reshape(-1, n, n).to(dtype)  # (N, n, n)


def _sample_without_replacement(total: int, k: int, seed: int) -> torch.Tensor:
    """k distinct integers from [0, total), sorted; rejection of repeats, O(k) memory."""
    gen = torch.Generator().manual_seed(int(seed))
    if 2 * k >= total:  # dense: a permutation is cheap and exact
        return torch.sort(torch.randperm(total, generator=gen)[:k]).values
    chosen = torch.empty(0, dtype=torch.int64)
    while chosen.numel() < k:
        draw = torch.randint(0, total, (2 * (k - chosen.numel()),), generator=gen)
        chosen = torch.unique(torch.cat([chosen, draw]))
    # keep a uniform subset of exactly k: shuffle, cut, sort
    keep = torch.randperm(chosen.numel(), generator=gen)[:k]
    return torch.sort(chosen[keep]).values


def capture_scores(model: torch.nn.Module, images: torch.Tensor | Iterable[torch.Tensor]
                   ) -> list[torch.Tensor]:
    """The score matrices that enter each attention normaliser of a model, per block.

    A forward hook on every :class:`qdsformer.attention.Normalizer` inside ``model`` records
    its input S = q k^T / sqrt(d) (the operator's M in QDSFormer's notation; for a (q, k)
    normaliser, the same S computed from its scaled q and k) while the model
    runs on ``images`` in eval mode without gradients. The hooks are removed afterwards.

    Args:
        model: any module containing normalisers (e.g. from ``qdsformer.models.create_vit``).
        images: one batch (B, C, H, W), or an iterable of batches.

    Returns:
        One tensor per normaliser in module order, each (N, H, T, T) on the CPU, N the total
        number of images.
    """
    normalizers = [m for m in model.modules() if isinstance(m, Normalizer)]
    if not normalizers:
        raise ValueError(
            f"model {type(model).__name__} contains no attention Normalizer to capture scores from"
        )
    batches = [images] if isinstance(images, torch.Tensor) else list(images)
    captured: list[list[torch.Tensor]] = [[] for _ in normalizers]

    def recorder(slot: list[torch.Tensor]):
        def hook(module, inputs, output):
            if getattr(module, "consumes", "scores") == "qk":  # q, k each scaled by d**-0.5
                q, k = inputs[0].detach(), inputs[1].detach()  # (B, H, T, d)
                slot.append((q @ k.transpose(-2, -1) * q.shape[-1] ** 0.5).cpu())  # (B, H, T, T)
            else:
                slot.append(inputs[0].detach().cpu())  # (B, H, T, T)
        return hook

    handles = [m.register_forward_hook(recorder(slot)) for m, slot in zip(normalizers, captured)]
    # layers running softmax on the fused SDPA kernel skip the normaliser: route them through it
    fused = [m for m in model.modules() if getattr(m, "fused_attn", False)]
    for layer in fused:
        layer.fused_attn = False
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in batches:
                model(batch)
    finally:
        for handle in handles:
            handle.remove()
        for layer in fused:
            layer.fused_attn = True
        model.train(was_training)
    return [torch.cat(slot) for slot in captured]


def checkpoint_scores(path: str, n_images: int, split: str = "test", block: int | None = None,
                      dtype: torch.dtype = torch.float64, root: str | None = None
                      ) -> tuple[torch.Tensor, str]:
    """Scores entering the attention normalisers of a trained model, heads flattened.

    The first ``n_images`` images of ``split`` of the checkpoint's dataset (from ``root``, or
    the folder saved in the checkpoint's config) run through the model; every block's scores
    are captured with :func:`capture_scores`.

    Returns:
        (N * H * blocks, T, T) scores (one block if ``block`` is given) and a description.
    """
    if not Path(path).exists():
        raise ValueError(f"checkpoint {path!r} does not exist")
    run, images, _ = run_image_batch(path, split, n_images, root=root)
    data_cfg = run.config["data"]
    count = images.shape[0]
    per_block = capture_scores(run.model, images.split(256))  # list of (N, H, T, T)
    if block is not None:
        if not 0 <= block < len(per_block):
            raise ValueError(f"--block {block} out of range: the model has {len(per_block)} "
                             f"attention blocks")
        per_block = [per_block[block]]
    t = per_block[0].shape[-1]
    scores = torch.cat([s.reshape(-1, t, t) for s in per_block]).to(dtype)  # (N*H*L, T, T)
    which = "all blocks" if block is None else f"block {block}"
    return scores, (f"{count} {data_cfg['name']} {split} images through {path} "
                    f"({which}, T={t})")
