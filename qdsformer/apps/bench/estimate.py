"""Deprecated alias of :mod:`qdsformer.apps.bench.runtime` (renamed in issue 25).

Importing it warns (FutureWarning) and gives the new module itself. ``qdsformer bench
estimate`` still runs the suite, now called ``qdsformer bench runtime``, with a warning. It goes
in the next release.
"""

import sys
import warnings

from qdsformer.apps.bench import runtime

warnings.warn("qdsformer.apps.bench.estimate is deprecated; import qdsformer.apps.bench.runtime",
              FutureWarning, stacklevel=2)
sys.modules[__name__] = runtime
