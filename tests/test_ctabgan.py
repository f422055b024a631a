"""Tests for the CTAB-GAN and CTAB-GAN+ synthesizers (chapter 10b).

Oracles: numpy for the information loss, the critic's own layers for its features, the
batch WGAN-GP penalty of edu_gen.models.gan for the per-row DP critic loss, dp_step (with a plain
SGD step) for the DP-SGD player, and a fresh RdpAccountant for the run's epsilon. Models are
tiny and trained for one epoch on 600 rows of the Fair table.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch

from edu_gen.data.tables.schema import Column, Schema
from edu_gen.models.gan import gradient_penalty
from edu_gen.tabular.encoding import Span, TableEncoder, general_decode, general_encode
from edu_gen.tabular.privacy import DPSGD, DPSGDPlayer, PrivateStep, RdpAccountant, dp_step
from edu_gen.tabular.synthesizers import (
    CTABGAN,
    AuxiliaryClassifier,
    CTABGANPlus,
    Discriminator,
    check_privacy,
    critic_loss_per_row,
    discriminator_features,
    information_loss,
)

SMALL = dict(
    embedding_dim=8,
    generator_dims=(16,),
    discriminator_dims=(16,),
    batch_size=100,
    classifier_dims=(16,),
    classifier_epochs=1,
)


def fair_small(n: int = 600) -> tuple[pd.DataFrame, Schema]:
    from statsmodels.api import datasets

    raw = datasets.fair.load_pandas().data.sample(n, random_state=0).reset_index(drop=True)
    frame = raw[["rate_marriage", "age", "yrs_married", "occupation", "affairs"]].copy()
    frame["occupation"] = frame["occupation"].astype("int64")
    schema = Schema(
        (
            Column("rate_marriage", "ordinal"),
            Column("age", "continuous"),
            Column("yrs_married", "continuous"),
            Column("occupation", "categorical"),
            Column("affairs", "mixed", point_masses=(0.0,)),
        ),
        target="rate_marriage",
    )
    return frame, schema


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, Schema]:
    return fair_small()


# ----------------------------------------------------------------------------- equations


def test_information_loss_matches_numpy():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(40, 6, generator=g), 2 * torch.randn(40, 6, generator=g) + 1
    r, f = real.numpy(), fake.numpy()
    want = np.linalg.norm(r.mean(0) - f.mean(0)) + np.linalg.norm(r.std(0) - f.std(0))
    got = information_loss(real, fake).item()
    assert got == pytest.approx(want, rel=1e-5)
    assert information_loss(real, real).item() == pytest.approx(0.0, abs=1e-6)
    # mutation checks: the unbiased std or a squared norm would give a different value
    unbiased = np.linalg.norm(r.mean(0) - f.mean(0)) + np.linalg.norm(
        r.std(0, ddof=1) - f.std(0, ddof=1)
    )
    assert abs(got - unbiased) > 1e-3
    with pytest.raises(ValueError, match="real_features, fake_features"):
        information_loss(real, fake[:, :3])


def test_discriminator_features_are_the_input_of_the_score_layer():
    torch.manual_seed(0)
    critic = Discriminator(7, (12, 9), pac=2).eval()
    rows = torch.randn(10, 7)
    features, scores = discriminator_features(critic, rows)
    last = [m for m in critic.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert features.shape == (5, 9)
    torch.testing.assert_close(last(features).squeeze(-1), scores)
    torch.testing.assert_close(scores, critic(rows))


def test_general_transform_round_trip_and_range():
    x = np.array([3.0, -1.0, 7.5, 0.25])
    a = general_encode(x, -1.0, 7.5)
    assert a.min() == -1.0 and a.max() == 1.0
    np.testing.assert_allclose(general_decode(a, -1.0, 7.5), x, atol=1e-12)
    np.testing.assert_array_equal(general_encode(x, 2.0, 2.0), np.zeros(4))


def test_table_encoder_round_trip_with_mixed_and_general_columns(data):
    frame, schema = data
    enc = TableEncoder(schema, general=("yrs_married",)).fit(frame)
    encoded = enc.transform(frame)
    assert encoded.shape == (len(frame), enc.output_dim)
    general = enc.spans_of("yrs_married")
    assert [(s.activation, s.width) for s in general] == [("tanh", 1)]
    assert np.abs(encoded[:, general[0].start]).max() <= 1.0
    back = enc.inverse_transform(encoded)
    assert list(back.columns) == schema.names
    assert (back.dtypes == frame.dtypes).all()
    pd.testing.assert_series_equal(back["rate_marriage"], frame["rate_marriage"])
    for name in ("age", "yrs_married", "affairs"):
        np.testing.assert_allclose(back[name], frame[name], atol=1e-5)
    # the point mass comes back exactly, as its own mode
    assert ((back["affairs"] == 0) == (frame["affairs"] == 0)).all()
    mode = enc.spans_of("affairs")[1]
    np.testing.assert_array_equal(encoded[:, mode.start] == 1, frame["affairs"].to_numpy() == 0)


def test_table_encoder_rejects_bad_general_columns(data):
    _, schema = data
    with pytest.raises(ValueError, match="general_columns: 'affairs' is mixed"):
        TableEncoder(schema, general=("affairs",))
    with pytest.raises(ValueError, match="not a column"):
        TableEncoder(schema, general=("nope",))


def test_auxiliary_classifier_ignores_the_target_spans():
    spans = [Span("a", 0, 3, "softmax", "category"), Span("t", 3, 4, "tanh", "value")]
    spans.append(Span("t", 4, 6, "softmax", "mode"))
    clf = AuxiliaryClassifier(6, spans[1:], spans[2], (8,))
    rows = torch.rand(5, 6)
    changed = rows.clone()
    changed[:, 3:] = torch.rand(5, 3)
    torch.testing.assert_close(clf(rows), clf(changed))
    assert clf(rows).shape == (5, 2)
    torch.testing.assert_close(clf.labels(rows), rows[:, 4:6].argmax(1))


# ----------------------------------------------------------------------------- DP pieces


def test_dp_critic_loss_per_row_matches_the_batch_penalty():
    torch.manual_seed(0)
    critic = Discriminator(5, (8,), pac=1).eval()
    real, fake, eps = torch.randn(6, 5), torch.randn(6, 5), torch.rand(6)
    rows = critic_loss_per_row(10.0)(critic, real, fake, eps)
    want = critic(fake) - critic(real)
    penalty = gradient_penalty(critic, real, fake, weight=10.0, pac=1, eps=eps)
    assert rows.shape == (6,)
    torch.testing.assert_close(rows.mean(), want.mean() + penalty)
    # mutation check: without the penalty inside the per-row loss the means differ
    assert abs((rows.mean() - want.mean()).item()) > 1e-4


def test_dpsgd_player_step_equals_dp_step():
    torch.manual_seed(0)
    critic = Discriminator(5, (8,), pac=1).eval()
    twin = copy.deepcopy(critic)
    real, fake, eps = torch.randn(20, 5), torch.randn(20, 5), torch.rand(20)
    loss = critic_loss_per_row(10.0)
    opt = torch.optim.SGD(critic.parameters(), lr=1.0)
    dp_step(
        critic, loss, (real, fake, eps), opt, clip_norm=0.5, noise_multiplier=0.7,
        expected_batch_size=20, generator=torch.Generator().manual_seed(3),
    )  # fmt: skip
    dp = DPSGD(
        n=100, sample_rate=0.2, noise_multiplier=0.7, clip_norm=0.5,
        generator=torch.Generator().manual_seed(3),
    )  # fmt: skip

    def step(model, batch):
        return PrivateStep(model, loss, batch, {"loss": torch.tensor(1.25), "n": len(batch[0])})

    player = DPSGDPlayer(dp, step, torch.optim.SGD(twin.parameters(), lr=1.0))
    assert player.update(twin, (real, fake, eps)) == {"loss": 1.25, "n": 20.0}
    for a, b in zip(critic.parameters(), twin.parameters(), strict=True):
        torch.testing.assert_close(a, b)
    assert dp.accountant.history == [(0.2, 0.7, 1)]  # the accountant steps with the player
    # a non-finite logged loss stops before the step: the model and the accountant are untouched
    before = [p.detach().clone() for p in twin.parameters()]

    def nan_step(model, batch):
        return PrivateStep(model, loss, batch, {"loss": math.nan})

    bad = DPSGDPlayer(dp, nan_step, player.optimizer)
    with pytest.raises(FloatingPointError, match="loss"):
        bad.update(twin, (real, fake, eps))
    assert all(torch.equal(a, b) for a, b in zip(twin.parameters(), before, strict=True))
    assert dp.accountant.history == [(0.2, 0.7, 1)]


@pytest.mark.parametrize(
    ("epsilon", "delta", "match"),
    [(0, None, "epsilon"), (-1.0, None, "epsilon"), (math.nan, None, "epsilon"),
     (1.0, 0.0, "delta"), (1.0, 1.0, "delta"), (1.0, 1.5, "delta"), (True, None, "epsilon")],
)  # fmt: skip
def test_bad_privacy_arguments(epsilon, delta, match):
    with pytest.raises(ValueError, match=match):
        check_privacy(epsilon, delta)
    _, schema = fair_small(50)
    with pytest.raises(ValueError, match=match):
        CTABGANPlus(schema, epsilon=epsilon, delta=delta)


def test_infinite_epsilon_is_not_private(data):
    _, schema = data
    assert check_privacy(math.inf, None) == (None, None)
    assert not CTABGANPlus(schema, epsilon=math.inf).private
    assert CTABGANPlus(schema, epsilon=1.0).settings.pac == 1


def test_dp_mode_rejects_packs_and_the_information_loss(data):
    _, schema = data
    with pytest.raises(ValueError, match="pac"):
        CTABGANPlus(schema, epsilon=1.0, pac=10)
    with pytest.raises(ValueError, match="info_weight"):
        CTABGANPlus(schema, epsilon=1.0, info_weight=1.0)
    with pytest.raises(ValueError, match="loss"):
        CTABGANPlus(schema, epsilon=1.0, loss="vanilla")


# ----------------------------------------------------------------------------- bad input


def test_classifier_needs_a_target(data):
    _, schema = data
    no_target = schema.with_target(None)
    with pytest.raises(ValueError, match="classifier_target: the auxiliary classifier needs"):
        CTABGAN(no_target)
    with pytest.raises(ValueError, match="classifier_target: 'nope' is not a column"):
        CTABGAN(schema, classifier_target="nope")
    assert CTABGAN(no_target, classifier_weight=0).classifier_target is None
    with pytest.raises(ValueError, match="loss"):
        CTABGAN(schema, loss="hinge")
    with pytest.raises(ValueError, match="info_weight"):
        CTABGAN(schema, info_weight=-1)


def test_point_mass_that_never_occurs_is_rejected(data):
    frame, schema = data
    bad = schema.override({"affairs": Column("affairs", "mixed", point_masses=(0.0, -3.0))})
    with pytest.raises(ValueError, match=r"'affairs': point mass\(es\) \[-3.0\] never occur"):
        CTABGAN(bad, **SMALL, epochs=1).fit(frame, progress=False)


# ----------------------------------------------------------------------------- models


def test_ctabgan_fits_and_samples(data, device):
    frame, schema = data
    model = CTABGAN(schema, **SMALL, epochs=1, device=device).fit(frame, progress=False)
    spans = {s.column for s in model.sampler.spans}
    assert {"age", "affairs", "rate_marriage"} <= spans  # modes are conditioned on too
    out = model.sample(300, seed=1)
    assert list(out.columns) == schema.names and len(out) == 300
    assert (out.dtypes == frame.dtypes).all()
    pd.testing.assert_frame_equal(out, model.sample(300, seed=1))
    losses = model.losses()
    assert {"info", "classifier", "cond_ce"} <= set(losses.columns)
    assert (losses["info"] > 0).all() and (losses["classifier"] > 0).all()
    assert len(model.classifier_history) == SMALL["classifier_epochs"] * (600 // 100)
    # two phases of fit: the classifier's turns, then the GAN's
    assert model.classifier_history.players() == ["classifier"]
    assert model.history.players() == ["critic", "generator"]
    assert not any(p.requires_grad for p in model.net.classifier.parameters())  # frozen


def test_ctabgan_plus_general_transform_and_wgan(data):
    frame, schema = data
    model = CTABGANPlus(schema, **SMALL, epochs=1, general_columns=("age",))
    model.fit(frame, progress=False)
    assert model.loss == "wgan-gp" and model.privacy is None
    out = model.sample(200, seed=0)
    assert out["age"].between(frame["age"].min(), frame["age"].max()).all()


def test_ctabgan_plus_dp_reports_its_budget(data):
    frame, schema = data
    model = CTABGANPlus(schema, **SMALL, epochs=1, epsilon=2.0).fit(frame, progress=False)
    report = model.privacy
    assert report.delta == pytest.approx(1e-5)  # default min(1e-5, 1/(10n)), n = 600
    assert report.discriminator_steps == 6 and report.classifier_steps == 6
    assert 0.97 * 2.0 <= report.epsilon <= 2.0
    acc = RdpAccountant()
    acc.step(report.sample_rate, report.noise_multiplier, 12)
    assert acc.get_epsilon(report.delta) == pytest.approx(report.epsilon)
    # the live accountant shared by both DP-SGD users saw the same steps
    assert model.regime.critic_dp.accountant.get_epsilon(report.delta) == pytest.approx(
        report.epsilon
    )
    assert model.info_weight == 0.0
    assert (model.losses()["info"] == 0).all()
    # the critic and the classifier step by DP-SGD; generator batches hold no real rows
    critic = model.regime.critic_player(model, None, model.settings.adam(model.net.discriminator))
    assert isinstance(critic, DPSGDPlayer)
    assert critic.dp.accountant is model.regime.classifier_dp.accountant  # one budget
    data = torch.from_numpy(model.transformer.transform(frame))
    critic_batch, generator_batch = model.regime.gan_batches(model, data)
    assert "real" not in generator_batch() and "real" in critic_batch()
    assert model.sample(50, seed=0).shape == (50, len(schema))
