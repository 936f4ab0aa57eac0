"""The attention benchmark runs end to end and writes the documented JSON (no timing asserts)."""

import json

from qdsformer.bench.harness import Record, ratio_table
from qdsformer.cli import main


def test_attention_bench_writes_records(tmp_path, capsys):
    out = tmp_path / "attention.json"
    assert main(["bench", "attention", "--batch", "4", "--heads", "1", "--tokens", "4",
                 "--normalizers", "sinkhorn:n_iters=5", "qr", "--repeats", "1", "--json", str(out)]) == 0
    records = json.loads(out.read_text())
    assert {(r["case"], r["impl"]) for r in records} == {
        ("B4_H1_T4", "softmax"), ("B4_H1_T4", "sinkhorn(n_iters=5)"), ("B4_H1_T4", "qr"),
        ("layer_B4_H1_T4", "softmax_sdpa"), ("layer_B4_H1_T4", "softmax")}
    assert all(r["median_s"] > 0 for r in records)
    assert "time / softmax" in capsys.readouterr().out


def test_ratio_table_divides_by_the_baseline():
    table = ratio_table([Record("c", "base", 2.0), Record("c", "other", 5.0)], baseline="base")
    assert "2.50" in table and "1.00" in table
