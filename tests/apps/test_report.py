"""``qdsformer report``: grouping, mean / sample std against hand-computed values, paper gap."""

import csv
import json
import math
from pathlib import Path

import pytest
import yaml

from qdsformer.apps.report import aggregate, collect_runs, compare_to_paper, load_paper_table
from qdsformer.apps.report.aggregate import mean_std
from qdsformer.cli import main


def make_run(root: Path, sweep: str, cell: str, seed: int, config: dict, val_accs: list,
             test_acc: float, finished: bool = True) -> Path:
    run_dir = root / sweep / cell / f"seed{seed}"
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    with (run_dir / "metrics.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["epoch", "val_acc", "epoch_seconds"])
        writer.writeheader()
        for epoch, acc in enumerate(val_accs, 1):
            writer.writerow({"epoch": epoch, "val_acc": acc, "epoch_seconds": 10.0})
    if finished:
        (run_dir / "summary.json").write_text(json.dumps({
            "finished": True, "val_acc": val_accs[-1], "best_val_acc": max(val_accs),
            "test_acc": test_acc, "train_seconds": 10.0 * len(val_accs)}))
    return run_dir


def cfg(name: str, depth: int = 2, layers: int | None = None) -> dict:
    kwargs = {} if layers is None else {"n_layers": layers}
    return {"data": {"name": "fashion-mnist"}, "model": {"depth": depth},
            "attention": {"name": name, "kwargs": kwargs}}


@pytest.fixture
def results(tmp_path):
    make_run(tmp_path, "cmp", "softmax", 0, cfg("softmax"), [0.80, 0.88], 0.87)
    make_run(tmp_path, "cmp", "softmax", 1, cfg("softmax"), [0.82, 0.86], 0.85)
    make_run(tmp_path, "cmp", "softmax", 2, cfg("softmax"), [0.81, 0.90], 0.89)
    make_run(tmp_path, "cmp", "qontot", 0, cfg("qontot", layers=8), [0.85, 0.91], 0.90)
    make_run(tmp_path, "cmp", "qontot", 1, cfg("qontot", layers=8), [0.84, 0.89], 0.88)
    make_run(tmp_path, "cmp", "qontot", 2, cfg("qontot", layers=8), [0.5], 0.0, finished=False)
    return tmp_path


def test_mean_and_sample_std_by_hand():
    mean, std = mean_std([0.88, 0.86, 0.90])
    assert mean == pytest.approx(0.88)
    assert std == pytest.approx(math.sqrt((0.0 + 0.0004 + 0.0004) / 2))  # ddof = 1
    assert mean_std([0.5]) == (0.5, None)
    with pytest.raises(ValueError):
        mean_std([])


def test_groups_by_cell_and_counts_unfinished(results):
    groups = {g.name: g for g in aggregate(collect_runs([results]))}
    assert set(groups) == {"cmp/softmax", "cmp/qontot"}
    soft, quantum = groups["cmp/softmax"], groups["cmp/qontot"]
    assert (soft.n, soft.unfinished, quantum.n, quantum.unfinished) == (3, 0, 2, 1)
    assert soft.stat("test_acc")[0] == pytest.approx(0.87)
    assert soft.stat("test_acc")[1] == pytest.approx(0.02)
    assert soft.stat("best_val_acc")[0] == pytest.approx((0.88 + 0.86 + 0.90) / 3)
    assert soft.best_epoch() == (2.0, 0.0)
    epochs, means, stds = soft.curve()
    assert epochs == [1, 2] and means[0] == pytest.approx(0.81) and stds[0] == pytest.approx(0.01)


def test_paper_comparison_gap_in_units_of_our_std(results):
    table = load_paper_table("table1")
    rows = {r["column"]: r for r in compare_to_paper(aggregate(collect_runs([results])), table)}
    soft = rows["softmax"]  # paper: fashion-mnist, 2 layers, 88.9 +- 0.1
    assert soft["row"] == "fashion-mnist / 2" and soft["n"] == 3
    assert soft["ours_mean"] == pytest.approx(88.0) and soft["ours_std"] == pytest.approx(2.0)
    assert soft["gap_in_our_std"] == pytest.approx((88.0 - 88.9) / 2.0)
    assert rows["qontot"]["ours_mean"] == pytest.approx(90.0) and rows["qontot"]["n"] == 2
    with pytest.raises(ValueError, match="unknown paper table"):
        load_paper_table("table99")


def test_report_command_writes_tables_and_figures(results, capsys):
    out = results / "rep"
    assert main(["report", str(results / "cmp"), "--paper", "table1", "--paper", "table_a3",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "| cmp/softmax | 3 | 88.00 ± 2.00 |" in text
    assert "paper 88.9 ± 0.1" in text and "(+1 unfinished)" in text
    for name in ("report.md", "cells.csv", "paper_table1.csv", "paper_table_a3.csv",
                 "curves_cmp.png", "depth_fashion-mnist_2.png"):
        assert (out / name).stat().st_size > 0, name
    rows = list(csv.DictReader((out / "cells.csv").open()))
    assert float(rows[0]["val_acc_mean"]) in (pytest.approx(0.88), pytest.approx(0.90))


def test_versus_baseline_gap_and_welch_by_hand(results):
    from qdsformer.apps.report.compare import versus_baseline

    groups = aggregate(collect_runs([results]))
    rows = versus_baseline(groups, ("data.name", "model.depth"), "attention.name", "val_acc",
                           baseline="softmax")
    assert [r["column"] for r in rows] == ["qontot"]
    row = rows[0]  # qontot 91, 89 against softmax 88, 86, 90 (final val acc, %)
    assert row["difference"] == pytest.approx(90.0 - 88.0)
    pooled = math.sqrt((2.0 + 4.0) / 2)  # sample variances 2 and 4
    assert row["in_pooled_std"] == pytest.approx(2.0 / pooled)
    assert row["welch_t"] == pytest.approx(2.0 / math.sqrt(2.0 / 2 + 4.0 / 3))
    assert 0.0 < row["p_value"] < 1.0 and (row["n"], row["n_baseline"]) == (2, 3)


def write_evaluation(run_dir: Path, exact: float, noisy: float, agreement: float,
                     frob: list[float], n_images: int = 100) -> None:
    """An evaluate__*.json as ``qdsformer evaluate --out <run_dir>`` writes it."""
    record = {"checkpoint": str(run_dir), "dataset": "fashion-mnist", "split": "test",
              "n_images": n_images, "shots": 1000, "layers": [0, 1], "mitigate": False,
              "readout_mitigation": False, "seed": 0, "attention": {"name": "qontot"},
              "results": {"exact": {"accuracy": exact, "agreement": 1.0},
                          "aer-noisy:fake_torino": {
                              "accuracy": noisy, "agreement": agreement,
                              "attention_frobenius_mean": frob,
                              "attention_frobenius_max": [2 * f for f in frob],
                              "circuits_per_layer": n_images, "facts": {}}}}
    (run_dir / f"evaluate__{run_dir.name}__n{n_images}__shots1000.json").write_text(
        json.dumps(record))


@pytest.fixture
def noise_results(tmp_path):
    """A sweep of variants, 'exact' and 'shots100', each seed evaluated on a noisy backend."""
    runs = {("exact", 0): ([0.86], 0.85, 0.84, 0.80, 0.90),
            ("exact", 1): ([0.88], 0.86, 0.86, 0.78, 0.88),
            ("exact", 2): ([0.87], 0.84, 0.85, 0.81, 0.92),
            ("shots100", 0): ([0.84], 0.83, 0.82, 0.81, 0.96),
            ("shots100", 1): ([0.83], 0.82, 0.83, 0.83, 0.97),
            ("shots100", 2): ([0.85], 0.84, 0.84, 0.82, 0.95)}
    for (cell, seed), (val, test, exact, noisy, agree) in runs.items():
        run_dir = make_run(tmp_path, "nz", cell, seed, cfg("qontot", layers=2), val, test)
        write_evaluation(run_dir, exact, noisy, agree, [0.3 + 0.01 * seed, 0.4])
    return tmp_path


def test_evaluations_are_read_and_summarised_per_cell(noise_results):
    from qdsformer.apps.report.render import evaluation_rows

    groups = {g.name: g for g in aggregate(collect_runs([noise_results]))}
    label = "aer-noisy:fake_torino (100 test images, 1000 shots)"
    assert groups["nz/exact"].evaluation_labels() == [label]
    rows = {r["cell"]: r for r in evaluation_rows(list(groups.values()))}
    exact = rows["nz/exact"]
    assert exact["n"] == 3
    assert exact["lost_mean"] == pytest.approx((0.04 + 0.08 + 0.04) / 3)
    assert exact["lost_std"] == pytest.approx(mean_std([0.04, 0.08, 0.04])[1])
    assert exact["agreement_mean"] == pytest.approx(0.90)
    assert exact["attention_frobenius_mean"] == pytest.approx(0.355)  # (0.35 + 0.005 k) over k
    assert rows["nz/shots100"]["lost_mean"] == pytest.approx(0.01)


def test_cells_against_a_baseline_cell_without_a_paper_table(noise_results):
    from scipy import stats

    from qdsformer.apps.report.compare import versus_cells

    groups = aggregate(collect_runs([noise_results]))
    rows = versus_cells(groups, "val_acc", baseline="exact")
    assert [(r["row"], r["column"]) for r in rows] == [("nz", "shots100")]
    ours, base = [84.0, 83.0, 85.0], [86.0, 88.0, 87.0]
    assert rows[0]["difference"] == pytest.approx(84.0 - 87.0)
    assert rows[0]["p_value"] == pytest.approx(
        stats.ttest_ind(ours, base, equal_var=False).pvalue)
    label = "aer-noisy:fake_torino (100 test images, 1000 shots)"
    lost = versus_cells(groups, "lost", baseline="exact",
                        values=lambda g: g.evaluation_values(label, "lost"))
    assert lost[0]["difference"] == pytest.approx(100 * (0.01 - 0.16 / 3))
    assert versus_cells(groups, "val_acc", baseline="absent") == []


def test_report_command_shows_evaluations_and_the_baseline_comparison(noise_results, capsys,
                                                                      caplog):
    out = noise_results / "rep"
    assert main(["report", str(noise_results / "nz"), "--baseline", "exact", "--out", str(out),
                 "--no-figures"]) == 0
    text = capsys.readouterr().out
    assert "## Attention from circuit backends" in text
    assert ("| nz/exact | aer-noisy:fake_torino (100 test images, 1000 shots) | 3 | "
            "85.00 ± 1.00 | 79.67 ± 1.53 | 5.33 ± 2.31 | 90.00 ± 2.00 |") in text
    assert "| row | cell | Δ vs exact (points)" in text
    assert "| nz | shots100 | -3.00 |" in text  # val acc against exact
    for name in ("evaluations.csv", "versus_exact_val_acc.csv", "versus_exact_test_acc.csv",
                 "versus_exact_lost_on_aer-noisy_fake_torino_100_test_images_1000_shots.csv"):
        assert (out / name).stat().st_size > 0, name
    damaged = noise_results / "nz" / "exact" / "seed0" / "evaluate__bad.json"
    damaged.write_text("{}")  # skipped with a warning; the seed's other evaluations stay
    groups = {g.name: g for g in aggregate(collect_runs([noise_results / "nz"]))}
    assert groups["nz/exact"].evaluation_values(
        "aer-noisy:fake_torino (100 test images, 1000 shots)", "accuracy") == [0.80, 0.78, 0.81]
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"skipped an evaluation file: {damaged}: wrong shape (KeyError: 'results')"]
