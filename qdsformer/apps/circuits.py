"""``qdsformer circuits``: run QontOT Bell-pair circuits on simulators / IBM backends, export QASM.

  qdsformer circuits run circuits/dsm4_small.yaml --runner aer-noisy:fake_nairobi --shots 4000
  qdsformer circuits sweep circuits/dsm4_small.yaml --runner aer aer-noisy:fake_nairobi \
      --shots 100 1000 10000
  qdsformer circuits export circuits/dsm8_hardware.yaml circuits/dsm4_small.yaml
  qdsformer circuits grad circuits/dsm4_small.yaml --runner aer --shots 10000

Runners (``--runner``, formerly ``--backend``; a spec file's ``run.backend`` and the JSON's
``backend`` keep their names): exact, statevector, aer, aer-noisy:<fake backend>,
ibm:<backend> (IBM account from
the saved Qiskit account or QISKIT_IBM_TOKEN / QISKIT_IBM_INSTANCE; ``--ibm-channel local``
runs ibm:<fake backend> offline). ``run`` writes <spec>__<backend>__<shots>.json and .png,
``sweep`` <spec>__<backends>__sweep.json/.csv/.png, ``grad`` (parameter-shift dP/dtheta and
dP/dM with shot-noise standard errors, beside our simulator's autograd gradients)
<spec>__<backend>__<shots>__grad.json, into results/circuits/ (or --out).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from qdsformer.apps.shared import (
    add_renamed_option,
    add_runner_arguments,
    quiet_qiskit_logs,
    runner_kwargs,
)
from qdsformer.common.results import atomic_write_text, write_csv, write_json
from qdsformer.hardware import (
    bell_readout_circuit,
    check_qubit_budget,
    fake_backend,
    load_spec,
    parameter_shift,
    parse_backend,
    run_dsm,
    shots_sweep,
    spec_angles,
    spec_ansatz,
    summarize,
    summarize_shift,
)
from qdsformer.hardware.figures import plot_run, plot_sweep


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="circuit spec YAML, e.g. circuits/dsm4_small.yaml")
    add_runner_arguments(parser)
    parser.add_argument("--out", default="results/circuits",
                        help="output folder (default: results/circuits)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="circuits_command", metavar="ACTION", required=True)
    run_p = sub.add_parser("run", help="estimate the DSM of a spec on one runner; JSON + PNG")
    _common(run_p)
    add_renamed_option(run_p, "--runner", "--backend", default=None,
                       help="where the circuits run: exact | statevector | aer | "
                            "aer-noisy:<fake> | ibm:<name> (default: the spec's run.backend)")
    run_p.add_argument("--shots", type=int, default=None, help="shots (default: the spec's)")
    sweep_p = sub.add_parser("sweep", help="estimate error vs shots; JSON + CSV + PNG")
    _common(sweep_p)
    add_renamed_option(sweep_p, "--runner", "--backend", nargs="+", default=None,
                       help="one or more runners (default: the spec's run.backend)")
    sweep_p.add_argument("--shots", type=int, nargs="+", required=True,
                         help="shot counts, e.g. 100 1000 10000")
    grad_p = sub.add_parser("grad", help="parameter-shift gradients of the DSM; JSON")
    _common(grad_p)
    add_renamed_option(grad_p, "--runner", "--backend", default=None,
                       help="where the circuits run: exact | statevector | aer | "
                            "aer-noisy:<fake> | ibm:<name> (default: the spec's run.backend)")
    grad_p.add_argument("--shots", type=int, default=None,
                        help="shots per circuit, 2G + 1 circuits (default: the spec's)")
    export_p = sub.add_parser("export", help="write OpenQASM 3 of the Bell-pair circuits")
    export_p.add_argument("specs", nargs="+", help="circuit spec YAML files")
    export_p.add_argument("--out", default="circuits", help="output folder (default: circuits)")
    add_renamed_option(export_p, "--runner", "--backend", default=None,
                       help="also write the ISA circuit transpiled for aer-noisy:<fake>")
    export_p.add_argument("--seed", type=int, default=None, help="transpiler seed")
    export_p.add_argument("--optimization-level", type=int, default=None, choices=(0, 1, 2, 3))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text)


def _tags(record: dict) -> str:
    """File-name suffix for the error-suppression / mitigation options of a run."""
    on = [("readout", record.get("readout_mitigation")),
          ("dd", record.get("dynamical_decoupling")), ("twirl", record.get("twirling"))]
    return "".join(f"__{name}" for name, flag in on if flag)


def _record_stem(out: str, spec_name: str, record: dict) -> tuple[Path, str]:
    """``<out>/<spec>__<backend>__<shots><tags>`` of one run's record, and its shots in words."""
    stem = Path(out) / (f"{spec_name}__{_slug(record['backend'])}__"
                        f"{record['shots'] or 'exact'}{_tags(record)}")
    return stem, f"{record['shots']} shots" if record["shots"] else "exact probabilities"


def _cmd_run(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    result = run_dsm(spec, backend=args.runner, shots=args.shots, **runner_kwargs(args))
    record = summarize(result)
    stem, shots = _record_stem(args.out, spec.name, record)
    write_json(record, stem.with_suffix(".json"), indent=1)
    plot_run(record, stem.with_suffix(".png"))
    print(f"{spec.name} on {record['backend']} ({shots}, {spec.n_circuit_qubits} qubits)")
    print(f"  Frobenius to exact P: raw {record['frobenius_raw']:.4f}, "
          f"mitigated {record['frobenius_mitigated']:.4f}"
          + (f" (ideal shot noise ~{record['shot_noise_frobenius']:.4f})"
             if record["shot_noise_frobenius"] is not None else ""))
    print(f"  Spearman to exact P:  raw {record['spearman_raw']:.4f}, "
          f"mitigated {record['spearman_mitigated']:.4f}")
    print(f"  entropy: exact {record['entropy_exact']:.4f}, raw {record['entropy_raw']:.4f}, "
          f"mitigated {record['entropy_mitigated']:.4f}")
    print(f"wrote {stem.with_suffix('.json')} and {stem.with_suffix('.png')}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    backends = args.runner or [spec.run.backend]
    rows = [row for backend in backends
            for row in shots_sweep(spec, backend=backend, shots_list=args.shots,
                                      **runner_kwargs(args))]
    stem = Path(args.out) / (f"{spec.name}__{'+'.join(_slug(b) for b in backends)}__sweep"
                             f"{_tags(rows[0])}")
    write_json(rows, stem.with_suffix(".json"), indent=1)
    write_csv(rows, stem.with_suffix(".csv"))
    plot_sweep(rows, stem.with_suffix(".png"))
    print(f"{'backend':>24} {'shots':>8} {'frob_raw':>10} {'frob_mit':>10} {'shot_noise':>10} "
          f"{'spear_raw':>10} {'entropy_raw':>11}")
    for r in rows:
        noise = r["shot_noise_frobenius"]
        print(f"{r['backend']:>24} {r['shots']:>8} {r['frobenius_raw']:>10.4f} "
              f"{r['frobenius_mitigated']:>10.4f} "
              f"{'-' if noise is None else f'{noise:.4f}':>10} {r['spearman_raw']:>10.4f} "
              f"{r['entropy_raw']:>11.4f}")
    print(f"wrote {stem.with_suffix('.json')}, .csv and .png")
    return 0


def _cmd_grad(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    result = parameter_shift(spec, backend=args.runner, shots=args.shots, **runner_kwargs(args))
    record = summarize_shift(result)
    stem, shots = _record_stem(args.out, spec.name, record)
    path = stem.with_name(stem.name + "__grad.json")
    write_json(record, path, indent=1)
    print(f"{spec.name} on {record['backend']} ({shots}): {record['n_params']} parameters, "
          f"{record['n_gates']} gates, {record['n_circuits']} circuits in one batch, "
          f"{record['seconds']:.2f} s")
    print(f"  dP/dtheta vs autograd: max abs error {record['max_abs_error_theta']:.3g}, "
          f"rms {record['rms_error_theta']:.3g}; dP/dM max abs error "
          f"{record['max_abs_error_scores']:.3g}")
    if record["shots"]:
        print(f"  shot noise: mean stderr(dP/dtheta) {record['mean_stderr_theta']:.3g}, "
              f"max |error| / stderr {record['max_abs_z']:.2f}, mean (error / stderr)^2 "
              f"{record['mean_z2']:.2f}")
    print(f"wrote {path}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from qiskit import qasm3

    target = None
    if args.runner is not None:
        choice = parse_backend(args.runner)
        if choice.kind != "aer-noisy":
            raise ValueError(f"export --runner takes aer-noisy:<fake backend>, got "
                             f"{args.runner!r}")
        target = fake_backend(choice.name)
    out = Path(args.out)
    for path in args.specs:
        spec = load_spec(path)
        circuit = bell_readout_circuit(spec_ansatz(spec), spec_angles(spec),
                                       n_data_qubits=spec.n_data_qubits, layout=spec.layout)
        written = [out / f"{spec.name}.qasm"]
        atomic_write_text(written[0], qasm3.dumps(circuit))
        if target is not None:
            from qiskit.transpiler import generate_preset_pass_manager

            check_qubit_budget(spec, target.num_qubits, target.name)
            level = spec.run.optimization_level if args.optimization_level is None \
                else args.optimization_level
            seed = spec.run.seed if args.seed is None else args.seed
            pm = generate_preset_pass_manager(backend=target, optimization_level=level,
                                              seed_transpiler=seed)
            written.append(out / f"{spec.name}.{target.name}.qasm")
            atomic_write_text(written[1], qasm3.dumps(pm.run(circuit)))
        print(f"{spec.name}: {spec.n_circuit_qubits} qubits, depth {circuit.depth()} -> "
              + ", ".join(str(p) for p in written))
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch ``run`` / ``sweep`` / ``grad`` / ``export``."""
    quiet_qiskit_logs(args)
    return {"run": _cmd_run, "sweep": _cmd_sweep, "grad": _cmd_grad, "export": _cmd_export}[
        args.circuits_command](args)
