"""QontOT: doubly stochastic attention from a variational quantum circuit (simulated exactly)."""

from __future__ import annotations

import warnings

import torch
from torch import nn

from qdsformer.attention.registry import Normalizer, register_normalizer
from qdsformer.common.checks import check_int
from qdsformer.quantum import (
    complete_padded,
    depolarize,
    get_ansatz,
    n_data_qubits_for,
    qontot_full_dsm,
    shot_estimate,
    validate_noise,
)

#: How theta is set (Born et al. 2025, section 5.1): kept at its seeded draw, learned by
#: backprop with the ViT, or searched gradient-free between epochs (``qdsformer.train.mixed``).
STRATEGIES = ("static", "differentiable", "mixed")


@register_normalizer("qontot")
class QontOT(Normalizer):
    """P = (1/m) block-sum of |V(theta * tile(vec(S)))|^2, exactly doubly stochastic.

    For scores S (B, H, T, T) the circuit acts on q = q_d + q_a qubits, q_d = ceil(log2 T) data
    qubits (most significant) and q_a = ``n_aux_qubits`` auxiliary ones; each (batch, head)
    gets its own unitary V from the angles

        phi = theta[:n_params] * tile(vec(S), n_params),
        P[i, j] = (1/m) sum_{a, b} |V[(i, a), (j, b)]|^2,   m = 2^q_a,

    and T that is not a power of two is padded to n = 2^q_d, with the T x T corner completed
    exactly (``qdsformer.quantum.complete_padded``). Born et al., "Quantum Doubly Stochastic
    Transformers" (2025) define the operator; their gates were not published, the ansaetze
    here are ours (``qdsformer.quantum.ansatz``). Simulation is our batched torch simulator
    with adjoint-method gradients, so gradients reach the scores (hence W_Q, W_K) whether or
    not theta is trained, and backward memory does not grow with ``n_layers``.

    ``theta`` holds the parameters of the largest allowed circuit (``max_qubits``) drawn once
    from U(-1, 1) with ``seed``; a circuit on q qubits uses its first ``ansatz.n_params``
    entries (4 (q - 1) n_layers for ``simple``), so one parameter vector serves every T.
    ``strategy`` says how theta is set:

    - ``static`` (default, the paper's headline runs): a buffer, never changed;
    - ``differentiable``: an ``nn.Parameter`` trained by backprop with the ViT;
    - ``mixed``: a buffer that the fit loop's gradient-free phase replaces between epochs
      (:mod:`qdsformer.train.mixed`, settings in the config's ``mixed`` section).

    Noise in training (beyond the paper; it observed that hardware noise pushes P toward the
    uniform matrix): the circuit's n x n matrix P_n is mixed with the uniform one,
    (1 - p) P_n + p J / n (``depolarizing`` = p), then replaced by its estimate from ``shots``
    Bell-pair shots (:mod:`qdsformer.quantum.noise`), then completed to T x T; the gradient is
    that of the matrix without shot noise (straight-through: P + (P_hat - P).detach()). The
    estimate is raw (rows sum to 1 in expectation, not exactly), as
    ``qdsformer.hardware.bell.frequencies_to_dsm`` reads hardware counts. Noise applies in
    train mode only, and also in eval mode when ``noise_in_eval``; the shots come from the
    global RNG of P's device, which the fit loop checkpoints.

    Args:
        n_aux_qubits: q_a >= 0 (paper: 4 with T = 8). 0 gives a unistochastic matrix.
        n_layers: circuit layers L >= 1 (paper: 16).
        ansatz: registry name in ``qdsformer.quantum.list_ansaetze()``.
        strategy: ``static``, ``differentiable`` or ``mixed`` (see above).
        trainable: deprecated (FutureWarning): True = ``strategy="differentiable"``, False =
            ``"static"``; giving both is a ValueError.
        seed: seed of theta's U(-1, 1) draw.
        max_qubits: the qubit budget q_d + q_a; larger T raises ``ValueError``.
        check_finite: reject NaN / inf scores with ``ValueError``.
        shots: Bell-pair shots per matrix in the noisy forward; None or 0 = exact P.
        depolarizing: p in [0, 1] of the depolarising mixture; 0 = none.
        noise_in_eval: apply the noise in eval mode too (default: evaluation is exact).
    """

    doubly_stochastic = True
    requires_square = True
    paper = "QontOT, Born et al., Quantum Doubly Stochastic Transformers, NeurIPS 2025"

    def __init__(self, n_aux_qubits: int = 4, n_layers: int = 16, ansatz: str = "simple",
                 trainable: bool | None = None, seed: int = 0, max_qubits: int = 8,
                 check_finite: bool = True, strategy: str | None = None,
                 shots: int | None = None, depolarizing: float = 0.0,
                 noise_in_eval: bool = False) -> None:
        super().__init__(check_finite=check_finite)
        if trainable is not None:
            strategy = strategy_for_trainable(trainable, strategy, "qontot", "")
        if strategy is None:
            strategy = "static"
        if strategy not in STRATEGIES:
            raise ValueError(f"qontot: unknown strategy {strategy!r}; expected one of "
                             f"{', '.join(STRATEGIES)}")
        shots, depolarizing = validate_noise(shots, depolarizing)
        if not isinstance(noise_in_eval, bool):
            raise ValueError(f"qontot: noise_in_eval must be true or false, got {noise_in_eval!r}")
        if not isinstance(n_aux_qubits, int) or n_aux_qubits < 0:
            raise ValueError(f"qontot: n_aux_qubits must be an int >= 0, got {n_aux_qubits!r}")
        if not isinstance(max_qubits, int) or max_qubits < max(2, n_aux_qubits + 1):
            raise ValueError(f"qontot: max_qubits must be an int >= max(2, n_aux_qubits + 1) = "
                             f"{max(2, n_aux_qubits + 1)}, got {max_qubits!r}")
        check_int("qontot", "seed", seed, low=0)
        largest = get_ansatz(ansatz, max_qubits, n_layers)  # validates name and n_layers
        self.n_aux_qubits = n_aux_qubits
        self.n_layers = n_layers
        self.ansatz_name = ansatz
        self.strategy = strategy
        self.shots = shots
        self.depolarizing = depolarizing
        self.noise_in_eval = noise_in_eval
        self.seed = seed
        self.max_qubits = max_qubits
        gen = torch.Generator().manual_seed(seed)
        # (n_params_max,) U(-1, 1), drawn on the host (seeded CPU generator); .to() moves it
        theta = torch.rand(largest.n_params, generator=gen, device="cpu") * 2 - 1
        if strategy == "differentiable":
            self.theta = nn.Parameter(theta)
        else:
            self.register_buffer("theta", theta)
        self._ansaetze = {max_qubits: largest}

    @property
    def trainable(self) -> bool:
        """Deprecated (FutureWarning): ``strategy == "differentiable"``."""
        warnings.warn('QontOT.trainable is deprecated; use QontOT.strategy == "differentiable"',
                      FutureWarning, stacklevel=2)
        return self.strategy == "differentiable"

    def extra_repr(self) -> str:
        return (f"n_aux_qubits={self.n_aux_qubits}, n_layers={self.n_layers}, "
                f"ansatz={self.ansatz_name!r}, strategy={self.strategy!r}, seed={self.seed}, "
                f"max_qubits={self.max_qubits}, shots={self.shots}, "
                f"depolarizing={self.depolarizing}, noise_in_eval={self.noise_in_eval}")

    def circuit(self, n_tokens: int):
        """The ansatz used for T = ``n_tokens``: q = max(2, ceil(log2 T) + n_aux_qubits) qubits."""
        q_d = n_data_qubits_for(n_tokens)
        q = max(2, q_d + self.n_aux_qubits)  # one qubit alone has no two-qubit block
        if q > self.max_qubits:
            raise ValueError(
                f"qontot: T = {n_tokens} needs {q_d} data + {self.n_aux_qubits} auxiliary = "
                f"{q} qubits, above the budget max_qubits = {self.max_qubits} (raise "
                f"max_qubits or lower n_aux_qubits)")
        if q not in self._ansaetze:
            self._ansaetze[q] = get_ansatz(self.ansatz_name, q, self.n_layers)
        return self._ansaetze[q]

    def validate(self, scores: torch.Tensor) -> None:
        super().validate(scores)
        self.circuit(scores.shape[-1])

    def normalize(self, scores: torch.Tensor) -> torch.Tensor:
        ansatz = self.circuit(scores.shape[-1])
        work = scores if scores.dtype in (torch.float32, torch.float64) else scores.float()
        theta = self.theta[: ansatz.n_params].to(work.dtype)  # (n_params,)
        n_tokens = scores.shape[-1]
        full = qontot_full_dsm(work, theta, ansatz)  # (B, H, n, n)
        noisy = self.training or self.noise_in_eval
        if noisy:
            full = depolarize(full, self.depolarizing)  # (B, H, n, n)
        dsm = complete_padded(full, n_tokens)  # (B, H, T, T)
        if noisy and self.shots:  # value from the shots, gradient of the shot-free matrix
            counted = shot_estimate(full.detach(), self.shots, straight_through=False)
            dsm = dsm + (complete_padded(counted, n_tokens) - dsm).detach()  # (B, H, T, T)
        return dsm.to(scores.dtype)


def strategy_for_trainable(trainable: object, strategy: object, label: str, prefix: str,
                           warn: bool = True) -> str:
    """The ``strategy`` that the deprecated ``trainable`` switch stands for.

    ``trainable: true`` is ``strategy: differentiable``, ``false`` is ``static``. The one
    translation, used by :class:`QontOT` and by the config reader
    (:func:`qdsformer.train.legacy.upgrade_config`).

    Args:
        trainable: the value given for ``trainable``.
        strategy: the value given for ``strategy``, None when not given.
        label: who reads it, the start of each message (``qontot``, ``config``).
        prefix: the keys' dotted prefix in messages (``attention.kwargs.``, or empty).
        warn: emit a FutureWarning naming the replacement (off for saved run folders).

    Raises:
        ValueError: ``strategy`` was given too, or ``trainable`` is not true or false.
    """
    if strategy is not None:
        raise ValueError(f"{label}: give {prefix}strategy only, not also {prefix}trainable "
                         f"(deprecated), got strategy={strategy!r} and trainable={trainable!r}")
    if not isinstance(trainable, bool):
        raise ValueError(f"{label}: {prefix}trainable must be true or false, got {trainable!r}")
    replacement = "differentiable" if trainable else "static"
    if warn:
        warnings.warn(f"{label}: {prefix}trainable is deprecated; use {prefix}strategy: "
                      f"{replacement}", FutureWarning, stacklevel=3)
    return replacement
