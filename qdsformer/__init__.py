"""qdsformer: doubly stochastic attention, classical and quantum, in small Vision Transformers.

Sub-packages (see DESIGN.md): ``attention`` (normalisers behind one interface), ``quantum``
(variational circuits and their simulator), ``ot`` (the one Sinkhorn kernel and friends),
``divergences``, ``kd``, ``models``, ``data``, ``analysis``, ``train``, ``bench``.
Qiskit and PennyLane are imported lazily, so ``import qdsformer`` stays light.
"""

__version__ = "0.1.0"
