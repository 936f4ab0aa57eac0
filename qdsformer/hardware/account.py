"""IBM Quantum accounts and backends: the runtime service, fake backends, the Aer device.

The account comes from the saved Qiskit account or the ``QISKIT_IBM_TOKEN`` /
``QISKIT_IBM_INSTANCE`` environment variables and is never printed or written; error messages
mask the token. qiskit-ibm-runtime and qiskit-aer are imported inside the functions.
"""

from __future__ import annotations

import inspect
import os

NO_ACCOUNT_HELP = (
    "no IBM Quantum account is configured: save one once with "
    "QiskitRuntimeService.save_account(channel='ibm_quantum_platform', token=..., "
    "instance=...) or set the environment variables QISKIT_IBM_TOKEN and QISKIT_IBM_INSTANCE; "
    "for an offline dry run use the runtime's local mode with a fake backend "
    "(backend 'ibm:fake_lagos' with ibm_channel='local', CLI: --ibm-channel local)"
)


def _require_runtime(what: str) -> None:
    """Raise ``ValueError`` with the install line when qiskit-ibm-runtime is missing."""
    try:
        import qiskit_ibm_runtime  # noqa: F401
    except ImportError:
        raise ValueError(f"{what} needs qiskit-ibm-runtime: pip install 'qdsformer[ibm]'"
                         ) from None


def fake_backend(name: str):
    """A ``qiskit_ibm_runtime.fake_provider`` backend by name: ``fake_lagos``, ``FakeLagosV2``,
    ``lagos`` or ``fake_torino``. Raises ``ValueError`` listing the known names otherwise."""
    _require_runtime("aer-noisy:<fake backend>")
    from qiskit_ibm_runtime import fake_provider
    from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2

    classes = {}
    for cls_name, cls in vars(fake_provider).items():
        if inspect.isclass(cls) and issubclass(cls, FakeBackendV2) and cls is not FakeBackendV2:
            classes[cls_name[4:].removesuffix("V2").lower()] = cls
    base = name.strip().lower().removeprefix("fake").lstrip("_").removesuffix("v2")
    if base not in classes:
        known = ", ".join(f"fake_{k}" for k in sorted(classes))
        raise ValueError(f"unknown fake backend {name!r}; known: {known}")
    return classes[base]()


def aer_device() -> str:
    """``GPU`` when qiskit-aer-gpu provides one, else ``CPU``."""
    from qiskit_aer import AerSimulator

    return "GPU" if "GPU" in AerSimulator().available_devices() else "CPU"


def runtime_service(channel: str | None = None, account_name: str | None = None):
    """A ``QiskitRuntimeService`` from the saved account or the environment (never logged).

    Args:
        channel: ``None`` (saved default / environment), ``ibm_quantum_platform``,
            ``ibm_cloud``, or ``local`` (offline testing mode with fake backends).
        account_name: a named saved account.

    Raises:
        ValueError: no account configured (with how to configure one), an invalid account, the
            service unreachable, or a bad channel. Messages never contain the token.
    """
    _require_runtime("ibm:<backend>")
    from qiskit_ibm_runtime import QiskitRuntimeService
    from qiskit_ibm_runtime.accounts import AccountNotFoundError, InvalidAccountError

    if channel not in (None, "local", "ibm_quantum_platform", "ibm_cloud"):
        raise ValueError(f"ibm channel must be local, ibm_quantum_platform or ibm_cloud, "
                         f"got {channel!r}")
    if channel == "local":
        return QiskitRuntimeService(channel="local")
    try:
        return QiskitRuntimeService(channel=channel, name=account_name)
    except AccountNotFoundError:
        raise ValueError(NO_ACCOUNT_HELP) from None
    except InvalidAccountError as err:
        raise ValueError(f"the IBM Quantum account could not be used: {_scrub(err)}; check "
                         "the saved account or QISKIT_IBM_TOKEN / QISKIT_IBM_INSTANCE") from None
    except Exception as err:  # noqa: BLE001 - network / service errors, reported without secrets
        raise ValueError(f"could not open the IBM Quantum service ({type(err).__name__}: "
                         f"{_scrub(err)}); check the network, token and instance") from None


def _scrub(err: BaseException) -> str:
    """The error's message with the token from the environment, if any, masked."""
    text = str(err)
    token = os.environ.get("QISKIT_IBM_TOKEN")
    return text.replace(token, "***") if token else text


