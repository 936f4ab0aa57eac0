"""The attention benchmark runs end to end and writes the documented JSON (no timing asserts)."""

import json
import time

import pytest

from qdsformer.apps.bench.harness import Record, median_time, ratio_table
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


def test_attention_bench_times_qk_normalisers_and_the_linear_path(tmp_path):
    out = tmp_path / "attention.json"
    assert main(["bench", "attention", "--batch", "2", "--heads", "2", "--tokens", "8",
                 "--head-dim", "4", "--normalizers", "esp", "lot:r=3", "--repeats", "1",
                 "--no-layer", "--json", str(out)]) == 0
    impls = {r["impl"] for r in json.loads(out.read_text())}
    assert impls == {"softmax", "esp", "lot(r=3)", "lot(r=3)[attend]"}


def test_cpu_clock_counts_this_process_only(tmp_path):
    assert median_time(lambda: time.sleep(0.05), repeats=1, warmup=0, clock="cpu") < 0.04
    assert median_time(lambda: time.sleep(0.05), repeats=1, warmup=0, clock="wall") >= 0.05
    with pytest.raises(ValueError, match="clock"):
        median_time(lambda: None, clock="sundial")
    out = tmp_path / "a.json"
    assert main(["bench", "attention", "--batch", "2", "--heads", "1", "--tokens", "4",
                 "--normalizers", "qr", "--repeats", "1", "--clock", "cpu",
                 "--json", str(out)]) == 0
    assert json.loads(out.with_suffix(".meta.json").read_text())["clock"] == "cpu"
