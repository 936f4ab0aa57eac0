"""Compare attention normalisers on an input set: soundness, diversity, information, entropy.

Runs the operator study of QDSFormer (Born et al., 2025, section 3) and writes, to --out
(default results/analysis/<inputs>): metrics.csv (long form: operator, setting, metric, value),
metrics.json (the same plus the run's settings) and three figures: entropy vs information kept,
Birkhoff distance per operator, unique outputs vs circuit layers.

Examples:
  qdsformer analyze                                   # the 625-matrix sphere grid, all operators
  qdsformer analyze --inputs hypercube --n-samples 2000
  qdsformer analyze --inputs checkpoint --checkpoint results/fmnist_qontot/run0
  qdsformer analyze --operators softmax sinkhorn:n_iters=21 qontot:n_layers=2,n_aux_qubits=3
  qdsformer analyze --operators default qr:noise_std=1e-7   # the defaults plus one more
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from qdsformer.analysis import checkpoint_scores, figures, inputs
from qdsformer.analysis.study import default_settings, parse_setting, run_study, summary_table
from qdsformer.common.results import write_csv, write_json

log = logging.getLogger(__name__)

INPUT_SETS = ("sphere", "hypercube", "random", "checkpoint")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--inputs", choices=INPUT_SETS, default="sphere",
                        help="input set: the 625-matrix 4x4 unit-sphere grid (default), a sample "
                             "of the 3^16 hypercube grid, Gaussian scores, or the scores of a "
                             "trained checkpoint")
    parser.add_argument("--n-samples", type=int, default=1000,
                        help="matrices drawn for --inputs hypercube / random, images for "
                             "checkpoint (default 1000)")
    parser.add_argument("--size", type=int, default=8,
                        help="matrix size n for --inputs random (default 8)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="standard deviation of the random scores (default 1)")
    parser.add_argument("--checkpoint", default=None,
                        help="checkpoint file or run folder for --inputs checkpoint")
    parser.add_argument("--split", default="test", help="data split for checkpoint inputs")
    parser.add_argument("--data-root", default=None,
                        help="checkpoint inputs: dataset folder, overriding the checkpoint's")
    parser.add_argument("--block", type=int, default=None,
                        help="checkpoint inputs: only this attention block (default: all)")
    parser.add_argument("--operators", nargs="+", default=None, metavar="SPEC",
                        help="operators as name[:key=value,...]; the word 'default' stands "
                             "for every registered normaliser, sinkhorn at 3 and 21 iterations "
                             "and qontot over --qontot-layers x --qontot-aux (the default)")
    parser.add_argument("--qontot-layers", type=int, nargs="+", default=[1, 2, 4, 8, 16],
                        help="circuit depths for the default qontot settings")
    parser.add_argument("--qontot-aux", type=int, nargs="+", default=[0, 2, 4],
                        help="auxiliary qubit counts for the default qontot settings")
    parser.add_argument("--param-draws", type=int, default=4,
                        help="random parameter draws of parametric operators, for the per-cell "
                             "range (default 4)")
    parser.add_argument("--decimals", type=int, default=3,
                        help="rounding for counting unique outputs (default 3)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="precision of inputs and operators (default float64, so that "
                             "distances measure the operator, not float32 rounding)")
    parser.add_argument("--seed", type=int, default=0, help="seed of samples and parameters")
    parser.add_argument("--out", default=None,
                        help="output folder (default results/analysis/<inputs>)")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")


def load_inputs(args: argparse.Namespace) -> tuple[torch.Tensor, str]:
    """The input set chosen on the command line, (N, n, n), and a one-line description."""
    dtype = getattr(torch, args.dtype)
    if args.inputs == "sphere":
        return inputs.sphere_grid(dtype=dtype), "625 4x4 matrices, columns unit grid vectors"
    if args.inputs == "hypercube":
        scores = inputs.hypercube_grid(n_samples=args.n_samples, seed=args.seed, dtype=dtype)
        return scores, f"{args.n_samples} of the 3^16 4x4 hypercube grid, seed {args.seed}"
    if args.inputs == "random":
        scores = inputs.random_scores(args.n_samples, args.size, args.scale, args.seed, dtype)
        return scores, f"{args.n_samples} Gaussian {args.size}x{args.size}, std {args.scale}"
    if args.checkpoint is None:
        raise ValueError("--inputs checkpoint needs --checkpoint PATH (file or run folder)")
    return checkpoint_scores(args.checkpoint, args.n_samples, args.split, args.block, dtype,
                             root=args.data_root)


def write_outputs(result, out: Path, meta: dict, draw_figures: bool = True) -> list[Path]:
    """Write metrics.csv, metrics.json and (optionally) the figures; return the paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "metrics.csv", out / "metrics.json"]
    write_csv(result.rows, paths[0], fieldnames=["operator", "setting", "metric", "value"])
    write_json({**meta, "rows": result.rows}, paths[1], indent=1)
    if draw_figures:
        plt = figures.pyplot()
        for name, draw in (("entropy_vs_information.png", figures.entropy_vs_information),
                           ("birkhoff_distance.png", figures.birkhoff_distance_per_operator),
                           ("uniqueness_vs_layers.png", figures.uniqueness_vs_layers)):
            figure = draw(result, out / name)
            paths.append(out / name)
            plt.close(figure)
    return paths


def run(args: argparse.Namespace) -> int:
    if args.n_samples < 1:
        raise ValueError(f"--n-samples must be >= 1, got {args.n_samples}")
    if args.param_draws < 1:
        raise ValueError(f"--param-draws must be >= 1, got {args.param_draws}")
    settings = []
    for spec in args.operators or ["default"]:
        extra = (default_settings(args.qontot_layers, args.qontot_aux) if spec == "default"
                 else [parse_setting(spec)])
        settings += [s for s in extra if s not in settings]
    scores, description = load_inputs(args)
    out = Path(args.out) if args.out else Path("results") / "analysis" / args.inputs
    print(f"inputs: {description}; {len(settings)} operator settings")

    bar = tqdm(total=len(settings), desc="analyze", unit="op", file=sys.stderr,
               disable=not sys.stderr.isatty())

    started: list[str] = []

    def progress(label: str) -> None:  # called before each setting
        if started:
            bar.update(1)
        started.append(label)
        bar.set_postfix_str(label)

    result = run_study(scores, settings, param_draws=args.param_draws, decimals=args.decimals,
                       seed=args.seed, progress=progress)
    bar.update(bar.total - bar.n)
    bar.close()
    meta = {"inputs": args.inputs, "description": description,
            "n_matrices": int(scores.shape[0]), "matrix_size": int(scores.shape[-1]),
            "decimals": args.decimals, "param_draws": args.param_draws, "seed": args.seed,
            "dtype": args.dtype, "operators": [s.label for s in settings]}
    paths = write_outputs(result, out, meta, draw_figures=not args.no_figures)
    print(summary_table(result))
    print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0
