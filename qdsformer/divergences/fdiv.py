"""The f-divergence family between discrete distributions given as logits, and f-distill weights.

For a convex generator f with f(1) = 0,

    D_f(p || q) = sum_x q(x) f(p(x) / q(x)),

summed over the last dimension. Every divergence here is evaluated from log-probabilities
(``log_softmax`` of the logits) in a form that never divides by a probability, so it stays
finite and differentiable when entries of p or q are tiny. Each entry also carries

* its generator ``f(t)`` (:func:`generator`), the definition the stable form is tested against;
* f-distill's weight ``h(r) = f''(r) r^2`` (:func:`weight`), with r = p / q the density ratio
  (Xu, Nie & Vahdat, "One-step Diffusion Models with f-Divergence Distribution Matching", 2025).

Conventions (the literature differs, so they are stated):

* ``js`` is the Jensen-Shannon divergence 1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q) / 2,
  bounded by log 2. Its generator is half of the one in f-distill's table, so its weight is
  r / (2 (r + 1)) where the table reads r / (r + 1); f-distill normalises h by its batch mean,
  which removes the factor.
* ``hellinger`` is the squared Hellinger distance 1/2 sum (sqrt p - sqrt q)^2 in [0, 1],
  f(t) = (sqrt t - 1)^2 / 2, h = sqrt(r) / 4 as in f-distill.
* ``tv`` = 1/2 sum |p - q| in [0, 1]; its generator has no second derivative at t = 1, so
  :func:`weight` refuses it.
* ``alpha`` is Amari's alpha-divergence, f(t) = (t^a - 1 - a (t - 1)) / (a (a - 1)), with the
  limits forward KL (a = 1) and reverse KL (a = 0); h = r^a.
* ``skew_kl`` (DistiLLM, Ko et al., ICML 2024) = KL(p || a p + (1 - a) q), a in [0, 1);
  ``skew_reverse_kl`` = KL(q || a q + (1 - a) p). a = 0 gives forward / reverse KL.
* ``gjsd`` (GKD, Agarwal et al., ICLR 2024) = b KL(p || m) + (1 - b) KL(q || m) with
  m = b p + (1 - b) q, b in (0, 1); b = 1/2 is ``js``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from qdsformer.common.registry import Registry

Params = dict[str, float]

_REDUCTIONS = ("batchmean", "sum", "none")


@dataclass(frozen=True)
class FDivergence:
    """One member of the family.

    Attributes:
        name: registry name.
        formula: D_f(p || q) in words, shown by :func:`describe`.
        terms: (log_p, log_q, params) -> per-entry contributions q f(p / q), shape (..., K).
        generator: (t, params) -> f(t), for t > 0.
        weight: (r, params) -> h(r) = f''(r) r^2, or None when f is not twice differentiable.
        defaults: keyword parameters and their defaults (e.g. ``alpha``).
        check: validates the parameters, raising ValueError.
    """

    name: str
    formula: str
    terms: Callable[[torch.Tensor, torch.Tensor, Params], torch.Tensor]
    generator: Callable[[torch.Tensor, Params], torch.Tensor]
    weight: Callable[[torch.Tensor, Params], torch.Tensor] | None
    defaults: Params = field(default_factory=dict)
    check: Callable[[Params], None] | None = None


#: The f-divergence family by name.
DIVERGENCES: Registry[FDivergence] = Registry("divergence")


def _register(spec: FDivergence) -> None:
    DIVERGENCES.add(spec.name, spec)


def _log_mix(log_p: torch.Tensor, log_q: torch.Tensor, w: float) -> torch.Tensor:
    """log(w p + (1 - w) q) for w in [0, 1], in log space."""
    if w == 0.0:
        return log_q
    if w == 1.0:
        return log_p
    return torch.logaddexp(log_p + math.log(w), log_q + math.log1p(-w))  # (..., K)


def _check_unit_interval(key: str, closed_left: bool) -> Callable[[Params], None]:
    def check(params: Params) -> None:
        value = params[key]
        low_ok = value >= 0 if closed_left else value > 0
        if not (low_ok and value < 1):
            interval = "[0, 1)" if closed_left else "(0, 1)"
            raise ValueError(f"{key} must lie in {interval}, got {value}")

    return check


def _check_finite_alpha(params: Params) -> None:
    if not math.isfinite(params["alpha"]):
        raise ValueError(f"alpha must be a finite number, got {params['alpha']}")


# Forward KL: f(t) = t log t, h(r) = r.
_register(FDivergence(
    name="kl",
    formula="KL(p || q) = sum p log(p / q)",
    terms=lambda lp, lq, _: lp.exp() * (lp - lq),
    generator=lambda t, _: torch.xlogy(t, t),
    weight=lambda r, _: r,
))

# Reverse KL: f(t) = -log t, h(r) = 1.
_register(FDivergence(
    name="reverse_kl",
    formula="KL(q || p) = sum q log(q / p)",
    terms=lambda lp, lq, _: lq.exp() * (lq - lp),
    generator=lambda t, _: -torch.log(t),
    weight=lambda r, _: torch.ones_like(r),
))

# Softened reverse KL (f-distill): f(t) = (t + 1) log((t + 1) / (2 t)), h(r) = 1 / (r + 1).
_register(FDivergence(
    name="softened_reverse_kl",
    formula="2 KL(m || p), m = (p + q) / 2",
    terms=lambda lp, lq, _: (lp.exp() + lq.exp()) * (_log_mix(lp, lq, 0.5) - lp),
    generator=lambda t, _: (t + 1) * torch.log((t + 1) / (2 * t)),
    weight=lambda r, _: 1 / (r + 1),
))


def _js_terms(lp: torch.Tensor, lq: torch.Tensor, _: Params) -> torch.Tensor:
    lm = _log_mix(lp, lq, 0.5)  # (..., K)
    return 0.5 * (lp.exp() * (lp - lm) + lq.exp() * (lq - lm))


# Jensen-Shannon: f(t) = (t log t - (t + 1) log((t + 1) / 2)) / 2, h(r) = r / (2 (r + 1)).
_register(FDivergence(
    name="js",
    formula="JS(p, q) = KL(p || m) / 2 + KL(q || m) / 2, m = (p + q) / 2, <= log 2",
    terms=_js_terms,
    generator=lambda t, _: 0.5 * (torch.xlogy(t, t) - (t + 1) * torch.log((t + 1) / 2)),
    weight=lambda r, _: r / (2 * (r + 1)),
))

# Total variation: f(t) = |t - 1| / 2; not twice differentiable at 1.
_register(FDivergence(
    name="tv",
    formula="TV(p, q) = sum |p - q| / 2, <= 1",
    terms=lambda lp, lq, _: 0.5 * (lp.exp() - lq.exp()).abs(),
    generator=lambda t, _: 0.5 * (t - 1).abs(),
    weight=None,
))

# Squared Hellinger: f(t) = (sqrt t - 1)^2 / 2, h(r) = sqrt(r) / 4.
_register(FDivergence(
    name="hellinger",
    formula="H^2(p, q) = sum (sqrt p - sqrt q)^2 / 2, <= 1",
    terms=lambda lp, lq, _: 0.5 * ((0.5 * lp).exp() - (0.5 * lq).exp()) ** 2,
    generator=lambda t, _: 0.5 * (t.sqrt() - 1) ** 2,
    weight=lambda r, _: r.sqrt() / 4,
))

# Pearson chi^2: f(t) = (t - 1)^2, h(r) = 2 r^2. (p - q) expm1(log p - log q) = (p - q)^2 / q.
_register(FDivergence(
    name="pearson",
    formula="chi^2(p || q) = sum (p - q)^2 / q",
    terms=lambda lp, lq, _: (lp.exp() - lq.exp()) * torch.expm1(lp - lq),
    generator=lambda t, _: (t - 1) ** 2,
    weight=lambda r, _: 2 * r**2,
))

# Neyman chi^2: f(t) = (t - 1)^2 / t, h(r) = 2 / r.
_register(FDivergence(
    name="neyman",
    formula="chi^2(q || p) = sum (p - q)^2 / p",
    terms=lambda lp, lq, _: (lq.exp() - lp.exp()) * torch.expm1(lq - lp),
    generator=lambda t, _: (t - 1) ** 2 / t,
    weight=lambda r, _: 2 / r,
))

# Jeffreys = KL(p || q) + KL(q || p): f(t) = (t - 1) log t, h(r) = r + 1.
_register(FDivergence(
    name="jeffreys",
    formula="J(p, q) = KL(p || q) + KL(q || p) = sum (p - q) log(p / q)",
    terms=lambda lp, lq, _: (lp.exp() - lq.exp()) * (lp - lq),
    generator=lambda t, _: (t - 1) * torch.log(t),
    weight=lambda r, _: r + 1,
))


def _alpha_terms(lp: torch.Tensor, lq: torch.Tensor, params: Params) -> torch.Tensor:
    a = params["alpha"]
    p, q = lp.exp(), lq.exp()  # (..., K)
    if a == 1.0:
        return p * (lp - lq) - (p - q)
    if a == 0.0:
        return q * (lq - lp) + (p - q)
    # q f(p/q) = (p^a q^(1-a) - q - a (p - q)) / (a (a - 1)); exactly 0 where p == q.
    return (torch.exp(lq + a * (lp - lq)) - q - a * (p - q)) / (a * (a - 1))


def _alpha_generator(t: torch.Tensor, params: Params) -> torch.Tensor:
    a = params["alpha"]
    if a == 1.0:
        return torch.xlogy(t, t) - t + 1
    if a == 0.0:
        return -torch.log(t) + t - 1
    return (t**a - 1 - a * (t - 1)) / (a * (a - 1))


# Amari alpha-divergence: h(r) = r^alpha.
_register(FDivergence(
    name="alpha",
    formula="D_a(p || q) = (sum p^a q^(1-a) - 1) / (a (a - 1)); a=1 KL(p||q), a=0 KL(q||p)",
    terms=_alpha_terms,
    generator=_alpha_generator,
    weight=lambda r, params: r ** params["alpha"],
    defaults={"alpha": 0.5},
    check=_check_finite_alpha,
))


def _skew_kl_generator(t: torch.Tensor, params: Params) -> torch.Tensor:
    a = params["alpha"]
    return torch.xlogy(t, t) - t * torch.log(a * t + 1 - a)


def _skew_kl_weight(r: torch.Tensor, params: Params) -> torch.Tensor:
    a = params["alpha"]
    return (1 - a) ** 2 * r / (a * r + 1 - a) ** 2


# Skew KL (DistiLLM): f(t) = t log(t / (a t + 1 - a)), h(r) = (1 - a)^2 r / (a r + 1 - a)^2.
_register(FDivergence(
    name="skew_kl",
    formula="SKL_a(p || q) = KL(p || a p + (1 - a) q), a in [0, 1)",
    terms=lambda lp, lq, params: lp.exp() * (lp - _log_mix(lp, lq, params["alpha"])),
    generator=_skew_kl_generator,
    weight=_skew_kl_weight,
    defaults={"alpha": 0.1},
    check=_check_unit_interval("alpha", closed_left=True),
))

# Skew reverse KL: f(t) = -log(a + (1 - a) t), h(r) = (1 - a)^2 r^2 / (a + (1 - a) r)^2.
_register(FDivergence(
    name="skew_reverse_kl",
    formula="SRKL_a(p || q) = KL(q || a q + (1 - a) p), a in [0, 1)",
    terms=lambda lp, lq, params: lq.exp() * (lq - _log_mix(lq, lp, params["alpha"])),
    generator=lambda t, params: -torch.log(params["alpha"] + (1 - params["alpha"]) * t),
    weight=lambda r, params: ((1 - params["alpha"]) * r / (params["alpha"]
                                                          + (1 - params["alpha"]) * r)) ** 2,
    defaults={"alpha": 0.1},
    check=_check_unit_interval("alpha", closed_left=True),
))


def _gjsd_terms(lp: torch.Tensor, lq: torch.Tensor, params: Params) -> torch.Tensor:
    b = params["beta"]
    lm = _log_mix(lp, lq, b)  # (..., K), log(b p + (1 - b) q)
    return b * lp.exp() * (lp - lm) + (1 - b) * lq.exp() * (lq - lm)


def _gjsd_generator(t: torch.Tensor, params: Params) -> torch.Tensor:
    b = params["beta"]
    m = b * t + 1 - b
    return b * (torch.xlogy(t, t) - t * torch.log(m)) - (1 - b) * torch.log(m)


# Generalised JSD (GKD): f''(t) = b (1 - b) / (t m), h(r) = b (1 - b) r / (b r + 1 - b).
_register(FDivergence(
    name="gjsd",
    formula="JSD_b(p || q) = b KL(p || m) + (1 - b) KL(q || m), m = b p + (1 - b) q, b in (0, 1)",
    terms=_gjsd_terms,
    generator=_gjsd_generator,
    weight=lambda r, params: params["beta"] * (1 - params["beta"]) * r
    / (params["beta"] * r + 1 - params["beta"]),
    defaults={"beta": 0.5},
    check=_check_unit_interval("beta", closed_left=False),
))


def list_divergences() -> list[str]:
    """Names of all registered f-divergences, sorted."""
    return DIVERGENCES.names()


def get_divergence(name: str) -> FDivergence:
    """The registry entry for ``name``; ValueError listing the known names otherwise."""
    return DIVERGENCES.get(name)


def describe(name: str) -> str:
    """One line: the divergence's formula and its keyword parameters."""
    spec = get_divergence(name)
    params = ", ".join(f"{k}={v}" for k, v in spec.defaults.items())
    return spec.formula + (f"  [{params}]" if params else "")


def divergence_params(name: str, **kwargs: float) -> Params:
    """The parameters ``name`` would use with ``kwargs`` (defaults filled in); ValueError for an
    unknown name, an unknown parameter or an invalid value."""
    return _params(get_divergence(name), kwargs)


def _params(spec: FDivergence, kwargs: Params) -> Params:
    unknown = sorted(set(kwargs) - set(spec.defaults))
    if unknown:
        takes = ", ".join(spec.defaults) or "no parameters"
        raise ValueError(f"divergence {spec.name!r} got unknown parameter(s) {unknown}; "
                         f"it takes {takes}")
    params = {**spec.defaults, **{k: float(v) for k, v in kwargs.items()}}
    if spec.check is not None:
        spec.check(params)
    return params


def _validate_logits(p_logits: torch.Tensor, q_logits: torch.Tensor) -> None:
    for label, x in (("p_logits", p_logits), ("q_logits", q_logits)):
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"{label} must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() < 1 or x.shape[-1] < 1:
            raise ValueError(f"{label} must have shape (..., K) with K >= 1, "
                             f"got shape {tuple(x.shape)}")
        if not torch.is_floating_point(x):
            raise ValueError(f"{label} must be a floating point tensor, got dtype {x.dtype}")
    if p_logits.shape != q_logits.shape:
        raise ValueError(f"p_logits and q_logits must have the same shape, got "
                         f"{tuple(p_logits.shape)} and {tuple(q_logits.shape)}")
    if not (torch.isfinite(p_logits).all() and torch.isfinite(q_logits).all()):
        raise ValueError("logits contain NaN or infinite values; expected finite logits")


def reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce per-distribution values (...): ``batchmean`` averages, ``sum``, ``none``.

    ``batchmean`` averages over every leading position (for (B, K) logits it equals
    ``torch.nn.functional.kl_div(..., reduction="batchmean")``).
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; expected one of {_REDUCTIONS}")
    if reduction == "none":
        return values
    if reduction == "sum":
        return values.sum()
    return values.mean()


def divergence(
    name: str,
    p_logits: torch.Tensor,
    q_logits: torch.Tensor,
    *,
    reduction: str = "batchmean",
    **kwargs: float,
) -> torch.Tensor:
    """D_f(p || q) = sum_x q(x) f(p(x) / q(x)) over the last dim, p = softmax(p_logits).

    Evaluated from ``log_softmax`` of both inputs in a stable log-space form (log-probabilities
    may be passed as logits: ``log_softmax`` leaves them unchanged).

    Args:
        name: a name from :func:`list_divergences`.
        p_logits: logits of p, shape (..., K).
        q_logits: logits of q, same shape.
        reduction: ``batchmean`` (mean over all leading positions; default), ``sum``, or
            ``none`` (shape (...)).
        **kwargs: the divergence's parameters (``alpha`` for alpha/skew_kl/skew_reverse_kl,
            ``beta`` for gjsd).

    Returns:
        The divergence, a scalar unless ``reduction="none"``.
    """
    spec = get_divergence(name)
    params = _params(spec, kwargs)
    _validate_logits(p_logits, q_logits)
    log_p = torch.log_softmax(p_logits, dim=-1)  # (..., K)
    log_q = torch.log_softmax(q_logits, dim=-1)  # (..., K)
    values = spec.terms(log_p, log_q, params).sum(dim=-1)  # (...)
    return reduce(values, reduction)


def _as_positive_tensor(r, label: str) -> torch.Tensor:
    r = torch.as_tensor(r)
    if not torch.is_floating_point(r):
        r = r.to(torch.get_default_dtype())
    if not (torch.isfinite(r).all() and (r > 0).all()):
        raise ValueError(f"{label} must be finite and > 0 (a density ratio), got {r}")
    return r


def generator(name: str, t, **kwargs: float) -> torch.Tensor:
    """The generator f(t) of divergence ``name`` at t > 0 (f(1) = 0)."""
    spec = get_divergence(name)
    params = _params(spec, kwargs)
    return spec.generator(_as_positive_tensor(t, "t"), params)


def weight(name: str, r, **kwargs: float) -> torch.Tensor:
    """f-distill's weight h(r) = f''(r) r^2 at density ratios r = p / q > 0.

    The generator update of f-distill is -E[h(r) (score_p - score_q) dx/dtheta]
    (Xu, Nie & Vahdat, 2025, Theorem 1); reverse KL gives h = 1 (DMD).

    Args:
        name: a name from :func:`list_divergences` (not ``tv``: f is not twice differentiable).
        r: tensor or number, every entry finite and > 0.
        **kwargs: the divergence's parameters.

    Returns:
        h(r), same shape as r.
    """
    spec = get_divergence(name)
    params = _params(spec, kwargs)
    if spec.weight is None:
        raise ValueError(f"divergence {name!r} has no weight h(r): its generator is not twice "
                         "differentiable at t = 1")
    return spec.weight(_as_positive_tensor(r, "r"), params)
