"""Checks for the CUDA path, marked ``cuda`` (``pytest -m cuda``; experiments/gpu_check.sh).

They run on ``QDSFORMER_TEST_DEVICE`` (default ``cuda``) and are skipped when that is CUDA
and no GPU is present; the script's ``--dry-run`` runs them on the CPU.
"""

import os

import pytest
import torch

from qdsformer.models import create_vit
from qdsformer.quantum import dsm_from_unitary, get_ansatz
from qdsformer.quantum.reference import naive_unitary

DEVICE = os.environ.get("QDSFORMER_TEST_DEVICE", "cuda")

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(DEVICE.startswith("cuda") and not torch.cuda.is_available(),
                       reason="no CUDA device"),
]


@pytest.mark.parametrize("name", ["simple", "parted"])
def test_simulator_on_device_matches_the_cpu_reference(name):
    ansatz = get_ansatz(name, 7, 4)
    angles = torch.rand(6, ansatz.n_params, dtype=torch.float64) * 4 - 2
    upstream = torch.randn(6, 8, 8, dtype=torch.float64)
    results = []
    for device, simulate in ((DEVICE, ansatz.unitary), ("cpu", lambda x: naive_unitary(ansatz, x))):
        x = angles.to(device).requires_grad_()
        p = dsm_from_unitary(simulate(x), 3)  # (6, 8, 8)
        (p * upstream.to(device)).sum().backward()
        results.append((p.detach().cpu(), x.grad.cpu()))
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-10, rtol=0)
    torch.testing.assert_close(results[0][1], results[1][1], atol=1e-9, rtol=1e-7)


def test_paper_qontot_vit_trains_a_step_on_device():
    torch.manual_seed(0)
    model = create_vit("qdsformer_fmnist", attention="qontot",
                       attention_kwargs={"n_aux_qubits": 4, "n_layers": 16}, depth=2).to(DEVICE)
    optim = torch.optim.Adam(model.parameters(), lr=5e-4)
    images = torch.randn(8, 1, 28, 28, device=DEVICE)
    labels = torch.arange(8, device=DEVICE) % 10
    losses = []
    for _ in range(3):
        optim.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optim.step()
        losses.append(loss.detach())
    assert torch.stack(losses).isfinite().all()
    assert losses[-1] < losses[0]  # three steps on one batch lower its loss
