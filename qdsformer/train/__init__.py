"""Training, the application layer's fit loop: config dataclasses, ``fit``, distillation.

``qdsformer train`` and ``qdsformer distill`` (:mod:`qdsformer.apps`) drive these; the
library packages below never import this one.
"""

from qdsformer.train.config import Config, load_config
from qdsformer.train.distill import DistillConfig, distill, load_distill_config
from qdsformer.train.engine import evaluate, fit

__all__ = ["Config", "DistillConfig", "distill", "evaluate", "fit", "load_config",
           "load_distill_config"]
