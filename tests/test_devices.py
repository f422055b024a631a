"""Device-correct random numbers: a CPU ``torch.Generator`` cannot draw on CUDA
(``torch.randn(..., generator=cpu_gen, device="cuda")`` raises), and that mistake cannot
show on a CPU-only CI run. So the source is checked instead: no call asks a generator for
numbers on a device other than its own (``rng.draw`` draws where the generator lives and
moves the result), and ``rng.draw`` itself is checked on CPU."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from edu_gen.core import rng

ROOT = Path(__file__).resolve().parents[1]
SAMPLERS = {
    "rand",
    "randn",
    "randint",
    "randperm",
    "normal",
    "bernoulli",
    "multinomial",
    "rand_like",
    "randn_like",
}


def generator_device_mismatches(source: str, filename: str = "<src>") -> list[str]:
    """Calls ``torch.<sampler>(..., generator=G, device=D)`` where D is not ``G.device``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        if node.func.attr not in SAMPLERS:
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        gen, dev = keywords.get("generator"), keywords.get("device")
        if gen is None or dev is None or isinstance(gen, ast.Constant):
            continue
        own = isinstance(dev, ast.Attribute) and dev.attr == "device"
        if own and ast.dump(dev.value) == ast.dump(gen):
            continue
        found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_generator_is_asked_for_numbers_on_another_device():
    problems = []
    for path in sorted((ROOT / "edu_gen").rglob("*.py")):
        problems += generator_device_mismatches(path.read_text(), str(path.relative_to(ROOT)))
    assert problems == [], "\n".join(problems)


def test_the_check_catches_the_mistake_it_is_for():
    wrong = "noise = torch.randn(p.shape, generator=g, device=p.device)"
    right = "noise = torch.randn(p.shape, generator=g, device=g.device).to(p.device)"
    assert len(generator_device_mismatches(wrong)) == 1
    assert generator_device_mismatches(right) == []


def test_draw_uses_the_generator_and_moves_the_result():
    a = rng.draw(torch.randn, (3, 2), generator=rng.generator(5), device="cpu", dtype=torch.float64)
    b = torch.randn((3, 2), generator=rng.generator(5), dtype=torch.float64)
    assert torch.equal(a, b)
    meta = rng.draw(torch.rand, 4, generator=rng.generator(1), device="meta")
    assert meta.device.type == "meta" and meta.shape == (4,)  # drawn on CPU, then moved
    k = rng.draw(torch.randint, 10, (5,), generator=rng.generator(2))
    assert torch.equal(k, torch.randint(10, (5,), generator=rng.generator(2)))
    torch.manual_seed(3)
    c = rng.draw(torch.rand, 3, generator=None, device="cpu")
    torch.manual_seed(3)
    assert torch.equal(c, torch.rand(3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs cuda")
def test_dp_noise_from_a_cpu_generator_on_cuda_parameters():
    from edu_gen.tabular import privacy

    model = torch.nn.Linear(3, 1).cuda()
    x, y = torch.randn(8, 3, device="cuda"), torch.randn(8, device="cuda")

    def loss(m, xb, yb):
        return (m(xb).squeeze(-1) - yb) ** 2

    privacy.dp_step(
        model,
        loss,
        (x, y),
        torch.optim.SGD(model.parameters(), lr=0.1),
        clip_norm=1.0,
        noise_multiplier=1.0,
        expected_batch_size=8.0,
        generator=rng.generator(0),
    )
    assert all(torch.isfinite(p).all() for p in model.parameters())


def pinned_devices(source: str) -> list[int]:
    """Lines of calls that pass a literal device (``device="cpu"``): a fit pinned to one
    device whatever the machine has. Lessons use ``config.get_device()`` for image models
    and ``config.toy_device()`` for the small toys, so the choice is visible and named."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        for k in node.keywords
        if k.arg == "device" and isinstance(k.value, ast.Constant)
    ]


def test_no_lesson_pins_a_fit_to_a_literal_device():
    found = {
        path.name: lines
        for path in sorted((ROOT / "lessons").glob("*.py"))
        if (lines := pinned_devices(path.read_text()))
    }
    assert not found, f"literal device= in lessons (use config.get_device/toy_device): {found}"


def test_the_pinned_device_scan_catches_a_literal():
    assert pinned_devices('fit(m, f, d, device="cpu")\nfit(m, f, d, device=dev)') == [1]


def test_the_digits_denoiser_trains_on_the_configured_device_and_returns_on_the_cpu(monkeypatch):
    from edu_gen.models.diffusion import training

    seen = {}

    def spy_fit(model, *args, device=None, **kwargs):
        seen["device"] = device
        return training.History() if hasattr(training, "History") else None

    monkeypatch.setattr(training, "fit", spy_fit)
    model, _, _ = training.train_digits_denoiser(steps=1, hidden=8, depth=1, progress=False)
    assert seen["device"] is None  # fit's default: config.get_device()
    assert all(p.device.type == "cpu" for p in model.parameters())


PINNED_ON_PURPOSE = {"edu_gen/evaluation/frechet.py"}
"""The feature network of the Fréchet distance trains on the CPU on every machine, so that
the metric (and its checkpoint) is the same wherever it is computed."""


def test_no_package_fit_is_pinned_to_a_literal_device_but_the_metric():
    found = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "edu_gen").rglob("*.py"))
        if (lines := pinned_devices(path.read_text()))
    }
    assert set(found) == PINNED_ON_PURPOSE, found
