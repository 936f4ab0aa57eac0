"""Every notebook (``experiments/notebooks/*.ipynb``, found by glob so a new one cannot be
forgotten) runs end to end on small sizes (QDSFORMER_NB_SMALL=1) and is stored without outputs."""

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "experiments" / "notebooks"
#: Figures each notebook must draw at least (default 1: a notebook that draws nothing is broken).
MIN_FIGURES = {"dsm_expressivity.ipynb": 4, "attention_maps.ipynb": 2}


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_runs_and_is_stored_without_outputs(name, tmp_path, monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    path = NOTEBOOKS / name
    book = nbformat.read(path, as_version=4)
    stored = [c for c in book.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in stored), \
        f"{name} is committed with outputs; strip them"
    monkeypatch.setenv("QDSFORMER_NB_SMALL", "1")
    monkeypatch.setenv("QDSFORMER_RESULTS", str(tmp_path / "results"))  # no stray checkpoints
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    # "python3" resolved without kernel dirs is ipykernel's native spec: this interpreter,
    # so the test works in a fresh venv without `ipykernel install`.
    km = KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
    assert km.kernel_spec.argv[0] == sys.executable
    client = nbclient.NotebookClient(book, km=km, timeout=300,
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= MIN_FIGURES.get(name, 1)
