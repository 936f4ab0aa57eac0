"""``qdsformer list``: attention normalisers, model presets, datasets, ansaetze, divergences."""

from __future__ import annotations

import argparse

from qdsformer.attention import get_normalizer_class, list_normalizers
from qdsformer.data import list_datasets
from qdsformer.divergences import describe, list_divergences
from qdsformer.models import PRESETS
from qdsformer.quantum import list_ansaetze


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", nargs="?",
                        choices=["normalizers", "presets", "datasets", "ansaetze", "divergences"],
                        help="one section only")


def run(args: argparse.Namespace) -> int:
    if args.what in (None, "normalizers"):
        print("attention normalisers (name, doubly stochastic, source):")
        for name in list_normalizers():
            cls = get_normalizer_class(name)
            ds = "yes" if cls.doubly_stochastic else "no"
            print(f"  {name:<16} {ds:<4} {cls.paper}")
    if args.what in (None, "presets"):
        print("model presets (image, patch, tokens T, embed, depth, heads):")
        for name, p in sorted(PRESETS.items()):
            print(f"  {name:<18} {p.img_size} {p.patch_size} T={p.n_tokens} "
                  f"d={p.embed_dim} depth={p.depth} heads={p.num_heads}")
    if args.what in (None, "datasets"):
        print("datasets:")
        for name in list_datasets():
            print(f"  {name}")
    if args.what in (None, "ansaetze"):
        print("quantum ansaetze (for qontot): " + ", ".join(list_ansaetze()))
    if args.what in (None, "divergences"):
        print("f-divergences (qdsformer.divergences):")
        for name in list_divergences():
            print(f"  {name:<20} {describe(name)}")
    return 0
