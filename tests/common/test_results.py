"""Results I/O: atomic writes that leave no temporary files, readable back; figures untouched backend."""

import csv
import json
import sys

import pytest
import yaml

from qdsformer.common import save_figure, write_csv, write_json, write_yaml
from qdsformer.common.results import atomic_folder, atomic_write_bytes


def test_json_csv_yaml_round_trip(tmp_path):
    write_json({"a": 1, "p": tmp_path}, tmp_path / "sub" / "x.json")
    assert json.loads((tmp_path / "sub" / "x.json").read_text()) == {"a": 1, "p": str(tmp_path)}
    rows = [{"epoch": 1, "acc": 0.5}, {"epoch": 2, "acc": 0.75}]
    write_csv(rows, tmp_path / "m.csv")
    with open(tmp_path / "m.csv", newline="") as fh:
        assert [dict(r) for r in csv.DictReader(fh)] == [{"epoch": "1", "acc": "0.5"},
                                                          {"epoch": "2", "acc": "0.75"}]
    write_yaml({"b": [1, 2], "a": None}, tmp_path / "c.yaml")
    text = (tmp_path / "c.yaml").read_text()
    assert yaml.safe_load(text) == {"b": [1, 2], "a": None} and text.startswith("b:")
    assert not list(tmp_path.rglob("*.tmp"))


def test_csv_needs_fieldnames_or_rows(tmp_path):
    with pytest.raises(ValueError, match="no rows"):
        write_csv([], tmp_path / "e.csv")
    write_csv([], tmp_path / "e.csv", fieldnames=["a"])
    assert (tmp_path / "e.csv").read_text() == "a\n"


def test_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "keep.json"
    write_json({"v": 1}, target)

    def broken(handle):
        handle.write(b"{half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write_bytes(target, broken)
    assert json.loads(target.read_text()) == {"v": 1}
    assert not list(tmp_path.glob("*.tmp"))


def test_save_figure_never_switches_the_backend(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    calls = []
    monkeypatch.setattr(matplotlib, "use", lambda *a, **k: calls.append(a))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "f" / "plot.png", close=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and calls == []
    assert "matplotlib" in sys.modules


def test_atomic_folder_swaps_a_whole_set_or_leaves_everything_as_it_was(tmp_path):
    target = tmp_path / "new" / "deeper" / "report"
    with pytest.raises(RuntimeError), atomic_folder(target) as folder:
        (folder / "a.csv").write_text("half")
        raise RuntimeError("killed half way")
    assert list(tmp_path.iterdir()) == []  # no temporary folder, no parent folder it made
    with atomic_folder(target) as folder:
        (folder / "a.csv").write_text("1")
        (folder / "b.png").write_text("1")
        assert not target.exists()  # nothing visible until the block ends
    assert sorted(p.name for p in target.iterdir()) == ["a.csv", "b.png"]
    with atomic_folder(target) as folder:
        (folder / "a.csv").write_text("2")
    assert [(p.name, p.read_text()) for p in target.iterdir()] == [("a.csv", "2")]
    assert sorted(p.name for p in target.parent.iterdir()) == ["report"]  # old set removed
