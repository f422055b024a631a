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
