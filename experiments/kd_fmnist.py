"""Student without KD vs KL vs SinKD on Fashion-MNIST, a reduced budget for one CPU core.

One softmax teacher (``qdsformer train``, depth 2) is trained once on the training subset;
then a 1-block Sinkformer student is distilled from it (``qdsformer distill`` through
:func:`qdsformer.train.distill.distill`) with three losses and three seeds each:

    none   CE only                              (ce_weight 1)
    kl     0.5 CE + 0.5 T^2 KL(teacher||student) (T = 4)
    sinkd  0.5 CE + 0.5 KD + 0.8 SinKD           (SinKD's weights; L1 cost, eps 0.1)

Writes ``results/kd/fmnist_runs.csv`` (one row per run) and ``results/kd/fmnist_table.md``
(mean +- std over seeds); the run folders go to ``results/kd/runs/`` (git-ignored). Finished
runs are skipped, so a killed sweep continues where it stopped.

    python experiments/kd_fmnist.py                       # the reported sweep
    python experiments/kd_fmnist.py --train-limit 2000 --epochs 1 --seeds 0   # a smoke run
    python experiments/kd_fmnist.py --quick --out /tmp/kd     # one step per run, in seconds
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

CONFIG = Path(__file__).parent / "configs" / "distill_fmnist.yaml"
MODES = {
    "none": ["distill.ce_weight=1.0", "distill.kd_weight=0.0", "distill.sinkd_weight=0.0"],
    "kl": ["distill.ce_weight=0.5", "distill.kd_weight=0.5", "distill.sinkd_weight=0.0"],
    "sinkd": ["distill.ce_weight=0.5", "distill.kd_weight=0.5", "distill.sinkd_weight=0.8"],
}



def _std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/kd", help="results folder")
    parser.add_argument("--train-limit", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=3, help="student epochs")
    parser.add_argument("--teacher-epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--teacher-dir", default=None,
                        help="teacher run folder to reuse or create (default <out>/runs/teacher)")
    parser.add_argument("--data-root", default=None,
                        help="folder holding Fashion-MNIST (data.root; default: where the "
                             "package finds it)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run in seconds: 100 training / validation / test images, "
                             "one epoch (one step) for teacher and students, seed 0")
    args = parser.parse_args(argv)
    if args.quick:
        args.train_limit, args.epochs, args.teacher_epochs, args.seeds = 100, 1, 1, [0]

    from qdsformer.train import distill, fit, load_config, load_distill_config

    out = Path(args.out)
    common = [f"data.train_limit={args.train_limit}", "run.progress=false"]
    if args.data_root is not None:
        common.append(f"data.root={args.data_root}")
    if args.quick:
        common += ["data.val_limit=100", "data.test_limit=100"]
    teacher_dir = Path(args.teacher_dir) if args.teacher_dir else out / "runs" / "teacher"
    if not (teacher_dir / "summary.json").exists():
        teacher_config = load_config(overrides=[
            "experiment=kd_teacher", "model.preset=qdsformer_fmnist", "model.depth=2",
            "attention.name=softmax", "data.name=fashion-mnist", "data.batch_size=100",
            "optim.lr=5e-4", "optim.schedule=none", f"optim.epochs={args.teacher_epochs}",
            *common])
        fit(teacher_config, run_dir=teacher_dir,
            resume=(teacher_dir / "checkpoint.pt").exists())
    teacher = json.loads((teacher_dir / "summary.json").read_text())

    rows = []
    for mode in args.modes:
        for seed in args.seeds:
            run_dir = out / "runs" / f"{mode}-seed{seed}"
            if not (run_dir / "summary.json").exists():
                config = load_distill_config(CONFIG, [
                    *MODES[mode], *common, f"optim.epochs={args.epochs}", f"run.seed={seed}",
                    f"teacher.checkpoint={teacher_dir}"])
                distill(config, run_dir=run_dir, resume=(run_dir / "config.yaml").exists())
            s = json.loads((run_dir / "summary.json").read_text())
            rows.append({"mode": mode, "seed": seed, "test_acc": s["test_acc"],
                         "val_acc": s["val_acc"], "train_seconds": round(s["train_seconds"], 1),
                         "teacher_test_acc": s["teacher_test_acc"]})
            print(f"{mode:>6} seed {seed}: test {s['test_acc']:.4f} val {s['val_acc']:.4f} "
                  f"({s['train_seconds']:.0f}s)", flush=True)

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "fmnist_runs.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        (f"Fashion-MNIST, {args.train_limit} training images; teacher softmax ViT depth 2, "
         f"{args.teacher_epochs} epochs: test accuracy {100 * teacher['test_acc']:.2f}%. "
         f"Student Sinkformer ViT depth 1, {args.epochs} epochs, seeds {args.seeds}."),
        "",
        "| student loss | test acc % (mean +- std) | val acc % (mean +- std) |",
        "|---|---|---|",
    ]
    for mode in args.modes:
        test = [100 * r["test_acc"] for r in rows if r["mode"] == mode]
        val = [100 * r["val_acc"] for r in rows if r["mode"] == mode]
        lines.append(f"| {mode} | {statistics.mean(test):.2f} +- {_std(test):.2f} | "
                     f"{statistics.mean(val):.2f} +- {_std(val):.2f} |")
    (out / "fmnist_table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
