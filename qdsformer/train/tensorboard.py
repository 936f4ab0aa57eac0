"""TensorBoard event files of a run (``run.log: tensorboard``), beside metrics.csv.

With ``run.log: tensorboard`` the fit loop adds one column to metrics.csv,
``attn_marginal_error``: the attention's marginal error, i.e.
:func:`qdsformer.analysis.marginal_max_error` (largest row plus largest column deviation of
the sums from 1) of every attention map of the model on a fixed probe batch (the first
``data.batch_size`` validation images), averaged over images, heads and layers. 0 for an
exactly doubly stochastic normaliser, large for softmax. It then writes, per finished epoch,
the same numbers as that row to ``<run>/tensorboard/`` under these tags:

    loss/train, loss/val, accuracy/train, accuracy/val, lr, attention/marginal_error

TensorBoard is an optional dependency (the ``tensorboard`` extra), imported only here and only
when a run asks for it; :func:`run_log_problems` lets the config check say so before a run
folder exists. A resumed run drops the events of epochs after its checkpoint (``purge_step``),
so the event files agree with metrics.csv.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from qdsformer.analysis.metrics import marginal_max_error
from qdsformer.models import attention_maps

RUN_LOGS = ("none", "tensorboard")
MARGINAL_FIELD = "attn_marginal_error"
TENSORBOARD_DIR = "tensorboard"
# metrics.csv column -> TensorBoard tag
SCALAR_TAGS = {
    "train_loss": "loss/train",
    "val_loss": "loss/val",
    "train_acc": "accuracy/train",
    "val_acc": "accuracy/val",
    "lr": "lr",
    MARGINAL_FIELD: "attention/marginal_error",
}
MISSING = "run.log=tensorboard needs the tensorboard package: pip install 'qdsformer[tensorboard]'"


def run_log_problems(value) -> list[str]:
    """Problems with a ``run.log`` setting (empty when it is fine), each one line."""
    if not isinstance(value, str) or value not in RUN_LOGS:
        return [f"run.log must be one of {', '.join(RUN_LOGS)}, got {value!r}"]
    if value == "tensorboard" and importlib.util.find_spec("tensorboard") is None:
        return [MISSING]
    return []


def marginal_fields(config, history: list[dict]) -> list[str]:
    """The metrics.csv column this module adds: when logging, or when resumed rows hold it.

    ``run.log`` may change when a run is resumed (:mod:`qdsformer.train.resume`): a column
    once written stays, and epochs without the number leave its cell empty.
    """
    logged = config.run.log == "tensorboard" or any(MARGINAL_FIELD in row for row in history)
    return [MARGINAL_FIELD] if logged else []


@torch.no_grad()
def attention_marginal_error(model: torch.nn.Module, images: torch.Tensor) -> float:
    """Mean marginal error of ``model``'s attention maps on ``images`` (eval mode, RNG untouched).

    Args:
        model: a ViT built by :func:`qdsformer.models.build_vit` (not a DDP wrapper).
        images: the probe batch (B, C, H, W) on the model's device.

    Returns:
        The mean over layers of the mean over (B, H) of ``marginal_max_error`` of each map.
    """
    was_training = model.training
    model.eval()
    devices = [images.device] if images.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):  # logging must not change the run
            maps = attention_maps(model, images)  # each (B, H, T, T)
    finally:
        model.train(was_training)
    errors = torch.stack([marginal_max_error(p.float()).mean() for p in maps])  # (layers,)
    return float(errors.mean())


class TensorBoardLog:
    """The event writer of one run: the attention probe, per-epoch scalars, close."""

    def __init__(self, run_dir: Path, start_epoch: int, probe: torch.Tensor) -> None:
        """Open ``<run_dir>/tensorboard/``; on resume drop events after ``start_epoch``.

        Args:
            run_dir: the run folder.
            start_epoch: epochs already finished (0 for a new run).
            probe: the images (B, C, H, W), on the model's device, of the marginal error.
        """
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise ValueError(MISSING) from err
        self.probe = probe
        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / TENSORBOARD_DIR),
                                    purge_step=start_epoch + 1 if start_epoch else None)

    @classmethod
    def from_config(cls, config, run_dir: Path, start_epoch: int, val_images: torch.Tensor,
                    device) -> TensorBoardLog | None:
        """The run's writer when ``config.run.log`` is ``"tensorboard"``, else None."""
        if config.run.log != "tensorboard":
            return None
        probe = val_images[: config.data.batch_size].to(device)  # (B, C, H, W)
        return cls(run_dir, start_epoch, probe)

    def marginal_error(self, model: torch.nn.Module) -> float:
        """The attention's marginal error on the probe batch (:func:`attention_marginal_error`)."""
        return attention_marginal_error(model, self.probe)

    def write(self, row: dict) -> None:
        """Write one metrics.csv row's scalars at step ``row["epoch"]`` and flush."""
        for field, tag in SCALAR_TAGS.items():
            if field in row:
                self.writer.add_scalar(tag, float(row[field]), int(row["epoch"]))
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()
