"""Tests for CTGAN and TVAE (chapter 10a) and the synthesizers' shared machinery.

Oracles: a per-row loop with torch's cross-entropy for the conditional loss,
torch.distributions (Normal, Categorical) for TVAE's per-column likelihood, a chi-square test
for the Gumbel-softmax draws, the ``ctgan`` package's networks (test-only, skipped when
absent) for the architecture, one Adam over both networks for the per-player optimisers, and
a straight run for resumed ones (including checkpoints in the format written before training
had players). Models are tiny and trained for a few epochs on 600 rows of the Fair table so
the file stays fast.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import chisquare

from edu_gen.core.train import CheckpointError, Player, Turn, load_checkpoint, save_checkpoint
from edu_gen.data.tables.schema import Column, Schema
from edu_gen.tabular.encoding import Span
from edu_gen.tabular.synthesizers import (
    CTGAN,
    TVAE,
    Discriminator,
    GANTurns,
    Generator,
    SoftmaxSpans,
    SpanActivation,
    TVAENet,
    conditional_cross_entropy,
    ctgan_objective,
    tvae_elbo,
)

SMALL_GAN = dict(
    embedding_dim=16, generator_dims=(32, 32), discriminator_dims=(32, 32), batch_size=100
)
SMALL_VAE = dict(embedding_dim=8, compress_dims=(32,), decompress_dims=(32,), batch_size=100)


def fair_small(n: int = 600) -> tuple[pd.DataFrame, Schema]:
    from statsmodels.api import datasets

    raw = datasets.fair.load_pandas().data.sample(n, random_state=0).reset_index(drop=True)
    frame = raw[["rate_marriage", "age", "occupation", "affairs"]].copy()
    frame["occupation"] = frame["occupation"].astype("int64")
    schema = Schema(
        (
            Column("rate_marriage", "ordinal"),
            Column("age", "continuous"),
            Column("occupation", "categorical"),
            Column("affairs", "mixed", point_masses=(0.0,)),
        )
    )
    return frame, schema


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, Schema]:
    return fair_small()


SPANS = [
    Span("a", 0, 1, "tanh", "value"),
    Span("a", 1, 4, "softmax", "mode"),
    Span("b", 4, 6, "softmax", "category"),
]


# ------------------------------------------------------------------ pieces
def test_span_activation_shapes_and_ranges():
    act = SpanActivation(SPANS, tau=0.2)
    logits = torch.randn(64, 6, generator=torch.Generator().manual_seed(0)) * 3
    out = act(logits)
    assert out.shape == (64, 6)
    # float32 tanh rounds to exactly +-1 beyond |x| ~ 9, so the bound is inclusive
    assert (out[:, 0].abs() <= 1).all()
    torch.testing.assert_close(out[:, 0], torch.tanh(logits[:, 0]))
    torch.testing.assert_close(out[:, 1:4].sum(1), torch.ones(64))
    torch.testing.assert_close(out[:, 4:6].sum(1), torch.ones(64))
    hard = act(logits, hard=True)
    assert set(hard[:, 1:].unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="logits"):
        act(torch.randn(4, 5))
    with pytest.raises(ValueError, match="tile"):
        SpanActivation(SPANS[1:])


def test_gumbel_draws_follow_the_softmax():
    act = SpanActivation(SPANS)
    logits = torch.tensor([[0.0, 1.0, 0.0, -1.0, 0.5, -0.5]]).repeat(20000, 1)
    gumbel = act.gumbel_noise(20000, torch.Generator().manual_seed(0))
    hard = act(logits, gumbel, hard=True)
    counts = hard[:, 1:4].sum(0).numpy()
    want = 20000 * torch.softmax(logits[0, 1:4], 0).numpy()
    assert chisquare(counts, want).pvalue > 1e-4
    # mutant: without the noise every row takes the argmax
    flat = act(logits, torch.zeros_like(gumbel), hard=True)[:, 1:4].sum(0).numpy()
    assert chisquare(flat, want).pvalue < 1e-12


def test_conditional_cross_entropy_matches_a_loop():
    spans = SoftmaxSpans([s for s in SPANS if s.activation == "softmax"])
    logits = torch.randn(10, 6, requires_grad=True)
    span = torch.tensor([0, 1] * 5)
    category = torch.tensor([2, 1, 0, 0, 1, 1, 2, 0, 0, 1])
    got = conditional_cross_entropy(logits, spans, span, category)
    cols = {0: slice(1, 4), 1: slice(4, 6)}
    want = torch.stack(
        [
            F.cross_entropy(logits[i : i + 1, cols[int(span[i])]], category[i : i + 1])
            for i in range(10)
        ]
    ).mean()
    torch.testing.assert_close(got, want)
    got.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad[:, 0].abs().sum() == 0


def test_networks_match_the_ctgan_package():
    pkg = pytest.importorskip("ctgan.synthesizers.ctgan")
    ours_g, theirs_g = Generator(20, (32, 16), 9), pkg.Generator(20, (32, 16), 9)
    assert [p.shape for p in ours_g.parameters()] == [p.shape for p in theirs_g.parameters()]
    ours_d, theirs_d = Discriminator(9, (32, 16), pac=4), pkg.Discriminator(9, (32, 16), pac=4)
    assert [p.shape for p in ours_d.parameters()] == [p.shape for p in theirs_d.parameters()]
    ours_d.load_state_dict({k.replace("seq.", "seq."): v for k, v in theirs_d.state_dict().items()})
    x = torch.randn(12, 9)
    ours_d.eval(), theirs_d.eval()
    torch.testing.assert_close(ours_d(x), theirs_d(x).squeeze(-1))


# ------------------------------------------------------------------ CTGAN
@pytest.fixture(scope="module")
def ctgan_fitted(data) -> CTGAN:
    frame, schema = data
    return CTGAN(schema, epochs=1, seed=0, device="cpu", **SMALL_GAN).fit(frame, progress=False)


def test_ctgan_trains_and_samples(device, data):
    frame, schema = data
    model = CTGAN(schema, epochs=10, lr=2e-3, seed=0, device=device, **SMALL_GAN)
    h = model.fit(frame, progress=False).history
    assert np.isfinite(h["loss"]).all() and len(h) == 10 * 6 * 2  # 600 rows / 100, two players
    losses = model.losses()
    assert list(losses.index) == list(range(10))
    # the conditional cross-entropy (the generator obeys its condition) falls with training
    assert losses["cond_ce"].iloc[-3:].mean() < 0.6 * losses["cond_ce"].iloc[0]
    out = model.sample(257, seed=1)
    assert len(out) == 257 and list(out.columns) == list(frame.columns)
    assert (out.dtypes == frame.dtypes).all()
    assert set(out["occupation"]) <= set(frame["occupation"])
    pd.testing.assert_frame_equal(out, model.sample(257, seed=1))


def test_ctgan_sampling_options(ctgan_fitted, data):
    frame, _ = data
    fixed = ctgan_fitted.sample(50, seed=0, condition={"occupation": 5})
    assert list(fixed.columns) == list(frame.columns)
    log = ctgan_fitted.sample(50, seed=0, frequency="log")
    assert len(log) == 50
    with pytest.raises(ValueError, match="frequency"):
        ctgan_fitted.sample(5, frequency="uniform")
    with pytest.raises(ValueError, match="discrete column"):
        ctgan_fitted.sample(5, condition={"age": 27.0})
    with pytest.raises(ValueError, match="not a category"):
        ctgan_fitted.sample(5, condition={"occupation": 99})
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="n"):
            ctgan_fitted.sample(bad)


def test_ctgan_bad_input(data):
    frame, schema = data
    with pytest.raises(ValueError, match="multiple of pac"):
        CTGAN(schema, batch_size=105, pac=10)
    with pytest.raises(TypeError, match="Schema"):
        CTGAN({"age": "continuous"})
    with pytest.raises(RuntimeError, match="fit"):
        CTGAN(schema).sample(3)
    model = CTGAN(schema, epochs=1, device="cpu", **SMALL_GAN)
    with pytest.raises(ValueError, match="lacks"):
        model.fit(frame.drop(columns="age"), progress=False)
    with pytest.raises(ValueError, match="age"):
        model.fit(frame.assign(age="old"), progress=False)
    with pytest.raises(ValueError, match="epochs"):
        model.fit(frame, epochs=0, progress=False)


def test_ctgan_resume_is_bit_identical(tmp_path, data):
    frame, schema = data
    straight = CTGAN(schema, epochs=2, seed=4, device="cpu", **SMALL_GAN).fit(frame, progress=False)
    path = tmp_path / "ctgan.pt"
    CTGAN(schema, epochs=2, seed=4, device="cpu", **SMALL_GAN).fit(
        frame, epochs=1, checkpoint=path, progress=False
    )
    resumed = CTGAN(schema, epochs=2, seed=4, device="cpu", **SMALL_GAN).fit(
        frame, checkpoint=path, progress=False
    )
    assert resumed.history == straight.history
    for (k, a), b in zip(
        straight.net.state_dict().items(), resumed.net.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k
    pd.testing.assert_frame_equal(straight.sample(100, seed=0), resumed.sample(100, seed=0))


def test_objective_is_the_wgan_gp_game(ctgan_fitted):
    """Both turns against the equations, with RNG replay; the idle player gets no gradient."""
    net = ctgan_fitted.net.eval()  # no dropout, so the replay sees the same draws
    try:
        _check_both_turns(net, ctgan_fitted.sampler.sample_train(100))
    finally:
        net.train()


def _check_both_turns(net, c) -> None:
    objective = ctgan_objective()
    assert list(objective) == ["critic", "generator"]
    real = torch.rand(100, net.data_dim)
    critic_batch = {"cond": c.cond, "real": real, "real_cond": c.cond.flip(0)}
    net.zero_grad(set_to_none=True)  # fit leaves the last step's gradients
    torch.manual_seed(0)
    out = objective["critic"](net, critic_batch)
    out["loss"].backward()
    assert all(p.grad is None for p in net.generator.parameters())
    assert all(p.grad is not None for p in net.discriminator.parameters())
    net.zero_grad(set_to_none=True)
    torch.manual_seed(0)
    z = torch.randn(100, net.embedding_dim)
    e = torch.empty(100, net.activation.soft.n_spans, net.activation.soft.width).exponential_()
    gumbel = -e.clamp_min(torch.finfo(torch.float32).tiny).log()
    with torch.no_grad():
        fake = net.activation(net.generator(torch.cat([z, c.cond], 1)), gumbel)
    fake, real_in = torch.cat([fake, c.cond], 1), torch.cat([real, c.cond.flip(0)], 1)
    eps = torch.rand(10).repeat_interleave(10)[:, None]  # one weight per pack of pac=10 rows
    x_hat = (eps * real_in + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(net.discriminator(x_hat).sum(), x_hat)
    norms = grad.reshape(10, -1).norm(dim=1)  # one norm per pack
    want = (
        net.discriminator(fake).mean()
        - net.discriminator(real_in).mean()
        + 10 * ((norms - 1) ** 2).mean()
    )
    torch.testing.assert_close(out["loss"], want)

    gen_batch = {"cond": c.cond, "span": c.span, "category": c.category}
    torch.manual_seed(1)
    out = objective["generator"](net, gen_batch)
    out["loss"].backward()
    assert all(p.grad is None for p in net.discriminator.parameters())
    assert all(p.grad is not None for p in net.generator.parameters())
    assert all(p.requires_grad for p in net.discriminator.parameters())
    net.zero_grad(set_to_none=True)
    torch.manual_seed(1)
    z = torch.randn(100, net.embedding_dim)
    logits, fake = net.generate(z, c.cond)
    ce = conditional_cross_entropy(logits, net.cond_spans, c.span, c.category)
    want = -net.discriminator(torch.cat([fake, c.cond], 1)).mean() + ce
    torch.testing.assert_close(out["loss"], want)


def test_turns_name_their_player():
    draws = iter(range(100))
    turns = GANTurns(lambda: {"i": next(draws)}, lambda: {"i": next(draws)}, 2, 3)
    items = list(turns)
    assert len(items) == len(turns) == 8 and all(isinstance(t, Turn) for t in items)
    assert [t.player for t in items] == (["critic"] * 3 + ["generator"]) * 2
    assert [t.batch["i"] for t in items] == list(range(8))  # drawn when reached, in order


def test_one_adam_per_player_equals_one_adam_over_both(ctgan_fitted):
    """Adam keeps its state per parameter and skips parameters without a gradient, so the
    per-player optimisers give the numbers of one optimiser over both networks."""
    net_a, net_b = copy.deepcopy(ctgan_fitted.net), copy.deepcopy(ctgan_fitted.net)
    objective = ctgan_objective()
    hyper = dict(lr=1e-2, betas=(0.5, 0.9), weight_decay=1e-2)  # decay would show a stray step
    own = {"critic": net_a.discriminator, "generator": net_a.generator}
    split = {
        name: Player(loss, torch.optim.Adam(own[name].parameters(), **hyper))
        for name, loss in objective.items()
    }
    one = torch.optim.Adam(net_b.parameters(), **hyper)
    joint = {name: Player(loss, one) for name, loss in objective.items()}
    sampler = ctgan_fitted.sampler
    real = torch.rand(100, net_a.data_dim)
    for k in range(6):
        c = sampler.sample_train(100, generator=torch.Generator().manual_seed(k))
        if k % 2 == 0:
            turn = Turn("critic", {"cond": c.cond, "real": real, "real_cond": c.cond})
        else:
            turn = Turn("generator", {"cond": c.cond, "span": c.span, "category": c.category})
        records = []
        for players, net in ((split, net_a), (joint, net_b)):
            torch.manual_seed(k)
            records.append(players[turn.player].update(net, turn.batch))
        assert records[0] == records[1]
    for (name, a), b in zip(net_a.named_parameters(), net_b.parameters(), strict=True):
        assert torch.equal(a, b), name


def _downgrade(path) -> None:
    """Rewrite a checkpoint as fit wrote it before players: one Adam over the generator's and
    then the critic's parameters, and a ``generator_step`` column instead of ``player``."""
    state = load_checkpoint(path)
    gen, critic = state["optimizers"]["generator"], state["optimizers"]["critic"]
    n_gen = len(gen["param_groups"][0]["params"])
    n_all = n_gen + len(critic["param_groups"][0]["params"])
    merged = {**gen["state"], **{n_gen + i: v for i, v in critic["state"].items()}}
    group = dict(gen["param_groups"][0], params=list(range(n_all)))
    history = state["history"]
    turn = [float(who == "generator") for who in history["player"]]
    old = {"step": history["step"], "epoch": history["epoch"], "loss": history["loss"]}
    old["generator_step"] = turn
    for key in ("critic_gap", "penalty", "cond_ce"):
        old[key] = [0.0 if v != v else v for v in history[key]]  # NaN -> 0.0 as logged then
    del state["optimizers"]
    state.update(format="edu_gen.fit/1", optimizer={"state": merged, "param_groups": [group]})
    state["history"] = old
    save_checkpoint(path, **state)


def test_checkpoint_from_before_players_resumes_exactly(tmp_path, data):
    frame, schema = data
    straight = CTGAN(schema, epochs=2, seed=4, device="cpu", **SMALL_GAN).fit(frame, progress=False)
    path = tmp_path / "old.pt"
    CTGAN(schema, epochs=2, seed=4, device="cpu", **SMALL_GAN).fit(
        frame, epochs=1, checkpoint=path, progress=False
    )
    _downgrade(path)
    resumed = CTGAN(schema, epochs=2, seed=4, device="cpu", **SMALL_GAN).fit(
        frame, checkpoint=path, progress=False
    )
    assert load_checkpoint(path)["format"] == "edu_gen.fit/2"
    assert resumed.history == straight.history
    pd.testing.assert_frame_equal(resumed.losses(), straight.losses())
    for (k, a), b in zip(
        straight.net.state_dict().items(), resumed.net.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k
    # a file of another model is refused, naming it, instead of resuming something else
    other = tmp_path / "other.pt"
    CTGAN(schema, epochs=1, seed=4, device="cpu", **SMALL_GAN).fit(
        frame, checkpoint=other, progress=False
    )
    _downgrade(other)
    smaller = dict(SMALL_GAN, generator_dims=(32,))
    with pytest.raises(CheckpointError, match="other.pt.*another model"):
        CTGAN(schema, epochs=2, seed=4, device="cpu", **smaller).fit(
            frame, checkpoint=other, progress=False
        )


# ------------------------------------------------------------------ TVAE
def test_tvae_likelihood_matches_torch_distributions():
    net = TVAENet(SPANS, embedding_dim=4, compress_dims=(8,), decompress_dims=(8,))
    with torch.no_grad():
        net.sigma_logit.fill_(0.3)
    rows = torch.tensor([[0.2, 0, 1, 0, 1, 0], [-0.7, 1, 0, 0, 0, 1]], dtype=torch.float32)
    logits = torch.randn(2, 6)
    got = net.log_likelihood(rows, logits)
    sigma = net.sigma[0]
    want = (
        torch.distributions.Normal(torch.tanh(logits[:, 0]), sigma).log_prob(rows[:, 0])
        + torch.distributions.Categorical(logits=logits[:, 1:4]).log_prob(rows[:, 1:4].argmax(1))
        + torch.distributions.Categorical(logits=logits[:, 4:6]).log_prob(rows[:, 4:6].argmax(1))
    )
    torch.testing.assert_close(got, want)
    assert 0.01 < float(net.sigma.detach()) < 1.0
    out = tvae_elbo(net, rows, loss_factor=2.0)
    torch.testing.assert_close(out["objective"], 2 * out["recon"] - out["kl"])
    assert (out["kl"] >= 0).all()


def test_tvae_trains_and_samples(device, data):
    frame, schema = data
    model = TVAE(schema, epochs=12, seed=0, device=device, **SMALL_VAE).fit(frame, progress=False)
    losses = model.losses()
    assert np.isfinite(model.history["loss"]).all()
    assert losses["loss"].iloc[-1] < losses["loss"].iloc[0]
    assert losses["elbo"].iloc[-1] > losses["elbo"].iloc[0]
    out = model.sample(321, seed=3)
    assert len(out) == 321 and (out.dtypes == frame.dtypes).all()
    pd.testing.assert_frame_equal(out, model.sample(321, seed=3))
    argmax = model.sample(300, seed=3, decode="argmax")
    # most-likely decoding keeps fewer distinct occupations than sampling from the softmax
    assert argmax["occupation"].nunique() <= model.sample(300, seed=3)["occupation"].nunique()


def test_tvae_bad_input_and_resume(tmp_path, data):
    frame, schema = data
    with pytest.raises(RuntimeError, match="fit"):
        TVAE(schema).sample(2)
    with pytest.raises(ValueError, match="loss_factor"):
        TVAE(schema, loss_factor=0)
    model = TVAE(schema, epochs=2, seed=1, device="cpu", **SMALL_VAE)
    with pytest.raises(ValueError, match="schema"):
        model.fit(frame.assign(extra=1), progress=False)
    straight = TVAE(schema, epochs=2, seed=1, device="cpu", **SMALL_VAE).fit(frame, progress=False)
    path = tmp_path / "tvae.pt"
    TVAE(schema, epochs=2, seed=1, device="cpu", **SMALL_VAE).fit(
        frame, epochs=1, checkpoint=path, progress=False
    )
    resumed = TVAE(schema, epochs=2, seed=1, device="cpu", **SMALL_VAE).fit(
        frame, checkpoint=path, progress=False
    )
    assert resumed.history == straight.history
    pd.testing.assert_frame_equal(straight.sample(50, seed=0), resumed.sample(50, seed=0))
    with pytest.raises(ValueError, match="decode"):
        straight.sample(3, decode="mean")
    with pytest.raises(ValueError, match="n"):
        straight.sample(0)


def test_tvae_matches_the_package_architecture():
    pkg = pytest.importorskip("ctgan.synthesizers.tvae")
    net = TVAENet(SPANS, embedding_dim=4, compress_dims=(8, 8), decompress_dims=(8, 8))
    enc = pkg.Encoder(6, (8, 8), 4)
    dec = pkg.Decoder(4, (8, 8), 6)
    ours = [
        p.shape
        for m in (net.encoder, net.to_mu, net.to_logvar, net.decoder)
        for p in m.parameters()
    ]
    theirs = [p.shape for p in enc.parameters()] + [
        p.shape for n, p in dec.named_parameters() if n != "sigma"
    ]
    assert ours == theirs
