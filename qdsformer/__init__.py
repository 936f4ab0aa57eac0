"""qdsformer: doubly stochastic attention, classical and quantum, in small Vision Transformers.

Two strata (docs/architecture.md). The library: ``common`` (registry, results I/O, settings),
``ot`` (the one Sinkhorn kernel and friends), ``divergences``, ``quantum`` (ansaetze, simulator,
readout, export), ``data``, ``attention`` (normalisers behind one interface), ``models``,
``kd`` (distillation losses), ``hardware`` (circuits on simulators and IBM backends),
``analysis``. The applications: ``train`` (the fit loop, distillation) and ``apps`` (every
``qdsformer`` command). Qiskit and PennyLane are imported lazily, so ``import qdsformer``
stays light.
"""

__version__ = "0.1.0"
