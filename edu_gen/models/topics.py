r"""A synthetic topic corpus and a VAE for documents (chapter 03, eq. 17.14-17.15).

**The corpus.** :func:`make_topic_corpus` writes bag-of-words documents with the generative
story of latent Dirichlet allocation (Blei, Ng & Jordan 2003), so the true topics are known:

* topic :math:`k` is a distribution :math:`\beta_k` over a vocabulary of :math:`V` words
  (mostly its own theme words, some shared background words, a small floor on everything);
* document :math:`d` draws topic proportions :math:`\theta_d\sim\mathrm{Dirichlet}(\alpha)`,
  a length :math:`L_d`, and then each word :math:`w\sim\mathrm{Categorical}(\sum_k
  \theta_{dk}\beta_k)`.

Documents are count vectors :math:`n_d\in\mathbb N^V`; nothing is downloaded.

**The document VAE** (Miao, Yu & Blunsom 2016, *Neural variational inference for text
processing*): an MLP encoder :math:`q_\phi(z\mid n_d)=\mathcal N(\mu,\mathrm{diag}\,\sigma^2)`
and a softmax decoder over words (eq. 17.14) whose energy is linear in :math:`z` (eq. 17.15):

.. math::
    p_\theta(w\mid z) = \frac{\exp(-E(w; z))}{\sum_{v=1}^{V}\exp(-E(v; z))},\qquad
    E(w; z) = -z^\top R\, e_w - b_w,

so the logits are :math:`R^\top z + b` with :math:`R\in\mathbb R^{K\times V}`. A document's
log-likelihood is :math:`\log p(n_d\mid z) = \sum_w n_{dw}\log p_\theta(w\mid z)` (the
multinomial coefficient does not depend on the parameters and is left out).

**Topic recovery.** Row :math:`R_k` says how moving along latent axis :math:`k` changes every
word's logit. :func:`topic_recovery` compares the words each direction :math:`\pm R_k`
promotes with the true topics' own words, after matching topics to directions one-to-one
(Hungarian algorithm); :func:`subspace_recovery` is a rotation-invariant check (the prior
:math:`\mathcal N(0, I)` does not prefer any rotation of :math:`z`).

Length: the corpus, the model and the recovery scores stay in one module (about 300 lines): the
scores compare the model with the corpus's known topics, and neither half is used alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from edu_gen.core.checks import float_tensor, in_range, positive_float, positive_int
from edu_gen.models.vae import VAE, GaussianEncoder

Tensor = torch.Tensor

#: Theme words of the built-in topics (the first ``n_topics`` are used).
THEMES: dict[str, tuple[str, ...]] = {
    name: tuple(words.split())
    for name, words in (
        ("space", "orbit rocket planet launch astronaut lunar comet telescope galaxy satellite"),
        ("football", "goal league coach striker referee season stadium match tournament penalty"),
        ("cooking", "recipe oven flour garlic simmer butter dough spice bake sauce"),
        ("music", "guitar melody chord concert drummer album rhythm lyrics piano tempo"),
        ("finance", "stock bond dividend investor market inflation bank portfolio yield currency"),
        ("weather", "rain storm forecast humidity thunder breeze drought snow cloud frost"),
        ("medicine", "patient doctor vaccine clinic surgery symptom dose nurse therapy diagnosis"),
        ("gardening", "soil seed compost tulip prune hedge shovel greenhouse weeds mulch"),
    )
}

#: Words every topic uses a little.
BACKGROUND: tuple[str, ...] = tuple(
    "people time year week report today new good place many little way".split()
)


@dataclass(frozen=True)
class TopicCorpus:
    """Documents with known topics.

    Attributes:
        counts: ``[N, V]`` word counts per document (float32).
        vocab: the ``V`` words; ``vocab[i]`` is column ``i`` of ``counts``.
        topics: ``[K, V]`` true topic-word distributions :math:`\\beta_k` (rows sum to 1).
        topic_names: the ``K`` theme names.
        proportions: ``[N, K]`` each document's topic proportions :math:`\\theta_d`.
        theme_words: ``[K, V]`` boolean mask of each topic's own theme words.
    """

    counts: Tensor
    vocab: tuple[str, ...]
    topics: Tensor
    topic_names: tuple[str, ...]
    proportions: Tensor
    theme_words: Tensor

    def __len__(self) -> int:
        return self.counts.shape[0]

    def word_distributions(self) -> Tensor:
        """Each document's true word distribution :math:`\\sum_k\\theta_{dk}\\beta_k`, [N, V]."""
        return self.proportions @ self.topics


def topic_word_distributions(
    n_topics: int, theme_mass: float = 0.75, floor_mass: float = 0.05, zipf: float = 0.7
) -> tuple[Tensor, tuple[str, ...], tuple[str, ...], Tensor]:
    r"""The built-in topics :math:`\beta_k` over the vocabulary ``themes + background``.

    Topic :math:`k` puts ``theme_mass`` on its own theme words (Zipf-like weights
    :math:`\propto (r+1)^{-\text{zipf}}` by rank :math:`r`), ``floor_mass`` spread evenly over
    the whole vocabulary, and the rest evenly over the background words.
    Returns ``(topics [K, V], vocab, topic_names, theme_mask [K, V])``.
    """
    positive_int("n_topics", n_topics, 1)
    if n_topics > len(THEMES):
        raise ValueError(
            f"n_topics: expected at most {len(THEMES)} built-in topics, got {n_topics}"
        )
    if not (0 < theme_mass and 0 <= floor_mass and theme_mass + floor_mass <= 1):
        raise ValueError(
            "theme_mass, floor_mass: expected theme_mass > 0, floor_mass >= 0 and "
            f"theme_mass + floor_mass <= 1, got {theme_mass}, {floor_mass}"
        )
    names = tuple(THEMES)[:n_topics]
    vocab = tuple(w for name in names for w in THEMES[name]) + BACKGROUND
    v, n_bg = len(vocab), len(BACKGROUND)
    topics = torch.zeros(n_topics, v, dtype=torch.float64)
    mask = torch.zeros(n_topics, v, dtype=torch.bool)
    start = 0
    for k, name in enumerate(names):
        m = len(THEMES[name])
        weights = (torch.arange(m, dtype=torch.float64) + 1) ** (-zipf)
        topics[k, start : start + m] = theme_mass * weights / weights.sum()
        mask[k, start : start + m] = True
        start += m
    topics[:, v - n_bg :] += (1 - theme_mass - floor_mass) / n_bg
    topics += floor_mass / v
    return topics / topics.sum(1, keepdim=True), vocab, names, mask


def make_topic_corpus(
    n_docs: int,
    n_topics: int = 6,
    *,
    alpha: float = 0.2,
    doc_length: tuple[int, int] = (40, 80),
    seed: int = 0,
) -> TopicCorpus:
    r"""Sample ``n_docs`` bag-of-words documents from the LDA story with known topics.

    :math:`\theta_d\sim\mathrm{Dirichlet}(\alpha\mathbf 1_K)` (small :math:`\alpha`: most
    documents are about one or two topics), length :math:`L_d` uniform on ``doc_length``
    (inclusive), counts :math:`n_d\sim\mathrm{Multinomial}(L_d, \theta_d^\top\beta)`.
    The same ``seed`` gives the same corpus; use different seeds for train and test sets.
    """
    positive_int("n_docs", n_docs, 1)
    positive_float("alpha", alpha)
    lo, hi = doc_length
    if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
        raise ValueError(
            f"doc_length: expected (min, max) ints with 1 <= min <= max, got {doc_length}"
        )
    topics, vocab, names, mask = topic_word_distributions(n_topics)
    rng = np.random.default_rng(seed)
    theta = rng.dirichlet(np.full(n_topics, float(alpha)), size=n_docs)
    lengths = rng.integers(lo, hi + 1, size=n_docs)
    word_probs = theta @ topics.numpy()
    word_probs /= word_probs.sum(1, keepdims=True)
    counts = np.stack([rng.multinomial(n, p) for n, p in zip(lengths, word_probs, strict=True)])
    return TopicCorpus(
        counts=torch.as_tensor(counts, dtype=torch.float32),
        vocab=vocab,
        topics=topics.float(),
        topic_names=names,
        proportions=torch.as_tensor(theta, dtype=torch.float32),
        theme_words=mask,
    )


# ------------------------------------------------------------------------- the model


def document_log_likelihood(counts: Tensor, z: Tensor, R: Tensor, b: Tensor) -> Tensor:
    r""":math:`\log p(n\mid z) = \sum_w n_w \log\mathrm{softmax}(R^\top z + b)_w` (17.14-17.15).

    ``counts`` ``[..., V]``, ``z`` ``[..., K]`` (leading dims broadcast, e.g. samples
    ``[S, N, K]`` against documents ``[N, V]``), ``R`` ``[K, V]``, ``b`` ``[V]``. The softmax
    runs over the vocabulary; returns one log-likelihood per document.
    """
    for name, t in (("counts", counts), ("z", z), ("R", R), ("b", b)):
        float_tensor(name, t)
    if R.dim() != 2 or b.shape != (R.shape[1],):
        raise ValueError(
            f"R, b: expected shapes [K, V] and [V], got {tuple(R.shape)}, {tuple(b.shape)}"
        )
    if z.shape[-1] != R.shape[0] or counts.shape[-1] != R.shape[1]:
        raise ValueError(
            f"z, counts: expected last dims K={R.shape[0]} and V={R.shape[1]}, got "
            f"{tuple(z.shape)} and {tuple(counts.shape)}"
        )
    in_range("counts", counts, 0.0, float("inf"), "word counts")
    logits = z @ R + b  # = -E(w; z) for every word w
    return (counts * torch.log_softmax(logits, dim=-1)).sum(-1)


class TopicDecoder(nn.Module):
    r"""Softmax decoder :math:`p_\theta(w\mid z)=\mathrm{softmax}(R^\top z + b)_w` (17.14-17.15).

    Parameters ``R`` ``[K, V]`` and ``b`` ``[V]``; ``log_prob(counts, z)`` is
    :func:`document_log_likelihood`, ``mean(z)`` the word distribution.
    """

    def __init__(self, latent_dim: int, vocab_size: int, init_bias: Tensor | None = None) -> None:
        super().__init__()
        self.latent_dim = positive_int("latent_dim", latent_dim, 1)
        self.vocab_size = positive_int("vocab_size", vocab_size, 2)
        self.R = nn.Parameter(0.01 * torch.randn(latent_dim, vocab_size))
        bias = torch.zeros(vocab_size) if init_bias is None else init_bias.detach().float()
        if bias.shape != (vocab_size,):
            raise ValueError(f"init_bias: expected shape [{vocab_size}], got {tuple(bias.shape)}")
        self.b = nn.Parameter(bias.clone())

    def forward(self, z: Tensor) -> Tensor:
        """Logits :math:`-E(w;z) = R^\\top z + b`, shape ``[..., V]``."""
        return z @ self.R + self.b

    def log_prob(self, counts: Tensor, z: Tensor) -> Tensor:
        return document_log_likelihood(counts, z, self.R, self.b)

    def mean(self, z: Tensor) -> Tensor:
        return torch.softmax(self(z), dim=-1)


def make_document_vae(
    vocab_size: int, latent_dim: int, hidden: Sequence[int] = (64,), counts: Tensor | None = None
) -> VAE:
    """Encoder (MLP on the count vector) + :class:`TopicDecoder`, as a :class:`VAE`.

    With ``counts`` (the training documents) the decoder bias starts at the log unigram
    frequencies, so training begins from the best ``z``-independent model.
    """
    init = None
    if counts is not None:
        freq = counts.sum(0) + 1.0
        init = torch.log(freq / freq.sum())
    return VAE(
        GaussianEncoder(vocab_size, latent_dim, hidden), TopicDecoder(latent_dim, vocab_size, init)
    )


# ----------------------------------------------------------------------- evaluation


def top_words(weights: Tensor, vocab: Sequence[str], n: int = 8) -> list[list[str]]:
    """The ``n`` words with the largest weight in each row of ``weights`` ``[K, V]``."""
    if weights.dim() != 2 or weights.shape[1] != len(vocab):
        raise ValueError(f"weights: expected shape [K, {len(vocab)}], got {tuple(weights.shape)}")
    positive_int("n", n)
    idx = torch.topk(weights, min(n, len(vocab)), dim=1).indices
    return [[vocab[i] for i in row.tolist()] for row in idx]


def topic_recovery(R: Tensor, theme_words: Tensor, n: int | None = None) -> tuple[float, list[int]]:
    r"""How well the latent directions :math:`\pm R_k` pick out the true topics' words.

    Each direction :math:`s R_k` (:math:`s=\pm1`) ranks the vocabulary; its top ``n`` words
    (``n`` = number of theme words per topic by default) are compared with each true topic's
    theme words (precision). Topics are then matched one-to-one to directions (each
    :math:`k` used at most once, with either sign) to maximise the total precision
    (Hungarian algorithm). Returns ``(mean precision over topics, matched direction per
    topic)``; the direction index is ``k`` for :math:`+R_k` and ``k + K`` for :math:`-R_k`.
    A random :math:`R` scores about ``n / V``.
    """
    if R.dim() != 2 or theme_words.dim() != 2 or R.shape[1] != theme_words.shape[1]:
        raise ValueError(
            f"R, theme_words: expected [K, V] and [T, V], got {tuple(R.shape)}, "
            f"{tuple(theme_words.shape)}"
        )
    n_latent, n_topics = R.shape[0], theme_words.shape[0]
    if n_topics > n_latent:
        raise ValueError(f"R: expected at least {n_topics} latent directions, got {n_latent}")
    n = int(theme_words.sum(1).min()) if n is None else n
    directions = torch.cat([R, -R]).detach().cpu()
    top = torch.topk(directions, n, dim=1).indices  # [2K, n]
    hits = theme_words.cpu()[:, top].sum(-1).double() / n  # [T, 2K]
    # one latent index per topic: choose the better sign, then assign
    best_sign = hits[:, :n_latent] >= hits[:, n_latent:]
    per_k = torch.where(best_sign, hits[:, :n_latent], hits[:, n_latent:])
    rows, cols = linear_sum_assignment(-per_k.numpy())
    matched = [
        int(c) if best_sign[r, c] else int(c) + n_latent for r, c in zip(rows, cols, strict=True)
    ]
    return float(per_k[rows, cols].mean()), matched


def subspace_recovery(R: Tensor, topics: Tensor) -> Tensor:
    r"""Rotation-invariant recovery: how much of each topic's signature lies in the span of R.

    The prior :math:`\mathcal N(0, I)` is unchanged by a rotation :math:`z\to Qz` (with
    :math:`R\to Q R`), so single rows of :math:`R` are not identifiable but their span is.
    A topic's *signature* is how its log-probabilities differ from the average topic,
    :math:`t_j=\log\beta_j-\frac1K\sum_k\log\beta_k`, centred over words (a constant
    added to every logit does not change a softmax; the rows of :math:`R` are centred the
    same way). Returns, per topic, :math:`\lVert P t_j\rVert/\lVert t_j\rVert\in[0,1]`
    where :math:`P` projects onto the span of the centred rows of :math:`R`; a random
    :math:`K`-dimensional span scores about :math:`\sqrt{K/(V-1)}`.
    """
    if R.dim() != 2 or topics.dim() != 2 or R.shape[1] != topics.shape[1]:
        raise ValueError(
            f"R, topics: expected [K, V] and [T, V], got {tuple(R.shape)}, {tuple(topics.shape)}"
        )
    if not bool(torch.all(topics > 0)):
        raise ValueError("topics: expected strictly positive word probabilities")
    t = torch.log(topics.detach().cpu().double())
    t = t - t.mean(0, keepdim=True)
    t = t - t.mean(1, keepdim=True)
    r = R.detach().cpu().double()
    q, _ = torch.linalg.qr((r - r.mean(1, keepdim=True)).T)
    proj = t @ q @ q.T
    return proj.norm(dim=1) / t.norm(dim=1)
