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
  ``torch.set_num_threads(EDU_GEN_THREADS or 1)``.
"""

from __future__ import annotations

import os
from typing import TypeVar

import torch

from edu_gen.core.checks import positive_int

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
    """Set torch's intra-op CPU threads to ``n`` (default: ``EDU_GEN_THREADS`` or 1)."""
    if n is None:
        raw = os.environ.get("EDU_GEN_THREADS", "1").strip() or "1"
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"EDU_GEN_THREADS={raw!r}: expected a positive integer")
        n = int(raw)
    torch.set_num_threads(positive_int("n", n))
    return n


def fast() -> bool:
    """True when ``EDU_GEN_FAST`` is set to a true value (1/true/yes/on)."""
    return env_flag("EDU_GEN_FAST")


def strict() -> bool:
    """True under notebook validation (``EDU_GEN_STRICT``): failed checks raise."""
    return env_flag("EDU_GEN_STRICT")


def pick(full: T, fast_value: T) -> T:
    """Return ``fast_value`` in FAST mode and ``full`` otherwise."""
    return fast_value if fast() else full


def mode_name() -> str:
    return "FAST" if fast() else "full"


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
    return f"edu_gen | mode: {mode_name()} | device: {get_device()} | torch {torch.__version__}"


set_threads()
