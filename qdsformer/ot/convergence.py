"""Warnings of the OT solvers (a category of their own, so users can filter or escalate them).

- :class:`ConvergenceWarning`: :func:`qdsformer.ot.sinkhorn` or :func:`qdsformer.ot.sns` hit
  its iteration cap before the marginal error fell below ``tol``. Only solvers asked for a
  ``tol`` warn: a fixed iteration count (``tol=None``, the attention path) is intended and
  never warns, and adds no host sync.
- :class:`ImplicitGradientWarning`: the implicit-function gradient of ``sinkhorn(...,
  grad="implicit")`` met a singular linear system (tiny epsilon: plan entries underflow and the
  transport graph falls apart) and the envelope gradient was used instead.

Python shows each warning once per call site under its default filter; ``warnings.simplefilter
("error", ConvergenceWarning)`` turns them into exceptions.
"""

from __future__ import annotations

import warnings


class ConvergenceWarning(UserWarning):
    """An OT solver stopped at its iteration cap short of the requested ``tol``."""


class ImplicitGradientWarning(UserWarning):
    """The implicit Sinkhorn gradient was singular; the envelope gradient was used instead."""


def warn_not_converged(solver: str, error: float, tol: float, steps: str, hint: str) -> None:
    """Emit a :class:`ConvergenceWarning` naming the solver, the reached error and ``tol``."""
    warnings.warn(f"{solver} stopped after {steps} with marginal error {error:.3g}, above "
                  f"tol={tol:g}; {hint}", ConvergenceWarning, stacklevel=3)


def warn_singular_implicit(epsilon: float, n_bad: int, n_total: int) -> None:
    """Emit an :class:`ImplicitGradientWarning`: the implicit system was singular somewhere."""
    warnings.warn(
        f"sinkhorn(grad='implicit'): the implicit-function system is singular at "
        f"epsilon={epsilon:g} for {n_bad} of {n_total} problem(s); using the "
        "envelope gradient there (exact for `value`, explicit part only for `plan`). "
        "Use grad='unroll' for the full gradient, or a larger epsilon",
        ImplicitGradientWarning, stacklevel=3)
