"""Hardware in the loop: a trained QontOT ViT whose attention comes from Bell-pair circuits.

In a chosen attention layer the exact QontOT normaliser (our torch simulator) is swapped for a
:class:`RunnerNormalizer` that, for scores S (B, H, T, T), builds one Bell-pair readout circuit
per (batch, head) with the layer's own ansatz and parameters,

    phi = theta * tile(vec(S)),   P_hat[i, j] = n * freq(D = i, D' = j)

(``bell.py``), runs all B*H circuits as one batch on a runner (ideal Aer with shots, a noisy
fake backend, IBM hardware), and returns the estimates, optionally projected onto the Birkhoff
polytope. Layers run one after the other, since a layer's scores depend on the estimated
attention of the layers before it. This module does not import ``qdsformer.models``: it works
on any attention module with a ``normalizer`` attribute holding a QontOT normaliser (anything
with ``circuit(T)`` and ``theta``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from qdsformer.hardware.factory import make_runner
from qdsformer.hardware.mitigation import mitigate as birkhoff_mitigate
from qdsformer.hardware.runners import StatevectorRunner
from qdsformer.hardware.shot_matrix import estimate_dsms
from qdsformer.hardware.spec import parse_backend
from qdsformer.quantum import encode_angles, n_data_qubits_for

log = logging.getLogger(__name__)


def _check_qontot(normalizer: nn.Module, where: str) -> None:
    if not (callable(getattr(normalizer, "circuit", None)) and hasattr(normalizer, "theta")):
        name = getattr(normalizer, "name", type(normalizer).__name__)
        raise ValueError(f"{where} uses the {name!r} normaliser; hardware-in-the-loop "
                         "evaluation needs QontOT attention ('qontot')")


class RunnerNormalizer(nn.Module):
    """QontOT attention estimated from Bell-pair circuits on a runner (inference only).

    Args:
        exact: the layer's QontOT normaliser (supplies ``circuit(T)``, ``theta`` and the
            exact P used for the error statistics).
        runner: from :func:`qdsformer.hardware.make_runner`.
        shots: shots per circuit (None for the statevector runner).
        layout: ``parted`` or ``direct`` Bell-pair layout.
        mitigate: project each estimate onto the Birkhoff polytope.

    Attributes:
        errors: ||P_hat - P||_F of every matrix estimated so far (P from ``exact``).
    """

    def __init__(self, exact: nn.Module, runner, shots: int | None, layout: str = "parted",
                 mitigate: bool = False) -> None:
        super().__init__()
        _check_qontot(exact, "the wrapped layer")
        self.exact = exact
        self.runner = runner
        self.shots = shots
        self.layout = layout
        self.mitigate = mitigate
        self.errors: list[float] = []
        self.facts: dict[str, Any] = {}

    @torch.no_grad()
    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        """scores (B, H, T, T) -> estimated attention (B, H, T, T)."""
        self.exact.validate(scores)
        b, h, t, _ = scores.shape
        ansatz = self.exact.circuit(t)
        need = 2 * ansatz.n_qubits
        if self.runner.num_qubits is not None and need > self.runner.num_qubits:
            raise ValueError(f"the Bell-pair circuit for T = {t} needs {need} qubits, the backend "
                             f"has {self.runner.num_qubits}")
        work = scores.detach().to(torch.float64)  # (B, H, T, T)
        theta = self.exact.theta[: ansatz.n_params].detach().to(torch.float64)  # (n_params,)
        angles = encode_angles(work, theta).reshape(b * h, ansatz.n_params)  # (B*H, n_params)
        estimate, _, self.facts = estimate_dsms(
            ansatz, angles, n_data_qubits=n_data_qubits_for(t), n_tokens=t, runner=self.runner,
            shots=self.shots, layout=self.layout)
        if self.mitigate:
            estimate = birkhoff_mitigate(estimate)  # (B*H, T, T)
        exact = self.exact(work).reshape(b * h, t, t)  # (B*H, T, T)
        self.errors.extend(torch.linalg.matrix_norm(estimate - exact).tolist())
        return estimate.reshape(b, h, t, t).to(scores.dtype)  # (B, H, T, T)


@contextmanager
def runner_attention(layers: Sequence[nn.Module], runner, shots: int | None,
                     layout: str = "parted", mitigate: bool = False
                     ) -> Iterator[list[RunnerNormalizer]]:
    """Within the block, ``layers``' normalisers are :class:`RunnerNormalizer` s; restored after."""
    originals = [layer.normalizer for layer in layers]
    for k, normalizer in enumerate(originals):
        _check_qontot(normalizer, f"attention layer {k}")
    swapped = [RunnerNormalizer(n, runner, shots, layout, mitigate) for n in originals]
    try:
        for layer, new in zip(layers, swapped):
            layer.normalizer = new
        yield swapped
    finally:
        for layer, old in zip(layers, originals):
            layer.normalizer = old


@torch.no_grad()
def evaluate_attention_backends(model: nn.Module, layers: Sequence[nn.Module],
                                images: torch.Tensor, labels: torch.Tensor,
                                backends: Sequence[str], shots: int, *, seed: int = 0,
                                optimization_level: int = 1, mitigate: bool = False,
                                layout: str = "parted", dynamical_decoupling: bool = False,
                                twirling: bool = False, readout_mitigation: bool = False,
                                ibm_channel: str | None = None,
                                service=None) -> dict[str, dict[str, Any]]:
    """Accuracy of ``model`` with the attention of ``layers`` exact vs estimated on backends.

    Args:
        model: a classifier, images (N, ...) -> logits (N, classes), in eval mode.
        layers: the attention modules (with a QontOT ``normalizer``) to estimate on hardware.
        images: (N, C, H, W); all N go through in one batch (N * heads circuits per layer).
        labels: (N,) int.
        backends: circuit backends, e.g. ``["aer", "aer-noisy:fake_nairobi"]``.
        shots: shots per circuit.
        seed: as in :func:`qdsformer.hardware.run_dsm`.
        optimization_level: as in :func:`qdsformer.hardware.run_dsm`.
        dynamical_decoupling: as in :func:`qdsformer.hardware.run_dsm`.
        twirling: as in :func:`qdsformer.hardware.run_dsm`.
        readout_mitigation: as in :func:`qdsformer.hardware.run_dsm`.
        ibm_channel: as in :func:`qdsformer.hardware.run_dsm`.
        service: as in :func:`qdsformer.hardware.run_dsm`.
        mitigate: Birkhoff-project each estimated matrix before it is used.
        layout: Bell-pair layout.

    Returns:
        ``{"exact": {...}, backend: {...}}`` with ``accuracy``, ``agreement`` (fraction of
        predictions equal to the exact model's) and, for backends, per layer the mean and max
        Frobenius distance of the estimated to the exact attention, and run facts.
    """
    if not layers:
        raise ValueError("no attention layers chosen; expected at least one")
    if images.shape[0] != labels.shape[0] or images.shape[0] < 1:
        raise ValueError(f"images and labels must hold the same N >= 1 samples, got "
                         f"{images.shape[0]} and {labels.shape[0]}")
    model.eval()
    exact_pred = model(images).argmax(-1)  # (N,)
    out: dict[str, dict[str, Any]] = {"exact": {
        "accuracy": float((exact_pred == labels).double().mean()), "agreement": 1.0}}
    for backend in backends:
        choice = parse_backend(backend)
        if choice.kind == "exact":
            raise ValueError("'exact' is always evaluated; list circuit backends only")
        runner = make_runner(choice, seed=seed, optimization_level=optimization_level,
                             dynamical_decoupling=dynamical_decoupling, twirling=twirling,
                             readout_mitigation=readout_mitigation, ibm_channel=ibm_channel,
                             service=service)
        run_shots = None if isinstance(runner, StatevectorRunner) else shots
        with runner_attention(layers, runner, run_shots, layout, mitigate) as swapped:
            pred = model(images).argmax(-1)  # (N,)
        errors = [torch.tensor(s.errors, dtype=torch.float64) for s in swapped]
        out[str(choice)] = {
            "accuracy": float((pred == labels).double().mean()),
            "agreement": float((pred == exact_pred).double().mean()),
            "attention_frobenius_mean": [float(e.mean()) for e in errors],
            "attention_frobenius_max": [float(e.max()) for e in errors],
            "circuits_per_layer": len(swapped[0].errors),
            "facts": swapped[-1].facts,
        }
        log.info("%s: accuracy %.4f", choice, out[str(choice)]["accuracy"])
    return out
