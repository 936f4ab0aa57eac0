"""The Eureka task: composition and labelling rule pixel-exactly, determinism, cache, errors."""

import logging
import shutil

import numpy as np
import pytest
import torch

from qdsformer.data import build_dataset
from qdsformer.data.eureka import cache_path, draw_eureka, eureka_label, load_eureka
from qdsformer.data.idx import read_idx

FASHION_OFFSET = 100_000  # conftest.eureka_root: Fashion-MNIST codes start here
BLUE, RED, WHITE = np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0]), np.ones(3)


def _decode(quadrant: torch.Tensor) -> tuple[int, torch.Tensor]:
    """Which source image a (3, 28, 28) quadrant shows, and its colour vector.

    The marker pixel (27, 27) is 255 in every source, so it holds the colour vector itself;
    dividing the strongest channel by it gives back the 0/1 code pixels of row 0."""
    color = quadrant[:, 27, 27]  # (3,)
    channel = int(color.abs().argmax())
    grey = quadrant[channel] / color[channel]  # (28, 28)
    code = sum(int(grey[0, bit] > 0.5) << bit for bit in range(20))
    return code, color


def _source(code: int) -> torch.Tensor:
    """The uint8 image conftest.coded_images wrote for ``code``, as float32 in [0, 1]."""
    image = np.zeros((28, 28), dtype=np.uint8)
    for bit in range(20):
        image[0, bit] = ((code >> bit) & 1) * 255
    image[27, 27] = 255
    return torch.from_numpy(image.astype(np.float32) / np.float32(255.0))


def test_composed_images_follow_the_rule_pixel_exactly(eureka_root):
    data = build_dataset("eureka", "train", root=eureka_root)
    assert data.images.shape == (200, 3, 56, 56) and data.images.dtype == torch.float32
    mnist_labels = read_idx(eureka_root / "MNIST/raw/train-labels-idx1-ubyte.gz")
    fashion_labels = read_idx(eureka_root / "FashionMNIST/raw/train-labels-idx1-ubyte.gz")
    top_right_codes = []
    for k in range(8):
        image = data.images[k]
        quadrants = [image[:, :28, :28], image[:, :28, 28:], image[:, 28:, :28], image[:, 28:, 28:]]
        decoded = [_decode(q) for q in quadrants]
        for quadrant, (code, color) in zip(quadrants, decoded):
            expected = _source(code)[None] * color[:, None, None]  # (3, 28, 28)
            assert torch.equal(quadrant, expected)  # exact: uint8 / 255 times one colour vector
        (tl, c_tl), (tr, c_tr), (bl, c_bl), (br, c_br) = decoded
        assert tl < FASHION_OFFSET and br < FASHION_OFFSET  # digits on the diagonal
        assert tr >= FASHION_OFFSET and bl >= FASHION_OFFSET  # items off it
        digit_tl, digit_br = int(mnist_labels[tl]), int(mnist_labels[br])
        assert {digit_tl, digit_br} <= {1, 2}
        item_tr = int(fashion_labels[tr - FASHION_OFFSET])
        item_bl = int(fashion_labels[bl - FASHION_OFFSET])
        expected_label = item_tr if digit_tl == digit_br else item_bl
        assert int(data.labels[k]) == expected_label
        for c in (c_tl, c_br):  # indicators: blue or red with small noise
            assert min(np.abs(c.numpy() - BLUE).max(), np.abs(c.numpy() - RED).max()) < 0.3
        for c in (c_tr, c_bl):  # items: white with small noise
            assert np.abs(c.numpy() - WHITE).max() < 0.3
        top_right_codes.append(tr)
    assert len(set(top_right_codes)) == len(top_right_codes)  # top-right item = image `index`


def test_top_right_item_runs_over_the_split_once_and_both_label_branches_occur(eureka_root):
    data = build_dataset("eureka", "test", root=eureka_root)
    codes = sorted(_decode(image[:, :28, 28:])[0] for image in data.images)
    assert codes == list(range(110_000, 110_120))  # every test item exactly once, top right
    same = [(_decode(im[:, :28, :28])[0], _decode(im[:, 28:, 28:])[0]) for im in data.images]
    mnist_labels = read_idx(eureka_root / "MNIST/raw/t10k-labels-idx1-ubyte.gz")
    equal = [mnist_labels[a - 10_000] == mnist_labels[b - 10_000] for a, b in same]
    assert 0 < sum(equal) < len(equal)


def test_digits_are_equal_as_often_as_independent_draws_from_the_ones_and_twos():
    rng = np.random.default_rng(0)
    mnist_labels = rng.choice(10, 30_000, p=[0.05, 0.3, 0.1] + [0.55 / 7] * 7)
    fashion_labels = rng.integers(0, 10, 20_000)
    recipe = draw_eureka(mnist_labels, fashion_labels, seed=3)
    digits = recipe["digits"]
    assert set(np.unique(digits)) == {1, 2}
    p1 = np.mean(mnist_labels[np.isin(mnist_labels, (1, 2))] == 1)
    expected = p1 ** 2 + (1 - p1) ** 2  # 0.625 here; 0.502 on the real MNIST training set
    assert abs(np.mean(digits[:, 0] == digits[:, 1]) - expected) < 0.015
    np.testing.assert_array_equal(
        recipe["labels"], np.where(digits[:, 0] == digits[:, 1], recipe["items"][:, 0],
                                   recipe["items"][:, 1]))
    np.testing.assert_array_equal(recipe["items"][:, 0], fashion_labels)  # top right = index


def test_label_rule_on_hand_made_cases():
    assert eureka_label([1, 1, 2, 2], [1, 2, 2, 1], [7, 7, 7, 7], [3, 3, 3, 3]).tolist() == [7, 3, 7, 3]


def test_draws_are_deterministic_per_seed_and_split():
    labels = np.arange(100) % 10
    a, b = draw_eureka(labels, labels, 5, "train"), draw_eureka(labels, labels, 5, "train")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    c = draw_eureka(labels, labels, 5, "val")
    assert not np.array_equal(a["sources"], c["sources"])
    with pytest.raises(ValueError, match="no digit 1 or 2"):
        draw_eureka(np.zeros(10, int), labels, 0)


def _sources(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n),
            rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n))


def test_cache_is_written_once_reused_and_rebuilt_when_stale_or_broken(tmp_path, caplog):
    calls = []

    def sources():
        calls.append(1)
        return _sources()

    first = load_eureka("train", 0, tmp_path, "fp-a", sources)
    path = cache_path(tmp_path, "train", 0)
    assert path.exists() and len(calls) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # atomic write

    def must_not_build():
        raise AssertionError("rebuilt although cached")

    again = load_eureka("train", 0, tmp_path, "fp-a", must_not_build)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    load_eureka("train", 0, tmp_path, "fp-b", sources)  # other source files: rebuild
    assert len(calls) == 2
    path.write_bytes(path.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        rebuilt = load_eureka("train", 0, tmp_path, "fp-b", sources)
    assert len(calls) == 3 and "unreadable" in caplog.text and str(path) in caplog.text
    assert np.array_equal(rebuilt[0], first[0])  # same seed, same sources: same set


def test_build_dataset_caches_under_the_data_root(eureka_root):
    a = build_dataset("eureka", "val", root=eureka_root)
    assert (eureka_root / "eureka" / "eureka_val_seed0_v1.npz").exists()
    b = build_dataset("eureka", "val", root=eureka_root)
    assert len(a) == 5000 and torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)


def test_missing_mnist_says_where_to_put_it_and_how_to_download(eureka_root):
    shutil.rmtree(eureka_root / "MNIST")
    with pytest.raises(FileNotFoundError) as err:
        build_dataset("eureka", "train", root=eureka_root)
    message = str(err.value)
    assert "mnist files train-images-idx3-ubyte, train-labels-idx1-ubyte[.gz] not found" in message
    assert f"into {eureka_root / 'MNIST' / 'raw'}" in message
    assert "--set data.download=true" in message


def test_mnist_and_fashion_in_one_folder_are_refused(eureka_root):
    for path in (eureka_root / "MNIST" / "raw").iterdir():
        shutil.copy(path, eureka_root / path.name)  # MNIST directly in the root
    with pytest.raises(ValueError, match="separate folders"):
        build_dataset("eureka", "train", root=eureka_root)
