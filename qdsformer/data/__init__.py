"""Datasets (embedded digits, Fashion-MNIST, MNIST, MedMNIST, Eureka, IR spectra, MNIST-1D)
and seeded batch loading."""

from qdsformer.data.datasets import ArrayDataset, build_dataset, list_datasets
from qdsformer.data.functional_groups import FUNCTIONAL_GROUPS, functional_group_labels
from qdsformer.data.loader import BatchLoader

__all__ = ["FUNCTIONAL_GROUPS", "ArrayDataset", "BatchLoader", "build_dataset",
           "functional_group_labels", "list_datasets"]
