"""A normaliser setting: a registered name plus keyword arguments, parsed from ``name:k=v,...``.

``qdsformer analyze --operators`` and ``qdsformer bench attention --normalizers`` take these;
the value syntax is :mod:`qdsformer.common.settings`' (the same as ``--set key=value``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import torch

from qdsformer.attention.registry import create_normalizer, get_normalizer_class
from qdsformer.common.settings import parse_named_setting


@dataclass(frozen=True)
class OperatorSetting:
    """One operator of the study: a registered normaliser name and its keyword arguments."""

    operator: str
    kwargs: tuple[tuple[str, object], ...] = ()

    @property
    def setting(self) -> str:
        """``k=v,k=v`` (sorted), or ``default``: the ``setting`` column of metrics.csv."""
        return ",".join(f"{k}={v}" for k, v in self.kwargs) or "default"

    @property
    def label(self) -> str:
        """Short human label, e.g. ``sinkhorn(n_iters=3)``."""
        return self.operator if not self.kwargs else f"{self.operator}({self.setting})"

    @property
    def consumes(self) -> str:
        """``scores`` or ``qk``: what the operator's forward takes."""
        return get_normalizer_class(self.operator).consumes

    def sized_for(self, *, heads: int, head_dim: int) -> OperatorSetting:
        """This setting with ``num_heads`` / ``head_dim`` filled in where the operator takes
        them and the setting does not fix them (a (q, k) operator holding per-head parameters).
        """
        accepted = inspect.signature(get_normalizer_class(self.operator)).parameters
        given = dict(self.kwargs)
        for key, value in (("head_dim", head_dim), ("num_heads", heads)):
            if key in accepted and key not in given:
                given[key] = value
        return OperatorSetting(self.operator, tuple(sorted(given.items())))

    def create(self, seed: int | None = None) -> torch.nn.Module:
        """Build the normaliser; ``seed`` fixes any random parameters (e.g. circuit angles).

        A normaliser whose constructor takes ``seed`` gets it; otherwise it is built under
        ``torch.manual_seed(seed)`` inside ``torch.random.fork_rng`` (global RNG untouched).
        """
        kwargs = dict(self.kwargs)
        takes_seed = "seed" in inspect.signature(get_normalizer_class(self.operator)).parameters
        if seed is None or "seed" in kwargs:
            return create_normalizer(self.operator, **kwargs)
        if takes_seed:
            return create_normalizer(self.operator, seed=seed, **kwargs)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return create_normalizer(self.operator, **kwargs)


def parse_setting(spec: str) -> OperatorSetting:
    """Parse ``name`` or ``name:key=value,key=value`` into an :class:`OperatorSetting`.

    Values are read by :func:`qdsformer.common.settings.parse_value`. The name must be a
    registered normaliser.
    """
    name, kwargs = parse_named_setting(spec)
    get_normalizer_class(name)  # unknown names: ValueError listing the known ones
    return OperatorSetting(name, tuple(sorted(kwargs.items())))
