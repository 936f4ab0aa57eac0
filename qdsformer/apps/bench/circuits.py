"""Circuit runners: time to estimate N QontOT matrices, against our exact torch simulator.

For each circuit spec (default: circuits/dsm4_small.yaml and circuits/dsm8_hardware.yaml) the
suite draws N score matrices, then times: ``exact`` (``qontot_dsm`` on the batch, the training
path), and for each runner one batch of N Bell-pair circuits through
``qdsformer.hardware.estimate_dsms`` (building, transpiling, sampling, reading out).
Prints each runner's median time / exact's and writes ``--json`` records; the ratio is the
price of hardware-in-the-loop attention per matrix.
"""

from __future__ import annotations

import argparse
import logging
from functools import partial

import torch

from qdsformer.apps.bench.harness import (
    Record,
    environment,
    limit_threads,
    median_time,
    ratio_table,
    write_json,
)
from qdsformer.apps.shared import add_renamed_option, quiet_qiskit_logs
from qdsformer.hardware import estimate_dsms, load_spec, make_runner, parse_backend, spec_ansatz
from qdsformer.quantum import encode_angles, qontot_dsm

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--specs", nargs="+",
                        default=["circuits/dsm4_small.yaml", "circuits/dsm8_hardware.yaml"])
    parser.add_argument("--circuits", type=int, default=16, help="N matrices per batch")
    parser.add_argument("--shots", type=int, default=1000)
    add_renamed_option(parser, "--runners", "--backends", nargs="+",
                       default=["statevector", "aer", "aer-noisy:fake_guadalupe"],
                       help="where the circuits run (the JSON records keep the key 'backend')")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default="results/circuits/bench_circuits.json", help="output path")


def run(args: argparse.Namespace) -> int:
    quiet_qiskit_logs(args)
    limit_threads(args.threads)
    if args.circuits < 1:
        raise ValueError(f"--circuits must be >= 1, got {args.circuits}")
    gen = torch.Generator().manual_seed(0)
    records: list[Record] = []
    for path in args.specs:
        spec = load_spec(path)
        ansatz = spec_ansatz(spec)
        theta = spec.theta_vector(ansatz.n_params)  # (n_params,)
        t = spec.n_tokens
        scores = torch.randn(args.circuits, t, t, generator=gen, dtype=torch.float64)  # (N, T, T)
        angles = encode_angles(scores, theta)  # (N, n_params)
        case = f"{spec.name}_N{args.circuits}_q{spec.n_circuit_qubits}"
        seconds = median_time(partial(qontot_dsm, scores, theta, ansatz), args.repeats)
        records.append(Record(case, "exact", seconds))
        for backend in args.runners:
            choice = parse_backend(backend)
            runner = make_runner(choice, seed=0, optimization_level=spec.run.optimization_level)
            if runner.num_qubits is not None and spec.n_circuit_qubits > runner.num_qubits:
                log.warning("skip %s on %s: needs %d qubits", backend, case,
                            spec.n_circuit_qubits)
                continue
            shots = None if choice.kind == "statevector" else args.shots
            estimate = partial(estimate_dsms, ansatz, angles, n_data_qubits=spec.n_data_qubits,
                               n_tokens=t, runner=runner, shots=shots, layout=spec.layout)
            seconds = median_time(estimate, args.repeats, warmup=0)
            records.append(Record(case, str(choice), seconds,
                                  {"shots": shots, "per_circuit_s": seconds / args.circuits}))
            log.info("%s %s %.2e s", case, choice, seconds)
    print(ratio_table(records, baseline="exact"))
    meta = environment() | {"suite": "circuits", "shots": args.shots, "circuits": args.circuits}
    path = write_json(records, args.json, meta=meta)
    print(f"wrote {path}")
    return 0
