"""Distillation losses: logit KD with temperature, SinKD, and their combination with CE.

* :func:`kd_loss` (Hinton, Vinyals & Dean, 2015) with any f-divergence of the family in
  :mod:`qdsformer.divergences`: T^2 D_f(softmax(z_t / T) || softmax(z_s / T)).
* :func:`sinkd_loss` (Cui et al., "SinKD: Sinkhorn Distance Minimization for Knowledge
  Distillation", LREC-COLING 2024): the B student and B teacher probability vectors of a batch
  are two point clouds; the loss is the entropic transport cost between them, computed with
  the package's one Sinkhorn kernel :func:`qdsformer.ot.sinkhorn.sinkhorn`.
* :class:`DistillationLoss`: ce_weight * CE + kd_weight * KD + sinkd_weight * SinKD.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from qdsformer.divergences import divergence as f_divergence
from qdsformer.divergences import divergence_params
from qdsformer.ot.costs import COSTS, pairwise_cost
from qdsformer.ot.divergence import sinkhorn_divergence
from qdsformer.ot.sinkhorn import sinkhorn


def _check_pair(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> None:
    for label, x in (("student_logits", student_logits), ("teacher_logits", teacher_logits)):
        if not isinstance(x, torch.Tensor) or x.dim() != 2:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{label} must be a tensor of shape (B, C), got {shape}")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student_logits {tuple(student_logits.shape)} and teacher_logits "
                         f"{tuple(teacher_logits.shape)} must have the same shape (B, C)")


def _check_cost(cost_fn: str) -> None:
    if cost_fn not in COSTS:
        raise ValueError(f"unknown SinKD cost {cost_fn!r}; expected one of {COSTS}")


def _check_temperature(temperature: float) -> None:
    if not (isinstance(temperature, (int, float)) and 0 < temperature < float("inf")):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")


def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float = 4.0,
    divergence: str = "kl",
    scale_by_temperature: bool = True,
    detach_teacher: bool = True,
    reduction: str = "batchmean",
    **divergence_kwargs: float,
) -> torch.Tensor:
    """Logit distillation: T^2 D(teacher || student) at temperature T.

        L = T^2 * D_f( softmax(z_t / T) || softmax(z_s / T) ).

    Direction: the teacher is the first argument p, the student the second, q. With the
    default ``divergence="kl"`` this is forward KL, KL(teacher || student), the loss of
    Hinton et al. (2015); ``"reverse_kl"`` gives KL(student || teacher) (mode-seeking), and any
    other name of :func:`qdsformer.divergences.list_divergences` works the same way.

    The T^2 factor (on by default) keeps the gradient's magnitude independent of T: for KL,
    dL/dz_s = T (softmax(z_s / T) - softmax(z_t / T)) / B, which would otherwise shrink like
    1/T. Set ``scale_by_temperature=False`` to drop it.

    Args:
        student_logits: (B, C).
        teacher_logits: (B, C).
        temperature: T > 0 (default 4).
        divergence: name of an f-divergence (default ``"kl"``).
        scale_by_temperature: multiply by T^2 (default True).
        detach_teacher: treat the teacher as a fixed target (default True).
        reduction: ``batchmean`` (default), ``sum`` or ``none`` (shape (B,)).
        **divergence_kwargs: parameters of the divergence (e.g. ``alpha=0.1`` for skew_kl).

    Returns:
        The loss, a scalar tensor unless ``reduction="none"``.
    """
    _check_pair(student_logits, teacher_logits)
    _check_temperature(temperature)
    if detach_teacher:
        teacher_logits = teacher_logits.detach()
    loss = f_divergence(divergence, teacher_logits / temperature, student_logits / temperature,
                        reduction=reduction, **divergence_kwargs)
    return loss * temperature**2 if scale_by_temperature else loss


def sinkd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    epsilon: float = 0.1,
    n_iters: int = 21,
    cost_fn: str = "l1",
    debiased: bool = False,
    detach_teacher: bool = True,
) -> torch.Tensor:
    """SinKD: Sinkhorn distance between the batch's student and teacher probability vectors.

    With s_i = softmax(z_s,i / T) and t_j = softmax(z_t,j / T) (i, j = 1..B), C_ij = c(s_i, t_j)
    and P the entropic plan between uniform weights 1/B (Cui et al., 2024):

        L = <P, C>,   P = argmin_{P 1 = 1/B, P^T 1 = 1/B} <P, C> - epsilon H(P).

    Unlike the paper's code, whose plan has mass B, P has mass 1, so L is a mean cost that does
    not grow with the batch size (duplicating the batch leaves it unchanged). L is positive
    even when student == teacher (the entropic plan spreads mass off the diagonal); the
    ``debiased`` form is the Sinkhorn divergence (Feydy et al., AISTATS 2019)

        S = OT_eps(s, t) - (OT_eps(s, s) + OT_eps(t, t)) / 2,
        OT_eps = <P, C> + epsilon KL(P || 1/B^2),

    (:func:`qdsformer.ot.sinkhorn_divergence`), which is 0 when student == teacher and >= 0 at
    convergence. Gradients are unrolled through the iterations. No T^2 factor is applied.

    Args:
        student_logits: (B, C).
        teacher_logits: (B, C).
        temperature: T > 0 (default 1).
        epsilon: entropic regularisation (default 0.1, SinKD's setting).
        n_iters: normalisation steps K of :func:`qdsformer.ot.sinkhorn.sinkhorn` (default 21,
            odd, so the plan ends on a row step as in the attention normaliser); the plan has
            mass 1 after any number of them.
        cost_fn: ``"l1"`` (default, SinKD's), ``"sqeuclidean"`` or ``"euclidean"`` between the
            probability vectors (:func:`qdsformer.ot.pairwise_cost`).
        debiased: return the Sinkhorn divergence S instead of <P, C>.
        detach_teacher: treat the teacher as a fixed target (default True).

    Returns:
        A scalar tensor.
    """
    _check_pair(student_logits, teacher_logits)
    _check_temperature(temperature)
    _check_cost(cost_fn)
    if detach_teacher:
        teacher_logits = teacher_logits.detach()
    s = torch.softmax(student_logits / temperature, dim=-1)  # (B, C)
    t = torch.softmax(teacher_logits / temperature, dim=-1)  # (B, C)
    if not debiased:
        plan_cost = pairwise_cost(s, t, cost_fn=cost_fn)  # (B, B)
        return sinkhorn(plan_cost, epsilon=epsilon, n_iters=n_iters).transport_cost
    return sinkhorn_divergence(s, t, epsilon=epsilon, cost_fn=cost_fn, tol=None, n_iters=n_iters,
                               grad="unroll")


@dataclass
class DistillationLoss:
    """ce_weight * CE(student, labels) + kd_weight * KD + sinkd_weight * SinKD; zero weights skip.

    Call with ``(student_logits, teacher_logits, labels)``; returns ``(total, parts)`` where
    ``parts`` maps ``"ce"``, ``"kd"``, ``"sinkd"`` (those computed) to detached scalars.
    SinKD's paper uses alpha * KD + (1 - alpha) * CE + beta * SinKD (beta 0.8); here each term
    has its own weight, named after the term it weighs.

    Attributes:
        ce_weight: weight of cross-entropy with the labels.
        kd_weight: weight of :func:`kd_loss`.
        sinkd_weight: weight of :func:`sinkd_loss`.
        temperature: KD temperature (T^2 scaling on).
        divergence: KD divergence name.
        divergence_kwargs: the divergence's parameters, e.g. ``{"alpha": 0.1}`` for
            ``skew_kl`` (its order alpha, not a loss weight).
        sinkd_temperature, epsilon, n_iters, cost_fn, debiased: passed to :func:`sinkd_loss`.
    """

    ce_weight: float = 1.0
    kd_weight: float = 0.0
    sinkd_weight: float = 0.0
    temperature: float = 4.0
    divergence: str = "kl"
    divergence_kwargs: dict = field(default_factory=dict)
    sinkd_temperature: float = 1.0
    epsilon: float = 0.1
    n_iters: int = 21
    cost_fn: str = "l1"
    debiased: bool = False

    def __post_init__(self) -> None:
        weights = {"ce_weight": self.ce_weight, "kd_weight": self.kd_weight,
                   "sinkd_weight": self.sinkd_weight}
        for key, value in weights.items():
            if not value >= 0:
                raise ValueError(f"loss weight {key} must be >= 0, got {value}")
        if not any(weights.values()):
            raise ValueError("all loss weights (ce_weight, kd_weight, sinkd_weight) are 0; "
                             "nothing to minimise")
        _check_temperature(self.temperature)
        _check_temperature(self.sinkd_temperature)
        divergence_params(self.divergence, **self.divergence_kwargs)  # unknown name or parameter -> error
        _check_cost(self.cost_fn)
        if not self.epsilon > 0:
            raise ValueError(f"SinKD epsilon must be > 0, got {self.epsilon}")
        if int(self.n_iters) != self.n_iters or self.n_iters < 1:
            raise ValueError(f"SinKD n_iters must be a positive integer, got {self.n_iters}")

    def __call__(
        self, student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        _check_pair(student_logits, teacher_logits)
        if labels.shape != student_logits.shape[:1]:
            raise ValueError(f"labels must have shape ({student_logits.shape[0]},), "
                             f"got {tuple(labels.shape)}")
        parts: dict[str, torch.Tensor] = {}
        if self.ce_weight:
            parts["ce"] = F.cross_entropy(student_logits, labels)
        if self.kd_weight:
            parts["kd"] = kd_loss(student_logits, teacher_logits, temperature=self.temperature,
                                  divergence=self.divergence, **self.divergence_kwargs)
        if self.sinkd_weight:
            parts["sinkd"] = sinkd_loss(student_logits, teacher_logits,
                                        temperature=self.sinkd_temperature, epsilon=self.epsilon,
                                        n_iters=self.n_iters, cost_fn=self.cost_fn,
                                        debiased=self.debiased)
        weights = {"ce": self.ce_weight, "kd": self.kd_weight, "sinkd": self.sinkd_weight}
        total = sum(weights[k] * v for k, v in parts.items())
        return total, {k: v.detach() for k, v in parts.items()}
