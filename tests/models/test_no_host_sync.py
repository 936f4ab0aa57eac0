"""No host-device synchronisation on the training hot path (model forward + backward).

Every ``.item()``, ``bool(tensor)``, ``float(tensor)``, ``int(tensor)`` or ``.tolist()`` is a
host sync on CUDA; here they raise while a ViT step runs, for every attention backend, so a
new one on the hot path fails this test (on CPU, where the same Python calls happen).
"""

import pytest
import torch

from qdsformer.models import create_vit
from qdsformer.train.engine import check_loss_finite

SETTINGS = [
    ("softmax", None),
    ("softmax_sigma", None),
    ("softmax_sigma2", None),
    ("sinkhorn", {"n_iters": 3}),
    ("qr", None),
    ("qontot", {"n_layers": 2, "n_aux_qubits": 1}),
    ("qontot", {"n_layers": 2, "n_aux_qubits": 1, "strategy": "differentiable"}),
    ("qontot", {"n_layers": 2, "n_aux_qubits": 1, "strategy": "mixed"}),
    ("qontot", {"n_layers": 2, "n_aux_qubits": 1, "shots": 100, "depolarizing": 0.1}),
]


class HostSync(AssertionError):
    pass


@pytest.fixture
def forbid_host_sync(monkeypatch):
    """Call the returned function to make every host-sync method raise from then on."""

    def fail(name):
        def raiser(self, *args, **kwargs):
            raise HostSync(f"tensor.{name} called on the hot path")
        return raiser

    def activate():
        for name in ("item", "__bool__", "__float__", "__int__", "tolist"):
            monkeypatch.setattr(torch.Tensor, name, fail(name))

    return activate


@pytest.mark.parametrize("name,kwargs", SETTINGS)
def test_training_step_has_no_host_sync(name, kwargs, forbid_host_sync):
    model = create_vit("qdsformer_fmnist", attention=name, attention_kwargs=kwargs, depth=1)
    images = torch.randn(4, 1, 28, 28)
    labels = torch.tensor([0, 1, 2, 3])
    forbid_host_sync()
    loss = torch.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    # the fit loop's per-step bookkeeping stays on the device too
    total = torch.zeros(()) + loss.detach() * 4
    correct = torch.zeros(()) + (model(images).argmax(-1) == labels).sum()
    assert total.dim() == correct.dim() == 0


def test_the_sync_check_itself_catches_a_sync(forbid_host_sync):
    forbid_host_sync()
    with pytest.raises(HostSync):
        bool(torch.ones(1) > 0)


def test_model_path_skips_the_finiteness_check_but_the_loss_check_catches_nan():
    model = create_vit("qdsformer_fmnist", attention="sinkhorn", depth=1)
    with torch.no_grad():
        model.patch_embed.proj.weight.fill_(float("nan"))
    loss = torch.nn.functional.cross_entropy(model(torch.randn(2, 1, 28, 28)),
                                             torch.tensor([0, 1]))
    with pytest.raises(FloatingPointError, match="epoch 3"):
        check_loss_finite(float(loss), epoch=2)


def test_debug_flag_turns_the_finiteness_check_back_on():
    model = create_vit("qdsformer_fmnist", attention="softmax",
                       attention_kwargs={"check_finite": True}, depth=1)
    with torch.no_grad():
        model.patch_embed.proj.weight.fill_(float("nan"))
    with pytest.raises(ValueError, match="NaN or infinite"):
        model(torch.randn(2, 1, 28, 28))


def test_fused_softmax_equals_our_softmax_path():
    torch.manual_seed(0)
    fused = create_vit("qdsformer_fmnist", attention="softmax", depth=2).eval()
    images = torch.randn(3, 1, 28, 28)
    blocks = [blk.attn for blk in fused.blocks]
    assert all(attn.fused_attn for attn in blocks)
    out_fused = fused(images)
    for attn in blocks:
        attn.fused_attn = False
    torch.testing.assert_close(fused(images), out_fused, atol=1e-5, rtol=1e-5)
