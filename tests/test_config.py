"""Tests for edu_gen.core.config: FAST/STRICT flags, seeding, device choice and CPU threads."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import threadpoolctl
import torch

from edu_gen.core import config
from edu_gen.core.config import (
    banner,
    fast,
    get_device,
    mode_name,
    pick,
    set_threads,
    strict,
)
from edu_gen.core.rng import seed_everything

TRUE_VALUES = ["1", "true", "yes", "on", "TRUE", "Yes", " on ", "ON"]
FALSE_VALUES = ["0", "false", "no", "off", "", "  ", "False", "NO", "Off"]
FLAGS = [("EDU_GEN_FAST", fast), ("EDU_GEN_STRICT", strict)]


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


# ------------------------------------------------------------------ FAST / STRICT flags


@pytest.mark.parametrize(("var", "flag"), FLAGS)
@pytest.mark.parametrize("value", TRUE_VALUES)
def test_flags_parse_true_values(monkeypatch, var, flag, value):
    monkeypatch.setenv(var, value)
    assert flag() is True


@pytest.mark.parametrize(("var", "flag"), FLAGS)
@pytest.mark.parametrize("value", FALSE_VALUES)
def test_flags_parse_false_values(monkeypatch, var, flag, value):
    monkeypatch.setenv(var, value)
    assert flag() is False


@pytest.mark.parametrize(("var", "flag"), FLAGS)
def test_flags_default_to_false_when_unset(monkeypatch, var, flag):
    monkeypatch.delenv(var, raising=False)
    assert flag() is False


@pytest.mark.parametrize(("var", "flag"), FLAGS)
@pytest.mark.parametrize("value", ["maybe", "2", "y", "enabled", "-1"])
def test_flags_reject_garbage_naming_the_variable(monkeypatch, var, flag, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(ValueError, match=var) as info:
        flag()
    message = str(info.value)
    assert repr(value) in message
    for allowed in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        assert repr(allowed) in message


def test_flags_are_independent(monkeypatch):
    monkeypatch.setenv("EDU_GEN_FAST", "1")
    monkeypatch.setenv("EDU_GEN_STRICT", "0")
    assert fast() and not strict()
    monkeypatch.setenv("EDU_GEN_FAST", "no")
    monkeypatch.setenv("EDU_GEN_STRICT", "yes")
    assert not fast() and strict()


def test_pick_and_mode_name_follow_fast(monkeypatch):
    full, small = object(), object()
    monkeypatch.setenv("EDU_GEN_FAST", "1")
    assert pick(full, small) is small
    assert pick(10_000, 50) == 50
    assert mode_name() == "FAST"
    monkeypatch.setenv("EDU_GEN_FAST", "0")
    monkeypatch.setenv("EDU_GEN_DEVICE", "cpu")
    assert pick(full, small) is full
    assert pick(10_000, 50) == 10_000
    assert mode_name() == "full"
    monkeypatch.setenv("EDU_GEN_FAST", "maybe")
    with pytest.raises(ValueError, match="EDU_GEN_FAST"):
        pick(1, 2)
    with pytest.raises(ValueError, match="EDU_GEN_FAST"):
        mode_name()


def test_banner_reports_mode_device_and_torch(monkeypatch):
    monkeypatch.setenv("EDU_GEN_FAST", "1")
    monkeypatch.setenv("EDU_GEN_DEVICE", "cpu")
    line = banner()
    assert "size: FAST" in line and "device: cpu" in line and torch.__version__ in line


def test_size_profile_follows_fast_then_the_variable_then_the_device(monkeypatch):
    from edu_gen.core import config

    full, small, big = object(), object(), object()
    monkeypatch.setenv("EDU_GEN_FAST", "1")
    monkeypatch.setenv("EDU_GEN_SIZE", "gpu")
    assert config.size() == "fast" and pick(full, small, gpu=big) is small  # CI stays FAST
    monkeypatch.setenv("EDU_GEN_FAST", "0")
    assert config.size() == "gpu" and pick(full, small, gpu=big) is big
    assert mode_name() == "gpu" and pick(full, small) is full  # no gpu value: the cpu one
    monkeypatch.setenv("EDU_GEN_SIZE", "fast")
    assert config.fast() and pick(full, small, gpu=big) is small and mode_name() == "FAST"
    monkeypatch.delenv("EDU_GEN_SIZE")
    monkeypatch.setattr(config, "get_device", lambda *a, **k: torch.device("cuda"))
    assert config.size() == "gpu"
    monkeypatch.setattr(config, "get_device", lambda *a, **k: torch.device("cpu"))
    assert config.size() == "cpu" and mode_name() == "full"
    monkeypatch.setenv("EDU_GEN_SIZE", "huge")
    with pytest.raises(ValueError, match="EDU_GEN_SIZE"):
        config.size()


def test_image_source_follows_the_variable_then_the_size(monkeypatch):
    from edu_gen.core import config

    for var in ("EDU_GEN_FAST", "EDU_GEN_SIZE", "EDU_GEN_IMAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(config, "get_device", lambda *a, **k: torch.device("cpu"))
    assert config.images() == "digits"
    monkeypatch.setattr(config, "get_device", lambda *a, **k: torch.device("cuda"))
    assert config.images() == "mnist"  # a GPU runs the 28×28 chapters
    assert config.images_28() == "mnist"
    monkeypatch.setenv("EDU_GEN_FAST", "1")
    assert config.images() == "digits"  # CI stays on the 8×8 digits...
    assert config.images_28() == "mnist_subset"  # and its 28×28 sections stay offline
    monkeypatch.setenv("EDU_GEN_IMAGES", "MNIST_subset ")
    assert config.images() == "mnist_subset"  # ...unless told to run the 28×28 path
    monkeypatch.setenv("EDU_GEN_IMAGES", "cifar")
    with pytest.raises(ValueError, match=r"EDU_GEN_IMAGES.*mnist_subset.*'cifar'"):
        config.images()


def test_toy_device_is_the_cpu_even_where_a_gpu_is_configured(monkeypatch):
    from edu_gen.core import config

    monkeypatch.setattr(config, "get_device", lambda *a, **k: torch.device("cuda"))
    assert config.toy_device() == torch.device("cpu")


# ------------------------------------------------------------------ seeding


def draws() -> tuple[float, float, list[float]]:
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


@pytest.mark.parametrize("seed", [0, 1, 123, 2**32 + 5])
def test_seed_everything_makes_all_three_rngs_reproducible(seed):
    g1 = seed_everything(seed)
    first = draws()
    g_draw1 = torch.rand(4, generator=g1)
    g2 = seed_everything(seed)
    second = draws()
    g_draw2 = torch.rand(4, generator=g2)
    assert first == second
    assert torch.equal(g_draw1, g_draw2)


def test_seed_everything_returns_a_seeded_cpu_generator():
    g = seed_everything(7)
    assert isinstance(g, torch.Generator)
    assert g.device.type == "cpu"
    assert g.initial_seed() == 7
    # the generator is independent of the global stream it was seeded alongside
    torch.testing.assert_close(
        torch.rand(5, generator=g), torch.rand(5, generator=torch.Generator().manual_seed(7))
    )


def test_different_seeds_give_different_draws():
    seed_everything(1)
    a, ga = draws(), torch.rand(3, generator=seed_everything(1))
    seed_everything(2)
    b, gb = draws(), torch.rand(3, generator=seed_everything(2))
    assert a[0] != b[0] and a[1] != b[1] and a[2] != b[2]
    assert not torch.equal(ga, gb)


@pytest.mark.parametrize("seed", [-1, -100, 1.0, 0.5, "3", None, True, False, np.float64(2)])
def test_seed_everything_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed: expected a non-negative int"):
        seed_everything(seed)


# ------------------------------------------------------------------ device choice


def expected_auto_device() -> str:
    if torch.cuda.is_available():
        return "cuda"
    if _mps_available():
        return "mps"
    return "cpu"


def test_get_device_auto(monkeypatch):
    monkeypatch.delenv("EDU_GEN_DEVICE", raising=False)
    device = get_device()
    assert isinstance(device, torch.device)
    assert device.type == expected_auto_device()


def test_get_device_is_cpu_without_accelerators(monkeypatch):
    monkeypatch.delenv("EDU_GEN_DEVICE", raising=False)
    monkeypatch.setattr(config, "_available", lambda name: name == "cpu")
    assert get_device() == torch.device("cpu")


def test_get_device_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.delenv("EDU_GEN_DEVICE", raising=False)
    monkeypatch.setattr(config, "_available", lambda name: True)
    assert get_device().type == "cuda"
    monkeypatch.setattr(config, "_available", lambda name: name in ("mps", "cpu"))
    assert get_device().type == "mps"


def test_get_device_empty_env_means_auto(monkeypatch):
    monkeypatch.setenv("EDU_GEN_DEVICE", "")
    assert get_device().type == expected_auto_device()


def test_get_device_cpu_override_and_env(monkeypatch):
    monkeypatch.delenv("EDU_GEN_DEVICE", raising=False)
    assert get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("EDU_GEN_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    # the argument wins over the environment, even a bad environment value
    monkeypatch.setenv("EDU_GEN_DEVICE", "tpu")
    assert get_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("name", ["tpu", "CPU", "gpu", "xla:0"])
def test_get_device_unknown_name_lists_valid_names(monkeypatch, name):
    monkeypatch.delenv("EDU_GEN_DEVICE", raising=False)
    with pytest.raises(ValueError, match="cuda.*mps.*cpu") as info:
        get_device(name)
    assert repr(name) in str(info.value)
    monkeypatch.setenv("EDU_GEN_DEVICE", name)
    with pytest.raises(ValueError, match=repr(name)):
        get_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="cuda is available on this machine")
@pytest.mark.parametrize("name", ["cuda", "cuda:0"])
def test_get_device_unavailable_cuda_is_a_runtime_error(monkeypatch, name):
    monkeypatch.delenv("EDU_GEN_DEVICE", raising=False)
    with pytest.raises(RuntimeError, match=f"'{name}'.*not available"):
        get_device(name)
    monkeypatch.setenv("EDU_GEN_DEVICE", name)
    with pytest.raises(RuntimeError, match="not available"):
        get_device()


@pytest.mark.skipif(_mps_available(), reason="mps is available on this machine")
def test_get_device_unavailable_mps_is_a_runtime_error(monkeypatch):
    monkeypatch.delenv("EDU_GEN_DEVICE", raising=False)
    with pytest.raises(RuntimeError, match="'mps'.*not available"):
        get_device("mps")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs cuda")
def test_get_device_cuda_when_available(monkeypatch):
    monkeypatch.delenv("EDU_GEN_DEVICE", raising=False)
    assert get_device("cuda").type == "cuda"
    assert get_device("cuda:0") == torch.device("cuda:0")


# ------------------------------------------------------------------ CPU threads


@pytest.fixture
def restore_threads(monkeypatch):
    original = torch.get_num_threads()
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(variable, os.environ.get(variable, "1"))  # restored afterwards
    yield original
    torch.set_num_threads(original)
    threadpoolctl.threadpool_limits(limits=original)
    assert torch.get_num_threads() == original


def _pool_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpoolctl.threadpool_info()}


@pytest.mark.parametrize("n", [1, 2, 3])
def test_set_threads_explicit(restore_threads, n):
    assert set_threads(n) == n
    assert torch.get_num_threads() == n
    assert _pool_threads() == {n}  # every loaded BLAS/OpenMP pool
    assert all(os.environ[v] == str(n) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"))


def test_set_threads_from_environment(monkeypatch, restore_threads):
    monkeypatch.setenv("EDU_GEN_THREADS", "2")
    assert set_threads() == 2 and torch.get_num_threads() == 2
    monkeypatch.setenv("EDU_GEN_THREADS", " 3 ")
    assert set_threads() == 3 and torch.get_num_threads() == 3
    for default in ("", "   "):
        monkeypatch.setenv("EDU_GEN_THREADS", default)
        assert set_threads() == 1 and torch.get_num_threads() == 1
    monkeypatch.delenv("EDU_GEN_THREADS")
    assert set_threads() == 1 and torch.get_num_threads() == 1


@pytest.mark.parametrize("raw", ["0", "x", "-2", "1.5", "two", "00"])
def test_set_threads_rejects_bad_environment(monkeypatch, restore_threads, raw):
    monkeypatch.setenv("EDU_GEN_THREADS", raw)
    with pytest.raises(ValueError, match=f"EDU_GEN_THREADS={raw!r}: expected a positive integer"):
        set_threads()
    assert torch.get_num_threads() == restore_threads  # unchanged on error


@pytest.mark.parametrize("n", [0, -1, 1.5, "2"])
def test_set_threads_rejects_bad_argument(restore_threads, n):
    with pytest.raises(ValueError, match="n: expected a positive int"):
        set_threads(n)
    assert torch.get_num_threads() == restore_threads


# ------------------------------------------------------------ core.checks, core.rng


def test_shaped_tensor_reads_the_shape_pattern():
    from edu_gen.core.checks import shaped_tensor

    x = torch.zeros(4, 10)
    assert shaped_tensor("x", x, ("batch", 10)) is x
    assert shaped_tensor("x", x, (..., 10)) is x
    assert shaped_tensor("x", x, ("batch", "D", ...)) is x
    assert shaped_tensor("x", torch.zeros(2, 3, 4), ("batch", ..., 4)).shape == (2, 3, 4)
    for bad, shape, message in [
        (torch.zeros(4, 9), ("batch", 10), r"x: expected shape \[batch, 10\], got \(4, 9\)"),
        (torch.zeros(2, 1, 10), ("batch", 10), r"\[batch, 10\], got \(2, 1, 10\)"),
        (torch.zeros(()), (..., 10), r"\[\.\.\., 10\], got \(\)"),
        (torch.zeros(5), ("batch", "D", ...), r"\[batch, D, \.\.\.\], got \(5,\)"),
        ([0.0] * 10, ("batch", 10), r"got list"),
    ]:
        with pytest.raises(ValueError, match=message):
            shaped_tensor("x", bad, shape)


def test_same_shape_and_model_dtype_name_both_arguments():
    from edu_gen.core.checks import model_dtype, same_shape

    x = torch.zeros(4, 5)
    assert same_shape("x_hat", torch.ones(4, 5), "x", x).shape == (4, 5)
    with pytest.raises(ValueError, match=r"x_hat: expected the shape of x \(4, 5\), got \(4, 6\)"):
        same_shape("x_hat", torch.zeros(4, 6), "x", x)
    with pytest.raises(ValueError, match="x: expected dtype torch.float32 \\(the model's\\)"):
        model_dtype("x", x.double(), torch.float32)


def test_bounded_float_accepts_numbers_and_one_element_tensors():
    from edu_gen.core.checks import bounded_float

    assert bounded_float("nu", 0.5, 0.0, 1.0) == 0.5
    assert bounded_float("sigma", torch.tensor(2), 0.0) == 2.0
    with pytest.raises(ValueError, match=r"nu: expected a value in \[0, 1\]"):
        bounded_float("nu", 1.5, 0.0, 1.0)
    with pytest.raises(ValueError, match="sigma: expected a value in >= 0"):
        bounded_float("sigma", -1, 0.0)
    for bad in (float("nan"), "0.3", True):
        with pytest.raises(TypeError, match="expected a number"):
            bounded_float("nu", bad, 0.0, 1.0)


def test_rng_generator_seeded_and_check_generator():
    from edu_gen.core import rng

    a, b = rng.generator(3), torch.Generator().manual_seed(3)
    assert torch.equal(torch.rand(4, generator=a), torch.rand(4, generator=b))
    assert rng.check_generator(None) is None and rng.check_generator(a) is a
    with pytest.raises(TypeError, match="generator: expected a torch.Generator or None"):
        rng.check_generator(3)
    with pytest.raises(ValueError, match="seed"):
        rng.generator(-1)
    torch.manual_seed(0)
    before = torch.get_rng_state()
    with pytest.raises(RuntimeError), rng.seeded(5):
        torch.rand(3)
        raise RuntimeError("the caller's state comes back anyway")
    assert torch.equal(torch.get_rng_state(), before)
    with rng.seeded(5):
        inside = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(inside, torch.rand(3))
