"""Checkpoint integrity: checksums catch flipped bytes, kills during a save lose nothing.

* A checkpoint with 64 bytes flipped in the middle still loads with ``torch.load`` (the
  flip lands in tensor data), but ``fit`` refuses it naming the file and its ``.prev``; a
  save after that failed load does not rotate the good ``.prev`` away, and resuming from
  ``.prev`` gives exactly the uninterrupted run.
* A training process SIGKILLed at five points of a save (this file run as a script) always
  leaves a complete ``run.pt``; the next run resumes bit-identically and removes the
  temporary file the killed save left.
"""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from edu_gen.core.rng import seed_everything
from edu_gen.core.train import CheckpointError, fit, load_checkpoint, save_checkpoint
from edu_gen.core.train.integrity import content_digest, stale_temporaries

X = torch.randn(40, 4, generator=torch.Generator().manual_seed(1))
STEPS, EVERY = 22, 4


def noisy_loss(model: nn.Module, batch: list[torch.Tensor]) -> dict:
    (x,) = batch
    scale = 0.1 + 0.05 * random.random() + 0.05 * float(np.random.rand())
    return {"loss": F.mse_loss(model(x + scale * torch.randn_like(x)), x)}


def train(ckpt: Path | None, steps: int, **kwargs) -> tuple[nn.Module, object]:
    seed_everything(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 4))
    loader = DataLoader(
        TensorDataset(X), batch_size=6, shuffle=True, generator=torch.Generator().manual_seed(7)
    )
    kwargs.setdefault("checkpoint_every", EVERY)
    history = fit(model, noisy_loss, loader, steps=steps, lr=1e-2, device="cpu",
                  checkpoint=ckpt, progress=False, **kwargs)  # fmt: skip
    return model, history


def disturb_rngs() -> None:
    torch.manual_seed(12345)
    np.random.seed(12345)
    random.seed(12345)


def assert_same(a: tuple, b: tuple) -> None:
    (model_a, hist_a), (model_b, hist_b) = a, b
    assert hist_a.keys() == hist_b.keys()
    for key in hist_a.keys():
        assert np.array_equal(hist_a[key], hist_b[key]), key
    for (name, pa), pb in zip(
        model_a.state_dict().items(), model_b.state_dict().values(), strict=True
    ):
        assert torch.equal(pa, pb), name


@pytest.fixture(scope="module")
def straight() -> tuple:
    return train(None, STEPS)


# ------------------------------------------------------------------------ bit flips


def flip_middle(path: Path, n: int = 64) -> bytes:
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    for i in range(mid - n // 2, mid + n // 2):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    return bytes(data)


def test_flipped_bytes_are_an_error_and_prev_survives_and_resumes(tmp_path, straight):
    ckpt, prev = tmp_path / "run.pt", tmp_path / "run.pt.prev"
    train(ckpt, 8)
    good_prev = prev.read_bytes()
    flipped = flip_middle(ckpt)
    assert torch.load(ckpt, weights_only=True)["step"] == 8  # torch alone does not notice
    with pytest.raises(CheckpointError) as info:
        train(ckpt, STEPS)
    message = str(info.value)
    assert "corrupted" in message and str(ckpt) in message and str(prev) in message
    assert "will not replace it" in message
    assert ckpt.read_bytes() == flipped and prev.read_bytes() == good_prev

    # a save after the failed load: the corrupt file is replaced, never rotated into .prev
    with pytest.warns(UserWarning, match="does not verify"):
        train(ckpt, 2, resume=False, checkpoint_every=100)
    assert prev.read_bytes() == good_prev
    assert load_checkpoint(ckpt)["step"] == 2

    os.replace(prev, ckpt)  # what the message says to do
    disturb_rngs()
    assert_same(straight, train(ckpt, STEPS))


def test_save_over_a_corrupt_file_keeps_the_good_prev(tmp_path):
    path = tmp_path / "cache.pt"
    save_checkpoint(path, w=torch.zeros(1000), note="first")
    save_checkpoint(path, w=torch.ones(1000), note="second")  # first -> .prev
    flip_middle(path, 16)
    with pytest.raises(CheckpointError, match="corrupted"):
        load_checkpoint(path)
    with pytest.warns(UserWarning, match="cache.pt.prev, which still holds the last good"):
        save_checkpoint(path, w=torch.full((1000,), 3.0), note="third")
    assert load_checkpoint(path)["note"] == "third"
    assert load_checkpoint(tmp_path / "cache.pt.prev")["note"] == "first"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a good file rotates silently
        save_checkpoint(path, w=torch.zeros(1), note="fourth")
    assert load_checkpoint(tmp_path / "cache.pt.prev")["note"] == "third"


def test_checksum_is_written_stripped_and_sensitive(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", w=torch.arange(4.0), meta={"k": [1, 2.5, "s"]})
    raw = torch.load(path, weights_only=True)
    assert raw["checksum"].startswith("sha256:") and len(raw["checksum"]) == 7 + 64
    assert "checksum" not in load_checkpoint(path)
    base = content_digest({"w": torch.arange(4.0), "meta": {"k": [1, 2.5, "s"]}})
    assert raw["checksum"] == base
    for changed in (
        {"w": torch.arange(4.0).double(), "meta": {"k": [1, 2.5, "s"]}},  # dtype
        {"w": torch.arange(4.0).reshape(2, 2), "meta": {"k": [1, 2.5, "s"]}},  # shape
        {"w": torch.arange(4.0), "meta": {"k": [1, 2.5, "t"]}},  # a string
        {"w": torch.arange(4.0), "meta": {"k": [True, 2.5, "s"]}},  # 1 vs True
        {"meta": {"k": [1, 2.5, "s"]}, "w": torch.arange(4.0)},  # order
    ):
        assert content_digest(changed) != base


def test_file_without_checksum_still_loads(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"format": "edu_gen.fit/2", "w": torch.ones(2)}, path)
    assert load_checkpoint(path)["format"] == "edu_gen.fit/2"


def test_reserved_key_and_folder_paths_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r"state: the key 'checksum' is reserved"):
        save_checkpoint(tmp_path / "c.pt", checksum="mine")
    with pytest.raises(IsADirectoryError, match=r"checkpoint: .* is a folder; expected a file"):
        train(tmp_path, 2)
    with pytest.raises(IsADirectoryError, match="is a folder"):
        save_checkpoint(tmp_path, w=torch.ones(1))


# ------------------------------------------------------------------ stale temporaries


def test_only_temporaries_of_dead_processes_are_removed(tmp_path):
    ckpt = tmp_path / "run.pt"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = [
            f".run.pt.tmp-{dead.pid}",
            f".run.pt.prev.tmp-{dead.pid}",
            f".run.pt.tmp-{live.pid}",  # a save still running in another process
            f".other.pt.tmp-{dead.pid}",  # another checkpoint's
        ]
        for name in names:
            (tmp_path / name).write_bytes(b"partial")
        assert [p.name for p in stale_temporaries(ckpt)] == sorted(names[:2])
        train(ckpt, 2)
        left = sorted(p.name for p in tmp_path.iterdir())
        assert left == sorted([names[2], names[3], "run.pt"])
    finally:
        live.kill()
        live.wait()


# --------------------------------------------------------------- kills during a save

KILL_POINTS = {  # point -> the step of the checkpoint that must survive
    "writing": 4,  # half of the new file written
    "written": 4,  # new file complete and fsynced, old one not yet backed up
    "rotating": 4,  # .prev's temporary hard link made, not yet renamed
    "rotated": 4,  # .prev updated, new file not yet renamed into place
    "renamed": 8,  # new file in place, folder not yet fsynced
}


def _kill_at(point: str, ckpt: Path) -> None:
    """Patch the save so that this process SIGKILLs itself at ``point`` of its 2nd save."""
    saves = 0
    real_save, real_link, real_replace = torch.save, os.link, os.replace

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def save(obj, handle, *args, **kwargs):
        nonlocal saves
        saves += 1
        if saves == 2 and point == "writing":
            buffer = io.BytesIO()
            real_save(obj, buffer, *args, **kwargs)
            handle.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            handle.flush()
            die()
        return real_save(obj, handle, *args, **kwargs)

    def link(src, dst, *args, **kwargs):
        if saves == 2 and point == "written":
            die()
        return real_link(src, dst, *args, **kwargs)

    def replace(src, dst, *args, **kwargs):
        final = Path(dst) == ckpt
        if saves == 2 and ((point == "rotating" and not final) or (point == "rotated" and final)):
            die()
        real_replace(src, dst, *args, **kwargs)
        if saves == 2 and point == "renamed" and final:
            die()

    torch.save, os.link, os.replace = save, link, replace


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_during_save_resumes_exactly_and_leaves_no_temporary(tmp_path, straight, point):
    ckpt = tmp_path / "run.pt"
    child = subprocess.run(
        [sys.executable, __file__, str(ckpt), point], capture_output=True, text=True, timeout=300
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    leftovers = [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]
    assert bool(leftovers) == (point != "renamed"), leftovers
    assert torch.load(ckpt, weights_only=True)["step"] == KILL_POINTS[point]  # complete
    disturb_rngs()
    assert_same(straight, train(ckpt, STEPS))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt", "run.pt.prev"]


if __name__ == "__main__":  # the child of the kill tests: train until killed mid-save
    target, where = Path(sys.argv[1]), sys.argv[2]
    _kill_at(where, target)
    train(target, STEPS)
    sys.exit("not killed")
