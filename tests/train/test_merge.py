"""The one merge rule of run configs (qdsformer.train.merge), layer by layer."""

import pytest

from qdsformer.train.config import Config, DataConfig, load_config, to_dict
from qdsformer.train.distill import DistillConfig
from qdsformer.train.merge import merge_layer


def merged(*layers, cls=Config) -> dict:
    tree = to_dict(cls())
    for layer in layers:
        merge_layer(tree, layer, cls)
    return tree


def test_a_mapping_merges_into_its_section_key_by_key():
    base = {"optim": {"lr": 5e-4, "schedule": "multistep", "milestones": [3, 4]}}
    tree = merged(base, {"optim": {"epochs": 1}})
    assert tree["optim"]["epochs"] == 1
    assert (tree["optim"]["lr"], tree["optim"]["schedule"], tree["optim"]["milestones"]) == (
        5e-4, "multistep", [3, 4])
    # dotted and nested spellings of one layer are the same layer
    assert merged(base, {"optim.epochs": 1}) == tree


def test_a_scalar_or_list_replaces():
    tree = merged({"optim": {"milestones": [3, 4]}}, {"optim.milestones": [7]})
    assert tree["optim"]["milestones"] == [7]


def test_naming_a_backend_starts_its_kwargs_afresh():
    qontot = {"attention": {"name": "qontot", "kwargs": {"n_aux_qubits": 4, "n_layers": 16}}}
    assert merged(qontot, {"attention.name": "softmax"})["attention"] == {
        "name": "softmax", "kwargs": {}}
    # kwargs in the same layer are the new backend's, as a mapping or as dotted entries, in
    # any order within the layer
    assert merged(qontot, {"attention.kwargs.n_iters": 5, "attention.name": "sinkhorn"})[
        "attention"] == {"name": "sinkhorn", "kwargs": {"n_iters": 5}}
    assert merged(qontot, {"attention": {"name": "sinkhorn", "kwargs": {"n_iters": 3}}})[
        "attention"]["kwargs"] == {"n_iters": 3}


def test_kwargs_without_a_name_replace_as_a_mapping_and_set_one_entry_when_dotted():
    qontot = {"attention": {"name": "qontot", "kwargs": {"n_aux_qubits": 4, "trainable": False}}}
    # the mapping is the normaliser's whole argument list: nothing of the base's is kept
    assert merged(qontot, {"attention.kwargs": {"n_aux_qubits": 2, "strategy": "static"}})[
        "attention"]["kwargs"] == {"n_aux_qubits": 2, "strategy": "static"}
    assert merged(qontot, {"attention.kwargs.shots": 100})["attention"]["kwargs"] == {
        "n_aux_qubits": 4, "trainable": False, "shots": 100}


def test_sections_without_kwargs_never_get_any():
    tree = merged({"data.name": "fashion-mnist", "optim.name": "sgd", "model.preset": "x"})
    assert "kwargs" not in tree["data"] and "kwargs" not in tree["optim"]
    assert set(tree["data"]) == {f for f in to_dict(DataConfig())}


def test_a_later_layer_never_edits_an_earlier_layers_values():
    shared = {"attention.kwargs": {"n_layers": 2}}
    first = merged(shared, {"attention.kwargs.shots": 10})
    second = merged(shared)
    assert first["attention"]["kwargs"] == {"n_layers": 2, "shots": 10}
    assert second["attention"]["kwargs"] == {"n_layers": 2}
    assert shared == {"attention.kwargs": {"n_layers": 2}}


def test_the_teacher_section_follows_the_same_rule():
    tree = merged({"teacher.attention.name": "qr"}, cls=DistillConfig)
    assert tree["teacher"]["attention"] == {"name": "qr", "kwargs": {}}


@pytest.mark.parametrize("layer, message", [
    ({"optim.no_such": 1}, "unknown config key optim.no_such; known in optim: epochs, gamma, "
     "grad_clip, lr, milestones, min_lr, name, schedule, warmup_epochs, warmup_lr, weight_decay"),
    ({"nope": 1}, "unknown config key nope; known in the top level: attention, data, "
     "experiment, mixed, model, optim, run"),
    ({"optim": 3}, "config key optim is a section: give a mapping or dotted keys, got 3"),
    ({"optim.lr.x": 1}, "config key optim.lr holds 0.003, not a mapping; cannot set optim.lr.x"),
    ({"optim..lr": 1}, "config key 'optim..lr' must be a (dotted) name"),
])
def test_bad_keys_are_one_line_naming_the_key(layer, message):
    with pytest.raises(ValueError) as err:
        merged(layer)
    assert str(err.value) == message


def test_load_config_uses_the_rule_for_the_file_and_for_set(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("attention: {name: qontot, kwargs: {n_aux_qubits: 4, n_layers: 16}}\n"
                    "optim: {lr: 5.0e-4, schedule: multistep}\n")
    config = load_config(path, ["attention.name=softmax", "optim={epochs: 1}"])
    assert (config.attention.name, config.attention.kwargs) == ("softmax", {})
    assert (config.optim.lr, config.optim.schedule, config.optim.epochs) == (5e-4, "multistep", 1)
    # a key written twice in a config file is an error, not a silent last-one-wins
    path.write_text("optim: {lr: 1.0e-3}\noptim: {epochs: 2}\n")
    with pytest.raises(ValueError) as err:
        load_config(path)
    assert str(err.value) == (f"config file {path} line 2, column 1: key 'optim' is written "
                              "twice in one mapping (YAML would keep only the last)")
