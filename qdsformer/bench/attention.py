"""Attention normalisers: forward+backward time of each against softmax on the same scores.

Cases: B=100, H in {1, 4}, T in {8, 16, 64} (configurable). Prints the ratio of each
normaliser's median time to softmax's and writes ``--json`` records (case, impl, median_s).
"""

from __future__ import annotations

import argparse
import logging

import torch

from qdsformer.bench.harness import (
    Record,
    environment,
    limit_threads,
    median_time,
    ratio_table,
    write_json,
)

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--heads", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--tokens", type=int, nargs="+", default=[8, 16, 64])
    parser.add_argument("--normalizers", nargs="+", default=None,
                        help="names to time (default: every registered normaliser)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default="results/bench/attention.json", help="output path")


def _forward_backward(norm: torch.nn.Module, scores: torch.Tensor, upstream: torch.Tensor):
    def step():
        s = scores.detach().requires_grad_(True)
        (norm(s) * upstream).sum().backward()

    return step


def run(args: argparse.Namespace) -> int:
    from qdsformer.attention import create_normalizer, list_normalizers

    limit_threads(args.threads)
    names = args.normalizers or list_normalizers()
    if "softmax" not in names:
        names = ["softmax", *names]
    gen = torch.Generator().manual_seed(0)
    records: list[Record] = []
    for heads in args.heads:
        for t in args.tokens:
            case = f"B{args.batch}_H{heads}_T{t}"
            scores = torch.randn(args.batch, heads, t, t, generator=gen)  # (B, H, T, T)
            upstream = torch.randn(args.batch, heads, t, t, generator=gen)
            for name in names:
                try:
                    norm = create_normalizer(name)
                    norm(scores[:1])  # fails fast on unsupported sizes
                except ValueError as err:
                    log.warning("skip %s on %s: %s", name, case, err)
                    continue
                seconds = median_time(_forward_backward(norm, scores, upstream), args.repeats)
                records.append(Record(case, name, seconds))
                log.info("%s %s %.2e s", case, name, seconds)
    print(ratio_table(records, baseline="softmax"))
    path = write_json(records, args.json, meta=environment() | {"suite": "attention"})
    print(f"wrote {path}")
    return 0
