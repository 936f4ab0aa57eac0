"""The one generic registry: add, look up, list, errors that name the kind and the known names."""

import pytest

from qdsformer.attention import NORMALIZERS, list_normalizers
from qdsformer.common import Registry
from qdsformer.data.datasets import DATASETS
from qdsformer.divergences.fdiv import DIVERGENCES
from qdsformer.models import PRESETS
from qdsformer.quantum.ansatz import ANSAETZE


def test_register_get_and_list():
    reg: Registry[int] = Registry("widget", {"b": 2})

    @reg.register("a")
    def a():
        return 1

    assert reg.get("a") is a and reg["b"] == 2
    assert reg.names() == ["a", "b"] and list(reg) == ["a", "b"] and len(reg) == 2
    assert "a" in reg and "c" not in reg
    assert reg.items() == [("a", a), ("b", 2)]
    reg.add("b", 2)  # the same entry again is fine
    assert reg.remove("b") == 2 and reg.names() == ["a"]


def test_errors_name_the_kind_and_the_known_names():
    reg = Registry("widget", {"x": 1, "y": 2})
    with pytest.raises(ValueError, match=r"unknown widget 'z'; known: x, y"):
        reg.get("z")
    with pytest.raises(ValueError, match="widget name 'x' is already registered"):
        reg.add("x", 3)
    with pytest.raises(ValueError, match="non-empty string"):
        reg.add("", 3)
    with pytest.raises(ValueError, match="unknown widget 'z'"):
        reg.remove("z")


def test_every_registry_of_the_package_is_one():
    for registry in (NORMALIZERS, ANSAETZE, DIVERGENCES, PRESETS, DATASETS):
        assert isinstance(registry, Registry) and len(registry) >= 2
    assert NORMALIZERS.names() == list_normalizers()
    assert {"digits", "fashion-mnist", "mnist"} <= set(DATASETS.names())
