"""Renamed config keys (issue 25): the old name still works and warns; a saved run folder that
says it is the same config as one that says the new name, for the stale check and the report;
no shipped file says an old name."""

import importlib
import re
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch
import yaml

from qdsformer.apps.report import collect_runs
from qdsformer.apps.report.mixing import config_differences
from qdsformer.apps.sweep import expand, load_sweep
from qdsformer.apps.sweep.stale import stale_keys
from qdsformer.models import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from qdsformer.ot import sinkhorn
from qdsformer.train.config import load_config, to_dict
from qdsformer.train.distill import load_distill_config
from qdsformer.train.engine import fit
from qdsformer.train.legacy import upgrade_config
from qdsformer.train.mixed import PhaseResult

REPO = Path(__file__).resolve().parents[2]
QONTOT = {"name": "qontot", "kwargs": {"n_aux_qubits": 1, "n_layers": 2, "seed": 0}}


def _qontot(**kwargs) -> dict:
    return {"attention": {**QONTOT, "kwargs": {**QONTOT["kwargs"], **kwargs}}}


@pytest.mark.parametrize(("trainable", "strategy"), [(False, "static"), (True, "differentiable")])
def test_a_config_file_that_says_trainable_loads_as_strategy_and_warns(tmp_path, trainable,
                                                                       strategy):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_qontot(trainable=trainable)))
    with pytest.warns(FutureWarning, match=rf"^config: attention.kwargs.trainable is deprecated; "
                                           rf"use attention.kwargs.strategy: {strategy}$"):
        config = load_config(path)
    assert config.attention.kwargs == {"n_aux_qubits": 1, "n_layers": 2, "seed": 0,
                                       "strategy": strategy}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new name: no warning
        assert load_config(path, [f"attention.kwargs={{strategy: {strategy}}}"]).attention.kwargs \
            == {"strategy": strategy}


def test_the_teacher_section_is_read_the_same_way(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text(yaml.safe_dump({"teacher": {"attention": {"name": "qontot", "kwargs": {
        "trainable": True}}}}))
    with pytest.warns(FutureWarning, match="teacher.attention.kwargs.trainable is deprecated"):
        config = load_distill_config(path)
    assert config.teacher.attention.kwargs == {"strategy": "differentiable"}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"trainable": False, "strategy": "mixed"},
     "config: give attention.kwargs.strategy only, not also attention.kwargs.trainable "
     "(deprecated), got strategy='mixed' and trainable=False"),
    ({"trainable": "no"}, "config: attention.kwargs.trainable must be true or false, got 'no'"),
    ({"trainable": None}, "config: attention.kwargs.trainable must be true or false, got None"),
    ({"trainable": 1}, "config: attention.kwargs.trainable must be true or false, got 1"),
])
def test_trainable_with_strategy_or_not_a_bool_is_one_line(tmp_path, kwargs, message):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_qontot(**kwargs)))
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load_config(path)


def test_upgrade_leaves_its_input_and_other_normalisers_alone():
    tree = _qontot(trainable=False)
    assert upgrade_config(tree)["attention"]["kwargs"]["strategy"] == "static"
    assert tree == _qontot(trainable=False)
    other = {"attention": {"name": "softmax", "kwargs": {"trainable": False}}}
    assert upgrade_config(other) is other  # not a QontOT option: the normaliser rejects it


@pytest.mark.parametrize("where", ["file", "set"])
def test_mixed_steps_reads_as_mixed_evaluations_and_warns(tmp_path, where):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"mixed": {"steps": 7}} if where == "file" else {}))
    overrides = ["mixed.steps=7"] if where == "set" else []
    with pytest.warns(FutureWarning, match="^config: mixed.steps is deprecated; use "
                                           "mixed.evaluations$"):
        config = load_config(path, overrides)
    assert config.mixed.evaluations == 7 and not hasattr(config.mixed, "steps")


@pytest.mark.filterwarnings("ignore:config. mixed.steps is deprecated:FutureWarning")
@pytest.mark.parametrize("layer", [{"mixed": {"steps": 7, "evaluations": 8}},
                                   {"mixed.steps": 7, "mixed": {"evaluations": 8}}])
def test_mixed_steps_next_to_mixed_evaluations_is_one_line(tmp_path, layer):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(layer))
    with pytest.raises(ValueError, match=r"^config: give mixed.evaluations only, not also "
                                         r"mixed.steps \(deprecated\)$"):
        load_config(path)
    saved = {"mixed": {"steps": 7, "evaluations": 8}}  # a saved tree, read without merging
    with pytest.raises(ValueError, match=r"^config: give mixed.evaluations only, not also "
                                         r"mixed.steps \(deprecated\), got 8 and 7$"):
        upgrade_config(saved)


def test_a_later_layer_may_set_the_new_name_over_the_old(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"mixed": {"steps": 7}}))
    with pytest.warns(FutureWarning, match="mixed.steps is deprecated"):
        assert load_config(path, ["mixed.evaluations=9"]).mixed.evaluations == 9


def test_phase_result_steps_is_a_deprecated_alias():
    result = PhaseResult(epoch=1, fit_before=1.0, fit_recommended=0.5, check_before=1.0,
                         check_recommended=0.9, accepted=True, evaluations=12,
                         optimizer="NGOpt", seconds=0.1)
    with pytest.warns(FutureWarning, match="^PhaseResult.steps is deprecated; use "
                                           "PhaseResult.evaluations$"):
        assert result.steps == 12


def test_a_run_saved_with_the_old_names_resumes(tmp_path):
    """config.yaml and checkpoint.pt as an older version wrote them (trainable, mixed.steps)."""
    tiny = ["optim.epochs=2", "data.train_limit=32", "data.val_limit=32", "data.test_limit=32",
            "attention.kwargs={n_layers: 1, n_aux_qubits: 0, strategy: static}",
            "run.progress=false"]
    run_dir = tmp_path / "run"
    fit(load_config(None, tiny), run_dir=run_dir, stop_after_epochs=1)

    def older(tree: dict) -> dict:
        tree["attention"]["kwargs"] = {"n_layers": 1, "n_aux_qubits": 0, "trainable": False}
        tree["mixed"]["steps"] = tree["mixed"].pop("evaluations")
        return tree

    path = run_dir / "config.yaml"
    path.write_text(yaml.safe_dump(older(yaml.safe_load(path.read_text()))))
    state = load_checkpoint(run_dir)
    state["config"] = older(state["config"])
    save_checkpoint(state, run_dir / CHECKPOINT_NAME)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the given config says the new names: no warning
        summary = fit(load_config(None, tiny), run_dir=run_dir, resume=True)
    assert summary["epochs"] == 2 and summary["finished"]
    with pytest.warns(FutureWarning) as record:  # the user reads the old file as an input
        assert load_config(path).attention.kwargs["strategy"] == "static"
    assert sorted(str(w.message) for w in record) == [
        "config: attention.kwargs.trainable is deprecated; use attention.kwargs.strategy: static",
        "config: mixed.steps is deprecated; use mixed.evaluations"]


def test_sinkhorn_result_n_iters_is_a_deprecated_alias():
    res = sinkhorn(torch.rand(2, 4, 4), epsilon=1.0, n_iters=5)
    with pytest.warns(FutureWarning, match="^SinkhornResult.n_iters is deprecated; use "
                                           "SinkhornResult.half_steps$"):
        assert res.n_iters == res.half_steps == 5


def _sweep(tmp_path: Path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: renamed
        out_dir: {tmp_path / "out"}
        seeds: [0]
        set: {{optim.epochs: 1, data.train_limit: 64, data.val_limit: 32, data.test_limit: 32}}
        variants:
          qontot: {{attention.name: qontot, attention.kwargs: {{n_aux_qubits: 1, n_layers: 2,
                                                              strategy: static, seed: 0}}}}
        """))
    return path


def _saved_run(cell, kwargs: dict, mixed: dict | None = None) -> None:
    """The cell's run folder as an older version saved it: ``kwargs`` in place of its own
    attention kwargs, ``mixed`` (when given) in place of ``mixed.evaluations``."""
    saved = to_dict(cell.config)
    saved["attention"]["kwargs"] = {k: v for k, v in saved["attention"]["kwargs"].items()
                                    if k != "strategy"} | kwargs
    if mixed:
        saved["mixed"] = {k: v for k, v in saved["mixed"].items() if k != "evaluations"} | mixed
    cell.run_dir.mkdir(parents=True)
    (cell.run_dir / "config.yaml").write_text(yaml.safe_dump(saved))


@pytest.mark.parametrize(("saved", "mixed", "stale"), [
    ({"trainable": False}, {}, []),
    ({"trainable": True}, {}, ["attention.kwargs.strategy"]),
    ({"trainable": False, "strategy": "static"}, {}, ["config.yaml"]),
    ({"strategy": "static"}, {"steps": 200}, []),
    ({"trainable": False}, {"steps": 50}, ["mixed.evaluations"]),
])
def test_a_run_folder_saved_with_old_names_is_judged_by_the_new_ones_in_the_stale_check(
        tmp_path, saved, mixed, stale):
    cell = expand(load_sweep(_sweep(tmp_path)))[0]
    _saved_run(cell, saved, mixed)
    (cell.run_dir / "summary.json").write_text('{"finished": true}')
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a committed run folder is not the user's to edit
        assert stale_keys(cell) == stale


def test_the_report_groups_a_trainable_run_with_a_strategy_run(tmp_path):
    cells = expand(load_sweep(_sweep(tmp_path)))
    old, new = cells[0], cells[0].run_dir.with_name("seed1")
    _saved_run(old, {"trainable": False})
    new.mkdir()
    (new / "config.yaml").write_text(yaml.safe_dump(to_dict(old.config)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        records = collect_runs([tmp_path / "out"])
    assert len(records) == 2 and records[0].get("attention.kwargs.strategy") == "static"
    assert config_differences((r.run_dir.name, r) for r in records) == {}
    text = (old.run_dir / "config.yaml").read_text()
    (old.run_dir / "config.yaml").write_text(text.replace("trainable: false", "trainable: true"))
    assert list(config_differences((r.run_dir.name, r) for r in collect_runs(
        [tmp_path / "out"]))) == ["attention.kwargs.strategy"]


@pytest.mark.parametrize(("old", "new"), [
    ("qdsformer.hardware.estimate", "qdsformer.hardware.shot_matrix"),
    ("qdsformer.train.estimate", "qdsformer.train.runtime"),
    ("qdsformer.apps.bench.estimate", "qdsformer.apps.bench.runtime"),
])
def test_an_old_module_path_imports_the_new_module_and_warns(monkeypatch, old, new):
    monkeypatch.delitem(sys.modules, old, raising=False)
    with pytest.warns(FutureWarning, match=f"^{re.escape(old)} is deprecated; import "
                                           f"{re.escape(new)}$"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)


#: Old names (a regular expression each) that no shipped config, sweep, notebook, circuit
#: script or docs page may say; the glossary and the changelog name them on purpose.
OLD_NAMES = {
    "trainable (a QontOT option; now strategy)": r"\btrainable\s*[:=]|[\"']trainable[\"']",
    "the estimate modules (now shot_matrix, runtime)":
        r"(hardware|train|bench)[./]estimate\b|bench estimate\b",
    "mixed.steps (now mixed.evaluations)": r"mixed\.steps|mixed:\s*\{[^}]*\bsteps:",
    "--backend(s), --attention-backend (now --runner(s))":
        r"(?<![\w-])--(attention-)?backends?\b",
    "an attention normaliser called a backend": r"(?i)attention backend|normaliser backend",
}
SHIPPED = [p for p in sorted([*(REPO / "experiments").rglob("*"), *(REPO / "circuits").rglob("*"),
                              *(REPO / "docs").rglob("*.md"), REPO / "README.md"])
           if p.is_file() and p.suffix in {".yaml", ".yml", ".md", ".py", ".ipynb", ".sh"}
           and p.name not in {"glossary.md", "changelog.md"}]


@pytest.mark.parametrize("old", OLD_NAMES)
def test_no_shipped_file_says_an_old_name(old):
    pattern = re.compile(OLD_NAMES[old])
    assert len(SHIPPED) > 20
    found = [f"{p.relative_to(REPO)}:{n}" for p in SHIPPED
             for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert found == [], old


def test_the_shipped_configs_say_strategy_where_they_set_theta():
    said = [p for p in (REPO / "experiments").rglob("*.yaml") if "qontot" in p.read_text()
            and "strategy:" in p.read_text()]
    assert len(said) >= 12
