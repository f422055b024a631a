"""Tests for edu_gen.models.topics (chapter 03): the synthetic corpus, the softmax document decoder
(eq. 17.14-17.15) and the topic-recovery scores.

Oracles: torch.distributions.Multinomial for document likelihoods, the known generating
topics for the recovery scores, and NumPy/SciPy for sampling statistics.
"""

from __future__ import annotations

import math

import pytest
import scipy.stats
import torch
from torch.distributions import Multinomial
from torch.utils.data import DataLoader, TensorDataset

from edu_gen.core.rng import generator as gen
from edu_gen.core.train import fit
from edu_gen.models import topics as tp
from edu_gen.models.vae import VAE, vae_loss


def test_topic_distributions_are_normalised_and_favour_their_theme():
    topics, vocab, names, mask = tp.topic_word_distributions(4)
    assert topics.shape == (4, len(vocab)) and len(names) == 4 and mask.shape == topics.shape
    torch.testing.assert_close(topics.sum(1), torch.ones(4, dtype=torch.float64))
    assert torch.all(topics > 0)
    theme_mass = (topics * mask).sum(1)
    assert torch.all(theme_mass > 0.75)  # 0.75 + its share of the floor
    assert set(tp.BACKGROUND) <= set(vocab) and len(set(vocab)) == len(vocab)
    with pytest.raises(ValueError, match="n_topics: expected at most"):
        tp.topic_word_distributions(len(tp.THEMES) + 1)


def test_corpus_is_seeded_and_follows_the_generative_story():
    a = tp.make_topic_corpus(400, 5, seed=3, doc_length=(30, 50))
    b = tp.make_topic_corpus(400, 5, seed=3, doc_length=(30, 50))
    torch.testing.assert_close(a.counts, b.counts)
    lengths = a.counts.sum(1)
    assert lengths.min() >= 30 and lengths.max() <= 50 and len(a) == 400
    torch.testing.assert_close(a.proportions.sum(1), torch.ones(400))
    # pooled word frequencies agree with the expected mixture (chi-square goodness of fit)
    expected = (a.word_distributions().double() * lengths.double()[:, None]).sum(0)
    observed = a.counts.double().sum(0)
    stat, pvalue = scipy.stats.chisquare(
        observed.numpy(), expected.numpy() * observed.sum().item() / expected.sum().item()
    )
    assert pvalue > 1e-3, stat
    c = tp.make_topic_corpus(400, 5, seed=4, doc_length=(30, 50))
    assert not torch.equal(a.counts, c.counts)


def test_small_alpha_gives_documents_dominated_by_one_topic():
    sparse = tp.make_topic_corpus(500, 6, alpha=0.1, seed=0)
    flat = tp.make_topic_corpus(500, 6, alpha=10.0, seed=0)
    assert sparse.proportions.max(1).values.mean() > 0.7
    assert flat.proportions.max(1).values.mean() < 0.4


def test_document_log_likelihood_matches_the_multinomial_up_to_its_coefficient():
    corpus = tp.make_topic_corpus(6, 3, seed=1)
    g = gen(2)
    R = torch.randn(2, len(corpus.vocab), generator=g)
    b = torch.randn(len(corpus.vocab), generator=g)
    z = torch.randn(6, 2, generator=g)
    got = tp.document_log_likelihood(corpus.counts, z, R, b)
    n = corpus.counts
    log_coef = torch.lgamma(n.sum(1) + 1) - torch.lgamma(n + 1).sum(1)
    want = torch.stack(
        [
            Multinomial(int(n[i].sum()), logits=z[i] @ R + b).log_prob(n[i]) - log_coef[i]
            for i in range(6)
        ]
    )
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-5)
    # S samples of z broadcast against the N documents
    zs = torch.randn(4, 6, 2, generator=g)
    assert tp.document_log_likelihood(corpus.counts, zs, R, b).shape == (4, 6)


def test_decoder_logits_are_minus_the_energy_of_eq_17_15():
    torch.manual_seed(0)
    decoder = tp.TopicDecoder(3, 10)
    z = torch.randn(2, 3)
    for word in (0, 4, 9):
        one_hot = torch.zeros(10)
        one_hot[word] = 1.0
        energy = -(z @ decoder.R @ one_hot) - decoder.b[word]  # E(x_i; z) = -z^T R x_i - b_{x_i}
        torch.testing.assert_close(decoder(z)[:, word], -energy)
    probs = decoder.mean(z)
    torch.testing.assert_close(probs.sum(-1), torch.ones(2))


def test_a_pure_topic_is_represented_exactly_by_the_softmax_decoder():
    topics, vocab, _, _ = tp.topic_word_distributions(3)
    R, b = torch.log(topics).float(), torch.zeros(len(vocab))
    z = torch.eye(3)  # z = e_k gives logits log beta_k, i.e. softmax = beta_k
    decoder = tp.TopicDecoder(3, len(vocab))
    with torch.no_grad():
        decoder.R.copy_(R)
        decoder.b.copy_(b)
    torch.testing.assert_close(decoder.mean(z), topics.float())


def test_recovery_scores_are_perfect_for_the_truth_and_low_for_random_directions():
    topics, vocab, _, mask = tp.topic_word_distributions(5)
    truth = torch.log(topics).float()
    score, matched = tp.topic_recovery(truth, mask)
    assert score == 1.0 and matched == [0, 1, 2, 3, 4]
    # signs and order of the latent directions do not matter
    flipped = torch.cat([-truth[3:], truth[:3]])
    assert tp.topic_recovery(flipped, mask)[0] == 1.0
    torch.testing.assert_close(
        tp.subspace_recovery(truth, topics), torch.ones(5, dtype=torch.float64)
    )
    # a rotation of z (R -> Q R) keeps the span, so the subspace score stays perfect
    q, _ = torch.linalg.qr(torch.randn(5, 5, generator=gen(0)))
    torch.testing.assert_close(
        tp.subspace_recovery(q @ truth, topics), torch.ones(5, dtype=torch.float64)
    )
    rand = torch.randn(5, len(vocab), generator=gen(1))
    assert tp.topic_recovery(rand, mask)[0] < 0.5
    expected = math.sqrt(5 / (len(vocab) - 1))
    assert tp.subspace_recovery(rand, topics).mean().item() == pytest.approx(expected, abs=0.15)


def test_top_words_and_recovery_validate_shapes():
    _, vocab, _, mask = tp.topic_word_distributions(3)
    w = torch.zeros(2, len(vocab))
    w[0, 5] = 1.0
    assert tp.top_words(w, vocab, 1)[0] == [vocab[5]]
    with pytest.raises(ValueError, match="weights: expected shape"):
        tp.top_words(torch.zeros(2, 3), vocab)
    with pytest.raises(ValueError, match="R: expected at least 3 latent directions"):
        tp.topic_recovery(w, mask)
    with pytest.raises(ValueError, match="z, counts: expected last dims"):
        tp.document_log_likelihood(
            torch.zeros(2, 4), torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(4)
        )


def test_document_vae_trains_with_fit_on_device(device):
    torch.manual_seed(0)
    corpus = tp.make_topic_corpus(256, 3, seed=0)
    model = tp.make_document_vae(len(corpus.vocab), 3, (32,), counts=corpus.counts)
    assert isinstance(model, VAE)
    loader = DataLoader(TensorDataset(corpus.counts), batch_size=64, shuffle=True, generator=gen(0))
    history = fit(model, vae_loss, loader, steps=150, lr=5e-3, device=device, progress=False)
    assert history["loss"][-20:].mean() < history["loss"][:20].mean()
    # the bias starts at the log unigram frequencies
    fresh = tp.make_document_vae(len(corpus.vocab), 3, counts=corpus.counts)
    freq = (corpus.counts.sum(0) + 1) / (corpus.counts.sum() + len(corpus.vocab))
    torch.testing.assert_close(torch.softmax(fresh.decoder.b, 0), freq)


@pytest.mark.parametrize(
    "mutant",
    [
        lambda n, z, R, b: (n * torch.log_softmax(-(z @ R + b), -1)).sum(-1),  # energy sign
        lambda n, z, R, b: (n * torch.log_softmax(z @ R + b, 0)).sum(-1),  # softmax over docs
        lambda n, z, R, b: ((n > 0) * torch.log_softmax(z @ R + b, -1)).sum(-1),  # no counts
    ],
    ids=["energy-sign", "wrong-axis", "ignores-counts"],
)
def test_the_multinomial_oracle_catches_mutants(mutant):
    corpus = tp.make_topic_corpus(5, 3, seed=2)
    g = gen(3)
    R, b = (
        torch.randn(2, len(corpus.vocab), generator=g),
        torch.randn(len(corpus.vocab), generator=g),
    )
    z = torch.randn(5, 2, generator=g)
    good = tp.document_log_likelihood(corpus.counts, z, R, b)
    assert not torch.allclose(mutant(corpus.counts, z, R, b), good, atol=1e-3)
