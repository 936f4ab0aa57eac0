"""Deprecated alias of :mod:`qdsformer.train.runtime` (renamed in issue 25).

Importing it warns (FutureWarning) and gives the new module itself, so every name, private
ones included, is the new module's. It goes in the next release.
"""

import sys
import warnings

from qdsformer.train import runtime

warnings.warn("qdsformer.train.estimate is deprecated; import qdsformer.train.runtime",
              FutureWarning, stacklevel=2)
sys.modules[__name__] = runtime
