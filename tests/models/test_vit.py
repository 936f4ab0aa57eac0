"""The ViT factory: presets, pluggable attention, attention maps, checkpoints."""

import pytest
import torch

from qdsformer.attention import list_normalizers
from qdsformer.models import (
    PRESETS,
    attention_layers,
    attention_maps,
    create_vit,
    load_run,
    save_checkpoint,
)

SMALL_KWARGS = {"qontot": {"n_layers": 2, "n_aux_qubits": 1}}


@pytest.mark.parametrize("name", list_normalizers())
@pytest.mark.parametrize("preset", ["qdsformer_fmnist", "qdsformer_digits"])
def test_vit_forward_backward_every_backend(name, preset):
    spec = PRESETS[preset]
    model = create_vit(preset, attention=name, attention_kwargs=SMALL_KWARGS.get(name), depth=1)
    images = torch.randn(3, 1, *spec.img_size)
    logits = model(images)
    assert logits.shape == (3, spec.num_classes)
    logits.sum().backward()
    qkv = attention_layers(model)[0].qkv.weight.grad
    assert qkv is not None and torch.isfinite(qkv).all() and qkv.abs().sum() > 0


def test_paper_vit_has_eight_tokens_and_class_token_pooling():
    model = create_vit("qdsformer_fmnist", depth=1)
    assert PRESETS["qdsformer_fmnist"].n_tokens == 8
    assert model.global_pool == "token"
    maps = attention_maps(model, torch.randn(2, 1, 28, 28))
    assert [m.shape for m in maps] == [(2, 1, 8, 8)]


def test_attention_maps_are_the_normaliser_output():
    model = create_vit("qdsformer_digits", attention="qr", depth=2).eval()
    maps = attention_maps(model, torch.randn(4, 1, 8, 8))
    assert len(maps) == 2
    for p in maps:
        assert p.shape == (4, 1, 5, 5)
        assert torch.allclose(p.sum(-2), torch.ones(4, 1, 5), atol=1e-5)
    assert all(layer.last_attention is None for layer in attention_layers(model))


def test_softmax_vit_matches_timm_reference_attention():
    """Our layer with softmax computes what timm's own Attention computes."""
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(1)
    ours = create_vit("qdsformer_digits", attention="softmax").eval()
    spec = PRESETS["qdsformer_digits"]
    reference = VisionTransformer(
        img_size=spec.img_size, patch_size=spec.patch_size, in_chans=1, num_classes=10,
        embed_dim=spec.embed_dim, depth=spec.depth, num_heads=spec.num_heads,
        mlp_ratio=spec.mlp_ratio, global_pool="token",
    ).eval()
    reference.load_state_dict(ours.state_dict())
    x = torch.randn(5, 1, 8, 8)
    assert torch.allclose(ours(x), reference(x), atol=1e-5)


def test_bad_model_options():
    with pytest.raises(ValueError, match="unknown model preset 'vit_huge'"):
        create_vit("vit_huge")
    with pytest.raises(ValueError, match="unknown model option"):
        create_vit("qdsformer_digits", depht=2)
    with pytest.raises(ValueError, match="unknown attention normaliser"):
        create_vit("qdsformer_digits", attention="nope")
    with pytest.raises(ValueError, match="does not tile"):
        create_vit("qdsformer_digits", patch_size=(3, 8))


def test_checkpoint_round_trip(tmp_path):
    model = create_vit("qdsformer_digits", attention="sinkhorn", attention_kwargs={"n_iters": 5})
    config = {"model": {"preset": "qdsformer_digits", "depth": None, "embed_dim": None,
                        "num_heads": None, "mlp_ratio": None},
              "attention": {"name": "sinkhorn", "kwargs": {"n_iters": 5}}}
    save_checkpoint({"config": config, "model": model.state_dict()}, tmp_path / "c.pt")
    loaded_config, rebuilt, state = load_run(tmp_path / "c.pt")
    assert loaded_config == config and state["config"] == config
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(model.eval()(x), rebuilt.eval()(x))
    assert rebuilt.blocks[0].attn.normalizer.n_iters == 5
    assert not list(tmp_path.glob("*.tmp"))  # the atomic write leaves no temporary file
