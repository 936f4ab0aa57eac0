"""Training: config dataclasses, the one training loop, and the ``qdsformer train`` command."""

from qdsformer.train.config import Config, load_config
from qdsformer.train.engine import evaluate, fit

__all__ = ["Config", "evaluate", "fit", "load_config"]
