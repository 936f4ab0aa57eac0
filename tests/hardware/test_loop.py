"""Hardware in the loop: a QontOT ViT with attention estimated from Bell-pair circuits."""

import json

import pytest
import torch

from qdsformer.hardware import make_runner, mitigate, parse_backend
from qdsformer.hardware.loop import (
    RunnerNormalizer,
    evaluate_attention_backends,
    runner_attention,
)
from qdsformer.hardware.runners import StatevectorRunner
from qdsformer.models import attention_layers, create_vit

QONTOT = {"n_aux_qubits": 1, "n_layers": 2, "ansatz": "parted"}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    vit = create_vit("qdsformer_digits", attention="qontot", attention_kwargs=QONTOT,
                     depth=2, embed_dim=16, num_heads=2)
    return vit.eval()


@pytest.fixture(scope="module")
def batch():
    gen = torch.Generator().manual_seed(0)
    return torch.randn(3, 1, 8, 8, generator=gen), torch.tensor([0, 1, 2])


def test_statevector_runner_reproduces_the_exact_model(model, batch):
    images, _ = batch
    layers = attention_layers(model)
    with torch.no_grad():
        exact = model(images)
        with runner_attention(layers, StatevectorRunner(), None) as swapped:
            estimated = model(images)
    assert torch.allclose(estimated, exact, atol=1e-5)
    assert max(max(s.errors) for s in swapped) < 1e-6
    assert len(swapped[0].errors) == 3 * 2  # one circuit per (image, head)
    assert all(type(layer.normalizer).__name__ == "QontOT" for layer in layers)  # restored


def test_evaluate_backends_reports_accuracy_agreement_and_attention_error(model, batch):
    images, labels = batch
    layers = attention_layers(model)
    out = evaluate_attention_backends(model, layers, images, labels,
                                      ["statevector", "aer"], shots=400, seed=1)
    assert set(out) == {"exact", "statevector", "aer"}
    assert out["statevector"]["agreement"] == 1.0
    assert out["statevector"]["accuracy"] == out["exact"]["accuracy"]
    assert max(out["statevector"]["attention_frobenius_max"]) < 1e-6
    aer = out["aer"]
    assert aer["circuits_per_layer"] == 6
    assert len(aer["attention_frobenius_mean"]) == 2
    assert all(0.0 < e < 0.5 for e in aer["attention_frobenius_mean"])
    with pytest.raises(ValueError, match="'exact' is always evaluated"):
        evaluate_attention_backends(model, layers, images, labels, ["exact"], shots=10)
    with pytest.raises(ValueError, match="no attention layers"):
        evaluate_attention_backends(model, [], images, labels, ["aer"], shots=10)


def test_mitigated_runner_attention_is_doubly_stochastic(model):
    layer = attention_layers(model)[0]
    runner = make_runner(parse_backend("aer"), seed=0, optimization_level=1)
    normalizer = RunnerNormalizer(layer.normalizer, runner, 200, mitigate=True)
    scores = torch.randn(2, 2, 5, 5)
    attn = normalizer(scores).double()
    assert attn.shape == (2, 2, 5, 5)
    ones = torch.ones(2, 2, 5, dtype=torch.float64)
    assert torch.allclose(attn.sum(-1), ones, atol=1e-5)
    assert torch.allclose(attn.sum(-2), ones, atol=1e-5)
    assert torch.allclose(mitigate(attn), attn, atol=1e-5)


def test_errors_non_qontot_layers_small_devices_and_restore_on_failure(model, batch):
    images, labels = batch
    softmax_vit = create_vit("qdsformer_digits", attention="softmax", depth=1, embed_dim=16)
    with pytest.raises(ValueError, match="needs QontOT attention"):
        evaluate_attention_backends(softmax_vit, attention_layers(softmax_vit), images, labels,
                                    ["aer"], shots=10)
    layers = attention_layers(model)
    originals = [layer.normalizer for layer in layers]
    # T = 5 -> 3 data + 1 auxiliary qubits -> 8 qubits with Bell pairs; fake_nairobi has 7
    with pytest.raises(ValueError, match="needs 8 qubits, the backend has 7"):
        evaluate_attention_backends(model, layers, images, labels,
                                    ["aer-noisy:fake_nairobi"], shots=10)
    assert [layer.normalizer for layer in layers] == originals


def test_evaluate_cli_on_a_trained_checkpoint(tmp_path, capsys):
    from qdsformer.cli import main
    from qdsformer.train.config import load_config
    from qdsformer.train.engine import fit

    config = load_config(overrides=[
        "attention.name=qontot", "attention.kwargs={n_aux_qubits: 1, n_layers: 1}",
        "model.depth=1", "model.embed_dim=16", "optim.epochs=1", "data.train_limit=64",
        "data.val_limit=32", "data.test_limit=32", "data.batch_size=32"])
    run_dir = tmp_path / "run"
    fit(config, run_dir=run_dir)
    code = main(["evaluate", str(run_dir), "--runner", "statevector", "aer",
                 "--n-images", "4", "--shots", "300", "--out", str(tmp_path / "out")])
    assert code == 0
    record = json.loads((tmp_path / "out" / "evaluate__run__n4__shots300.json").read_text())
    assert record["n_images"] == 4 and record["layers"] == [0]
    assert record["results"]["statevector"]["agreement"] == 1.0
    assert "accuracy" in record["results"]["aer"]
    assert "agreement" in capsys.readouterr().out
    # another split gets its own file: the test-split record above is kept
    assert main(["evaluate", str(run_dir), "--runner", "statevector", "--split",
                 "val", "--n-images", "4", "--out", str(tmp_path / "out")]) == 0
    val = json.loads((tmp_path / "out" / "evaluate__run__n4__shots1000__val.json").read_text())
    assert val["split"] == "val"
    assert json.loads((tmp_path / "out" / "evaluate__run__n4__shots300.json").read_text()) == record
    assert main(["evaluate", str(run_dir), "--runner", "aer", "--layers", "3",
                 "--out", str(tmp_path / "out")]) == 2
    assert "out of range" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing"), "--runner", "aer"]) == 2
