"""The one small training loop every chapter uses.

Training a model is gradient descent on a loss. Each step ``fit`` runs

    θ ← θ − η ∇θ L(θ; batch)

where θ are the model's parameters, ``batch`` is the next item from ``data``,
``L = loss_fn(model, batch)`` and η is the learning rate. Back-propagation computes
∇θ L and the optimizer (Adam by default) takes the step; Adam rescales the gradient
per parameter, but the idea is the same.

Around that one line ``fit`` adds what a course needs:

* a ``tqdm`` progress bar showing the running loss;
* a :class:`History` of every step's loss and extra metrics;
* a hard stop on a NaN/inf loss (:class:`FloatingPointError` naming the step);
* checkpoints that survive a Colab disconnect. With ``checkpoint=path`` the model,
  optimizer, counters, history and all random-number-generator states are saved
  atomically every ``checkpoint_every`` steps; calling ``fit`` again resumes, and on
  CPU the result is bit-for-bit the same as an uninterrupted run.

How the exact resume works: at the start of every epoch the RNG states are recorded.
On resume they are restored, the epoch's data iterator is created again (so a
shuffling ``DataLoader`` draws the same permutation), the batches already used are
skipped, and finally the RNG states from the checkpoint step are restored so that
random noise inside ``loss_fn`` is the same as well.
"""

from __future__ import annotations

import math
import os
import random
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from edu_gen.core.checks import positive_float, positive_int
from edu_gen.core.config import get_device

__all__ = ["CheckpointError", "History", "fit", "load_checkpoint", "save_checkpoint"]

LossFn = Callable[[nn.Module, Any], Any]
FORMAT = "edu_gen.fit/1"
_FIT_KEYS = ("format", "model", "optimizer", "step", "epoch", "position", "history", "rng")
_RESERVED = ("step", "epoch")


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be read, or it does not fit the model being trained."""


# --------------------------------------------------------------------------- history


class History:
    """Per-step training log: ``step``, ``epoch``, ``loss`` and any extra metrics.

    ``history["loss"]`` is a NumPy array with one entry per step. The data are kept as
    plain lists of numbers (column per key) so they fit in a ``weights_only`` checkpoint.
    """

    def __init__(self, columns: Mapping[str, list[float]] | None = None) -> None:
        self._columns: dict[str, list[float]] = {}
        if columns:
            lengths = {str(key): len(values) for key, values in columns.items()}
            if len(set(lengths.values())) > 1:
                raise ValueError(f"columns: expected lists of equal length, got {lengths}")
            self._columns = {str(key): list(values) for key, values in columns.items()}

    def append(self, record: Mapping[str, float]) -> None:
        """Add one step's record; every record must have the same keys."""
        if self._columns and set(record) != set(self._columns):
            raise ValueError(
                f"record at step {record.get('step')}: keys {sorted(record)} differ from "
                f"earlier steps {sorted(self._columns)}; loss_fn must return the same "
                "metrics at every step"
            )
        for key, value in record.items():
            self._columns.setdefault(key, []).append(value)

    def __len__(self) -> int:
        return len(next(iter(self._columns.values()))) if self._columns else 0

    def __contains__(self, key: object) -> bool:
        return key in self._columns

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._columns:
            raise KeyError(f"{key!r} was not logged; available keys: {self.keys()}")
        return np.asarray(self._columns[key])

    def keys(self) -> list[str]:
        """All logged keys, ``step`` and ``epoch`` included."""
        return list(self._columns)

    def metrics(self) -> list[str]:
        """Logged quantities other than the ``step`` / ``epoch`` counters."""
        return [key for key in self._columns if key not in _RESERVED]

    def last(self, key: str = "loss") -> float:
        """The most recent value of ``key``."""
        values = self[key]
        if values.size == 0:
            raise ValueError(f"history is empty: no {key!r} value logged yet")
        return values[-1].item()

    @property
    def records(self) -> list[dict[str, float]]:
        """The log as one dict per step."""
        keys, columns = self.keys(), self._columns.values()
        return [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]

    def state_dict(self) -> dict[str, list[float]]:
        """Plain ``{key: list}`` copy, loadable with ``torch.load(weights_only=True)``."""
        return {key: list(values) for key, values in self._columns.items()}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, list[float]]) -> History:
        """Rebuild a history saved with :meth:`state_dict`."""
        if not isinstance(state, Mapping) or not all(isinstance(v, list) for v in state.values()):
            raise ValueError("state: expected a dict of lists as made by History.state_dict()")
        return cls(state)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Plot the logged curves with :func:`edu_gen.course.viz.plot_losses`; returns the Axes."""
        from edu_gen.course.viz import plot_losses

        return plot_losses(self, ax=ax, **kwargs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, History) and self._columns == other._columns

    def __repr__(self) -> str:
        tail = f", last loss={self.last('loss'):.4g}" if "loss" in self and len(self) else ""
        return f"History({len(self)} steps, keys={self.metrics()}{tail})"


# ----------------------------------------------------------------------- checkpoints


def _prev_path(path: Path) -> Path:
    return path.with_name(path.name + ".prev")


def _check_weights_only(obj: Any, where: str) -> None:
    """Raise TypeError if ``obj`` would not load with ``torch.load(weights_only=True)``."""
    if isinstance(obj, Tensor) or type(obj) in (bool, int, float, str, type(None)):
        return
    if isinstance(obj, (torch.dtype, torch.device)):
        return
    if type(obj) in (dict, OrderedDict):
        for key, value in obj.items():
            _check_weights_only(key, f"{where} key {key!r}")
            _check_weights_only(value, f"{where}[{key!r}]")
        return
    if type(obj) in (list, tuple, torch.Size):
        for index, value in enumerate(obj):
            _check_weights_only(value, f"{where}[{index}]")
        return
    raise TypeError(
        f"{where}: a {type(obj).__module__}.{type(obj).__name__} cannot be loaded with "
        "torch.load(weights_only=True); convert it to a tensor, number, string, list or dict"
    )


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(path: str | Path, **state: Any) -> Path:
    """Atomically save ``state`` (tensors, numbers, strings, lists, dicts) to ``path``.

    The data are written to a temporary file in the same folder and fsynced; an existing
    file at ``path`` is kept as ``<name>.prev``; then the temporary file is renamed into
    place. A crash at any moment leaves at least one complete checkpoint on disk.
    Returns the path. The file loads with ``torch.load(path, weights_only=True)``.
    """
    if not state:
        raise ValueError("state: expected at least one keyword argument to save")
    _check_weights_only(state, "state")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.replace(path, _prev_path(path))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _recovery_hint(path: Path) -> str:
    prev = _prev_path(path)
    if prev.exists():
        return (
            f"The previous checkpoint was kept at {prev}; to resume from it, move it into "
            f"place (os.replace({str(prev)!r}, {str(path)!r})) and run again."
        )
    return f"No previous checkpoint ({prev.name}) exists; delete {path} to start over."


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    Raises :class:`CheckpointError` (naming the file, and the ``.prev`` backup if one
    exists) when the file is truncated, corrupted or not a checkpoint at all.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint: no file at {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(
            f"checkpoint {path} is unreadable ({type(exc).__name__}: {reason}). "
            + _recovery_hint(path)
        ) from exc
    if not isinstance(state, dict):
        raise CheckpointError(
            f"checkpoint {path} holds a {type(state).__name__}, expected a dict. "
            + _recovery_hint(path)
        )
    return state


# ------------------------------------------------------------------------ RNG states


def _data_generators(data: Any) -> list[torch.Generator]:
    """The torch.Generators a DataLoader (or similar) shuffles with, found by attribute."""
    batch_sampler = getattr(data, "batch_sampler", None)
    owners = (data, getattr(data, "sampler", None), batch_sampler)
    owners += (getattr(batch_sampler, "sampler", None),)
    found: list[torch.Generator] = []
    for owner in owners:
        gen = getattr(owner, "generator", None)
        if isinstance(gen, torch.Generator) and all(gen is not g for g in found):
            found.append(gen)
    return found


def _rng_state(generators: list[torch.Generator]) -> dict[str, Any]:
    """Every RNG state, as tensors / plain Python values (``weights_only`` friendly)."""
    name, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
        "generators": [gen.get_state() for gen in generators],
    }


def _set_rng_state(state: Mapping[str, Any], generators: list[torch.Generator]) -> None:
    torch.set_rng_state(state["torch"])
    cuda = state["cuda"]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    np_state = state["numpy"]
    np.random.set_state(
        (
            np_state["name"],
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    py_state = state["python"]
    random.setstate((py_state["version"], tuple(py_state["internal"]), py_state["gauss_next"]))
    for gen, gen_state in zip(generators, state["generators"], strict=False):
        gen.set_state(gen_state)


# ------------------------------------------------------------------------- utilities


def _to_device(batch: Any, device: torch.device) -> Any:
    """Move tensors (also inside tuples, lists and dicts) to ``device``."""
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {key: _to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(_to_device(value, device) for value in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(value, device) for value in batch)
    return batch


def _len_or_none(data: Any) -> int | None:
    try:
        return len(data)
    except TypeError:
        return None


def _check_args(model: Any, loss_fn: Any, data: Any, steps: Any, epochs: Any) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn: expected a callable loss_fn(model, batch), got {loss_fn!r}")
    if isinstance(data, Iterator) or not isinstance(data, Iterable):
        raise ValueError(
            f"data: expected a re-iterable such as a DataLoader or a list of batches, got "
            f"{type(data).__name__} (a one-shot iterator cannot be replayed for every epoch)"
        )
    if _len_or_none(data) == 0:
        raise ValueError("data: expected at least one batch, got an empty iterable")
    if (steps is None) == (epochs is None):
        raise ValueError(
            f"fit: pass exactly one of steps= or epochs= (the total training budget), "
            f"got steps={steps!r}, epochs={epochs!r}"
        )
    if steps is not None:
        positive_int("steps", steps)
    if epochs is not None:
        positive_int("epochs", epochs)


def _check_optimizer(optimizer: torch.optim.Optimizer, model: nn.Module) -> None:
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer: expected a torch.optim.Optimizer, got {optimizer!r}")
    own = {id(p) for p in model.parameters()}
    foreign = sum(id(p) not in own for g in optimizer.param_groups for p in g["params"])
    if foreign:
        raise ValueError(
            f"optimizer: {foreign} of its parameters do not belong to model; fit saves only "
            "the model, so build the optimizer on model.parameters()"
        )


def _split_loss(out: Any, step: int) -> tuple[Tensor, dict[str, float]]:
    """Validate loss_fn's output; return the loss tensor and the extra metrics as floats."""
    if isinstance(out, Mapping):
        if "loss" not in out:
            raise ValueError(f"loss_fn: returned a dict without a 'loss' entry (keys {list(out)})")
        loss, extras = out["loss"], {k: v for k, v in out.items() if k != "loss"}
    else:
        loss, extras = out, {}
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        got = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(f"loss_fn: expected the loss to be a scalar tensor, got {got}")
    if not loss.requires_grad:
        raise ValueError(
            "loss_fn: the loss does not require grad (was it detached, computed under "
            "torch.no_grad(), or computed without the model?)"
        )
    metrics: dict[str, float] = {}
    for key, value in extras.items():
        if key in _RESERVED:
            raise ValueError(f"loss_fn: metric name {key!r} is reserved; use another name")
        if isinstance(value, Tensor) and value.numel() == 1:
            value = value.detach().item()
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"loss_fn: metric {key!r} must be a scalar, got {value!r}")
        if not math.isfinite(value):
            raise FloatingPointError(f"step {step}: metric {key!r} is {value} (not finite)")
        metrics[str(key)] = float(value)
    return loss, metrics


# ------------------------------------------------------------------------------ fit


@dataclass
class _Progress:
    """Where training stands: ``position`` batches of ``epoch`` are done, ``step`` in all."""

    step: int = 0
    epoch: int = 0
    position: int = 0
    history: History = field(default_factory=History)
    rng_epoch: dict[str, Any] | None = None  # RNG states at the start of ``epoch``
    rng_step: dict[str, Any] | None = None  # RNG states right after ``step`` (on resume)

    def key(self) -> tuple[int, int, int]:
        return (self.step, self.epoch, self.position)


def _load_model(path: Path, model: nn.Module, saved: Mapping[str, Tensor]) -> None:
    current = model.state_dict()
    missing = sorted(set(current) - set(saved))
    unexpected = sorted(set(saved) - set(current))
    wrong = [
        f"{k} {tuple(saved[k].shape)} vs {tuple(current[k].shape)}"
        for k in current
        if k in saved and saved[k].shape != current[k].shape
    ]
    problems = [
        f"{label} {items[:10]}"
        for label, items in (
            ("keys missing from the checkpoint", missing),
            ("keys not in the model", unexpected),
            ("shape mismatches (checkpoint vs model)", wrong),
        )
        if items
    ]
    if problems:
        raise CheckpointError(
            f"checkpoint {path} does not match the model: {'; '.join(problems)}. "
            "Use another checkpoint path, or resume=False to start over."
        )
    model.load_state_dict(saved)


def _restore(
    path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, n_generators: int
) -> _Progress | None:
    """Load ``path`` into model and optimizer; None when there is nothing to resume."""
    prev = _prev_path(path)
    if not path.exists():
        if prev.exists():
            raise CheckpointError(
                f"checkpoint {path} is missing but {prev} exists (was a save interrupted?). "
                f"To resume from it, os.replace({str(prev)!r}, {str(path)!r}); to start "
                "over, delete it or pass resume=False."
            )
        return None
    state = load_checkpoint(path)
    missing = [key for key in _FIT_KEYS if key not in state]
    if missing or state["format"] != FORMAT:
        raise CheckpointError(
            f"checkpoint {path} was not written by fit() (format {state.get('format')!r}, "
            f"missing {missing}). Use another checkpoint path or resume=False."
        )
    _load_model(path, model, state["model"])
    try:
        optimizer.load_state_dict(state["optimizer"])
    except (ValueError, KeyError, RuntimeError) as exc:
        raise CheckpointError(
            f"checkpoint {path}: the optimizer state does not fit this optimizer ({exc})"
        ) from exc
    if len(state["rng"]["generators"]) != n_generators:
        warnings.warn(
            f"checkpoint {path} saved {len(state['rng']['generators'])} data generator "
            f"state(s) but data has {n_generators}; the resumed data order will differ "
            "from an uninterrupted run",
            stacklevel=3,
        )
    if state["rng"]["cuda"] and not torch.cuda.is_available():
        warnings.warn(
            f"checkpoint {path} was written with CUDA; its CUDA random state cannot be "
            "restored here, so random draws after resuming will differ",
            stacklevel=3,
        )
    return _Progress(
        step=state["step"],
        epoch=state["epoch"],
        position=state["position"],
        history=History.from_state_dict(state["history"]),
        rng_epoch=state.get("rng_epoch_start"),
        rng_step=state["rng"],
    )


def _skip(iterator: Iterator[Any], count: int, path: Path | None, epoch: int) -> None:
    """Consume the ``count`` batches that the checkpointed run already trained on."""
    for done in range(count):
        try:
            next(iterator)
        except StopIteration:
            raise CheckpointError(
                f"checkpoint {path} stopped after batch {count} of epoch {epoch}, but data "
                f"now yields only {done} batches per epoch: was the data or batch size changed?"
            ) from None


def _epoch_batches(
    data: Iterable[Any], run: _Progress, generators: list[torch.Generator], path: Path | None
) -> Iterator[Any]:
    """Start the iterator of epoch ``run.epoch``; after a resume, replay it to ``run.position``.

    Replaying restores the RNG states of the epoch's start before ``iter(data)`` (so a
    shuffling DataLoader draws the same order), skips the batches already trained on, then
    restores the RNG states saved at the checkpoint step.
    """
    if run.rng_step is not None and run.position == 0:
        # checkpoint at an epoch boundary: its RNG states are this epoch's start states
        _set_rng_state(run.rng_step, generators)
        run.rng_step = None
    if run.rng_step is None:
        run.rng_epoch = _rng_state(generators)
        return iter(data)
    _set_rng_state(run.rng_epoch, generators)
    batches = iter(data)
    _skip(batches, run.position, path, run.epoch)
    _set_rng_state(run.rng_step, generators)
    run.rng_step = None
    return batches


def fit(
    model: nn.Module,
    loss_fn: LossFn,
    data: Iterable[Any],
    *,
    steps: int | None = None,
    epochs: int | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    lr: float = 1e-3,
    device: str | torch.device | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 100,
    resume: bool = True,
    progress: bool = True,
    desc: str = "train",
    grad_clip: float | None = None,
) -> History:
    """Train ``model`` by minimising ``loss_fn`` over ``data``; return the :class:`History`.

    Args:
        model: the network; it is moved to ``device`` and left in its original train/eval
            mode afterwards.
        loss_fn: ``loss_fn(model, batch)`` returning a scalar tensor, or a dict with a
            scalar ``"loss"`` tensor plus other scalar metrics to log.
        data: a re-iterable (DataLoader, list of batches). Each batch is moved to
            ``device``, including tensors inside tuples, lists and dicts.
        steps, epochs: the total budget; pass exactly one.
        optimizer: defaults to ``torch.optim.Adam(model.parameters(), lr=lr)``.
        device: defaults to :func:`edu_gen.core.config.get_device`.
        checkpoint: file to save to every ``checkpoint_every`` steps and at the end.
        resume: continue from ``checkpoint`` if it exists (exactly, on CPU).
        progress: show a progress bar titled ``desc``.
        grad_clip: clip the gradient norm to this value before each step.

    Raises:
        FloatingPointError: a loss (or metric) is NaN/inf; the model is not updated.
        CheckpointError: the checkpoint is unreadable or belongs to another model.
    """
    _check_args(model, loss_fn, data, steps, epochs)
    positive_int("checkpoint_every", checkpoint_every)
    if grad_clip is not None:
        positive_float("grad_clip", grad_clip)
    device = get_device(None if device is None else str(device))
    model.to(device)
    if optimizer is None:
        positive_float("lr", lr)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    _check_optimizer(optimizer, model)

    path = Path(checkpoint) if checkpoint is not None else None
    generators = _data_generators(data)
    run = _restore(path, model, optimizer, len(generators)) if path and resume else None
    run = run or _Progress()
    if (steps is not None and run.step > steps) or (epochs is not None and run.epoch > epochs):
        raise ValueError(
            f"checkpoint {path} is already at step {run.step} (epoch {run.epoch}), past the "
            f"budget steps={steps}, epochs={epochs}; raise the budget or pass resume=False"
        )

    def finished() -> bool:
        return run.step >= steps if steps is not None else run.epoch >= epochs

    if finished():
        return run.history

    def save() -> None:
        save_checkpoint(
            path,
            format=FORMAT,
            model=model.state_dict(),
            optimizer=optimizer.state_dict(),
            step=run.step,
            epoch=run.epoch,
            position=run.position,
            history=run.history.state_dict(),
            rng=_rng_state(generators),
            rng_epoch_start=run.rng_epoch,
        )

    n_batches = _len_or_none(data)
    total = steps if steps is not None else (epochs * n_batches if n_batches else None)
    bar = tqdm(total=total, initial=run.step, desc=desc, disable=not progress, dynamic_ncols=True)
    running = run.history.last("loss") if len(run.history) else None
    saved_at = run.key()
    was_training = model.training
    model.train()
    try:
        while not finished():
            for batch in _epoch_batches(data, run, generators, path):
                run.step += 1
                run.position += 1
                record = _train_step(model, loss_fn, optimizer, batch, device, run, grad_clip)
                run.history.append({"step": run.step, "epoch": run.epoch, **record})
                loss = record["loss"]
                running = loss if running is None else 0.9 * running + 0.1 * loss
                bar.set_postfix(loss=f"{running:.4g}", refresh=False)
                bar.update(1)
                if path is not None and run.step % checkpoint_every == 0:
                    save()
                    saved_at = run.key()
                if steps is not None and run.step >= steps:
                    break
            else:
                if run.position == 0:
                    raise ValueError(f"data: epoch {run.epoch} yielded no batches")
                run.epoch += 1
                run.position = 0
        if path is not None and run.key() != saved_at:
            save()
    finally:
        bar.close()
        model.train(was_training)
    return run.history


def _train_step(
    model: nn.Module,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    batch: Any,
    device: torch.device,
    run: _Progress,
    grad_clip: float | None,
) -> dict[str, float]:
    """One update θ ← θ − η ∇θ L(θ; batch); returns the logged numbers."""
    optimizer.zero_grad(set_to_none=True)
    loss, metrics = _split_loss(loss_fn(model, _to_device(batch, device)), run.step)
    value = loss.detach().item()
    if not math.isfinite(value):
        raise FloatingPointError(
            f"step {run.step} (epoch {run.epoch}): the loss is {value}; training stopped "
            "before updating the model. Try a lower lr, grad_clip=1.0, or look for "
            "log(0) / division by zero in loss_fn."
        )
    loss.backward()
    if grad_clip is not None:
        norm = nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        if not math.isfinite(norm.item()):
            raise FloatingPointError(f"step {run.step}: the gradient norm is {norm.item()}")
    optimizer.step()
    return {"loss": value, **metrics}
