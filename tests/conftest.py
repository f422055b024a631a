"""Shared fixtures. Tests run in FAST and STRICT mode (also inherited by nbval kernels)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("EDU_GEN_FAST", "1")
os.environ.setdefault("EDU_GEN_STRICT", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402


def _devices() -> list[str]:
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


@pytest.fixture(params=_devices())
def device(request) -> torch.device:
    """Model tests run on cpu always, and on cuda / mps where present."""
    return torch.device(request.param)


@pytest.fixture(autouse=True)
def _seed_global_rngs():
    """Every test starts from the same global torch/numpy state, so a test that forgets to
    pass a generator is still reproducible (and cannot fail on one CI run in a thousand)."""
    import numpy as np

    torch.manual_seed(0)
    np.random.seed(0)


JS_CACHE = Path(
    os.environ.get("EDU_GEN_JS_CACHE", Path(__file__).resolve().parents[1] / ".cache/edu_gen/js")
)


@pytest.fixture(scope="session")
def js_cache() -> Path:
    """The slides' pinned JavaScript, installed once into the repo's ignored cache."""
    from edu_gen.course import slides

    if shutil.which("npm") is None and slides.missing_offline_packages(JS_CACHE):
        pytest.skip("npm is not installed and the offline JavaScript cache is empty")
    slides.install_offline_assets(JS_CACHE)
    return JS_CACHE
