"""The fused, stage-wise adjoint backward against the old block recursion and plain autograd."""

import pytest
import torch

from qdsformer.quantum import apply_blocks, get_ansatz, simulator
from qdsformer.quantum.fusion import fuse_blocks, fused_matrices, plan_stages
from qdsformer.quantum.reference import adjoint_block_grads_recursion, naive_unitary


def _random_unitaries(*shape):
    herm = torch.randn(*shape, 4, 4, dtype=torch.complex128)
    return torch.linalg.matrix_exp(1j * (herm + herm.mH))  # (*shape, 4, 4) unitary


@pytest.mark.parametrize("width", [2, 3, 4, 5])
@pytest.mark.parametrize("q", [3, 5, 7])
def test_new_backward_equals_old_recursion_on_random_blocks(width, q, monkeypatch):
    # random adjacent-pair layout, random unitary blocks, random upstream gradient
    monkeypatch.setattr(simulator, "FUSE_MAX_WIDTH", width)
    monkeypatch.setattr(simulator, "BACKWARD_FUSE_MAX_WIDTH", width)
    gen = torch.Generator().manual_seed(q * 10 + width)
    qubits = tuple(torch.randint(0, q - 1, (3 * q,), generator=gen).tolist())
    blocks = _random_unitaries(2, len(qubits)).requires_grad_()
    upstream = torch.randn(2, 2**q, 2**q, dtype=torch.complex128, generator=gen)
    v = apply_blocks(blocks, qubits, q)
    (v * upstream).real.sum().backward()
    # (v * upstream).real.sum() has dL/dV = upstream.conj() in PyTorch's convention
    old = adjoint_block_grads_recursion(blocks.detach(), qubits, v.detach(), upstream.conj())
    torch.testing.assert_close(blocks.grad, old, atol=1e-10, rtol=1e-9)


@pytest.mark.parametrize("name", ["simple", "parted", "centrosymmetric", "trotter"])
@pytest.mark.parametrize("q", [2, 3, 4, 5, 6, 7, 8])
def test_adjoint_equals_autograd_for_every_qubit_count(name, q):
    ansatz = get_ansatz(name, q, 2)
    angles = torch.rand(2, ansatz.n_params, dtype=torch.float64) * 4 - 2
    upstream = torch.randn(2, 2**q, 2**q, dtype=torch.complex128)
    grads, outs = [], []
    for simulate in (ansatz.unitary, lambda x: naive_unitary(ansatz, x)):
        x = angles.clone().requires_grad_()
        v = simulate(x)
        (v * upstream).real.sum().backward()
        grads.append(x.grad)
        outs.append(v.detach())
    torch.testing.assert_close(outs[0], outs[1], atol=1e-12, rtol=0)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("name", ["simple", "parted", "centrosymmetric", "trotter"])
@pytest.mark.parametrize("q", [2, 4, 6, 8])
def test_gradcheck_at_every_size(name, q):
    ansatz = get_ansatz(name, q, 1)
    angles = (torch.rand(1, ansatz.n_params, dtype=torch.float64) * 4 - 2).requires_grad_()
    # a real scalar readout keeps gradcheck's Jacobian small at q = 8
    weights = torch.randn(2**q, 2**q, dtype=torch.float64)

    def loss(x):
        v = ansatz.unitary(x)
        return ((v.real.square() + v.imag.square()) * weights).sum(dim=(-2, -1))

    assert torch.autograd.gradcheck(loss, (angles,))


@pytest.mark.parametrize("width", [2, 3, 4])
def test_fusion_plan_reproduces_the_product(width):
    q = 6
    qubits = get_ansatz("simple", q, 3)._block_qubits
    gates = fuse_blocks(qubits, width)
    assert sorted(k for g in gates for k in g.blocks) == list(range(len(qubits)))
    assert all(g.width <= width for g in gates)
    for stage in plan_stages(gates):
        used = [set(gates[i].qubits) for i in stage]
        assert all(a.isdisjoint(b) for i, a in enumerate(used) for b in used[i + 1:])
    blocks = _random_unitaries(1, len(qubits))
    state = torch.eye(2**q, dtype=blocks.dtype).expand(1, 2**q, 2**q)
    for gate, mat in zip(gates, fused_matrices(blocks, qubits, gates)):
        state = simulator.apply_gate(mat, state.contiguous(), gate.first)
    unfused = torch.eye(2**q, dtype=blocks.dtype).expand(1, 2**q, 2**q)
    for k, first in enumerate(qubits):
        unfused = simulator.apply_block(blocks[:, k], unfused.contiguous(), first)
    torch.testing.assert_close(state, unfused, atol=1e-12, rtol=0)


def test_fusion_width_below_two_is_rejected():
    with pytest.raises(ValueError, match="max_width must be >= 2"):
        fuse_blocks((0, 1), 1)


def test_simulation_flops_count_the_applied_products():
    qubits = get_ansatz("simple", 3, 2)._block_qubits  # q = 3: no fusion (width q - 2 < 2)
    flops = simulator.simulation_flops(qubits, 3, n_circuits=5)
    assert flops["forward"] == flops["forward_blocks"] == 8 * 4 * 64 * len(qubits) * 5
    # Y is walked back through every block but the first stage's (block 0 alone at q = 3)
    walked = flops["forward"] - 8 * 4 * 64 * 5
    assert flops["backward"] == 2 * walked + 8 * 8**3 * 5
    fused = simulator.simulation_flops(get_ansatz("simple", 7, 16)._block_qubits, 7)
    assert fused["forward"] < fused["forward_blocks"]  # 16x16 gates absorb 5-6 blocks
