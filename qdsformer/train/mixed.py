"""The gradient-free phase of QontOT's ``strategy: mixed`` (Born et al. 2025, section 5.1).

The paper's third way to set the circuit parameters: between epochs of ViT training, a
Nevergrad optimiser searches the circuit parameters alone. Here, at the end of every
``mixed.every``-th epoch, the fit loop calls :meth:`MixedPhase.after_epoch`, which

1. evaluates the training loss on a fixed *held batch* (``mixed.batch_size`` training examples,
   drawn once with the run's seed: :func:`held_batch_indices`, re-derived on resume, nothing
   stored) at the current theta;
2. runs ``mixed.steps`` ask/tell steps of the Nevergrad optimiser ``mixed.optimizer``
   (default ``NGOpt``, Nevergrad's own algorithm selector, since the paper names no algorithm)
   on that loss, warm-started at the current theta;
3. sets theta to the optimiser's recommendation if its held-batch loss is not above the loss
   at the current theta, else keeps theta. The held-batch loss therefore never increases over
   a phase.

What is searched: the theta buffer of every ``mixed`` QontOT block, each block its own vector
(as under ``differentiable``, where every block learns its own theta), concatenated into one
search vector, and of each only the entries the circuit for the held batch's T uses (theta is
sized for the largest allowed circuit; the rest never enters the forward pass).

The ViT is frozen during the phase: no gradients (``torch.no_grad``) and eval mode, so the
objective is deterministic (no dropout, and no training noise: QontOT's ``shots`` and
``depolarizing`` are off in eval mode unless ``noise_in_eval``), which is what makes "not
worse" a guarantee rather than a noisy comparison.

Exact resume: every phase builds a fresh optimiser whose random state is seeded from
(``mixed.seed`` or the run seed, epoch) and warm-starts at the current theta, so nothing but
theta (already in the model's state dict, hence in the checkpoint written after the phase)
has to persist. The phase does not touch the global RNGs.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import time

import numpy as np
import torch

from qdsformer.attention.qontot import QontOT

__all__ = ["MixedPhase", "PhaseResult", "held_batch_indices", "mixed_blocks",
           "validate_mixed_settings"]

log = logging.getLogger(__name__)

#: metrics.csv columns of a run with mixed blocks (NaN in epochs without a phase).
MIXED_FIELDS = ["mixed_loss_before", "mixed_loss_after"]


@dataclasses.dataclass(frozen=True)
class PhaseResult:
    """What one phase did: held-batch loss before and after, and whether theta changed."""

    epoch: int  # 1-based epoch the phase followed
    loss_before: float
    loss_after: float
    recommended_loss: float
    accepted: bool
    steps: int
    optimizer: str
    seconds: float


def mixed_blocks(model: torch.nn.Module) -> list[QontOT]:
    """The QontOT normalisers of ``model`` with ``strategy == "mixed"``, in module order."""
    return [m for m in model.modules() if isinstance(m, QontOT) and m.strategy == "mixed"]


def _optimizer_registry():
    try:
        import nevergrad as ng
    except ImportError as err:  # pragma: no cover - nevergrad is a package dependency
        raise ValueError("attention strategy 'mixed' needs nevergrad (pip install nevergrad)"
                         ) from err
    return ng


def validate_mixed_settings(settings) -> None:
    """Check a :class:`qdsformer.train.config.MixedConfig`; ValueError naming a bad value.

    The optimiser name must be in Nevergrad's registry (about 500 names); the error lists the
    closest names and a few common choices rather than all of them.
    """
    for key, low in (("steps", 1), ("every", 1)):
        value = getattr(settings, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"mixed.{key} must be an int >= {low}, got {value!r}")
    size = settings.batch_size
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ValueError(f"mixed.batch_size must be null (the data batch size) or an int >= 1, "
                         f"got {size!r}")
    seed = settings.seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ValueError(f"mixed.seed must be null (the run seed) or an int >= 0, got {seed!r}")
    names = _optimizer_registry().optimizers.registry
    if settings.optimizer not in names:
        close = difflib.get_close_matches(str(settings.optimizer), list(names), n=5)
        common = ["NGOpt", "OnePlusOne", "CMA", "TwoPointsDE", "PSO", "NelderMead"]
        raise ValueError(f"mixed.optimizer {settings.optimizer!r} is not a Nevergrad optimiser; "
                         f"closest: {', '.join(close) or 'none'}; common: {', '.join(common)} "
                         f"(all {len(names)}: nevergrad.optimizers.registry)")


def held_batch_indices(n_train: int, size: int, seed: int) -> torch.Tensor:
    """The held batch: ``min(size, n_train)`` training indices, a seeded random draw (K,)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n_train, generator=gen)[:size]


def _phase_seed(seed: int, epoch: int) -> int:
    """A 32-bit seed for the optimiser of the phase after (0-based) ``epoch``."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


class MixedPhase:
    """The fit loop's hook for ``strategy: mixed``; build with :meth:`from_config`.

    Args:
        model: the plain (unwrapped) model whose ``mixed`` QontOT blocks are searched.
        images, labels: the held batch (K, C, H, W) and (K,) on the model's device.
        settings: a :class:`qdsformer.train.config.MixedConfig` (validated here).
        seed: seed of the per-phase optimisers (``mixed.seed`` or the run seed).
    """

    def __init__(self, model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
                 settings, seed: int) -> None:
        validate_mixed_settings(settings)
        self.blocks = mixed_blocks(model)
        if not self.blocks:
            raise ValueError("no attention block has strategy 'mixed'")
        self.model = model
        self.images, self.labels = images, labels
        self.settings = settings
        self.seed = seed

    @classmethod
    def from_config(cls, config, model: torch.nn.Module, train_dataset,
                    device: torch.device) -> MixedPhase | None:
        """The phase for ``config`` (None when no block is ``mixed``); draws the held batch."""
        if not mixed_blocks(model):
            return None
        settings = config.mixed
        validate_mixed_settings(settings)
        seed = config.run.seed if settings.seed is None else settings.seed
        size = settings.batch_size or config.data.batch_size
        idx = held_batch_indices(len(train_dataset), size, seed)
        images = train_dataset.images[idx].to(device)  # (K, C, H, W)
        labels = train_dataset.labels[idx].to(device)  # (K,)
        return cls(model, images, labels, settings, seed)

    def due(self, epoch: int) -> bool:
        """Whether a phase follows (0-based) ``epoch``: every ``mixed.every``-th epoch."""
        return (epoch + 1) % self.settings.every == 0

    def after_epoch(self, epoch: int, loss_fn, ctx=None) -> PhaseResult | None:
        """Run the phase if :meth:`due`; under data parallelism rank 0's theta is kept."""
        if not self.due(epoch):
            return None
        result = self.run(epoch, loss_fn)
        if ctx is not None and ctx.distributed:  # every rank ran the same search; agree exactly
            values = ctx.broadcast_object([b.theta.detach().cpu().tolist() for b in self.blocks])
            with torch.no_grad():
                for block, value in zip(self.blocks, values):
                    block.theta.copy_(torch.tensor(value, dtype=block.theta.dtype))
        return result

    def held_loss(self, loss_fn) -> float:
        """The loss on the held batch at the current theta, without gradients (one host sync)."""
        with torch.no_grad():
            loss, _ = loss_fn(self.model, self.images, self.labels)
        return float(loss)  # the phase's host syncs: one per evaluation, off the hot path

    def _sizes(self) -> list[int]:
        """Entries of each block's theta that the held batch's circuit uses."""
        seen: dict[int, int] = {}

        def record(index: int):
            def hook(module, args) -> None:  # returns None: the input is left as it is
                seen.setdefault(index, args[0].shape[-1])
            return hook

        hooks = [b.register_forward_pre_hook(record(i)) for i, b in enumerate(self.blocks)]
        try:
            with torch.no_grad():
                self.model(self.images[:1])
        finally:
            for hook in hooks:
                hook.remove()
        return [b.circuit(seen[i]).n_params for i, b in enumerate(self.blocks)]

    def run(self, epoch: int, loss_fn) -> PhaseResult:
        """One phase after (0-based) ``epoch``; see the module docstring."""
        ng = _optimizer_registry()
        started = time.perf_counter()
        was_training = self.model.training
        self.model.eval()
        sizes = self._sizes()
        x0 = np.concatenate([b.theta[:k].detach().cpu().double().numpy()
                             for b, k in zip(self.blocks, sizes)])  # (sum k,)

        def set_theta(x: np.ndarray) -> None:
            start = 0
            with torch.no_grad():
                for block, k in zip(self.blocks, sizes):
                    block.theta[:k].copy_(torch.from_numpy(x[start:start + k]))
                    start += k

        def held_loss(x: np.ndarray) -> float:
            set_theta(x)
            return self.held_loss(loss_fn)

        finished = False
        try:
            before = held_loss(x0)
            param = ng.p.Array(init=x0)
            param.random_state = np.random.RandomState(_phase_seed(self.seed, epoch))
            opt = ng.optimizers.registry[self.settings.optimizer](
                parametrization=param, budget=self.settings.steps)
            for _ in range(self.settings.steps):
                candidate = opt.ask()
                opt.tell(candidate, held_loss(candidate.value))
            recommended = np.asarray(opt.provide_recommendation().value, dtype=np.float64)
            rec_loss = held_loss(recommended)
            accepted = rec_loss <= before
            finished = True
        finally:
            if not (finished and accepted):  # rejected, or interrupted mid-search
                set_theta(x0)
            self.model.train(was_training)
        result = PhaseResult(epoch=epoch + 1, loss_before=before,
                             loss_after=rec_loss if accepted else before,
                             recommended_loss=rec_loss, accepted=accepted,
                             steps=self.settings.steps, optimizer=self.settings.optimizer,
                             seconds=time.perf_counter() - started)
        log.info("mixed phase after epoch %d: held-batch loss %.5f -> %.5f (%s %d steps, "
                 "recommendation %.5f %s, %.1fs)", result.epoch, before, result.loss_after,
                 result.optimizer, result.steps, rec_loss,
                 "taken" if accepted else "rejected", result.seconds)
        return result
