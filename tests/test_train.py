"""Tests of edu_gen.core.train: the loop, its History, and exact checkpoint/resume.

The key property: training N steps straight gives exactly the same parameters and
loss history as training with checkpoints, "crashing" (a fresh model, optimizer and
DataLoader, with every RNG disturbed) and resuming. The loss adds random noise drawn
from torch, NumPy and Python's ``random``, and the model uses dropout, so every
random-number generator has to be restored for the runs to agree.
"""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, RandomSampler, TensorDataset

from edu_gen.core.rng import seed_everything
from edu_gen.core.train import (
    CheckpointError,
    History,
    Player,
    Turn,
    TurnCycle,
    fit,
    load_checkpoint,
    save_checkpoint,
)
from edu_gen.core.train.players import split_loss
from edu_gen.core.train.rng_state import loader_generators

N_SAMPLES, BATCH = 40, 6  # 7 batches per epoch, the last one short
X = torch.randn(N_SAMPLES, 4, generator=torch.Generator().manual_seed(1))


def make_model(seed: int = 0) -> nn.Module:
    seed_everything(seed)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 4))


def make_loader(seeded: bool) -> DataLoader:
    generator = torch.Generator().manual_seed(7) if seeded else None
    return DataLoader(TensorDataset(X), batch_size=BATCH, shuffle=True, generator=generator)


def denoise_loss(model: nn.Module, batch: list[torch.Tensor]) -> dict:
    """A denoising-autoencoder loss whose noise comes from all three RNG families."""
    (x,) = batch
    scale = 0.1 + 0.05 * random.random() + 0.05 * float(np.random.rand())
    recon = model(x + scale * torch.randn_like(x))
    return {"loss": F.mse_loss(recon, x), "scale": scale}


def crashing_loss(crash_at: int):
    """denoise_loss that raises on its ``crash_at``-th call, like a lost Colab runtime."""
    calls = 0

    def loss(model: nn.Module, batch: list[torch.Tensor]) -> dict:
        nonlocal calls
        calls += 1
        if calls == crash_at:
            raise RuntimeError("simulated disconnect")
        return denoise_loss(model, batch)

    return loss


def disturb_rngs() -> None:
    """Put every global RNG somewhere else, as a restarted runtime would."""
    torch.manual_seed(12345)
    np.random.seed(12345)
    random.seed(12345)


def run(seeded: bool, device: torch.device, loss=denoise_loss, **kwargs) -> tuple:
    model = make_model()
    kwargs.setdefault("lr", 1e-2)
    history = fit(model, loss, make_loader(seeded), device=device, progress=False, **kwargs)
    return model, history


def assert_same_run(a: tuple, b: tuple, device: torch.device) -> None:
    (model_a, hist_a), (model_b, hist_b) = a, b
    assert hist_a.keys() == hist_b.keys()
    for key in hist_a.keys():
        if device.type == "cpu":
            numeric = hist_a[key].dtype.kind in "fc"  # NaN: a key another player logs
            assert np.array_equal(hist_a[key], hist_b[key], equal_nan=numeric), key
        else:  # GPU kernels need not be bit-reproducible; the data order still must be
            np.testing.assert_allclose(hist_a[key], hist_b[key], rtol=1e-5, atol=1e-6)
    for (name, pa), pb in zip(
        model_a.state_dict().items(), model_b.state_dict().values(), strict=True
    ):
        if device.type == "cpu":
            assert torch.equal(pa, pb), name
        else:
            torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------- exact resume


@pytest.mark.parametrize("seeded", [True, False], ids=["loader-generator", "global-rng"])
def test_resume_after_half_budget_equals_straight_run(tmp_path, device, seeded):
    ckpt = tmp_path / "run.pt"
    straight = run(seeded, device, steps=22)
    # 11 steps = epoch 1, batch 4 of 7: mid-epoch; checkpoint_every=4 does not divide 11
    run(seeded, device, steps=11, checkpoint=ckpt, checkpoint_every=4)
    assert load_checkpoint(ckpt)["step"] == 11
    disturb_rngs()
    resumed = run(seeded, device, steps=22, checkpoint=ckpt, checkpoint_every=4)
    assert len(resumed[1]) == 22
    assert_same_run(straight, resumed, device)


@pytest.mark.parametrize("seeded", [True, False], ids=["loader-generator", "global-rng"])
@pytest.mark.parametrize(
    ("crash_at", "every", "saved_step"),
    [(11, 4, 8), (10, 7, 7), (16, 5, 15)],
    ids=["mid-epoch", "epoch-end", "next-epoch"],
)
def test_resume_after_crash_replays_from_last_checkpoint(
    tmp_path, device, seeded, crash_at, every, saved_step
):
    ckpt = tmp_path / "run.pt"
    straight = run(seeded, device, steps=22)
    with pytest.raises(RuntimeError, match="simulated disconnect"):
        run(seeded, device, crashing_loss(crash_at), steps=22, checkpoint=ckpt,
            checkpoint_every=every)  # fmt: skip
    assert load_checkpoint(ckpt)["step"] == saved_step
    disturb_rngs()
    resumed = run(seeded, device, steps=22, checkpoint=ckpt, checkpoint_every=every)
    assert_same_run(straight, resumed, device)


@pytest.mark.parametrize("seeded", [True, False], ids=["loader-generator", "global-rng"])
def test_resume_with_epoch_budget(tmp_path, seeded):
    cpu = torch.device("cpu")
    ckpt = tmp_path / "run.pt"
    straight = run(seeded, cpu, epochs=4)
    assert len(straight[1]) == 4 * 7
    with pytest.raises(RuntimeError, match="simulated disconnect"):
        run(seeded, cpu, crashing_loss(12), epochs=2, checkpoint=ckpt, checkpoint_every=5)
    run(seeded, cpu, epochs=2, checkpoint=ckpt, checkpoint_every=5)  # resumes at step 10
    state = load_checkpoint(ckpt)
    assert (state["step"], state["epoch"], state["position"]) == (14, 2, 0)
    disturb_rngs()
    resumed = run(seeded, cpu, epochs=4, checkpoint=ckpt, checkpoint_every=5)
    assert_same_run(straight, resumed, cpu)


def test_finished_checkpoint_returns_its_history_without_training(tmp_path):
    cpu = torch.device("cpu")
    ckpt = tmp_path / "run.pt"
    trained = run(True, cpu, steps=6, checkpoint=ckpt)

    def must_not_run(model, batch):
        raise AssertionError("loss_fn called although the budget was already spent")

    again = run(True, cpu, must_not_run, steps=6, checkpoint=ckpt)
    assert_same_run(trained, again, cpu)


def test_checkpoint_past_budget_is_an_error(tmp_path):
    ckpt = tmp_path / "run.pt"
    run(True, torch.device("cpu"), steps=6, checkpoint=ckpt)
    with pytest.raises(ValueError, match="past the budget"):
        run(True, torch.device("cpu"), steps=3, checkpoint=ckpt)


def test_resume_false_starts_over(tmp_path):
    cpu = torch.device("cpu")
    ckpt = tmp_path / "run.pt"
    run(True, cpu, steps=6, checkpoint=ckpt)
    model, history = run(True, cpu, steps=4, checkpoint=ckpt, resume=False)
    assert len(history) == 4
    assert load_checkpoint(ckpt)["step"] == 4


# --------------------------------------------------------------- checkpoint files


def test_fit_checkpoint_loads_with_weights_only(tmp_path):
    ckpt = tmp_path / "sub" / "run.pt"
    run(False, torch.device("cpu"), steps=5, checkpoint=ckpt, checkpoint_every=2)
    state = torch.load(ckpt, weights_only=True)
    assert state["step"] == 5 and state["epoch"] == 0 and state["position"] == 5
    assert state["history"]["step"] == [1, 2, 3, 4, 5]
    assert {"torch", "cuda", "numpy", "python", "generators"} <= set(state["rng"])
    assert torch.load(tmp_path / "sub" / "run.pt.prev", weights_only=True)["step"] == 4
    assert sorted(p.name for p in ckpt.parent.iterdir()) == ["run.pt", "run.pt.prev"]


def test_save_checkpoint_is_atomic_and_keeps_previous(tmp_path):
    path = tmp_path / "cache.pt"
    save_checkpoint(path, weights={"w": torch.ones(2)}, note="first")
    save_checkpoint(path, weights={"w": torch.zeros(2)}, note="second")
    assert torch.load(path, weights_only=True)["note"] == "second"
    assert load_checkpoint(tmp_path / "cache.pt.prev")["note"] == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.pt", "cache.pt.prev"]


def test_save_checkpoint_rejects_what_weights_only_cannot_load(tmp_path):
    with pytest.raises(TypeError, match=r"state\['extra'\]\['x'\].*numpy.ndarray"):
        save_checkpoint(tmp_path / "bad.pt", extra={"x": np.zeros(3)})
    with pytest.raises(ValueError, match="state"):
        save_checkpoint(tmp_path / "empty.pt")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupted_checkpoint_raises_and_keeps_previous(tmp_path, damage):
    cpu = torch.device("cpu")
    ckpt, prev = tmp_path / "run.pt", tmp_path / "run.pt.prev"
    run(True, cpu, steps=4, checkpoint=ckpt, checkpoint_every=2)
    data = ckpt.read_bytes()
    broken = b"\x00not a checkpoint\xff" * 50 if damage == "garbage" else data[: len(data) // 2]
    ckpt.write_bytes(broken)
    with pytest.raises(CheckpointError) as info:
        run(True, cpu, steps=8, checkpoint=ckpt, checkpoint_every=2)
    message = str(info.value)
    assert str(ckpt) in message and str(prev) in message and "os.replace" in message
    assert ckpt.read_bytes() == broken  # nothing was overwritten
    assert load_checkpoint(prev)["step"] == 2


def test_corrupted_checkpoint_without_previous_says_so(tmp_path):
    path = tmp_path / "lonely.pt"
    path.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="No previous checkpoint"):
        load_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")


def test_missing_checkpoint_with_previous_is_an_error(tmp_path):
    ckpt = tmp_path / "run.pt"
    run(True, torch.device("cpu"), steps=4, checkpoint=ckpt, checkpoint_every=2)
    ckpt.unlink()  # as if the runtime died between the two renames of a save
    with pytest.raises(CheckpointError, match="run.pt.prev"):
        run(True, torch.device("cpu"), steps=4, checkpoint=ckpt)


def test_checkpoint_of_another_model_names_the_keys(tmp_path):
    ckpt = tmp_path / "run.pt"
    run(True, torch.device("cpu"), steps=3, checkpoint=ckpt)
    other = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 4))  # no dropout slot
    expected = r"missing from the checkpoint \['2\.bias', '2\.weight'\]; keys not in the model"
    with pytest.raises(CheckpointError, match=expected) as info:
        fit(other, denoise_loss, make_loader(True), steps=6, checkpoint=ckpt, progress=False)
    assert str(ckpt) in str(info.value)
    wider = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 4))
    with pytest.raises(CheckpointError, match="shape mismatches"):
        fit(wider, denoise_loss, make_loader(True), steps=6, checkpoint=ckpt, progress=False)


# ----------------------------------------------------------------- the loop itself


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_loss_stops_naming_the_step(tmp_path, bad):
    calls = 0

    def loss(model, batch):
        nonlocal calls
        calls += 1
        value = denoise_loss(model, batch)["loss"]
        return value * bad if calls == 3 else value

    model, ckpt = make_model(), tmp_path / "run.pt"
    with pytest.raises(FloatingPointError, match="step 3 "):
        fit(model, loss, make_loader(True), steps=10, checkpoint=ckpt, checkpoint_every=2,
            device="cpu", progress=False)  # fmt: skip
    assert all(torch.isfinite(p).all() for p in model.parameters())  # no update at step 3
    assert load_checkpoint(ckpt)["step"] == 2  # the last good checkpoint is untouched


def test_loop_logs_metrics_moves_batches_and_restores_mode(device):
    seen = []

    def loss(model, batch):
        seen.append((batch["x"].device.type, batch["pair"][0].device.type))
        out = model(batch["pair"][0])
        return {"loss": F.mse_loss(out, batch["x"]), "mean": out.mean(), "const": 1}

    data = [{"x": X[i : i + 8], "pair": (X[i : i + 8], "tag")} for i in range(0, 40, 8)]
    model = make_model().eval()
    history = fit(model, loss, data, epochs=2, lr=1e-2, device=device, grad_clip=1.0)
    assert not model.training
    assert set(seen) == {(device.type, device.type)}
    assert len(history) == 10
    assert history.metrics() == ["loss", "mean", "const"]
    assert history["step"].tolist() == list(range(1, 11))
    assert history["epoch"].tolist() == [0] * 5 + [1] * 5
    assert history.last("loss") == history["loss"][-1]
    assert history["loss"][5:].mean() < history["loss"][:5].mean()  # same batches, learnt


def test_plain_tensor_loss_and_custom_optimizer():
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.clone() for p in model.parameters()]
    history = fit(
        model,
        lambda m, b: F.mse_loss(m(b[0]), b[0]),
        make_loader(True),
        steps=3,
        optimizer=optimizer,
        device="cpu",
        progress=False,
    )
    assert history.keys() == ["step", "epoch", "loss"]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_budget_and_argument_errors():
    model, data = make_model(), make_loader(True)
    with pytest.raises(ValueError, match="exactly one of steps= or epochs="):
        fit(model, denoise_loss, data, progress=False)
    with pytest.raises(ValueError, match="exactly one of steps= or epochs="):
        fit(model, denoise_loss, data, steps=2, epochs=1, progress=False)
    with pytest.raises(ValueError, match="steps: expected a positive int"):
        fit(model, denoise_loss, data, steps=0, progress=False)
    with pytest.raises(ValueError, match="data: expected a re-iterable"):
        fit(model, denoise_loss, (b for b in data), steps=2, progress=False)
    with pytest.raises(ValueError, match="data: expected at least one batch"):
        fit(model, denoise_loss, [], steps=2, progress=False)
    with pytest.raises(ValueError, match="checkpoint_every"):
        fit(model, denoise_loss, data, steps=2, checkpoint_every=0, progress=False)
    with pytest.raises(ValueError, match="lr"):
        fit(model, denoise_loss, data, steps=2, lr=float("nan"), progress=False)
    with pytest.raises(ValueError, match="optimizer: 1 of its parameters"):
        stray = torch.optim.Adam([nn.Parameter(torch.ones(1))])
        fit(model, denoise_loss, data, steps=2, optimizer=stray, progress=False)


@pytest.mark.parametrize(
    ("output", "match"),
    [
        (lambda m, x: m(x), "scalar tensor"),
        (lambda m, x: m(x).sum().detach(), "does not require grad"),
        (lambda m, x: {"mse": m(x).sum()}, "without a 'loss'"),
        (lambda m, x: {"loss": m(x).sum(), "step": 1.0}, "reserved"),
        (lambda m, x: {"loss": m(x).sum(), "v": m(x)}, "metric 'v' must be a scalar"),
    ],
)
def test_bad_loss_fn_output_is_explained(output, match):
    with pytest.raises(ValueError, match=match):
        fit(make_model(), lambda m, b: output(m, b[0]), make_loader(True), steps=2,
            device="cpu", progress=False)  # fmt: skip


def test_history_roundtrip_and_errors(tmp_path):
    history = History()
    history.append({"step": 1, "epoch": 0, "loss": 0.5})
    history.append({"step": 2, "epoch": 0, "loss": 0.25})
    torch.save({"h": history.state_dict()}, tmp_path / "h.pt")
    loaded = History.from_state_dict(torch.load(tmp_path / "h.pt", weights_only=True)["h"])
    assert loaded == history and len(loaded) == 2 and loaded.last() == 0.25
    assert loaded.records[1] == {"step": 2, "epoch": 0, "loss": 0.25}
    assert "loss" in repr(loaded)
    with pytest.raises(KeyError, match="available keys"):
        history["kl"]
    with pytest.raises(ValueError, match="same metrics"):
        history.append({"step": 3, "epoch": 0, "loss": 0.1, "kl": 1.0})
    with pytest.raises(ValueError, match="history is empty"):
        History({"loss": []}).last()
    with pytest.raises(ValueError, match="equal length"):
        History({"loss": [1.0], "step": []})


# ------------------------------------------------------------------ players and turns


def two_players(model: nn.Module, crash_at: int | None = None) -> dict[str, Player]:
    """Player "a" trains the first layer on the noisy loss (every RNG family); player "b"
    trains the last layer with momentum SGD and logs a metric of its own."""

    def b_loss(m: nn.Module, batch: list[torch.Tensor]) -> dict:
        (x,) = batch
        recon = m(x + 0.1 * torch.randn_like(x))
        return {"loss": F.mse_loss(recon, x), "b_norm": recon.norm()}

    a_loss = denoise_loss if crash_at is None else crashing_loss(crash_at)
    return {
        "a": Player(a_loss, torch.optim.Adam(model[0].parameters(), lr=1e-2)),
        "b": Player(b_loss, torch.optim.SGD(model[3].parameters(), lr=1e-2, momentum=0.9)),
    }


def run_players(seeded: bool, crash_at: int | None = None, **kwargs) -> tuple:
    model = make_model()
    turns = TurnCycle(make_loader(seeded), ["a", "a", "b"])  # 7 batches: 3 passes per epoch
    history = fit(model, two_players(model, crash_at), turns, device="cpu", progress=False,
                  **kwargs)  # fmt: skip
    return model, history


@pytest.mark.parametrize("crash_at", [9, 20], ids=["first-pass", "third-pass"])
def test_two_player_run_resumed_mid_epoch_equals_straight_run(tmp_path, crash_at):
    cpu, ckpt = torch.device("cpu"), tmp_path / "run.pt"
    straight = run_players(True, steps=30)
    assert len(straight[1]) == 30 and straight[1]["epoch"].tolist() == [0] * 21 + [1] * 9
    with pytest.raises(RuntimeError, match="simulated disconnect"):
        run_players(True, crash_at, steps=30, checkpoint=ckpt, checkpoint_every=4)
    state = load_checkpoint(ckpt)
    assert state["format"] == "edu_gen.fit/2" and sorted(state["optimizers"]) == ["a", "b"]
    assert 0 < state["position"] < 21  # mid-epoch
    disturb_rngs()
    resumed = run_players(True, steps=30, checkpoint=ckpt, checkpoint_every=4)
    assert_same_run(straight, resumed, cpu)


def test_players_log_their_own_metrics():
    model, history = run_players(False, steps=6)
    assert history.keys() == ["step", "epoch", "player", "loss", "scale", "b_norm"]
    assert history["player"].tolist() == ["a", "a", "b"] * 2
    assert history.players() == ["a", "b"]
    b_norm, scale = history["b_norm"], history["scale"]
    assert np.isnan(b_norm[[0, 1, 3, 4]]).all() and np.isfinite(b_norm[[2, 5]]).all()
    assert np.isnan(scale[[2, 5]]).all() and np.isfinite(scale[[0, 1, 3, 4]]).all()
    only_b = history.select("b")
    assert only_b.keys() == ["step", "epoch", "loss", "b_norm"]
    assert (
        only_b["step"].tolist() == [3, 6]
        and only_b["loss"].tolist() == history["loss"][[2, 5]].tolist()
    )
    with pytest.raises(KeyError, match="players"):
        history.select("c")


def test_each_player_steps_only_its_optimizer():
    model = make_model()
    players = two_players(model)
    first, last = (
        [p.clone() for p in model[0].parameters()],
        [p.clone() for p in model[3].parameters()],
    )
    fit(model, players, [Turn("b", (X[:8],))], steps=1, device="cpu", progress=False)
    assert all(torch.equal(a, b) for a, b in zip(first, model[0].parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(last, model[3].parameters(), strict=True))


def test_player_update_contract():
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    before = [p.clone() for p in model.parameters()]
    out = Player(lambda m, b: {"loss": m(b).pow(2).sum() * 100, "n": 3}, optimizer, grad_clip=0.5)
    record = out.update(model, X[:8])
    assert set(record) == {"loss", "n"} and record["n"] == 3.0
    step = torch.cat([(a - b).flatten() for a, b in zip(before, model.parameters(), strict=True)])
    assert step.norm().item() == pytest.approx(0.5, rel=1e-5)  # lr 1 × the clipped gradient
    kept = [p.clone() for p in model.parameters()]
    bad = Player(lambda m, b: m(b).sum() * float("nan"), optimizer)
    with pytest.raises(FloatingPointError, match="the loss is nan"):
        bad.update(model, X[:8])
    assert all(torch.equal(a, b) for a, b in zip(kept, model.parameters(), strict=True))
    with pytest.raises(TypeError, match="loss_fn"):
        Player("mse", optimizer)
    with pytest.raises(TypeError, match="optimizer"):
        Player(denoise_loss, model.parameters())
    with pytest.raises(ValueError, match="grad_clip"):
        Player(denoise_loss, optimizer, grad_clip=0.0)


def test_fit_names_step_and_player_of_a_non_finite_loss():
    model = make_model()
    players = two_players(model)
    players["b"] = Player(lambda m, b: m(b[0]).sum() * float("inf"), players["b"].optimizer)
    with pytest.raises(FloatingPointError, match=r"step 3 \(epoch 0\), player 'b': the loss is"):
        fit(model, players, TurnCycle(make_loader(True), ["a", "a", "b"]), steps=5,
            device="cpu", progress=False)  # fmt: skip


class NoisySGDPlayer(Player):
    """A step that is not "backward, then optimizer.step()": it writes p.grad itself (here a
    clipped gradient plus seeded noise, the shape of a DP-SGD step) and then steps."""

    def __init__(self, loss_fn, optimizer, rng: torch.Generator) -> None:
        super().__init__(loss_fn, optimizer)
        self.rng = rng

    def update(self, model, batch):
        self.optimizer.zero_grad(set_to_none=True)
        loss, metrics = split_loss(self.loss_fn(model, batch))
        grads = torch.autograd.grad(loss, self.parameters())
        for p, g in zip(self.parameters(), grads, strict=True):
            p.grad = g.clamp(-0.1, 0.1) + 0.01 * torch.randn(g.shape, generator=self.rng)
        self.optimizer.step()
        return {"loss": loss.item(), **metrics}


def run_noisy(rng_arg: bool, crash_at: int | None = None, **kwargs) -> tuple:
    model = make_model()
    noise = torch.Generator().manual_seed(5)  # a fresh process builds it afresh
    loss = denoise_loss if crash_at is None else crashing_loss(crash_at)
    players = {"noisy": NoisySGDPlayer(loss, torch.optim.SGD(model.parameters(), lr=0.1), noise)}
    turns = TurnCycle(make_loader(True), ["noisy"])
    extra = {"rng": [noise]} if rng_arg else {}
    history = fit(model, players, turns, device="cpu", progress=False, **kwargs, **extra)
    return model, history


def test_explicit_rng_is_checkpointed_for_an_exact_resume(tmp_path):
    straight = run_noisy(True, steps=12)
    for rng_arg, exact in ((True, True), (False, False)):
        ckpt = tmp_path / f"run_{rng_arg}.pt"
        with pytest.raises(RuntimeError, match="simulated disconnect"):
            run_noisy(rng_arg, 7, steps=12, checkpoint=ckpt, checkpoint_every=3)
        disturb_rngs()
        resumed = run_noisy(rng_arg, steps=12, checkpoint=ckpt, checkpoint_every=3)
        same = all(
            torch.equal(a, b)
            for a, b in zip(straight[0].parameters(), resumed[0].parameters(), strict=True)
        )
        assert same == exact, rng_arg  # without rng=[noise] the noise restarts from its seed


def test_loader_generators_are_found_by_type_not_by_attribute():
    own, sampler_gen = torch.Generator(), torch.Generator()
    loader = DataLoader(TensorDataset(X), sampler=RandomSampler(X, generator=sampler_gen),
                        generator=own)  # fmt: skip
    assert loader_generators(loader) == [own, sampler_gen]
    assert loader_generators(TurnCycle(loader, ["a"])) == [own, sampler_gen]
    assert loader_generators(make_loader(False)) == []

    class Batches(list):
        generator = torch.Generator()  # an attribute that merely looks like one

    assert loader_generators(Batches([X])) == []
    with pytest.raises(TypeError, match="rng"):
        fit(make_model(), denoise_loss, make_loader(True), steps=1, rng=torch.Generator(),
            progress=False)  # fmt: skip
    with pytest.raises(TypeError, match=r"rng\[0\]"):
        fit(make_model(), denoise_loss, make_loader(True), steps=1, rng=[1], progress=False)


def test_turn_cycle_passes_and_length():
    cycle = TurnCycle([1, 2, 3, 4], ["x", "x", "y"])
    turns = list(cycle)
    assert cycle.passes == 3 and len(cycle) == len(turns) == 12
    assert [t.player for t in turns] == ["x", "x", "y"] * 4
    assert [t.batch for t in turns] == [1, 2, 3, 4] * 3
    assert len(TurnCycle([1, 2, 3, 4], ["x", "y"])) == 4  # 2 divides 4: one pass

    class Stream:  # re-iterable without a length: one pass, the order restarting
        def __iter__(self):
            return iter([1, 2, 3])

    cycle = TurnCycle(Stream(), ["x", "y"])
    assert [t.player for t in cycle] == ["x", "y", "x"]
    with pytest.raises(TypeError):
        len(cycle)
    with pytest.raises(ValueError, match="order"):
        TurnCycle([1], "xy")
    with pytest.raises(ValueError, match="data"):
        TurnCycle(iter([1]), ["x"])


def test_players_argument_errors():
    model = make_model()
    players = two_players(model)
    turns = TurnCycle(make_loader(True), ["a", "b"])
    for kwargs, match in (
        ({"optimizer": torch.optim.SGD(model.parameters(), lr=0.1)}, "optimizer"),
        ({"lr": 0.1}, "lr"),
        ({"grad_clip": 1.0}, "grad_clip"),
    ):
        with pytest.raises(ValueError, match=f"{match} cannot be passed with a dict of players"):
            fit(model, players, turns, steps=1, progress=False, **kwargs)
    with pytest.raises(TypeError, match=r"data: item 1 is a list.*Turn\(player, batch\)"):
        fit(model, players, make_loader(True), steps=1, progress=False)
    with pytest.raises(ValueError, match=r"data: item 1 is a turn of 'c', not one of \['a', 'b'\]"):
        fit(model, players, [Turn("c", X)], steps=1, progress=False)
    with pytest.raises(TypeError, match="objective: expected a dict"):
        fit(model, {"a": denoise_loss}, turns, steps=1, progress=False)
    with pytest.raises(ValueError, match="at least one player"):
        fit(model, {}, turns, steps=1, progress=False)
    with pytest.raises(TypeError, match="objective"):
        fit(model, 3, turns, steps=1, progress=False)
    stray = Player(denoise_loss, torch.optim.Adam([nn.Parameter(torch.ones(1))]))
    with pytest.raises(ValueError, match="player 'stray'"):
        fit(model, {**players, "stray": stray}, turns, steps=1, progress=False)


# ------------------------------------------------------------------ older checkpoints


def as_single_optimizer_file(path) -> None:
    """Rewrite a fit checkpoint in the format before players (edu_gen.fit/1)."""
    state = torch.load(path, weights_only=True)
    del state["checksum"]  # files of that format had no checksum
    state["optimizer"] = state.pop("optimizers")["model"]
    state["format"] = "edu_gen.fit/1"
    torch.save(state, path)


def test_single_optimizer_checkpoint_still_resumes(tmp_path):
    cpu, ckpt = torch.device("cpu"), tmp_path / "run.pt"
    straight = run(True, cpu, steps=12)
    run(True, cpu, steps=6, checkpoint=ckpt)
    as_single_optimizer_file(ckpt)
    disturb_rngs()
    assert_same_run(straight, run(True, cpu, steps=12, checkpoint=ckpt), cpu)
    assert load_checkpoint(ckpt)["format"] == "edu_gen.fit/2"  # saved anew


def test_single_optimizer_checkpoint_cannot_feed_two_players(tmp_path):
    ckpt = tmp_path / "run.pt"
    run(True, torch.device("cpu"), steps=3, checkpoint=ckpt)
    as_single_optimizer_file(ckpt)
    with pytest.raises(CheckpointError, match=r"cannot be split among the players \['a', 'b'\]"):
        run_players(True, steps=6, checkpoint=ckpt)
    with pytest.raises(CheckpointError, match="resume=False"):
        run_players(True, steps=6, checkpoint=ckpt)
    run_players(True, steps=6, checkpoint=ckpt, resume=False)  # starts over
    with pytest.raises(CheckpointError, match=r"players \['a', 'b'\], but this run has players"):
        run(True, torch.device("cpu"), steps=9, checkpoint=ckpt)


# ------------------------------------------------------------------ history with players


def test_history_with_players_keeps_each_players_keys():
    history = History()
    history.append({"step": 1, "epoch": 0, "player": "d", "loss": 0.5, "gp": 0.1})
    history.append({"step": 2, "epoch": 0, "player": "g", "loss": 0.7})
    history.append({"step": 3, "epoch": 0, "player": "d", "loss": 0.4, "gp": 0.2})
    assert history.metrics() == ["loss", "gp"]
    assert np.isnan(history["gp"][1]) and history["gp"][[0, 2]].tolist() == [0.1, 0.2]
    with pytest.raises(ValueError, match="player 'g' must return the same metrics"):
        history.append({"step": 4, "epoch": 0, "player": "g", "loss": 0.7, "gp": 0.0})
    loaded = History.from_state_dict(torch.load(save_history(history), weights_only=True))
    assert loaded == history and loaded.players() == ["d", "g"]
    with pytest.raises(ValueError, match="player 'd'"):  # the keys are known after loading
        loaded.append({"step": 4, "epoch": 0, "player": "d", "loss": 0.7})
    loaded.append({"step": 4, "epoch": 0, "player": "g", "loss": 0.6})
    assert loaded.select("g")["loss"].tolist() == [0.7, 0.6]


def save_history(history: History):
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "h.pt"
    torch.save(history.state_dict(), path)
    return path


def test_history_plot_needs_nothing_outside_core():
    code = (
        "import sys, matplotlib; matplotlib.use('Agg');"
        "from edu_gen.core.train import History;"
        "h = History({'step': [1, 2], 'epoch': [0, 0], 'loss': [1.0, 0.5]});"
        "ax = h.plot(logy=True);"
        "assert [l.get_label() for l in ax.get_lines()] == ['loss'];"
        "print(sorted(m for m in sys.modules if m.startswith('edu_gen.') and"
        " not m.startswith('edu_gen.core')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_models_own_error_says_which_step_and_batch():
    """A shape error inside the user's model keeps its type and gains the step and batch."""
    import sys

    model = torch.nn.Linear(3, 1)
    data = [torch.randn(4, 3), torch.randn(4, 5)]  # the second batch has the wrong width

    def loss_fn(m, batch):
        return m(batch).pow(2).mean()

    with pytest.raises(RuntimeError) as info:
        fit(model, loss_fn, data, epochs=1, progress=False)
    if sys.version_info >= (3, 11):
        notes = "\n".join(getattr(info.value, "__notes__", []))
        assert "step 2 (epoch 0)" in notes and "tensor[4, 5] float32" in notes
