"""One value syntax for --set key=value and name:key=value settings."""

import pytest

from qdsformer.attention import parse_setting
from qdsformer.common import parse_assignment, parse_named_setting, parse_value
from qdsformer.train.config import load_config


@pytest.mark.parametrize("text, value", [
    ("3", 3), ("0.5", 0.5), ("1e-3", 1e-3), ("true", True), ("False", False), ("null", None),
    ("sinkhorn", "sinkhorn"), ("[1, 2]", [1, 2]), ("{a: 1}", {"a": 1}),
])
def test_values_read_as_yaml_scalars_with_float_exponents(text, value):
    got = parse_value(text)
    assert got == value and type(got) is type(value)


def test_assignment_and_named_setting():
    assert parse_assignment("optim.lr=1e-3") == ("optim.lr", 1e-3)
    assert parse_named_setting("sinkhorn:n_iters=21, epsilon=1e-3") == (
        "sinkhorn", {"n_iters": 21, "epsilon": 1e-3})
    assert parse_named_setting("softmax") == ("softmax", {})
    for bad, match in (("lr", "key=value"), ("=3", "key=value"), (":a=1", "no name"),
                       ("qr:a", "not key=value"), ("qr:a=1,a=2", "twice")):
        with pytest.raises(ValueError, match=match):
            (parse_named_setting if ":" in bad else parse_assignment)(bad)


def test_set_and_operator_settings_agree():
    """The same text gives the same value on both paths (it did not: '1e-3' was a string)."""
    for text in ("1e-3", "3", "true", "0.25"):
        config = load_config(None, ["attention.name=sinkhorn", f"attention.kwargs.epsilon={text}"])
        setting = parse_setting(f"sinkhorn:epsilon={text}")
        assert config.attention.kwargs["epsilon"] == dict(setting.kwargs)["epsilon"]
        assert type(config.attention.kwargs["epsilon"]) is type(dict(setting.kwargs)["epsilon"])
