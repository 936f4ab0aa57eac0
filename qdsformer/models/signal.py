"""Patch embedding of 1-D signals: a signal is a 1 x L image cut into (1, P) stripes.

A spectrum or sequence of ``signal_width`` points enters the timm ViT as a (B, C, 1, L) image;
:class:`SignalPatchEmbed` first fits it to the preset's patch grid (``img_size`` width n * P) by
dropping its last points (IR with T = 8: 1,800 -> 1,792 = 7 x 256) or by appending zeros
(MNIST-1D: 40 -> 42 = 7 x 6), then cuts it into n stripes like timm's ``PatchEmbed``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from timm.layers import PatchEmbed


class SignalPatchEmbed(PatchEmbed):
    """timm ``PatchEmbed`` that first crops or zero-pads the input width to ``img_size[1]``.

    Args:
        signal_width: the width L of the input (B, C, 1, L) the model takes.
        **kwargs: timm ``PatchEmbed`` arguments (``img_size`` is the patch grid, (1, n * P)).
    """

    def __init__(self, *, signal_width: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.signal_width = signal_width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        width = x.shape[-1]  # x: (B, C, 1, L)
        if width != self.signal_width:
            raise ValueError(f"the model takes signals of {self.signal_width} points, got {width}")
        grid = self.img_size[1]
        x = x[..., :grid] if width >= grid else F.pad(x, (0, grid - width))  # (B, C, 1, n * P)
        return super().forward(x)  # (B, n, D)
