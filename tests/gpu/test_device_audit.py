"""Device and dtype audit of the model, every normaliser, the simulator and the fit loop, on the CPU.

GPU bugs of one class never show on a CPU-only test machine: a tensor made inside the step
without ``device=`` (``torch.zeros(n)``, a ``torch.tensor(...)`` constant) lives on the CPU and
meets the CUDA activations only on the GPU; a constant of the wrong precision (float64 from
numpy or Python floats, float32 under float64 inputs) silently promotes or truncates. The audit
below finds both on the CPU:

- :class:`FactoryAudit` (a ``TorchFunctionMode``) records every tensor factory (``torch.zeros``,
  ``torch.tensor``, ``torch.arange``, ... : the list torch itself uses for
  ``torch.set_default_device``) called from qdsformer's own source without an explicit
  ``device=``. On a GPU that tensor would sit on the CPU.
- :class:`DtypeAudit` (a ``TorchDispatchMode``) records every op whose floating output has a
  precision other than the inputs' (float32 / complex64 for float32 inputs, float64 /
  complex128 for float64 inputs); running both precisions catches promotion and truncation.
  0-dim outputs are exempt: autograd wraps Python scalars (``x * 1j``) as 0-dim complex128
  tensors, which never promote a tensor with dimensions.

Each audit is shown to fail on a deliberately broken normaliser (the negative tests at the end).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors
from torch.utils._python_dispatch import TorchDispatchMode

import qdsformer
from qdsformer.attention import Normalizer, OperatorSetting, list_normalizers
from qdsformer.models import create_vit
from qdsformer.quantum import dsm_from_unitary, get_ansatz
from qdsformer.train.config import load_config
from qdsformer.train.engine import fit

PACKAGE = Path(qdsformer.__file__).resolve().parent
TORCH = Path(torch.__file__).resolve().parent
FACTORIES = _device_constructors()
# kwargs making each normaliser small and quick; the names come from the registry, so a new
# normaliser is audited without being listed here (it runs with its defaults)
SMALL = {"qontot": {"n_aux_qubits": 1, "n_layers": 2, "max_qubits": 6},
         "sinkhorn": {"n_iters": 3}}


class FactoryAudit(TorchFunctionMode):
    """Records tensor factories called from source under ``root`` without ``device=``."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.found: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in FACTORIES and kwargs.get("device") is None:
            frame = sys._getframe(1)  # the first frame outside torch is the caller
            while frame is not None and Path(frame.f_code.co_filename).resolve().is_relative_to(
                    TORCH):
                frame = frame.f_back
            path = Path(frame.f_code.co_filename).resolve() if frame is not None else None
            if path is not None and path.is_relative_to(self.root):
                self.found.append(f"torch.{func.__name__} without device= at "
                                  f"{path.relative_to(self.root.parent)}:{frame.f_lineno}")
        return func(*args, **kwargs)


class DtypeAudit(TorchDispatchMode):
    """Records ops whose floating output is not of ``real`` precision (or its complex twin)."""

    def __init__(self, real: torch.dtype) -> None:
        super().__init__()
        self.allowed = {real, (torch.ones((), dtype=real) * 1j).dtype}
        self.found: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        flat = out if isinstance(out, (tuple, list)) else (out,)
        for t in flat:
            if isinstance(t, torch.Tensor) and t.dim() > 0 \
                    and (t.is_floating_point() or t.is_complex()) and t.dtype not in self.allowed:
                self.found.append(f"{func} made {t.dtype} (expected one of "
                                  f"{sorted(map(str, self.allowed))})")
        return out


def audited(step, real: torch.dtype, root: Path = PACKAGE) -> list[str]:
    """Run ``step()`` under both audits; the list of everything they found (deduplicated)."""
    factories, dtypes = FactoryAudit(root), DtypeAudit(real)
    with factories, dtypes:
        step()
    return list(dict.fromkeys(factories.found + dtypes.found))


def _forward_backward(module, *inputs):
    def step():
        out = module(*inputs)
        out = out[0] if isinstance(out, tuple) else out
        (out.real if out.is_complex() else out).square().sum().backward()
    return step


@pytest.mark.parametrize("real", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", list_normalizers())
def test_every_normaliser_makes_its_tensors_on_the_input_device_and_precision(name, real):
    torch.manual_seed(0)
    setting = OperatorSetting(name, tuple(SMALL.get(name, {}).items()))
    norm = setting.sized_for(heads=1, head_dim=8).create(seed=0).to(real)
    if norm.consumes == "qk":
        q = torch.randn(2, 1, 5, 8, dtype=real, requires_grad=True)  # (B, H, T, d)
        k = torch.randn(2, 1, 5, 8, dtype=real, requires_grad=True)  # (B, H, T, d)
        inputs = (q, k)
    else:
        inputs = (torch.randn(2, 1, 5, 5, dtype=real, requires_grad=True),)  # (B, H, T, T)
    norm.train()
    assert audited(_forward_backward(norm, *inputs), real) == []
    norm.eval()
    with torch.no_grad():
        assert audited(lambda: norm(*inputs), real) == []


@pytest.mark.parametrize("real", [torch.float32, torch.float64])
@pytest.mark.parametrize("attention", ["softmax", "qontot"])
def test_the_vit_forward_and_backward_stay_on_the_input_device_and_precision(attention, real):
    model = create_vit("qdsformer_digits", attention=attention,
                       attention_kwargs=SMALL.get(attention, {})).to(real)
    images = torch.randn(3, 1, 8, 8, dtype=real)  # (B, C, H, W)
    assert audited(_forward_backward(model, images), real) == []


@pytest.mark.parametrize("real", [torch.float32, torch.float64])
@pytest.mark.parametrize("ansatz", ["simple", "parted"])
def test_the_simulator_stays_on_the_input_device_and_precision(ansatz, real):
    circuit = get_ansatz(ansatz, 4, 2)
    angles = torch.rand(3, circuit.n_params, dtype=real, requires_grad=True)  # (N, n_params)

    def step():
        dsm_from_unitary(circuit.unitary(angles), 2).square().sum().backward()  # (N, 4, 4)

    assert audited(step, real) == []


@pytest.mark.parametrize("attention, kwargs", [
    ("qontot", ["attention.kwargs.n_aux_qubits=1", "attention.kwargs.n_layers=1"]),
    ("lot", ["attention.kwargs.r=2"])])
def test_the_fit_loop_makes_its_tensors_on_the_run_device(attention, kwargs, tmp_path):
    """The whole run, model construction included (host-side inits say device="cpu")."""
    config = load_config(None, [f"attention.name={attention}", *kwargs,
        "data.name=digits", "data.train_limit=20", "data.val_limit=10", "data.test_limit=10",
        "data.batch_size=10", "optim.epochs=2", "run.progress=false",
        f"run.out_dir={tmp_path}", "model.preset=qdsformer_digits"])
    found = audited(lambda: fit(config, run_dir=tmp_path / "run"), torch.float32)
    assert found == [], found


# ---------------------------------------------------------------- the audit can fail
class _Broken(Normalizer):
    """Softmax plus the two bugs the audit exists for (not registered)."""

    def __init__(self, bug: str) -> None:
        super().__init__()
        self.bug = bug

    def normalize(self, scores: torch.Tensor) -> torch.Tensor:
        if self.bug == "device":
            bias = torch.zeros(scores.shape[-1], dtype=scores.dtype)  # (T,) on the default device
        else:
            bias = torch.tensor([0.0] * scores.shape[-1], dtype=torch.float64)  # (T,)
            bias = bias.to(scores.device)
        return torch.softmax(scores + bias, dim=-1)  # (B, H, T, T)


@pytest.mark.parametrize("bug, expected", [("device", "torch.zeros without device= at "),
                                           ("dtype", "made torch.float64")])
def test_the_audit_finds_a_tensor_made_on_the_wrong_device_or_precision(bug, expected):
    scores = torch.randn(2, 1, 4, 4, requires_grad=True)  # (B, H, T, T)
    # root: this folder, so that the broken class counts as audited source
    found = audited(_forward_backward(_Broken(bug), scores), torch.float32,
                    root=Path(__file__).resolve().parent)
    assert any(expected in line for line in found), found
