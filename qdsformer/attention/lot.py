"""LOTFormer attention: a rank-r doubly stochastic plan glued through a learnable pivot.

Shahbazi et al., "LOTFormer: Doubly-Stochastic Linear Attention via Low-Rank Optimal
Transport", arXiv 2509.23436 (2025). Queries q and keys k (B, H, T, d), each scaled by
d**-0.5, are uniform measures mu = nu = 1/T on T points; the pivot is a learnable measure
sigma on r points z_1..z_r (per head). Two entropic OT problems are solved with the package's
one Sinkhorn kernel (:func:`qdsformer.ot.sinkhorn`):

    A = Sinkhorn(C_qz, mu, sigma)   (T, r),   C_qz[i, m] = -<q_i, z_m>
    B = Sinkhorn(C_zk, sigma, nu)   (r, T),   C_zk[m, j] = -<z_m, k_j>

and glued into the conditional coupling gamma = A diag(1/sigma) B (T, T), whose marginals are
mu and nu when A and B have theirs. The attention is P = T * gamma: rows and columns sum to 1
up to the Sinkhorn tolerance, rank(P) <= r, and

    P @ V = T * A @ (diag(1/sigma) (B @ V))

costs O(T r d) time and memory: :meth:`LOTAttention.attend` never forms P.

What the paper and the authors' code fix, and what we chose where they are silent (their code
read: ``deit-imagenet/models/lot_deit.py`` of github.com/anonymous13761234/LOTFormer, commit
465cde5):

- cost: negative inner product of the scaled queries / keys with the pivot points, as in the
  authors' vision code (``deit-imagenet/models/lot_deit.py``, ``imagenet_swin``);
- pivot points z (H, r, d) initialised N(0, 1/d), masses sigma = softmax(logits / 0.5) with
  logits (H, r) starting at 0 (uniform sigma), both learned (their DeiT code);
- Sinkhorn: epsilon = 1 and 5 half-steps (row, column, row, column, row), their DeiT / Swin
  defaults, so each plan's first marginal is exact and the second is within the Sinkhorn
  error; ``tol`` instead runs to a marginal tolerance (doubly stochastic to about 2 T tol);
- r = 32 pivot points (their DeiT default); with T <= r the plan is not low-rank;
- gradients unroll through the iterations (their code; ``grad`` selects the kernel's other
  modes);
- all T tokens go through the transport: their DeiT variant gives the class token plain
  softmax attention and adds a depthwise-convolution branch on the patch grid; both are
  architecture choices around the operator, not the operator, and are left out.

Every difference from their ``LotAttention``, then:

1. their class / distillation tokens get softmax attention over all tokens; here every token
   goes through the transport;
2. their patch outputs add a depthwise-convolution branch over the value grid; here none;
3. their keys get a learnable positional encoding (``positional_encoding``, (1, N, dim),
   zero at the start) added before the transport; ours do not (the model's own position
   embedding is the only one);
4. their transport runs in float32 whatever the input dtype; ours in the dtype of q and k;
5. their attention dropout acts on the factor A diag(sigma^-1/2) (their ``Phi_Q``); here the
   timm layer's dropout acts on P (with dropout on, the layer forms P instead of calling
   :meth:`attend`);
6. their Sinkhorn loop also stops early when a row update moves the potential by less than
   1e-12 (a host sync per half-step; never within 5 half-steps in practice) and masks pivot
   points of exactly zero mass; ours runs the ``n_iters`` half-steps (or to ``tol``) of the
   package kernel, whose zero weights get -inf potentials.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from qdsformer.attention.qk import QKNormalizer
from qdsformer.attention.registry import register_normalizer
from qdsformer.common.checks import check_int, check_number
from qdsformer.ot.sinkhorn import sinkhorn


def lot_factors(q: torch.Tensor, k: torch.Tensor, pivots: torch.Tensor, masses: torch.Tensor,
                epsilon: float = 1.0, n_iters: int | None = 5, tol: float | None = None,
                grad: str = "unroll") -> tuple[torch.Tensor, torch.Tensor]:
    """The two entropic plans of LOTFormer: queries -> pivot and pivot -> keys.

    Args:
        q, k: (B, H, T, d).
        pivots: pivot points z, (H, r, d).
        masses: pivot masses sigma, (H, r), positive, summing to 1.
        epsilon: entropic regularisation of both problems.
        n_iters: Sinkhorn half-steps (odd: ends on a row step); the cap when ``tol`` is given.
        tol: stop each problem when its L1 marginal error is below ``tol``.
        grad: gradient mode of :func:`qdsformer.ot.sinkhorn`.

    Returns:
        A (B, H, T, r) with rows 1/T and columns ~sigma, and B (B, H, r, T) with rows sigma
        and columns ~1/T.
    """
    method = "log"  # no host sync per half-step; with tol, one sync per 10 half-steps
    cost_qz = -(q @ pivots.transpose(-2, -1))  # (B, H, T, r)
    cost_zk = -(pivots @ k.transpose(-2, -1))  # (B, H, r, T)
    sigma = masses.to(q.dtype)  # (H, r)
    plan_qz = sinkhorn(cost_qz, b=sigma, epsilon=epsilon, n_iters=n_iters, tol=tol,
                       method=method, grad=grad).plan  # (B, H, T, r)
    plan_zk = sinkhorn(cost_zk, a=sigma, epsilon=epsilon, n_iters=n_iters, tol=tol,
                       method=method, grad=grad).plan  # (B, H, r, T)
    return plan_qz, plan_zk


def glue(plan_qz: torch.Tensor, plan_zk: torch.Tensor, masses: torch.Tensor) -> torch.Tensor:
    """P = T * A diag(1/sigma) B, the glued coupling scaled to unit row and column sums.

    Args:
        plan_qz: A (B, H, T, r); plan_zk: B (B, H, r, T); masses: sigma (H, r).

    Returns:
        P (B, H, T, T), rank <= r.
    """
    t = plan_qz.shape[-2]
    return t * (plan_qz / masses.unsqueeze(-2)) @ plan_zk  # (B, H, T, T)


def glue_apply(plan_qz: torch.Tensor, plan_zk: torch.Tensor, masses: torch.Tensor,
               v: torch.Tensor) -> torch.Tensor:
    """P @ V = T * A (diag(1/sigma) (B V)) without forming P: O(T r d_v).

    Args:
        plan_qz: A (B, H, T, r); plan_zk: B (B, H, r, T); masses: sigma (H, r);
        v: values (B, H, T, d_v).

    Returns:
        (B, H, T, d_v).
    """
    t = plan_qz.shape[-2]
    pooled = (plan_zk @ v) / masses.unsqueeze(-1)  # (B, H, r, d_v)
    return t * (plan_qz @ pooled)  # (B, H, T, d_v)


@register_normalizer("lot")
class LOTAttention(QKNormalizer):
    """LOTFormer: P = T * A diag(1/sigma) B through a learnable pivot measure of r points.

    A and B solve entropic OT from the queries to the pivot and from the pivot to the keys
    with :func:`qdsformer.ot.sinkhorn`; see the module docstring for the construction and
    for the choices taken from the authors' code. Rows and columns sum to 1 up to the
    Sinkhorn error (pass ``tol`` for a guaranteed bound), rank(P) <= r, and :meth:`attend`
    computes P @ V in O(T r d) without forming P.

    The pivot points (``num_heads``, r, ``head_dim``) and mass logits (``num_heads``, r) are
    ``nn.Parameter``s, trained with the model; the timm layer passes its ``num_heads`` and
    ``head_dim``. Inputs with H different from ``num_heads`` share head 0's pivot when
    ``num_heads`` is 1, and raise ``ValueError`` otherwise.

    Args:
        r: number of pivot points (>= 1); default 32, as the authors' DeiT.
        epsilon: entropic regularisation of both transport problems (> 0); default 1.
        n_iters: Sinkhorn half-steps, odd (default 5, the authors'); with ``tol``, the cap.
        tol: None, or stop each Sinkhorn run at this L1 marginal error.
        grad: ``"unroll"`` (default), ``"implicit"`` or ``"envelope"`` (see the kernel).
            The implicit backward solves an (m, m) system per problem, m the column count:
            r for queries -> pivot but T for pivot -> keys, so only ``"unroll"`` and
            ``"envelope"`` keep the cost linear in T.
        num_heads: heads H the pivot is built for (one pivot measure per head).
        head_dim: feature size d of q and k.
        mass_temperature: sigma = softmax(logits / mass_temperature) (their 0.5).
        learn_masses: train the masses too (default True); False keeps sigma uniform.
        linear_from: :meth:`prefers_attend` is True from this many tokens on (default 64):
            the timm layer then calls :meth:`attend` and never forms the T x T matrix.
        seed: seed of the pivot points' N(0, 1/d) draw.
        check_finite: reject NaN / inf q or k with ``ValueError``.
    """

    doubly_stochastic = True
    paper = "LOTFormer, Shahbazi et al., arXiv 2509.23436 (2025)"

    def __init__(self, r: int = 32, epsilon: float = 1.0, n_iters: int = 5,
                 tol: float | None = None, grad: str = "unroll", num_heads: int = 1,
                 head_dim: int = 64, mass_temperature: float = 0.5, learn_masses: bool = True,
                 linear_from: int = 64, seed: int = 0, check_finite: bool = True) -> None:
        super().__init__(check_finite=check_finite)
        for label, value in (("r", r), ("num_heads", num_heads), ("head_dim", head_dim),
                             ("n_iters", n_iters), ("linear_from", linear_from)):
            check_int("lot", label, value, low=1)
        if n_iters % 2 == 0:
            raise ValueError(f"lot: n_iters must be odd (the last Sinkhorn step fits the rows), "
                             f"got {n_iters}")
        check_int("lot", "seed", seed, low=0)
        epsilon = check_number("lot", "epsilon", epsilon, low=0, low_open=True)
        if tol is not None:
            check_number("lot", "tol", tol, low=0, low_open=True)
        if grad not in ("unroll", "implicit", "envelope"):
            raise ValueError(f"lot: grad must be 'unroll', 'implicit' or 'envelope', got {grad!r}")
        mass_temperature = check_number("lot", "mass_temperature", mass_temperature, low=0,
                                        low_open=True)
        if not isinstance(learn_masses, bool):
            raise ValueError(f"lot: learn_masses must be True or False, got {learn_masses!r}")
        self.r, self.epsilon, self.n_iters, self.tol, self.grad = r, epsilon, n_iters, tol, grad
        self.num_heads, self.head_dim = num_heads, head_dim
        self.mass_temperature = float(mass_temperature)
        self.linear_from = linear_from
        gen = torch.Generator().manual_seed(seed)
        # drawn on the host (seeded CPU generator); .to() moves the parameters
        points = torch.randn(num_heads, r, head_dim, generator=gen, device="cpu") / math.sqrt(
            head_dim)
        self.pivots = nn.Parameter(points)  # (H, r, d)
        logits = torch.zeros(num_heads, r, device="cpu")  # (H, r): uniform masses at the start
        if learn_masses:
            self.mass_logits = nn.Parameter(logits)
        else:
            self.register_buffer("mass_logits", logits)

    def extra_repr(self) -> str:
        return (f"r={self.r}, epsilon={self.epsilon}, n_iters={self.n_iters}, tol={self.tol}, "
                f"num_heads={self.num_heads}, head_dim={self.head_dim}")

    def masses(self) -> torch.Tensor:
        """Pivot masses sigma (H, r), positive, summing to 1 per head."""
        return torch.softmax(self.mass_logits / self.mass_temperature, dim=-1)

    def prefers_attend(self, n_tokens: int) -> bool:
        return n_tokens >= self.linear_from

    def validate_qk(self, q, k, v=None) -> None:
        super().validate_qk(q, k, v)
        if q.shape[-1] != self.head_dim:
            raise ValueError(f"lot: q and k have d = {q.shape[-1]} features but the pivot was "
                             f"built for head_dim = {self.head_dim}")
        if q.shape[1] != self.num_heads and self.num_heads != 1:
            raise ValueError(f"lot: inputs have H = {q.shape[1]} heads but the pivot was built "
                             f"for num_heads = {self.num_heads}")

    def factors(self, q: torch.Tensor, k: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(A (B, H, T, r), B (B, H, r, T), sigma (H, r)) for q, k (B, H, T, d)."""
        sigma = self.masses().to(q.dtype)  # (H, r)
        pivots = self.pivots.to(q.dtype)  # (H, r, d)
        plan_qz, plan_zk = lot_factors(q, k, pivots, sigma, self.epsilon, self.n_iters,
                                       self.tol, self.grad)
        return plan_qz, plan_zk, sigma

    def normalize_qk(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        plan_qz, plan_zk, sigma = self.factors(q, k)
        return glue(plan_qz, plan_zk, sigma)  # (B, H, T, T)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """P @ v (B, H, T, d_v) in O(T r d) time and memory, P never formed."""
        self.validate_qk(q, k, v)
        plan_qz, plan_zk, sigma = self.factors(q, k)
        return glue_apply(plan_qz, plan_zk, sigma, v)  # (B, H, T, d_v)
