"""Tests for edu_gen.models.dae (chapter 02) and the chapter 02 exercise specs."""

from __future__ import annotations

import math

import pytest
import torch

from edu_gen.core.rng import generator as gen
from edu_gen.course.grading import get, grade
from edu_gen.models import dae
from edu_gen.models.autoencoder import Autoencoder, cross_entropy_loss, l2_loss


def no_zeros(n: int, d: int, seed: int = 0) -> torch.Tensor:
    return 0.2 + 0.6 * torch.rand(n, d, generator=gen(seed))


# ------------------------------------------------------------------ corruption


def test_gaussian_corrupt_shape_determinism_and_scale():
    x = torch.rand(500, 40, generator=gen(0))
    a = dae.gaussian_corrupt(x, 0.3, generator=gen(1))
    b = dae.gaussian_corrupt(x, 0.3, generator=gen(1))
    c = dae.gaussian_corrupt(x, 0.3, generator=gen(2))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.equal(a, c)
    noise = a - x
    assert abs(noise.std().item() - 0.3) < 0.01 and abs(noise.mean().item()) < 0.01
    assert torch.equal(dae.gaussian_corrupt(x, 0.0, generator=gen(1)), x)


def test_gaussian_corrupt_cpu_generator_reproducible_on_any_device(device):
    x = torch.rand(8, 10, generator=gen(0))
    on_cpu = dae.gaussian_corrupt(x, 0.5, generator=gen(3))
    on_device = dae.gaussian_corrupt(x.to(device), 0.5, generator=gen(3))
    assert on_device.device.type == device.type
    torch.testing.assert_close(on_device.cpu(), on_cpu)


@pytest.mark.parametrize("nu", [0.0, 0.1, 0.25, 0.37, 0.5, 0.9, 1.0])
def test_masking_destroys_exactly_round_nu_d_per_row(nu):
    x = no_zeros(30, 20)
    out = dae.masking_corrupt(x, nu, generator=gen(5))
    k = round(nu * 20)
    zero = out == 0
    assert torch.all(zero.sum(1) == k)
    assert torch.equal(out[~zero], x[~zero])  # unchanged elsewhere
    if 0 < k < 20:
        assert not torch.all(zero == zero[0])  # a different subset for every example


def test_masking_per_example_for_image_shaped_input_and_determinism():
    x = 0.5 + torch.rand(12, 1, 8, 8, generator=gen(0))
    a = dae.masking_corrupt(x, 0.25, generator=gen(9))
    assert a.shape == x.shape
    assert torch.all((a == 0).flatten(1).sum(1) == 16)
    assert torch.equal(a, dae.masking_corrupt(x, 0.25, generator=gen(9)))
    assert not torch.equal(a, dae.masking_corrupt(x, 0.25, generator=gen(10)))


def test_masking_chooses_positions_uniformly():
    x = no_zeros(4000, 10)
    out = dae.masking_corrupt(x, 0.3, generator=gen(1))
    freq = (out == 0).float().mean(0)  # each position is masked with probability 3/10
    assert torch.all((freq - 0.3).abs() < 0.03)


def test_salt_and_pepper_sets_exactly_k_components_to_low_or_high():
    x = no_zeros(200, 25)
    out = dae.salt_and_pepper_corrupt(x, 0.2, generator=gen(2), low=-1.0, high=2.0)
    hit = (out == -1.0) | (out == 2.0)
    assert torch.all(hit.sum(1) == 5)
    assert torch.equal(out[~hit], x[~hit])
    share_high = (out == 2.0).sum() / hit.sum()
    assert 0.4 < share_high.item() < 0.6


def test_corruption_factory_matches_the_functions():
    x = torch.rand(6, 9, generator=gen(0))
    for kind, fn in dae.CORRUPTIONS.items():
        made = dae.corruption(kind, 0.3, generator=gen(4))
        torch.testing.assert_close(made(x), fn(x, 0.3, gen(4)))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda x: dae.gaussian_corrupt(x, -0.1), "sigma"),
        (lambda x: dae.gaussian_corrupt(x, float("nan")), "sigma"),
        (lambda x: dae.masking_corrupt(x, -0.01), "nu"),
        (lambda x: dae.masking_corrupt(x, 1.5), "nu"),
        (lambda x: dae.masking_corrupt(x, "0.3"), "nu"),
        (lambda x: dae.salt_and_pepper_corrupt(x, 2.0), "nu"),
        (lambda x: dae.salt_and_pepper_corrupt(x, 0.2, low=1.0, high=0.0), "low"),
        (lambda x: dae.gaussian_corrupt(x[0], 0.1), "x"),
        (lambda x: dae.masking_corrupt(x.long(), 0.1), "x"),
        (lambda x: dae.masking_corrupt(x.numpy(), 0.1), "x"),
        (lambda x: dae.masking_corrupt(x, 0.1, generator=0), "generator"),
        (lambda x: dae.corruption("blur", 0.1), "kind"),
        (lambda x: dae.corruption("masking", 1.2), "nu"),
        (lambda x: dae.corruption("gaussian", -1), "sigma"),
    ],
)
def test_corruption_errors_name_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(torch.rand(4, 6))


# ---------------------------------------------------------------- the DAE loss


def small_model(d: int = 10, k: int = 16, out: str = "sigmoid") -> Autoencoder:
    torch.manual_seed(0)
    return Autoencoder(d, k, hidden=(), code_activation="relu", out_activation=out)


def test_dae_loss_compares_with_the_clean_x(device):
    model = small_model().to(device)
    x = torch.rand(12, 10, generator=gen(0)).to(device)
    corrupt = dae.corruption("gaussian", 0.4, generator=gen(7))
    loss = dae.dae_loss(model, x, corrupt)
    x_tilde = dae.gaussian_corrupt(x, 0.4, generator=gen(7))
    torch.testing.assert_close(loss, l2_loss(x, model(x_tilde)))
    assert not torch.allclose(loss, l2_loss(x_tilde, model(x_tilde)))
    assert loss.requires_grad
    # with no corruption the DAE loss is chapter 01's reconstruction loss
    torch.testing.assert_close(dae.dae_loss(model, x, lambda t: t), l2_loss(x, model(x)))


def test_dae_loss_cross_entropy_reads_logits():
    model = small_model(out="identity")
    x = (torch.rand(12, 10, generator=gen(0)) > 0.5).float()
    corrupt = dae.corruption("masking", 0.3, generator=gen(1))
    loss = dae.dae_loss(model, x, corrupt, loss="ce")
    x_tilde = dae.masking_corrupt(x, 0.3, generator=gen(1))
    torch.testing.assert_close(loss, cross_entropy_loss(x, model(x_tilde)))
    recon = dae.reconstruct(model, x_tilde, loss="ce")
    torch.testing.assert_close(recon, torch.sigmoid(model(x_tilde)).detach())


def test_dae_objective_accepts_tensor_and_tuple_batches():
    model = small_model()
    x = torch.rand(5, 10, generator=gen(0))
    objective = dae.dae_objective(dae.corruption("gaussian", 0.2, generator=gen(3)))
    first = objective(model, (x, torch.zeros(5)))
    objective = dae.dae_objective(dae.corruption("gaussian", 0.2, generator=gen(3)))
    torch.testing.assert_close(first, objective(model, x))


def test_dae_loss_errors():
    model = small_model()
    x = torch.rand(5, 10)
    with pytest.raises(ValueError, match="loss"):
        dae.dae_loss(model, x, lambda t: t, loss="l1")
    with pytest.raises(TypeError, match="corrupt"):
        dae.dae_loss(model, x, 0.3)
    with pytest.raises(ValueError, match="corrupt"):
        dae.dae_loss(model, x, lambda t: t[:, :5])
    with pytest.raises(ValueError, match="loss"):
        dae.dae_objective(lambda t: t, loss="mse")


def test_reconstruct_restores_training_mode():
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Dropout(0.5)).train()
    out = dae.reconstruct(model, torch.ones(4, 3))
    assert model.training and not out.requires_grad
    torch.testing.assert_close(out, dae.reconstruct(model, torch.ones(4, 3)))  # no dropout


# ------------------------------------------------------------------ toy manifold


def test_toy_manifold_lies_on_the_circle_and_is_reproducible():
    points = dae.toy_manifold(300, gen(0), radius=2.0)
    assert points.shape == (300, 2)
    assert dae.distance_to_manifold(points, 2.0).max() < 1e-5
    assert torch.equal(points, dae.toy_manifold(300, gen(0), radius=2.0))
    angles = torch.atan2(points[:, 1], points[:, 0])
    assert angles.min() < -2.8 and angles.max() > 2.8  # spread round the whole circle
    with pytest.raises(ValueError, match="n"):
        dae.toy_manifold(0)
    with pytest.raises(ValueError, match="radius"):
        dae.toy_manifold(5, radius=0.0)


@pytest.mark.parametrize("radius", [1.0, 0.6, 2.5])
def test_distance_and_projection_match_a_dense_sampling_of_the_curve(radius):
    points = 1.5 * radius * torch.randn(200, 2, generator=gen(1), dtype=torch.float64)
    theta = torch.linspace(0, 2 * math.pi, 200_001, dtype=torch.float64)
    curve = radius * torch.stack([theta.cos(), theta.sin()], dim=1)
    dists = torch.cdist(points, curve)
    brute, nearest = dists.min(dim=1)
    torch.testing.assert_close(dae.distance_to_manifold(points, radius), brute, atol=1e-7, rtol=0)
    projected = dae.project_to_manifold(points, radius)
    torch.testing.assert_close(projected, curve[nearest], atol=1e-4, rtol=0)
    assert dae.distance_to_manifold(projected, radius).max() < 1e-9


def test_distance_to_manifold_errors():
    with pytest.raises(ValueError, match="points"):
        dae.distance_to_manifold(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="radius"):
        dae.distance_to_manifold(torch.zeros(5, 2), radius=-1.0)
    origin = dae.project_to_manifold(torch.zeros(1, 2))
    assert torch.all(torch.isfinite(origin)) and dae.distance_to_manifold(origin).item() < 1e-6


# ------------------------------------------------------------------ stacked DAE


def test_stacked_dae_shapes(device):
    torch.manual_seed(0)
    stack = dae.StackedDAE(20, (12, 6, 4)).to(device)
    x = torch.rand(7, 20, device=device)
    assert stack(x).shape == (7, 4) and stack.out_dim == 4
    assert stack.encode(x, depth=1).shape == (7, 12)
    assert torch.equal(stack.encode(x, depth=0), x)
    net = dae.classifier(stack, 3)
    assert net(x).shape == (7, 3)
    assert all(0 < v < 1 for v in (stack(x).min().item(), stack(x).max().item()))  # sigmoid codes
    with pytest.raises(ValueError, match="depth"):
        stack.encode(x, depth=4)
    with pytest.raises(ValueError, match="sizes"):
        dae.StackedDAE(20, ())
    with pytest.raises(ValueError, match="in_dim"):
        dae.StackedDAE(0, (3,))
    with pytest.raises(ValueError, match="n_classes"):
        dae.classifier(stack, 1)


def test_pretrain_stack_trains_every_layer_on_the_codes_below(device):
    torch.manual_seed(0)
    stack = dae.StackedDAE(16, (8, 4))
    before = [layer.encoder[0].weight.detach().clone() for layer in stack.layers]
    x = torch.rand(64, 16, generator=gen(0))
    histories = dae.pretrain_stack(
        stack,
        x,
        dae.corruption("masking", 0.25),
        steps=6,
        batch_size=16,
        device=device,
        progress=False,
    )
    assert len(histories) == 2 and all(len(h["loss"]) == 6 for h in histories)
    for layer, weight in zip(stack.layers, before, strict=True):
        assert not torch.equal(layer.encoder[0].weight.detach().cpu(), weight)
    assert stack(x.to(device)).shape == (64, 4)
    with pytest.raises(ValueError, match="x"):
        dae.pretrain_stack(stack, torch.rand(5, 15), lambda t: t, steps=1, progress=False)
    with pytest.raises(TypeError, match="stack"):
        dae.pretrain_stack(Autoencoder(16, 4), x, lambda t: t, steps=1, progress=False)


# --------------------------------------------------------------------- exercises

EXERCISES = ["02.gaussian_corrupt", "02.masking_corrupt", "02.dae_loss", "02.distance_to_manifold"]


def solution(exercise_id: str):
    exercise = get(exercise_id)
    return exercise.reference if exercise.reference is not None else dae.masking_corrupt


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_reference_gets_full_marks(exercise_id):
    result = grade(get(exercise_id), solution(exercise_id))
    assert result.status == "passed" and result.points == result.max_points, result.report()


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_every_planted_mistake_loses_points(exercise_id):
    exercise = get(exercise_id)
    assert len(exercise.mistakes) >= 2
    for hint, wrong in exercise.mistakes.items():
        result = grade(exercise, wrong)
        assert result.points < result.max_points, f"mistake not caught: {hint}"


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_unattempted_exercise_is_not_attempted(exercise_id):
    exercise = get(exercise_id)

    def todo(*args):
        raise NotImplementedError("your code here")

    result = grade(exercise, todo)
    assert result.status == "not attempted" and result.points == 0


def test_masking_exercise_accepts_another_correct_implementation():
    def per_row(x, nu, generator):
        out = x.clone()
        k = round(nu * x.shape[1])
        for row in out:
            row[torch.randperm(x.shape[1], generator=generator)[:k]] = 0
        return out

    assert grade(get("02.masking_corrupt"), per_row).status == "passed"


def test_masking_exercise_rejects_an_unused_generator():
    result = grade(get("02.masking_corrupt"), lambda x, nu, generator: dae.masking_corrupt(x, nu))
    assert result.status == "failed"
    assert "generator" in result.tests[0].message
