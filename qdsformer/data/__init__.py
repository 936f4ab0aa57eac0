"""Datasets (embedded digits, Fashion-MNIST, MNIST) and seeded batch loading."""

from qdsformer.data.datasets import ArrayDataset, build_dataset, list_datasets
from qdsformer.data.loader import BatchLoader

__all__ = ["ArrayDataset", "BatchLoader", "build_dataset", "list_datasets"]
