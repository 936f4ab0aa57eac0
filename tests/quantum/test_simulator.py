"""The adjoint-method simulator: gradients, chunking, memory independent of depth."""

import pytest
import torch

from qdsformer.quantum import apply_blocks, dsm_from_unitary, get_ansatz, simulator
from qdsformer.quantum.reference import naive_unitary, saved_tensor_bytes


def _angles(ansatz, *batch, dtype=torch.float64):
    return torch.rand(*batch, ansatz.n_params, dtype=dtype) * 4 - 2


@pytest.mark.parametrize("name", ["simple", "parted", "centrosymmetric", "trotter"])
def test_gradcheck_wrt_angles(name):
    ansatz = get_ansatz(name, 3, 2)
    angles = _angles(ansatz, 2).requires_grad_()
    assert torch.autograd.gradcheck(ansatz.unitary, (angles,))


def test_gradcheck_wrt_raw_unitary_blocks():
    # any unitary 4x4 blocks (the uncomputation needs G^-1 = G^dagger at the evaluated point)
    herm = torch.randn(2, 3, 4, 4, dtype=torch.complex128)
    blocks = torch.linalg.matrix_exp(1j * (herm + herm.mH)).requires_grad_()
    assert torch.autograd.gradcheck(lambda b: apply_blocks(b, (0, 1, 0), 3), (blocks,))


@pytest.mark.parametrize("name,q,layers", [("simple", 5, 6), ("parted", 5, 6), ("simple", 7, 1),
                                           ("centrosymmetric", 5, 4), ("trotter", 5, 3),
                                           ("trotter", 4, 2)])
def test_adjoint_gradient_equals_plain_autograd(name, q, layers):
    # naive_unitary keeps every state and uses ordinary autograd: an independent gradient.
    # q = 7 reaches every right-multiplication path of the backward (runs of 32 down to 1).
    ansatz = get_ansatz(name, q, layers)
    angles = _angles(ansatz, 3)
    upstream = torch.randn(3, 2**q, 2**q, dtype=torch.complex128)
    grads = []
    for simulate in (ansatz.unitary, lambda x: naive_unitary(ansatz, x)):
        x = angles.clone().requires_grad_()
        (simulate(x) * upstream).real.sum().backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-10, rtol=1e-8)


def test_float32_deep_circuit_gradient_stays_accurate():
    # Uncomputing 96 blocks in complex64 accumulates rounding; it must stay small.
    ansatz = get_ansatz("simple", 7, 16)
    angles = _angles(ansatz, 2, dtype=torch.float32)
    upstream = torch.randn(2, 8, 8)
    grads = []
    for dtype in (torch.float32, torch.float64):
        x = angles.detach().to(dtype).requires_grad_()
        (dsm_from_unitary(ansatz.unitary(x), 3) * upstream.to(dtype)).sum().backward()
        grads.append(x.grad.double())
    assert (grads[0] - grads[1]).abs().max() < 1e-4 * grads[1].abs().max()


def test_cache_chunking_does_not_change_results(monkeypatch):
    ansatz = get_ansatz("simple", 4, 3)
    angles = _angles(ansatz, 7)
    upstream = torch.randn(7, 16, 16, dtype=torch.complex128)
    outs = []
    for chunk_bytes in (1 << 30, 1):  # one chunk vs one matrix per chunk
        monkeypatch.setattr(simulator, "CPU_CHUNK_BYTES", chunk_bytes)
        x = angles.clone().requires_grad_()
        v = ansatz.unitary(x)
        (v * upstream).real.sum().backward()
        outs.append((v.detach(), x.grad))
    torch.testing.assert_close(outs[0][0], outs[1][0], atol=1e-13, rtol=0)
    torch.testing.assert_close(outs[0][1], outs[1][1], atol=1e-11, rtol=0)


def test_saved_memory_does_not_grow_with_depth():
    saved = {}
    for layers in (4, 16):
        ansatz = get_ansatz("simple", 6, layers)
        angles = _angles(ansatz, 8, dtype=torch.float32).requires_grad_()
        saved[layers], p = saved_tensor_bytes(lambda a=ansatz, x=angles: dsm_from_unitary(
            a.unitary(x), 3))
        p.sum().backward()
        assert angles.grad is not None
    assert saved[16] / saved[4] <= 1.3
    # the naive simulator, by contrast, keeps every state
    ansatz = get_ansatz("simple", 6, 4)
    naive, _ = saved_tensor_bytes(lambda: naive_unitary(ansatz, _angles(ansatz, 8).requires_grad_()))
    assert naive > 5 * saved[4]


def test_bad_blocks_name_the_problem():
    with pytest.raises(ValueError, match="out of range 0..1 for 3 qubits"):
        apply_blocks(torch.eye(4, dtype=torch.complex64).expand(1, 4, 4), (2,), 3)
    with pytest.raises(ValueError, match=r"K=2"):
        apply_blocks(torch.eye(4, dtype=torch.complex64).expand(1, 4, 4), (0, 1), 3)
    with pytest.raises(ValueError, match="must be complex"):
        apply_blocks(torch.eye(4).expand(1, 4, 4), (0,), 3)


@pytest.mark.parametrize("first,width", [(0, 2), (1, 2), (2, 3), (0, 5), (3, 2)])
def test_embed_gate_is_the_kronecker_product(first, width):
    """embed_gate writes I (x) F (x) I exactly; gate_diagonal reads F back from it."""
    from qdsformer.quantum.apply import embed_gate, gate_diagonal

    q, m = 5, 1 << width
    gen = torch.Generator().manual_seed(first + 10 * width)
    gate = torch.randn(3, m, m, 2, generator=gen, dtype=torch.float64)
    gate = torch.view_as_complex(gate)  # (3, m, m)
    out = torch.full((3, 1 << q, 1 << q), 7.0 + 1j, dtype=torch.complex128)  # stale contents
    embed_gate(gate, first, out)
    left = torch.eye(1 << first, dtype=gate.dtype)
    right = torch.eye(1 << (q - first - width), dtype=gate.dtype)
    for n in range(3):
        expected = torch.kron(torch.kron(left, gate[n]), right)  # (D, D)
        torch.testing.assert_close(out[n], expected, rtol=0, atol=0)
    diag = gate_diagonal(out, first, width)  # (3, L, R, m, m)
    torch.testing.assert_close(diag, gate[:, None, None].expand_as(diag), rtol=0, atol=0)
