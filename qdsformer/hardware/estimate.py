"""Deprecated alias of :mod:`qdsformer.hardware.shot_matrix` (renamed in issue 25).

Importing it warns (FutureWarning) and gives the new module itself, so every name, private
ones included, is the new module's. It goes in the next release.
"""

import sys
import warnings

from qdsformer.hardware import shot_matrix

warnings.warn("qdsformer.hardware.estimate is deprecated; import qdsformer.hardware.shot_matrix",
              FutureWarning, stacklevel=2)
sys.modules[__name__] = shot_matrix
