"""Attention normalisers: forward+backward time of each against softmax on the same scores.

Cases: B=100, H in {1, 4}, T in {8, 16, 64} (configurable). Prints the ratio of each
normaliser's median time to softmax's and writes ``--json`` records (case, impl, median_s).
Normalisers are given as ``name`` or ``name:key=value,...``; by default every registered one
with its defaults, except ``qontot`` at the paper's depth (16 layers, 4 auxiliary qubits) AND a
light circuit, since its cost grows with the circuit (``qdsformer bench simulator`` times the
circuit simulator itself). A normaliser that cannot take a size (qontot beyond its qubit
budget) is skipped for that case with a log line.

Normalisers that consume (q, k) (``esp``, ``lot``) are timed on queries and keys
(B, H, T, ``--head-dim``) drawn N(0, 1/d) (what the timm layer passes: unit-variance q, k scaled
by d**-0.5), gradients to q and k; the score normalisers' time does not include the q k^T
product. A normaliser with a P @ V path (``lot``) is also timed on that path, as
``NAME[attend]``: P @ V (B, H, T, d) with V drawn like q, P never formed.

Layer cases (``layer_B..``): the timm attention layer (``NormalizedAttention``, head dim 32)
forward+backward with softmax on PyTorch's fused ``scaled_dot_product_attention``
(``softmax_sdpa``, what models use) against the same layer through our normaliser interface
(``softmax``), so the baseline's cost of the interface is visible; ``--no-layer`` skips them.
"""

from __future__ import annotations

import argparse
import logging

import torch

from qdsformer.apps.bench.harness import (
    Record,
    environment,
    limit_threads,
    median_time,
    ratio_table,
    write_json,
)
from qdsformer.attention import QKNormalizer, list_normalizers, parse_setting
from qdsformer.models.attention_layer import attention_layer

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--heads", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--tokens", type=int, nargs="+", default=[8, 16, 64])
    parser.add_argument("--normalizers", nargs="+", default=None, metavar="NAME[:K=V,...]",
                        help="normalisers to time, e.g. sinkhorn:n_iters=21 (default: every "
                             "registered one; qontot also as qontot:n_layers=4,n_aux_qubits=1)")
    parser.add_argument("--head-dim", type=int, default=16,
                        help="feature size d of q, k, v for the (q, k) normalisers (default 16)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--layer", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the attention layer: fused SDPA softmax vs ours")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time, or this process's CPU time (robust on a shared "
                             "machine with --threads 1; CPU runs only)")
    parser.add_argument("--json", default="results/bench/attention.json", help="output path")


def _forward_backward(norm: torch.nn.Module, scores: torch.Tensor, upstream: torch.Tensor):
    def step():
        s = scores.detach().requires_grad_(True)
        (norm(s) * upstream).sum().backward()

    return step


def _forward_backward_qk(norm: torch.nn.Module, q: torch.Tensor, k: torch.Tensor,
                         upstream: torch.Tensor, v: torch.Tensor | None = None):
    def step():
        qq, kk = q.detach().requires_grad_(True), k.detach().requires_grad_(True)
        out = norm(qq, kk) if v is None else norm.attend(qq, kk, v)
        (out * upstream).sum().backward()

    return step


def _layer_records(args, gen: torch.Generator) -> list[Record]:
    """Softmax attention layer: fused SDPA path vs our normaliser interface, same weights."""
    records = []
    for heads in args.heads:
        for t in args.tokens:
            case = f"layer_B{args.batch}_H{heads}_T{t}"
            layer = attention_layer("softmax")(32 * heads, num_heads=heads)
            x = torch.randn(args.batch, t, 32 * heads, generator=gen)  # (B, T, C)
            for impl, fused in (("softmax_sdpa", True), ("softmax", False)):
                layer.fused_attn = fused

                def step(layer=layer, x=x):
                    layer(x.detach().requires_grad_(True)).sum().backward()

                records.append(Record(case, impl, median_time(step, args.repeats,
                                                              clock=args.clock),
                                      {"fused_attn": fused}))
    return records


def _default_specs() -> list[str]:
    specs = list_normalizers()
    if "qontot" in specs:
        specs.append("qontot:n_layers=4,n_aux_qubits=1")  # the embedded default
    return specs


def run(args: argparse.Namespace) -> int:
    limit_threads(args.threads)
    settings = [parse_setting(spec) for spec in (args.normalizers or _default_specs())]
    if all(s.operator != "softmax" or s.kwargs for s in settings):
        settings.insert(0, parse_setting("softmax"))
    gen = torch.Generator().manual_seed(0)
    records: list[Record] = []
    for heads in args.heads:
        for t in args.tokens:
            case = f"B{args.batch}_H{heads}_T{t}"
            scores = torch.randn(args.batch, heads, t, t, generator=gen)  # (B, H, T, T)
            upstream = torch.randn(args.batch, heads, t, t, generator=gen)
            d = args.head_dim
            q, k, v = (torch.randn(args.batch, heads, t, d, generator=gen) * d**-0.5
                       for _ in range(3))  # (B, H, T, d) each
            upstream_v = torch.randn(args.batch, heads, t, d, generator=gen)
            for setting in settings:
                try:
                    norm = setting.sized_for(heads=heads, head_dim=d).create(seed=0)
                    qk = norm.consumes == "qk"
                    norm(q[:1], k[:1]) if qk else norm(scores[:1])  # fails fast on bad sizes
                except ValueError as err:
                    log.warning("skip %s on %s: %s", setting.label, case, err)
                    continue
                steps = {setting.label: (_forward_backward_qk(norm, q, k, upstream) if qk
                                         else _forward_backward(norm, scores, upstream))}
                if qk and type(norm).attend is not QKNormalizer.attend:
                    steps[f"{setting.label}[attend]"] = _forward_backward_qk(
                        norm, q, k, upstream_v, v)
                for label, step in steps.items():
                    seconds = median_time(step, args.repeats, clock=args.clock)
                    records.append(Record(case, label, seconds))
                    log.info("%s %s %.2e s", case, label, seconds)
    if args.layer:
        records += _layer_records(args, gen)
    print(ratio_table(records, baseline="softmax"))
    path = write_json(records, args.json, meta=environment() | {"suite": "attention",
                                                          "clock": args.clock})
    print(f"wrote {path}")
    return 0
