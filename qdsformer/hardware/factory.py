"""The runner for a backend string: statevector, Aer, noisy fake backends, IBM runtime."""

from __future__ import annotations

from qdsformer.hardware.account import fake_backend, runtime_service
from qdsformer.hardware.runners import AerRunner, RuntimeRunner, StatevectorRunner
from qdsformer.hardware.spec import BackendChoice


def make_runner(choice: BackendChoice, *, seed: int, optimization_level: int,
                dynamical_decoupling: bool = False, twirling: bool = False,
                readout_mitigation: bool = False, ibm_channel: str | None = None,
                service=None):
    """The runner for a parsed backend (all kinds but ``exact``, which has no circuit).

    ``readout_mitigation`` adds readout-calibration circuits to every batch (ignored by the
    noiseless ``statevector``); see :mod:`qdsformer.hardware.assignment`.
    """
    if choice.kind == "statevector":
        return StatevectorRunner()
    if choice.kind == "aer":
        if dynamical_decoupling or twirling:
            raise ValueError("dynamical decoupling / twirling need a device backend: use "
                             "aer-noisy:<fake> or ibm:<name>, not the ideal 'aer'")
        return AerRunner(None, seed=seed, optimization_level=optimization_level,
                         readout_mitigation=readout_mitigation)
    if choice.kind == "aer-noisy":
        backend = fake_backend(choice.name)
        if dynamical_decoupling or twirling:
            return RuntimeRunner(backend, seed=seed, optimization_level=optimization_level,
                                 dynamical_decoupling=dynamical_decoupling, twirling=twirling,
                                 readout_mitigation=readout_mitigation)
        return AerRunner(backend, seed=seed, optimization_level=optimization_level,
                         readout_mitigation=readout_mitigation)
    if choice.kind == "ibm":
        from qiskit.providers.exceptions import QiskitBackendNotFoundError

        if service is None and ibm_channel == "local":  # the local service's own lookup
            backend = fake_backend(choice.name)  # builds every fake backend; this builds one
        else:
            service = service if service is not None else runtime_service(ibm_channel)
            try:
                backend = service.backend(choice.name)
            except QiskitBackendNotFoundError as err:
                raise ValueError(f"IBM backend {choice.name!r} is not available to this "
                                 f"account ({type(err).__name__}: {err})") from None
        return RuntimeRunner(backend, seed=seed, optimization_level=optimization_level,
                             dynamical_decoupling=dynamical_decoupling, twirling=twirling,
                             readout_mitigation=readout_mitigation)
    raise ValueError(f"backend {choice} has no circuit runner")
