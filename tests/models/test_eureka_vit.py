"""The Eureka task's ViT preset: 8 patch tokens, no class token, mean pooling."""

import pytest
import torch

from qdsformer.models import PRESETS, attention_maps, create_vit


def test_eureka_vit_has_eight_tokens_mean_pooling_and_the_repo_defaults():
    spec = PRESETS["eureka_vit"]
    assert (spec.img_size, spec.patch_size, spec.in_chans) == ((56, 56), (14, 28), 3)
    assert (spec.embed_dim, spec.mlp_ratio, spec.depth, spec.num_heads) == (256, 2.0, 7, 4)
    assert spec.pool == "avg" and spec.n_tokens == 8
    model = create_vit("eureka_vit", attention="sinkhorn", attention_kwargs={"n_iters": 3}, depth=2)
    assert model.cls_token is None and model.global_pool == "avg"
    images = torch.randn(3, 3, 56, 56)
    assert model(images).shape == (3, 10)
    maps = attention_maps(model, images)
    assert [m.shape for m in maps] == [(3, 4, 8, 8)] * 2


def test_mean_pooling_is_the_mean_of_the_final_tokens():
    model = create_vit("eureka_vit", attention="softmax", depth=1).eval()
    images = torch.randn(2, 3, 56, 56)
    tokens = model.forward_features(images)  # (B, 8, 256); timm norms after pooling for "avg"
    assert tokens.shape == (2, 8, 256)
    expected = model.head(model.fc_norm(tokens.mean(1)))  # (B, 10)
    assert torch.allclose(model.forward_head(tokens), expected, atol=1e-6)


def test_class_token_presets_are_unchanged_and_bad_pool_is_refused():
    assert PRESETS["qdsformer_fmnist"].pool == "token" and PRESETS["qdsformer_fmnist"].n_tokens == 8
    assert create_vit("qdsformer_fmnist").cls_token is not None
    with pytest.raises(ValueError, match="pool must be 'token' or 'avg'"):
        create_vit("qdsformer_fmnist", pool="max")
