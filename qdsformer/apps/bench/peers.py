"""The simulator bench's yardsticks: the machine's complex64 peak and the strongest peers.

- :func:`complex64_peak` times a large batched complex64 matmul on the bench's device, the
  arithmetic ceiling our simulator's achieved GFLOP/s is compared with (same run, same
  machine, same thread count).
- :func:`lightning_step` runs the same circuits on PennyLane's compiled state-vector
  simulators (``lightning.qubit`` on CPU, ``lightning.gpu`` where installed) with adjoint
  differentiation, all columns of V at once on a 2q-qubit entangled state.
- :func:`lightning_unavailable` and :func:`aer_gpu_unavailable` say why a peer cannot run
  here (None when it can).
"""

from __future__ import annotations

import torch

from qdsformer.apps.bench.harness import median_time
from qdsformer.apps.errors import one_line


def complex64_peak(device: str = "cpu", repeats: int = 3, clock: str = "wall") -> dict:
    """GFLOP/s of a large batched complex64 matmul (8 x n x n x n x batch real flops).

    n = 512, batch 8 on CPU (about 8.6 GFLOP); n = 4096, batch 8 on CUDA. ``clock``: as in
    :func:`qdsformer.apps.bench.harness.median_time` (``"cpu"``: this process's CPU time).

    Returns:
        dict with ``gflops``, ``n``, ``batch``, ``seconds``.
    """
    n, batch = (4096, 8) if str(device).startswith("cuda") else (512, 8)
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(batch, n, n, dtype=torch.complex64, generator=gen).to(device)
    b = torch.randn(batch, n, n, dtype=torch.complex64, generator=gen).to(device)
    out = torch.empty_like(a)
    seconds = median_time(lambda: torch.matmul(a, b, out=out), repeats, clock=clock)
    return {"gflops": 8 * batch * n**3 / seconds / 1e9, "n": n, "batch": batch,
            "seconds": seconds}


def lightning_step(ansatz, angles: torch.Tensor, weights: torch.Tensor, backward: bool,
                   device_name: str = "lightning.qubit"):
    """A callable running ``angles``' circuits on a PennyLane lightning device.

    All D columns of V at once, one tape per circuit: on 2q wires the maximally entangled
    state |Phi> = D^-1/2 sum_j |j>|j> becomes (V (x) I)|Phi> = D^-1/2 sum_ij V[i, j] |i>|j>,
    so its probabilities are W / D (the same trick as the package's Bell-pair readout).
    Forward: ``qml.probs`` of all 2q wires. Forward + backward: ``qml.expval`` of
    ``Hermitian(diag(weights))`` on the first q wires with ``diff_method="adjoint"``, i.e.
    the loss sum_ij W[i, j] weights[i] / D and its gradient to the angles (adjoint
    differentiation needs an expectation value). One tape per (circuit, basis column) with
    parameter broadcasting was 100x slower: PennyLane's per-tape Python overhead.

    Args:
        ansatz: a :class:`qdsformer.quantum.Ansatz`.
        angles: (n, n_params) float64.
        weights: (2^q,) real, the diagonal observable on the row register.
        backward: time forward + backward (True) or forward only.
        device_name: ``lightning.qubit`` or ``lightning.gpu``.

    Returns:
        ``step()`` -> W (n, D, D) (forward) or the gradient of sum_ij W[i, j] weights[i]
        to the angles (n, n_params).
    """
    import numpy as np
    import pennylane as qml

    q, dim = ansatz.n_qubits, 1 << ansatz.n_qubits
    n = angles.shape[0]
    device = qml.device(device_name, wires=2 * q)
    choi = np.zeros(dim * dim, dtype=np.complex128)
    choi[np.arange(dim) * (dim + 1)] = dim**-0.5  # |Phi>: amplitude of |j>|j>
    observable = np.diag(weights.double().cpu().numpy())

    @qml.qnode(device, interface="torch", diff_method="adjoint" if backward else None)
    def circuit(phi):
        qml.StatePrep(choi, wires=range(2 * q))
        ansatz.to_pennylane(phi)  # on wires 0..q-1, queued as created
        if backward:
            return qml.expval(qml.Hermitian(observable, wires=range(q)))
        return qml.probs(wires=range(2 * q))

    def step():
        x = angles.detach().double().requires_grad_(backward)
        out = circuit(x)  # (n,) or (n, D*D)
        if not backward:
            return (out.reshape(n, dim, dim) * dim).detach()  # (n, D, D) W
        (out * dim).sum().backward()
        return x.grad

    return step


def lightning_unavailable(device_name: str) -> str | None:
    """Why PennyLane cannot open ``device_name`` here, or None when it can (lightning.gpu
    needs CUDA and its plugin)."""
    try:
        import pennylane as qml

        qml.device(device_name, wires=2)
    except Exception as err:  # missing plugin, no GPU: the column is skipped
        return f"{device_name} unavailable: {one_line(err)}"
    return None


def aer_gpu_unavailable() -> str | None:
    """Why qiskit-aer cannot simulate on a GPU here, or None when it lists a GPU device."""
    try:
        from qiskit_aer import AerSimulator

        devices = AerSimulator().available_devices()
    except Exception as err:  # qiskit-aer missing or broken
        return f"qiskit-aer unavailable: {one_line(err)}"
    if "GPU" not in devices:
        return f"qiskit-aer has no GPU device (devices: {', '.join(devices)}; needs qiskit-aer-gpu)"
    return None
