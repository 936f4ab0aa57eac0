"""``qdsformer evaluate``: a trained QontOT ViT with attention estimated by circuit runners.

  qdsformer evaluate results/digits_qontot/run/ --runner aer aer-noisy:fake_nairobi \\
      --n-images 100 --shots 1000

Evaluates the checkpoint on the first N test images with the exact attention (our simulator)
and with the attention of the chosen layers (default: all) estimated by Bell-pair circuits on
each runner (hardware in the loop; ``--runner``, formerly ``--attention-backend``); prints
accuracy, agreement with the exact predictions and the attention error, and writes a JSON
file to results/circuits/ (or --out); its ``results`` holds one entry per runner (the key the
report reads as ``backend``). With ``--out`` set to the run folder itself, ``qdsformer
report`` puts the result beside the run's training metrics (per cell of a sweep, mean ± std
over seeds).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qdsformer.apps.shared import add_renamed_option, add_runner_arguments, quiet_qiskit_logs
from qdsformer.common.results import write_json
from qdsformer.hardware import check_shots, evaluate_attention_backends
from qdsformer.models import attention_layers, run_image_batch
from qdsformer.train.config import Config, from_dict
from qdsformer.train.validate import check_output_folder, validate_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="checkpoint file or run folder of a qontot model")
    add_renamed_option(parser, "--runner", "--attention-backend", nargs="+", required=True,
                       help="where the attention circuits run: statevector | aer | "
                            "aer-noisy:<fake> | ibm:<name> (one or more)")
    parser.add_argument("--n-images", type=int, default=100, help="first N test images")
    parser.add_argument("--split", default="test", help="data split (default: test)")
    parser.add_argument("--shots", type=int, default=1000, help="shots per circuit")
    parser.add_argument("--layers", type=int, nargs="+", default=None,
                        help="attention layer indices to estimate (default: all)")
    parser.add_argument("--mitigate", action="store_true",
                        help="project estimated attention onto the Birkhoff polytope")
    add_runner_arguments(parser)
    parser.add_argument("--out", default="results/circuits", help="output folder")


def run(args: argparse.Namespace) -> int:
    quiet_qiskit_logs(args)
    check_shots(args.shots)
    seed = 0 if args.seed is None else args.seed
    level = 1 if args.optimization_level is None else args.optimization_level
    if args.n_images < 1:
        raise ValueError(f"--n-images must be >= 1, got {args.n_images}")
    check_output_folder(args.out, "--out")  # before any circuit runs, without creating it
    (config, model, _), images, labels = run_image_batch(args.checkpoint, args.split,
                                                         args.n_images)
    # the run's saved config through the one pipeline: a damaged or hand-edited one fails here
    validate_config(from_dict(Config, config), args.out, check_device=False)
    all_layers = attention_layers(model)
    indices = list(range(len(all_layers))) if args.layers is None else args.layers
    for k in indices:
        if not 0 <= k < len(all_layers):
            raise ValueError(f"--layers: index {k} out of range; the model has "
                             f"{len(all_layers)} attention layers (0..{len(all_layers) - 1})")
    data = config["data"]
    n = images.shape[0]
    results = evaluate_attention_backends(
        model, [all_layers[k] for k in indices], images, labels, args.runner,
        args.shots, seed=seed, optimization_level=level, mitigate=args.mitigate,
        dynamical_decoupling=bool(args.dynamical_decoupling), twirling=bool(args.twirling),
        readout_mitigation=bool(args.readout_mitigation), ibm_channel=args.ibm_channel)
    record = {"checkpoint": str(args.checkpoint), "dataset": data["name"], "split": args.split,
              "n_images": n, "shots": args.shots, "layers": indices, "mitigate": args.mitigate,
              "readout_mitigation": bool(args.readout_mitigation),
              "seed": seed, "attention": config["attention"], "results": results}
    run_name = Path(args.checkpoint).resolve()
    run_name = run_name.parent.name if run_name.is_file() else run_name.name
    out = Path(args.out) / (f"evaluate__{run_name}__n{n}__shots{args.shots}"
                            + (f"__{args.split}" if args.split != "test" else "")
                            + ("__readout" if args.readout_mitigation else "")
                            + ("__mitigated" if args.mitigate else "") + ".json")
    write_json(record, out, indent=1)
    print(f"{n} {args.split} images of {data['name']}, layers {indices}, {args.shots} shots"
          + (", readout-mitigated" if args.readout_mitigation else "")
          + (", Birkhoff-mitigated" if args.mitigate else ""))
    print(f"{'attention':>28} {'accuracy':>9} {'agreement':>10} {'attn_frob_mean':>15}")
    for name, res in results.items():
        frob = res.get("attention_frobenius_mean")
        frob_text = "-" if frob is None else " ".join(f"{v:.3f}" for v in frob)
        print(f"{name:>28} {res['accuracy']:>9.4f} {res['agreement']:>10.4f} {frob_text:>15}")
    print(f"wrote {out}")
    return 0
