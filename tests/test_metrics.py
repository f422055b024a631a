"""The digits feature-Fréchet distance: scipy-exact formula and clear separation of bad sets."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from edu_gen.core import rng
from edu_gen.data import digits
from edu_gen.evaluation import frechet as metrics


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return tmp_path_factory.mktemp("fd") / "feature_net.pt"


def test_frechet_formula_against_1d_closed_form():
    # 1-D Gaussians: FD = (m1 - m2)^2 + (s1 - s2)^2
    fd = metrics.frechet_distance(
        np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[1.0]])
    )
    assert np.isclose(fd, 4.0 + 1.0)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    c1, c2 = a @ a.T, b @ b.T
    want = np.trace(c1 + c2 - 2 * scipy.linalg.sqrtm(c1 @ c2).real)
    assert np.isclose(metrics.frechet_distance(np.zeros(5), c1, np.zeros(5), c2), want)
    assert abs(metrics.frechet_distance(np.zeros(5), c1, np.zeros(5), c1)) < 1e-6
    with pytest.raises(ValueError, match="mu1"):
        metrics.frechet_distance(np.zeros(5), c1, np.zeros(4), c2)


def test_separates_real_from_degraded_sets(ckpt):
    x, y = digits("train", "signed")
    n = len(digits("test", "signed")[0])
    floor = metrics.real_floor(checkpoint=ckpt)
    real = x[:n]
    img = real.reshape(-1, 1, 8, 8)
    padded = torch.nn.functional.pad(img, (1, 1, 1, 1), mode="replicate")
    blurred = torch.nn.functional.avg_pool2d(padded, 3, 1).reshape(n, 64)
    noisy = real + 0.5 * torch.randn(real.shape, generator=rng.generator(0))
    dropped = x[y < 5][:n]  # half of the classes missing
    scores = {
        "blurred": metrics.digits_fd(blurred, checkpoint=ckpt),
        "noisy": metrics.digits_fd(noisy, checkpoint=ckpt),
        "mode-dropped": metrics.digits_fd(dropped, checkpoint=ckpt),
        "pure noise": metrics.digits_fd(torch.randn(n, 64), checkpoint=ckpt),
    }
    assert 0 < floor < 10
    for name, score in scores.items():
        assert score > 4 * floor, (name, score, floor)
    # mutant check: a real set that is *not* degraded stays near the floor
    assert metrics.digits_fd(x[n : 2 * n], checkpoint=ckpt) < 2 * floor


def test_feature_net_is_cached_and_deterministic(ckpt):
    x = digits("test", "signed")[0][:10]
    f1 = metrics.digit_features(x, ckpt)
    metrics.feature_net.cache_clear()  # reload from the checkpoint file
    f2 = metrics.digit_features(x, ckpt)
    np.testing.assert_allclose(f1, f2)
    assert ckpt.exists()


def test_bad_input():
    with pytest.raises(ValueError, match="64 pixels"):
        metrics.digits_fd(torch.zeros(10, 63))
    with pytest.raises(ValueError, match="finite"):
        metrics.digits_fd(torch.full((10, 64), float("nan")))
    with pytest.raises(TypeError, match="samples"):
        metrics.digits_fd(torch.zeros(10, 64, dtype=torch.int64))
