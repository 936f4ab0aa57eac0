"""ESPFormer attention: expected sliced transport plans with soft sorting (Shahbazi et al., 2025).

For queries q and keys k (B, H, T, d), each scaled by d**-0.5, every feature l = 1..d is a
slice: the 1-D point clouds q[:, l] and k[:, l] are soft-sorted, giving soft permutation
matrices U_l, V_l (T, T) (SoftSort with p = 2, Prillo & Eisenschlos 2020):

    U_l[i, j] = softmax_j( -(q[j, l] - sort_desc(q[:, l])[i])^2 / tau ),

and the slice's transport plan is G_l = U_l^T V_l (the optimal 1-D plan when tau -> 0: the
i-th largest query meets the i-th largest key). The plans are averaged with softmin weights
over their transport costs under the Euclidean cost C[i, j] = ||q_i - k_j||_2:

    s_l = <C, G_l>,   w = softmax_l(-temperature * s),   P = sum_l w_l G_l.

Row sums of P are sum_l w_l (column sums of U_l) and column sums are sum_l w_l (column sums
of V_l): SoftSort rows sum to 1 exactly, its columns only approximately, so P is doubly
stochastic up to how far the soft permutations are from permutations. The gap vanishes as
tau -> 0 for distinct coordinates and grows when coordinates of a slice are closer than
sqrt(tau) (ties). No Sinkhorn iterations.

Defaults are the authors' (github.com/Anon4142/ESPFormer, ``attentions/esp.py``): tau = 1e-3
and temperature = 10, the default of their ``EspAttention`` layer (their ``Esp`` module's own
default is 0.1 and their MNIST script passes 0, which gives the plain mean over slices).
"""

from __future__ import annotations

import math

import torch

from qdsformer.attention.qk import QKNormalizer
from qdsformer.attention.registry import register_normalizer
from qdsformer.common.checks import check_number


def soft_sort(x: torch.Tensor, tau: float) -> torch.Tensor:
    """SoftSort (p = 2) soft permutation matrices of the last axis, descending order.

    Args:
        x: values (..., T).
        tau: temperature > 0; tau -> 0 gives the hard sorting permutation.

    Returns:
        U (..., T, T) with U[..., i, j] = softmax_j(-(x_j - sort_desc(x)_i)^2 / tau): row i is
        a soft one-hot of the element at sorted position i. Rows sum to 1 exactly.

    The logits are floored at log(tiny) / 2 of the dtype (-43.7 in float32, -354 in float64;
    each row's largest logit is 0), so no weight falls below sqrt(tiny): subnormal weights
    and their products make CPU arithmetic several times slower. The floor moves each entry
    by at most e^-43.7 = 1e-19 in float32, below its rounding.
    """
    ranked, _ = x.sort(dim=-1, descending=True)  # (..., T)
    logits = -(x.unsqueeze(-2) - ranked.unsqueeze(-1)) ** 2 / tau  # (..., T pos, T elem)
    floor = math.log(torch.finfo(logits.dtype).tiny) / 2
    return logits.clamp_min(floor).softmax(dim=-1)  # (..., T, T)


def slice_plans(q: torch.Tensor, k: torch.Tensor, tau: float) -> torch.Tensor:
    """The per-slice soft transport plans G_l = U_l^T V_l for the coordinate slices.

    Args:
        q, k: (B, H, T, d).
        tau: SoftSort temperature.

    Returns:
        G (B, H, d, T, T), G[..., l, i, j] the mass query i sends to key j in slice l.
    """
    u = soft_sort(q.transpose(-2, -1), tau)  # (B, H, d, T, T)
    v = soft_sort(k.transpose(-2, -1), tau)  # (B, H, d, T, T)
    return u.transpose(-2, -1) @ v  # (B, H, d, T, T)


def slice_weights(plans: torch.Tensor, q: torch.Tensor, k: torch.Tensor,
                  temperature: float) -> torch.Tensor:
    """Softmin weights of the slices over their transport costs.

    Args:
        plans: G (B, H, d, T, T) from :func:`slice_plans`.
        q, k: (B, H, T, d).
        temperature: inverse temperature >= 0 of the softmin; 0 gives equal weights 1/d.

    Returns:
        w (B, H, d), summing to 1 over the slices: w = softmax(-temperature * <C, G_l>) with
        C[i, j] = ||q_i - k_j||_2.
    """
    cost = torch.cdist(q, k, p=2)  # (B, H, T, T)
    slice_cost = (cost.unsqueeze(-3) * plans).sum(dim=(-2, -1))  # (B, H, d)
    return torch.softmax(-temperature * slice_cost, dim=-1)  # (B, H, d)


def esp_plan(q: torch.Tensor, k: torch.Tensor, tau: float = 1e-3,
             temperature: float = 10.0) -> torch.Tensor:
    """ESPFormer's attention P = sum_l w_l U_l^T V_l (see the module docstring).

    Args:
        q, k: (B, H, T, d), scaled by d**-0.5.
        tau: SoftSort temperature (> 0).
        temperature: softmin inverse temperature over slice costs (>= 0).

    Returns:
        P (B, H, T, T), nonnegative, rows and columns summing to 1 up to the SoftSort gap.
    """
    plans = slice_plans(q, k, tau)  # (B, H, d, T, T)
    weights = slice_weights(plans, q, k, temperature)  # (B, H, d)
    return (weights[..., None, None] * plans).sum(dim=-3)  # (B, H, T, T)


@register_normalizer("esp")
class ESPAttention(QKNormalizer):
    """ESPFormer: doubly stochastic attention from expected sliced transport plans.

    P = sum_l w_l U_l^T V_l over the d coordinate slices of q and k, U_l and V_l SoftSort
    soft permutations (temperature ``tau``), w the softmin (inverse temperature
    ``temperature``) of the slices' transport costs under C = ||q_i - k_j||_2; see
    :func:`esp_plan`. Cost and memory O(d T^2) per head. Shahbazi et al., "ESPFormer:
    Doubly-Stochastic Attention with Expected Sliced Transport Plans", ICML 2025; defaults are
    those of the authors' code (tau 1e-3, temperature 10).

    Rows and columns sum to 1 up to SoftSort's deviation from a permutation (the module
    docstring says when it is small); ``doubly_stochastic`` is True as for Sinkhorn with few
    iterations: the operator targets the Birkhoff polytope without reaching it exactly.

    Args:
        tau: SoftSort temperature > 0.
        temperature: inverse temperature >= 0 of the softmin over slices (0: plain mean).
        check_finite: reject NaN / inf q or k with ``ValueError``.
    """

    doubly_stochastic = True
    paper = "ESPFormer, Shahbazi et al., ICML 2025"

    def __init__(self, tau: float = 1e-3, temperature: float = 10.0,
                 check_finite: bool = True) -> None:
        super().__init__(check_finite=check_finite)
        self.tau = check_number("esp", "tau", tau, low=0, low_open=True)
        self.temperature = check_number("esp", "temperature", temperature, low=0)

    def extra_repr(self) -> str:
        return f"tau={self.tau}, temperature={self.temperature}"

    def normalize_qk(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        if q.dtype in (torch.float16, torch.bfloat16):  # cdist has no half kernels on CPU
            return esp_plan(q.float(), k.float(), self.tau, self.temperature).to(q.dtype)
        return esp_plan(q, k, self.tau, self.temperature)  # (B, H, T, T)
