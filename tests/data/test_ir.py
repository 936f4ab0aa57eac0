"""The IR-spectra loader on parquet chunks written here in the data set's schema."""

import logging
import urllib.error
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("rdkit")

from qdsformer.data import (  # noqa: E402
    FUNCTIONAL_GROUPS,
    build_dataset,
    functional_group_labels,
    ir,
)
from qdsformer.data.functional_groups import FUNCTIONAL_GROUP_SMARTS  # noqa: E402


def _group(names):
    return {FUNCTIONAL_GROUPS.index(n) for n in names}


def test_table_has_37_groups_and_thial_is_not_the_aldehyde_pattern():
    smarts = dict(FUNCTIONAL_GROUP_SMARTS)
    assert len(FUNCTIONAL_GROUPS) == 37 == len(set(FUNCTIONAL_GROUPS))
    assert FUNCTIONAL_GROUPS[0] == "Acid anhydride" and FUNCTIONAL_GROUPS[-1] == "Thiol"
    assert smarts["Thial"] != smarts["Aldehyde"] and "S" in smarts["Thial"]


@pytest.mark.parametrize("smiles, groups", [
    ("CCO", {"Alcohol", "Alkane"}),  # ethanol
    ("CC(=O)O", {"Alcohol", "Alkane", "Carboxylic acid"}),  # acetic acid ([#6][OX2H] matches)
    ("c1ccccc1", {"Arene"}),  # benzene
    ("CC=O", {"Aldehyde", "Alkane"}),  # acetaldehyde
    ("CC=S", {"Thial", "Alkane"}),  # thioacetaldehyde: Thial, not Aldehyde
    ("CCS", {"Thiol", "Alkane"}),  # ethanethiol
    ("CC#N", {"Nitrile", "Alkane"}),  # acetonitrile
    ("CC(C)=O", {"Ketone", "Alkane"}),  # acetone
    ("CC(=O)OC", {"Ester", "Ether", "Alkane"}),  # methyl acetate
    ("Oc1ccccc1", {"Phenol", "Alcohol", "Arene"}),  # phenol
    ("CN", {"Amine", "Alkane"}),  # methylamine
    ("CC(N)=O", {"Amide", "Alkane"}),  # acetamide (Amine excludes N-C=O)
])
def test_labels_of_known_molecules(smiles, groups):
    labels = functional_group_labels([smiles])
    assert labels.dtype == np.uint8 and labels.shape == (1, 37)
    assert set(np.flatnonzero(labels[0])) == _group(groups)


def test_invalid_smiles_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"^smiles\[1\] = 'C1CC' is not a valid SMILES "
                                         r"\(1 invalid of 2\)$"):
        functional_group_labels(["CCO", "C1CC"])


def test_folds_partition_the_rows_and_only_needed_columns_are_read(ir_data, tmp_path, monkeypatch,
                                                                   caplog):
    root = ir_data.make_root(tmp_path, invalid=(3,))
    read_columns = []
    real_read = pq.ParquetFile.read

    def spy(self, columns=None, **kwargs):
        read_columns.append(columns)
        return real_read(self, columns=columns, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read", spy)
    with caplog.at_level(logging.WARNING, logger="qdsformer.data.ir"):
        parts = {s: build_dataset("ir", s, root=root, fold=2, n_folds=5)
                 for s in ("train", "val", "test")}
    assert "dropped 1 of 50 rows whose SMILES RDKit cannot parse" in caplog.text
    assert read_columns and all(c in (["smiles"], ["ir_spectra"]) for c in read_columns)
    assert (root / ir.LABEL_CACHE).exists()
    sizes = {s: len(d) for s, d in parts.items()}
    assert sizes == {"test": 10, "val": 4, "train": 35}  # 49 valid rows: 20% / 8% / 72%
    for d in parts.values():
        assert d.multilabel and d.images.shape[1:] == (1, 1, 1800)
        assert d.labels.shape[1:] == (37,)
    # every valid row once, in exactly one split: the spectra identify the rows
    rows = np.concatenate([d.images.reshape(len(d), -1).numpy() for d in parts.values()])
    assert len(np.unique(rows[:, :4], axis=0)) == 49
    other = build_dataset("ir", "test", root=root, fold=3, n_folds=5).images
    assert not set(map(tuple, other[:, 0, 0, :4].tolist())) & \
        set(map(tuple, parts["test"].images[:, 0, 0, :4].tolist()))
    # labels follow the SMILES of their rows
    table = pq.read_table(root / "chunk_000.parquet", columns=["smiles", "ir_spectra"])
    first = np.asarray(table.column("ir_spectra")[0].as_py(), np.float32)
    hit = [(d, i) for d in parts.values() for i in range(len(d))
           if np.array_equal(d.images[i, 0, 0].numpy(), first)]
    assert len(hit) == 1
    d, i = hit[0]
    assert np.array_equal(d.labels[i].numpy(), functional_group_labels(["CCO"])[0])


def test_label_cache_is_reused_and_rebuilt_when_chunks_change(ir_data, tmp_path, monkeypatch):
    root = ir_data.make_root(tmp_path)
    build_dataset("ir", "val", root=root)
    calls = []
    real = ir.match_functional_groups
    monkeypatch.setattr(ir, "match_functional_groups", lambda s: calls.append(1) or real(s))
    build_dataset("ir", "val", root=root)
    assert calls == []  # cached
    ir_data.write_chunk(root / "chunk_009.parquet", ["CCO"] * 5, ir_data.spectra(5, 1800,
                                                                   np.random.default_rng(1)))
    assert len(build_dataset("ir", "test", root=root)) == 11  # 55 rows / 5
    assert calls == [1, 1, 1]


def test_1791_point_spectra_are_put_on_the_1800_grid(ir_data, tmp_path):
    root = ir_data.make_root(tmp_path, n_chunks=1, rows=10, length=1791)
    table = pq.read_table(root / "chunk_000.parquet", columns=["ir_spectra"])
    raw = np.stack([np.asarray(r, np.float32) for r in table.column("ir_spectra").to_pylist()])
    data = build_dataset("ir", "train", root=root)
    assert data.images.shape[-1] == 1800
    expected = np.stack([np.interp(ir.IR_GRID, ir.TRIMMED_GRID, r) for r in raw])
    got = data.images[:, 0, 0].numpy()
    matches = [np.flatnonzero(np.abs(expected - g).max(axis=1) < 1e-5) for g in got]
    assert all(len(m) == 1 for m in matches)


@pytest.mark.parametrize("damage, message", [
    ("missing", "{path}: missing column 'ir_spectra'"),
    ("length", "{path}: row 2: ir_spectra has 1700 points; expected 1800 or 1791 (all rows "
               "alike)"),
    ("nan", "{path}: row 1: ir_spectra holds NaN or infinite values"),
    ("null", "{path}: row 3: ir_spectra is missing"),
])
def test_damaged_chunks_fail_in_one_line(ir_data, tmp_path, damage, message):
    root = ir_data.make_root(tmp_path, n_chunks=1)
    path = root / "chunk_bad.parquet"
    spectra = ir_data.spectra(5, 1800, np.random.default_rng(2))
    if damage == "length":
        spectra[2] = spectra[2][:1700]
    if damage == "nan":
        spectra[1][7] = np.nan
    if damage == "null":
        spectra[3] = None
    ir_data.write_chunk(path, ["CCO"] * 5, spectra, drop=("ir_spectra",) if damage == "missing" else ())
    with pytest.raises(ValueError) as err:
        build_dataset("ir", "train", root=root)
    assert str(err.value) == message.format(path=path)
    assert "\n" not in str(err.value)


def test_missing_smiles_column_and_unreadable_chunk(ir_data, tmp_path):
    root = ir_data.make_root(tmp_path, n_chunks=1)
    path = root / "chunk_x.parquet"
    ir_data.write_chunk(path, ["CCO"], ir_data.spectra(1, 1800, np.random.default_rng(3)), drop=("smiles",))
    with pytest.raises(ValueError, match=r"^.*chunk_x\.parquet: missing column 'smiles'$"):
        build_dataset("ir", "train", root=root)
    path.write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match=r"^.*chunk_x\.parquet: unreadable parquet chunk \("):
        build_dataset("ir", "train", root=root)
    assert not (root / ir.LABEL_CACHE).exists()


def test_no_data_and_offline_download_say_so_in_one_line(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    with pytest.raises(FileNotFoundError, match="no IR parquet chunks"):
        build_dataset("ir", "train", root=empty)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(ir.urllib.request, "urlopen", offline)
    with pytest.raises(ValueError) as err:
        build_dataset("ir", "train", root=empty, download=True)
    assert str(err.value) == (f"downloading the IR data set from {ir.ARCHIVE_URL} into {empty} "
                              "failed (offline?): <urlopen error no network>")
    assert list(empty.iterdir()) == []  # no partial archive left


@pytest.mark.parametrize("fold, n_folds, message", [
    (5, 5, "data.fold must be an integer in 0..4, got 5"),
    (-1, 5, "data.fold must be an integer in 0..4, got -1"),
    (0, 1, "data.n_folds must be an integer >= 2, got 1"),
])
def test_bad_folds_are_refused(fold, n_folds, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        ir.fold_indices(10, fold, n_folds)


@pytest.mark.parametrize("preset, tokens", [("qdsformer_ir_t8", 8), ("qdsformer_ir_t16", 16)])
def test_ir_presets_train_from_the_cli(ir_data, tmp_path, capsys, preset, tokens):
    import csv
    import json

    from qdsformer.cli import main
    from qdsformer.models import run_image_batch
    from qdsformer.models.vit import attention_maps

    root = ir_data.make_root(tmp_path, rows=20)
    run_dir = tmp_path / "run"
    assert main(["train", "--config", str(ROOT / "experiments/configs/ir_softmax.yaml"),
                 "--set", f"data.root={root}", "--set", f"model.preset={preset}",
                 "--set", "attention.name=qontot",
                 "--set", "attention.kwargs={n_layers: 1, n_aux_qubits: 1}",
                 "--set", "optim.epochs=1", "--set", "data.batch_size=8",
                 "--set", "data.fold=1", "--set", "run.progress=false",
                 "--run-dir", str(run_dir)]) == 0
    assert "test micro-F1" in capsys.readouterr().out
    summary = json.loads((run_dir / "summary.json").read_text())
    assert 0.0 <= summary["val_micro_f1"] <= 1.0 and 0.0 <= summary["test_micro_f1"] <= 1.0
    assert summary["n_train"] == 29 and summary["n_test"] == 8  # 40 rows, fold 1 of 5
    rows = list(csv.DictReader((run_dir / "per_group_f1.csv").open()))
    assert [r["label"] for r in rows] == list(FUNCTIONAL_GROUPS)
    run, images, labels = run_image_batch(run_dir, "test", 3)
    assert images.shape == (3, 1, 1, 1800) and labels.shape == (3, 37)
    assert attention_maps(run.model, images)[0].shape == (3, 1, tokens, tokens)
    assert run.config["data"]["fold"] == 1 and run.config["model"]["num_classes"] == 37


ROOT = Path(__file__).resolve().parents[2]
