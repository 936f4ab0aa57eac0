"""Normaliser constructors: type, range and finiteness, one ValueError naming key and value;
half-precision inputs of ESP computed in float32 and returned in the input dtype."""

import pytest
import torch

from qdsformer.attention import create_normalizer
from qdsformer.common.checks import check_int, check_number

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(("name", "kwargs", "message"), [
    ("esp", dict(temperature=INF), "esp: temperature must be a finite number >= 0, got inf"),
    ("esp", dict(temperature=-1.0), "esp: temperature must be a finite number >= 0, got -1.0"),
    ("esp", dict(tau=NAN), "esp: tau must be a finite number > 0, got nan"),
    ("esp", dict(tau=0), "esp: tau must be a finite number > 0, got 0"),
    ("esp", dict(tau="1e-3"), "esp: tau must be a finite number > 0, got '1e-3'"),
    ("lot", dict(epsilon=INF), "lot: epsilon must be a finite number > 0, got inf"),
    ("lot", dict(epsilon=NAN), "lot: epsilon must be a finite number > 0, got nan"),
    ("lot", dict(epsilon=0.0), "lot: epsilon must be a finite number > 0, got 0.0"),
    ("lot", dict(seed="x"), "lot: seed must be an int >= 0, got 'x'"),
    ("lot", dict(seed=-1), "lot: seed must be an int >= 0, got -1"),
    ("lot", dict(tol=INF), "lot: tol must be a finite number > 0, got inf"),
    ("lot", dict(mass_temperature=-0.5),
     "lot: mass_temperature must be a finite number > 0, got -0.5"),
    ("lot", dict(r=True), "lot: r must be an int >= 1, got True"),
    ("lot", dict(learn_masses="yes"), "lot: learn_masses must be True or False, got 'yes'"),
    ("sinkhorn", dict(epsilon=INF), "sinkhorn: epsilon must be a finite number > 0, got inf"),
    ("sinkhorn", dict(n_iters=2.5), "sinkhorn: n_iters must be an int >= 1, got 2.5"),
    ("sinkhorn", dict(n_iters=4),
     "sinkhorn: n_iters must be odd (the last step fits the rows), got 4"),
    ("qr", dict(noise_std=NAN), "qr: noise_std must be a finite number >= 0, got nan"),
    ("qr", dict(rank_tol=-1.0), "qr: rank_tol must be a finite number >= 0, got -1.0"),
    ("softmax_sigma", dict(eps=INF), "softmax_sigma: eps must be a finite number > 0, got inf"),
    ("softmax_sigma", dict(head_dim=0), "softmax_sigma: head_dim must be an int >= 1, got 0"),
    ("qontot", dict(seed="x"), "qontot: seed must be an int >= 0, got 'x'"),
])
def test_bad_constructor_argument_names_key_and_value(name, kwargs, message):
    with pytest.raises(ValueError) as info:
        create_normalizer(name, **kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_esp_half_inputs_run_in_float32_and_return_the_input_dtype(dtype):
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(2, 2, 6, 4, generator=gen)  # (B, H, T, d)
    k = torch.randn(2, 2, 6, 4, generator=gen)
    esp = create_normalizer("esp")
    half = esp(q.to(dtype), k.to(dtype))  # (B, H, T, T)
    assert half.dtype == dtype
    full = esp(q.to(dtype).float(), k.to(dtype).float())  # the same rounded inputs in float32
    torch.testing.assert_close(half, full.to(dtype), rtol=0, atol=0)
    assert torch.isfinite(half.float()).all()


def test_checkers_accept_good_values_and_return_them_typed():
    assert check_number("x", "k", 2) == 2.0 and isinstance(check_number("x", "k", 2), float)
    assert check_number("x", "k", 1.0, low=1.0) == 1.0
    assert check_int("x", "k", 3, low=1, high=3) == 3
    with pytest.raises(ValueError) as info:
        check_number("x", "k", 1.0, low=1.0, low_open=True)
    assert str(info.value) == "x: k must be a finite number > 1, got 1.0"
    with pytest.raises(ValueError) as info:
        check_int("x", "k", 4, low=1, high=3)
    assert str(info.value) == "x: k must be an int >= 1 and <= 3, got 4"
