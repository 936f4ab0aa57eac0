"""Optimal transport: the one Sinkhorn kernel and the tools built on it."""

from qdsformer.ot.birkhoff import birkhoff_projection
from qdsformer.ot.sinkhorn import SinkhornResult, sinkhorn

__all__ = ["SinkhornResult", "birkhoff_projection", "sinkhorn"]
