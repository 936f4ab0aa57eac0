"""Seeded mini-batches over an in-memory :class:`ArrayDataset`.

The shuffle order of epoch e is drawn from a generator seeded with (seed, e), so a run resumed
at epoch e sees exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from qdsformer.data.datasets import ArrayDataset


class BatchLoader:
    """Iterate (images, labels) batches; ``set_epoch(e)`` fixes the shuffle order of epoch e."""

    def __init__(self, dataset: ArrayDataset, batch_size: int, shuffle: bool = False,
                 seed: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Fix the shuffle order of epoch ``epoch`` and pass it to the data set (a data set
        redrawn every epoch, ``data.redraw``, composes that epoch's examples)."""
        self.epoch = epoch
        self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return (len(self.dataset) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.dataset)
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(n, generator=gen, device="cpu")  # host data, host order
        else:
            order = torch.arange(n, device="cpu")
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.dataset.images[idx], self.dataset.labels[idx]
