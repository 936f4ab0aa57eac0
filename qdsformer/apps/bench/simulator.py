"""Quantum circuit simulators: our torch simulator vs PennyLane default.qubit vs Qiskit Aer.

On identical circuits (``qdsformer.quantum.get_ansatz``) and angles, for ``--matrices``
(B*H) circuits per case, q in ``--qubits`` and L in ``--layers``, each framework computes
W = |V|^2 (the 2^q x 2^q probability matrix the QontOT readout block-sums):

- ``ours``: ``ansatz.unitary`` on the whole batch, forward (``ours_fwd``) and forward +
  backward of sum(W * R) to the angles (``ours``).
- ``pennylane``: ``default.qubit``, torch interface, backprop, parameter broadcasting over
  (matrix, input basis state) pairs; ``qml.probs`` gives W column by column; forward +
  backward. The slow frameworks are timed on ``--subset`` (PennyLane) / ``--aer-subset``
  circuits and scaled linearly to the full batch (``extra.timed_matrices``,
  ``extra.scaled_by``).
- ``aer``: ``AerSimulator(method="unitary")``, one thread, precision matching ours (single
  for float32), forward only (Aer has no gradients); circuits are bound and run per call.
- ``lightning``: PennyLane ``lightning.qubit`` (compiled C++ state vectors), the strongest CPU
  peer: forward (``lightning_fwd``, probabilities) and forward + adjoint-method backward of a
  diagonal observable (``lightning``), all columns of V at once as one 2q-qubit state per
  circuit (:func:`qdsformer.apps.bench.peers.lightning_step`), timed on ``--lightning-subset``
  circuits and scaled. ``extra.max_abs_grad_diff_to_ours`` compares
  its gradient with ours for the same loss.
- ``--device cuda`` adds ``lightning_gpu`` (PennyLane lightning.gpu) and ``aer_gpu``
  (qiskit-aer's GPU unitary simulator) where installed; missing ones are skipped with a log
  line.

Limit: the run first times a large batched complex64 matmul on the same device
(``peak`` record, :func:`qdsformer.apps.bench.peers.complex64_peak`); our records carry the
real flops of the products they run (:func:`qdsformer.quantum.simulator.simulation_flops`),
the achieved GFLOP/s and the fraction of that peak.

Each record's ``extra.max_abs_diff_to_ours`` checks the frameworks agree on W. Ratios print
as time / ours; ``ours_fwd`` is the like-for-like baseline for ``aer``.

Memory: bytes saved for backward (via ``torch.autograd.graph.saved_tensors_hooks``, unique
storages) of angles -> P at ``--memory-layers`` (default 4 and 16) for ours, with a naive
gate-by-gate autograd simulator as the reference that keeps every intermediate state.

Training step: one Adam step (forward, backward, update) of the fmnist_qontot ViT
(``qdsformer_fmnist``, depth 2, q_a = 4, 16 layers, batch 100) against the same ViT with
softmax. ``--compile`` times each case a second time under ``torch.compile``
(:func:`qdsformer.train.compile.compile_model`, what ``run.compile`` does), labelled
``<case>_compiled``, after one untimed compiling step; ``extra.compile_seconds`` is that
step's wall time.
"""

from __future__ import annotations

import argparse
import logging
import time

import torch

from qdsformer.apps.bench.harness import (
    Record,
    environment,
    limit_threads,
    median_time,
    ratio_table,
    write_json,
)
from qdsformer.apps.bench.peers import (
    aer_gpu_unavailable,
    complex64_peak,
    lightning_step,
    lightning_unavailable,
)
from qdsformer.models import create_vit
from qdsformer.quantum import dsm_from_probs, get_ansatz
from qdsformer.quantum.fusion import CHAIN_MAX_SIZE
from qdsformer.quantum.reference import naive_unitary, saved_tensor_bytes
from qdsformer.quantum.simulator import (
    BACKWARD_FUSE_MAX_WIDTH,
    FUSE_MAX_WIDTH,
    fusion_width,
    simulation_flops,
)
from qdsformer.train.compile import compile_model
from qdsformer.train.device import resolve_device

log = logging.getLogger(__name__)

FRAMEWORKS = ("ours", "pennylane", "aer", "lightning")
GPU_FRAMEWORKS = ("lightning_gpu", "aer_gpu")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--matrices", type=int, default=200, help="circuits per case (B*H)")
    parser.add_argument("--qubits", type=int, nargs="+", default=[3, 5, 7])
    parser.add_argument("--layers", type=int, nargs="+", default=[1, 8, 16])
    parser.add_argument("--ansatz", default="simple")
    parser.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS),
                        choices=FRAMEWORKS)
    parser.add_argument("--subset", type=int, default=4,
                        help="circuits actually timed for PennyLane (scaled linearly)")
    parser.add_argument("--aer-subset", type=int, default=20,
                        help="circuits actually timed for Aer (scaled linearly)")
    parser.add_argument("--lightning-subset", type=int, default=4,
                        help="circuits actually timed for PennyLane lightning (scaled linearly)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-layers", type=int, nargs="*", default=[4, 16],
                        help="depths for the saved-for-backward memory comparison ([] skips)")
    parser.add_argument("--memory-qubits", type=int, default=7)
    parser.add_argument("--memory-matrices", type=int, default=20,
                        help="circuits in the memory comparison (the naive reference keeps "
                             "every state: 96 x 2.6 MB at q=7, 16 layers, 20 circuits)")
    parser.add_argument("--train-step", action=argparse.BooleanOptionalAction, default=True,
                        help="time one fmnist_qontot ViT training step vs softmax")
    parser.add_argument("--compile", action="store_true",
                        help="also time each training-step case under torch.compile "
                             "(run.compile), labelled <case>_compiled")
    parser.add_argument("--device", default="cpu", help="device for our simulator")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time, or this process's CPU time (robust on a shared "
                             "machine with --threads 1; CPU runs only)")
    parser.add_argument("--json", default="results/bench/simulator.json", help="output path")
    parser.add_argument("--note", default="",
                        help="free text stored as 'note' in the .meta.json (e.g. what was tried)")


# ------------------------------------------------------------------------ frameworks
def _probs(unitary: torch.Tensor) -> torch.Tensor:
    return unitary.real.square() + unitary.imag.square()  # (..., D, D) |V|^2


def _ours(ansatz, angles, upstream, backward: bool):
    def step():
        x = angles.detach().requires_grad_(backward)
        w = _probs(ansatz.unitary(x))  # (N, D, D)
        if backward:
            (w * upstream).sum().backward()
        return w

    return step


def _pennylane(ansatz, angles, upstream):
    """PennyLane default.qubit: broadcast over (circuit, input basis state) pairs."""
    import pennylane as qml

    q, dim = ansatz.n_qubits, 1 << ansatz.n_qubits
    n = angles.shape[0]
    device = qml.device("default.qubit", wires=q)

    @qml.qnode(device, interface="torch", diff_method="backprop")
    def columns(states, phi):
        qml.StatePrep(states, wires=range(q))
        ansatz.to_pennylane(phi)  # queued as created
        return qml.probs(wires=range(q))

    ctype = torch.complex128 if angles.dtype == torch.float64 else torch.complex64
    basis = torch.eye(dim, dtype=ctype).repeat(n, 1)  # (n*D, D): row n*D + j = |j>

    def step():
        x = angles.detach().requires_grad_(True)
        probs = columns(basis, x.repeat_interleave(dim, 0))  # (n*D, D): [n*D+j, i] = W[i, j]
        w = probs.reshape(n, dim, dim).transpose(-1, -2)  # (n, D, D)
        (w * upstream).sum().backward()
        return w.detach()

    return step


def _aer(ansatz, angles, device: str = "CPU"):
    """Qiskit Aer unitary method, one thread, forward only (``device="GPU"``: aer-gpu)."""
    import numpy as np
    from qiskit_aer import AerSimulator

    precision = "double" if angles.dtype == torch.float64 else "single"
    simulator = AerSimulator(method="unitary", precision=precision, max_parallel_threads=1,
                             max_parallel_experiments=1, device=device)
    template = ansatz.to_qiskit(None)
    values = angles.detach().cpu().double().numpy()

    def step():
        circuits = []
        for row in values:
            circuit = template.assign_parameters(row)
            circuit.save_unitary()
            circuits.append(circuit)
        result = simulator.run(circuits).result()
        unitaries = np.stack([np.asarray(result.get_unitary(i)) for i in range(len(circuits))])
        return torch.as_tensor(np.abs(unitaries) ** 2)  # (n, D, D)

    return step


def _achieved(flops: int, seconds: float, peak: float) -> dict:
    gflops = flops / max(seconds, 1e-12) / 1e9
    return {"flops": flops, "gflops": gflops, "fraction_of_peak": gflops / peak}


def _compare_lightning(ansatz, angles, weights, result, backward: bool) -> dict:
    """Largest difference of lightning's W (forward) or gradient (backward) to ours."""
    x = angles.detach().double().requires_grad_(backward)
    w = _probs(ansatz.unitary(x))  # (n, D, D)
    if not backward:
        return {"max_abs_diff_to_ours": float((result - w).abs().max())}
    (w * weights.double()[:, None]).sum().backward()
    return {"max_abs_grad_diff_to_ours": float((result - x.grad).abs().max())}


def gpu_peers(device: str) -> tuple[list[str], dict[str, str]]:
    """The GPU peers that run beside ours on ``device`` and, by name, why the others do not."""
    if not str(device).startswith("cuda"):
        return [], {}
    reasons = {"lightning_gpu": lightning_unavailable("lightning.gpu"),
               "aer_gpu": aer_gpu_unavailable()}
    return ([name for name, why in reasons.items() if why is None],
            {name: why for name, why in reasons.items() if why is not None})


def _frameworks(args) -> list[str]:
    """The requested frameworks, plus the GPU peers on CUDA where they are installed."""
    return list(args.frameworks) + gpu_peers(args.device)[0]


def _timing_cases(args, gen: torch.Generator, peak: float = float("inf")) -> list[Record]:
    frameworks = _frameworks(args)
    records: list[Record] = []
    for q in args.qubits:
        for layers in args.layers:
            ansatz = get_ansatz(args.ansatz, q, layers)
            case = f"q{q}_L{layers}_N{args.matrices}"
            dim = 1 << q
            angles = torch.rand(args.matrices, ansatz.n_params, generator=gen) * 2 - 1
            upstream = torch.randn(dim, dim, generator=gen)  # (D, D)
            info = {"n_qubits": q, "n_layers": layers, "n_params": ansatz.n_params,
                    "matrices": args.matrices, "ansatz": args.ansatz, "dtype": "complex64"}
            reference = None
            if "ours" in frameworks:
                dev_angles = angles.to(args.device)
                dev_up = upstream.to(args.device)
                fwd = median_time(_ours(ansatz, dev_angles, dev_up, False), args.repeats,
                                  clock=args.clock)
                both = median_time(_ours(ansatz, dev_angles, dev_up, True), args.repeats,
                                   clock=args.clock)
                flops = simulation_flops(ansatz._block_qubits, q, args.matrices)
                total = flops["forward"] + flops["backward"]
                records.append(Record(case, "ours", both, info | _achieved(
                    total, both, peak) | {"pass": "forward+backward", "device": args.device,
                                          "flops_backward": flops["backward"],
                                          "backward_gflops": flops["backward"] / max(
                                              both - fwd, 1e-12) / 1e9,
                                          "fused_width": fusion_width(q)}))
                records.append(Record(case, "ours_fwd", fwd, info | _achieved(
                    flops["forward"], fwd, peak) | {"pass": "forward", "device": args.device,
                                                    "flops_forward_blocks":
                                                        flops["forward_blocks"],
                                                    # the circuit's own arithmetic (4x4
                                                    # blocks) per second, whatever we run
                                                    "blocks_fraction_of_peak":
                                                        flops["forward_blocks"] / max(
                                                            fwd, 1e-12) / 1e9 / peak,
                                                    "fused_width": fusion_width(q)}))
                n_ref = max(args.subset, args.aer_subset)
                reference = _ours(ansatz, angles[:n_ref], upstream, False)()
            for name in ("lightning_fwd", "lightning", "lightning_gpu_fwd", "lightning_gpu"):
                base = name.removesuffix("_fwd")
                if base not in frameworks:
                    continue
                n_sub = min(args.lightning_subset, args.matrices)
                device_name = "lightning.gpu" if base == "lightning_gpu" else "lightning.qubit"
                weights = upstream[:, 0]  # (D,) a diagonal observable: sum_ij W[i, j] w[i]
                step = lightning_step(ansatz, angles[:n_sub].double(), weights,
                                      backward=name == base, device_name=device_name)
                seconds = (median_time(step, args.repeats, clock=args.clock)
                           * args.matrices / n_sub)
                extra = info | {"pass": "forward+backward" if name == base else "forward",
                                "timed_matrices": n_sub, "scaled_by": args.matrices / n_sub,
                                "device_name": device_name}
                if name == base:
                    extra["diff_method"] = "adjoint"
                if "ours" in args.frameworks:
                    extra |= _compare_lightning(ansatz, angles[:n_sub], weights, step(),
                                                name == base)
                records.append(Record(case, name, seconds, extra))
                log.info("%s %s %.3g s", case, name, seconds)
            for name in ("pennylane", "aer", "aer_gpu"):
                if name not in frameworks:
                    continue
                n_sub = min(args.subset if name == "pennylane" else args.aer_subset,
                            args.matrices)
                scale = args.matrices / n_sub
                if name == "pennylane":
                    step = _pennylane(ansatz, angles[:n_sub], upstream)
                else:
                    step = _aer(ansatz, angles[:n_sub], "GPU" if name == "aer_gpu" else "CPU")
                seconds = median_time(step, args.repeats, clock=args.clock) * scale
                extra = info | {"pass": "forward+backward" if name == "pennylane" else "forward",
                                "timed_matrices": n_sub, "scaled_by": scale,
                                "note": f"timed on {n_sub} circuits, scaled linearly to "
                                        f"{args.matrices}"}
                if reference is not None:
                    diff = (step().to(reference.dtype) - reference[:n_sub]).abs().max()
                    extra["max_abs_diff_to_ours"] = float(diff)
                records.append(Record(case, name, seconds, extra))
                log.info("%s %s %.3g s", case, name, seconds)
    return records


def _memory_records(args, gen: torch.Generator) -> list[Record]:
    records: list[Record] = []
    q, q_d = args.memory_qubits, min(3, args.memory_qubits)
    for impl, simulate in (("ours", lambda a, x: a.unitary(x)), ("naive_autograd", naive_unitary)):
        for layers in args.memory_layers:
            ansatz = get_ansatz(args.ansatz, q, layers)
            angles = torch.rand(args.memory_matrices, ansatz.n_params, generator=gen) * 2 - 1
            angles = angles.to(args.device).requires_grad_(True)
            cuda = angles.device.type == "cuda"
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
            saved, p = saved_tensor_bytes(
                lambda a=ansatz, x=angles, f=simulate: dsm_from_probs(_probs(f(a, x)), q_d))
            p.sum().backward()
            extra = {"saved_bytes": saved, "n_layers": layers, "n_qubits": q,
                     "what": "bytes saved for backward, angles -> P"}
            if cuda:  # the real peak of forward + backward, above what was allocated before
                torch.cuda.synchronize()
                extra["cuda_peak_bytes"] = torch.cuda.max_memory_allocated() - base
            records.append(Record(f"memory_q{q}_L{layers}_N{args.memory_matrices}", impl, 0.0,
                                  extra))
            log.info("memory %s L=%d: %.1f MB saved", impl, layers, saved / 2**20)
    return records


#: The training-step cases: softmax, QontOT with the reduced circuit (2 auxiliary qubits, 8
#: layers, q = 5) and with the paper's (4 auxiliary qubits, 16 layers, q = 7); targets (issue
#: 23) <= 2.5x and <= 25x the softmax step.
TRAIN_STEP_CASES = (("softmax", None),
                    ("qontot", {"n_aux_qubits": 2, "n_layers": 8}),
                    ("qontot", {"n_aux_qubits": 4, "n_layers": 16}))
TRAIN_STEP_TARGETS = {"qontot_a2_L8": 2.5, "qontot_a4_L16": 25.0}


def _train_step_records(args) -> list[Record]:
    records: list[Record] = []
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(100, 1, 28, 28, generator=gen).to(args.device)  # (B, 1, 28, 28)
    labels = torch.randint(0, 10, (100,), generator=gen).to(args.device)  # (B,)
    for name, kwargs in TRAIN_STEP_CASES:
        label = name if kwargs is None else f"{name}_a{kwargs['n_aux_qubits']}_L{kwargs['n_layers']}"
        for compiled in (False, True) if args.compile else (False,):
            torch.manual_seed(0)
            model = create_vit("qdsformer_fmnist", attention=name, attention_kwargs=kwargs,
                               depth=2).to(args.device)
            optim = torch.optim.Adam(model.parameters(), lr=5e-4)
            stepped = compile_model(model, torch.device(args.device)) if compiled else model

            def step(stepped=stepped, optim=optim):
                optim.zero_grad()
                loss = torch.nn.functional.cross_entropy(stepped(images), labels)
                loss.backward()
                optim.step()

            extra = {"attention_kwargs": kwargs, "batch": 100, "device": args.device}
            if compiled:  # the first step compiles; median_time's warm-up then runs compiled
                start = time.perf_counter()
                step()
                extra["compile_seconds"] = time.perf_counter() - start
            seconds = median_time(step, args.repeats, clock=args.clock)
            impl = f"{label}_compiled" if compiled else label
            records.append(Record("train_step_fmnist_B100_depth2", impl, seconds, extra))
            log.info("train step %s %.3g s", impl, seconds)
    return records


def _print_targets(records: list[Record]) -> None:
    """Speed-ups, backward cost and achieved GFLOP/s per case against the issue's targets."""
    for case in dict.fromkeys(r.case for r in records):
        by = {r.impl: r for r in records if r.case == case}
        if "ours" not in by or "ours_fwd" not in by:
            continue
        fwd, both = by["ours_fwd"], by["ours"]
        q = fwd.extra["n_qubits"]
        peak_target, ratio_target = (0.35, 4.0) if q <= 5 else (0.70, 3.6)
        line = (f"{case}: forward {fwd.extra['gflops']:.1f} GFLOP/s "
                f"({100 * fwd.extra['fraction_of_peak']:.0f}% of peak, target >= "
                f"{100 * peak_target:.0f}%; the circuit's block arithmetic at "
                f"{100 * fwd.extra['blocks_fraction_of_peak']:.0f}%), backward "
                f"{both.extra['backward_gflops']:.1f} GFLOP/s, forward+backward / forward = "
                f"{both.median_s / fwd.median_s:.2f} (target <= {ratio_target})")
        for slow, fast, target in (("pennylane", "ours", 35), ("aer", "ours_fwd", 25),
                                   ("lightning", "ours", None),
                                   ("lightning_fwd", "ours_fwd", None)):
            if slow in by:
                line += f"; {slow} / {fast} = {by[slow].median_s / by[fast].median_s:.1f}x"
                line += f" (target >= {target}x)" if target else ""
        print(line)


def run(args: argparse.Namespace) -> int:
    args.device = str(resolve_device(args.device, key="--device"))  # no CUDA: one line, exit 2
    limit_threads(args.threads)
    logging.getLogger("qiskit").setLevel(logging.WARNING)  # per-pass INFO lines otherwise
    for flag in ("matrices", "subset", "aer_subset", "lightning_subset", "memory_matrices",
                 "repeats"):
        if getattr(args, flag) < 1:
            raise ValueError(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    if args.compile and not args.train_step:
        raise ValueError("--compile times the training step under torch.compile; "
                         "it needs --train-step")
    skipped = gpu_peers(args.device)[1]
    for name, why in skipped.items():
        print(f"skipped {name}: {why}")
    gen = torch.Generator().manual_seed(0)
    peak = complex64_peak(args.device, args.repeats, clock=args.clock)
    print(f"complex64 matmul peak on {args.device}: {peak['gflops']:.1f} GFLOP/s "
          f"({peak['batch']} x {peak['n']}^3)")
    records = _timing_cases(args, gen, peak["gflops"])
    if records:
        print(ratio_table(records, baseline="ours"))
        _print_targets(records)
    memory = _memory_records(args, gen) if args.memory_layers else []
    for impl in dict.fromkeys(r.impl for r in memory):
        rows = sorted((r for r in memory if r.impl == impl), key=lambda r: r.extra["n_layers"])
        sizes = ", ".join(f"L={r.extra['n_layers']}: {r.extra['saved_bytes'] / 2**20:.1f} MB"
                          for r in rows)
        ratio = rows[-1].extra["saved_bytes"] / max(rows[0].extra["saved_bytes"], 1)
        print(f"saved for backward, {impl}: {sizes} (ratio {ratio:.2f})")
        if "cuda_peak_bytes" in rows[0].extra:
            peaks = [r.extra["cuda_peak_bytes"] for r in rows]
            print(f"CUDA peak, {impl}: " + ", ".join(f"{b / 2**20:.1f} MB" for b in peaks)
                  + f" (ratio {peaks[-1] / max(peaks[0], 1):.2f})")
    train = _train_step_records(args) if args.train_step else []
    if train:
        print(ratio_table(train, baseline="softmax"))
        base = next(r.median_s for r in train if r.impl == "softmax")
        compiled_base = next((r.median_s for r in train if r.impl == "softmax_compiled"), None)
        for r in train:
            if r.impl in TRAIN_STEP_TARGETS:
                print(f"train step {r.impl} / softmax = {r.median_s / base:.2f} "
                      f"(target <= {TRAIN_STEP_TARGETS[r.impl]})")
            elif r.impl.endswith("_compiled") and compiled_base is not None:
                eager = next(e.median_s for e in train if e.impl == r.impl[:-len("_compiled")])
                print(f"train step {r.impl}: {r.median_s / compiled_base:.2f}x softmax_compiled, "
                      f"{r.median_s / eager:.2f}x its eager step "
                      f"(compiling step {r.extra['compile_seconds']:.1f} s)")
    meta = environment() | {"suite": "simulator", "subset": args.subset, "clock": args.clock,
                            "note": args.note, "fuse_max_width": FUSE_MAX_WIDTH,
                            "backward_fuse_max_width": BACKWARD_FUSE_MAX_WIDTH,
                            "chain_max_size": CHAIN_MAX_SIZE,
                            "device": args.device, "skipped": skipped,
                            "aer_subset": args.aer_subset,
                            "scaling": "pennylane and aer timed on a subset of the circuits "
                                       "(--subset, --aer-subset), times multiplied by "
                                       "matrices / subset"}
    peak_record = Record("peak", "complex64_matmul", peak["seconds"],
                         peak | {"device": args.device})
    path = write_json([peak_record] + records + memory + train, args.json, meta=meta)
    print(f"wrote {path}")
    return 0

