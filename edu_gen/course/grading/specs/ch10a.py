"""Chapter 10a exercises: mode-specific normalisation, the conditional-vector sampler
(log-frequency and the cond/mask vectors), the WGAN-GP penalty on PacGAN packs and, the
central one, CTGAN's conditional generator loss (the cross-entropy of the conditioned column).

Length: about 450 lines, because five exercises each need their input layout, their planted
mistakes and the helpers that change one argument alone; one module per chapter.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from edu_gen.course.grading.core import Case, Exercise, register, seeded_generator
from edu_gen.models import gan
from edu_gen.tabular.encoding import (
    ALPHA_LIMIT,
    STD_MULTIPLIER,
    Span,
    category_probabilities,
    conditional_vector,
    mode_log_responsibilities,
    mode_normalize,
)
from edu_gen.tabular.synthesizers import SoftmaxSpans, conditional_cross_entropy

# ------------------------------------------------------------------ mode-specific normalisation


def _mixture_inputs(seed: int) -> dict:
    """A 1-D mixture whose modes differ clearly in width and weight, and values on a grid.

    The layout makes every planted mistake visible: stds spread over a factor 8 and weights
    at least 5x apart (so dropping w_k or the 1/sigma_k of the density moves the most
    responsible mode somewhere), a grid of values across all modes (it crosses the mode
    boundaries where the mistakes disagree), and two values more than 4 sigma from every
    mean (clipping matters).
    """
    rng = np.random.default_rng(seed)
    k = 2 + seed % 3
    means = np.sort(rng.uniform(-6, 6, size=k))
    stds = rng.permutation(np.geomspace(0.25, 2.0, k))
    weights = rng.permutation(5.0 ** np.arange(k))
    weights = weights / weights.sum()
    n = 30 + seed % 11
    comp = rng.choice(k, size=n, p=weights)
    sampled = means[comp] + stds[comp] * rng.standard_normal(n)
    grid = np.linspace(means.min() - 3 * stds.max(), means.max() + 3 * stds.max(), 400)
    far = [means.min() - 6 * stds.max(), means.max() + 6 * stds.max()]
    x = np.concatenate([far, grid, sampled])
    return {"x": x, "means": means, "stds": stds, "weights": weights}


def ref_mode_normalize(x, means, stds, weights):
    """The argmax variant of Xu et al.'s encoding, from the transformer's own functions."""
    k = mode_log_responsibilities(x, means, stds, weights).argmax(1)
    alpha = np.clip(mode_normalize(x, k, means, stds), -ALPHA_LIMIT, ALPHA_LIMIT)
    return alpha, np.eye(len(means))[k]


def _encode_with(k: np.ndarray, x, means, stds, *, multiplier=STD_MULTIPLIER, clip=True):
    alpha = (x - means[k]) / (multiplier * stds[k])
    if clip:
        alpha = np.clip(alpha, -ALPHA_LIMIT, ALPHA_LIMIT)
    return alpha, np.eye(len(means))[k]


def _mode_no_weights(x, means, stds, weights):
    k = mode_log_responsibilities(x, means, stds, np.ones_like(weights)).argmax(1)
    return _encode_with(k, x, means, stds)


def _mode_nearest_mean(x, means, stds, weights):
    k = np.abs(x[:, None] - means).argmin(1)
    return _encode_with(k, x, means, stds)


def _mode_no_sigma_constant(x, means, stds, weights):
    z = (x[:, None] - means) / stds
    k = (np.log(weights) - 0.5 * z**2).argmax(1)
    return _encode_with(k, x, means, stds)


def _mode_one_sigma(x, means, stds, weights):
    k = mode_log_responsibilities(x, means, stds, weights).argmax(1)
    return _encode_with(k, x, means, stds, multiplier=1.0)


def _mode_no_clip(x, means, stds, weights):
    k = mode_log_responsibilities(x, means, stds, weights).argmax(1)
    return _encode_with(k, x, means, stds, clip=False)


register(
    Exercise(
        id="10a.mode_normalize",
        title="Mode-specific normalisation: α = clip((x − μ_k)/(4σ_k)), β = one-hot of the mode",
        inputs=_mixture_inputs,
        reference=ref_mode_normalize,
        mistakes={
            "the mode maximises the responsibility w_k N(x; μ_k, σ_k²): keep the weights w_k": (
                _mode_no_weights
            ),
            "the nearest mean is not the most responsible mode when the σ_k or w_k differ": (
                _mode_nearest_mean
            ),
            "keep the 1/σ_k of the normal density when comparing modes of different widths": (
                _mode_no_sigma_constant
            ),
            "α divides by 4σ_k (a value 4σ from its mean maps to ±1), not by σ_k": _mode_one_sigma,
            "clip α to [−0.99, 0.99] (tanh outputs never reach ±1)": _mode_no_clip,
        },
    )
)

# ------------------------------------------------------------------ log-frequency


def _counts_inputs(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    width = 3 + seed % 5
    counts = rng.integers(0, 2000, size=width)
    counts[0] = rng.integers(1, 10)  # a rare category
    if seed % 2:
        counts[-1] = 0  # and, every other case, an empty one
    counts[1] = max(counts[1], 1)
    return {"counts": counts.astype(np.int64)}


def _counts_last_absent(seed: int) -> dict:
    """The last category never occurs in the table (count 0), another occurs once."""
    counts = _counts_inputs(seed)["counts"].copy()
    counts[-1], counts[0] = 0, 1
    return {"counts": counts}


register(
    Exercise(
        id="10a.log_frequency",
        title="Training-by-sampling probabilities p_c ∝ log(1 + n_c)",
        inputs=_counts_inputs,
        reference=category_probabilities,
        edge_cases=(
            Case(
                "the last category is absent (count 0), another occurs once",
                _counts_last_absent,
                "every category keeps its slot; an absent one gets probability log(1 + 0) = 0",
            ),
        ),
        mistakes={
            "use log(1 + n_c): proportional to n_c reproduces the imbalance": lambda counts: (
                counts / counts.sum()
            ),
            "normalise: the probabilities must sum to 1": lambda counts: np.log1p(counts),
            "add 1 inside the log (an empty category has log(1 + 0) = 0)": lambda counts: (
                np.log(counts + 1e-12) / np.log(counts + 1e-12).sum()
            ),
            "a softmax of log(1 + n) is proportional to 1 + n, not to log(1 + n)": lambda counts: (
                (counts + 1.0) / (counts + 1.0).sum()
            ),
        },
    )
)

# ------------------------------------------------------------------ conditional vector


def ref_conditional_vector(span, category, widths):
    """cond and mask of each row: the package's :func:`conditional_vector`."""
    return conditional_vector(span, category, widths)


def _cond_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    n_cols = 2 + seed % 3
    widths = [int(w) for w in torch.randint(2, 6, (n_cols,), generator=g)]
    batch = 6 + seed % 5
    span = torch.randint(n_cols, (batch,), generator=g)
    category = (torch.rand(batch, generator=g) * torch.tensor(widths)[span]).long()
    return {"span": span, "category": category, "widths": widths}


def _other_columns(inputs, g) -> torch.Tensor:
    """Each row moved to the next column that has the row's category."""
    span, category, widths = inputs["span"], inputs["category"], inputs["widths"]
    moved = span.clone()
    for i in range(len(span)):
        for step in range(1, len(widths)):
            j = (int(span[i]) + step) % len(widths)
            if widths[j] > int(category[i]):
                moved[i] = j
                break
    return moved


def _other_categories(inputs, g) -> torch.Tensor:
    widths = torch.tensor(inputs["widths"])
    return (inputs["category"] + 1) % widths[inputs["span"]]


def _wider_columns(inputs, g) -> list[int]:
    return [w + 1 for w in inputs["widths"]]


def _cond_with_offsets(span, category, widths, offsets):
    batch = len(span)
    cond = torch.zeros(batch, sum(widths))
    mask = torch.zeros(batch, len(widths))
    cond[torch.arange(batch), torch.as_tensor(offsets)[span] + category] = 1.0
    mask[torch.arange(batch), span] = 1.0
    return cond, mask


def _cond_no_offset(span, category, widths):
    return _cond_with_offsets(span, category, widths, [0] * len(widths))


def _cond_column_index_offset(span, category, widths):
    return _cond_with_offsets(span, category, widths, list(range(len(widths))))


def _cond_mask_over_categories(span, category, widths):
    cond, _ = ref_conditional_vector(span, category, widths)
    return cond, cond.clone()


register(
    Exercise(
        id="10a.conditional_vector",
        title="Conditional vector and mask of a batch of (column, category) conditions",
        inputs=_cond_inputs,
        reference=ref_conditional_vector,
        perturb={"span": _other_columns, "category": _other_categories, "widths": _wider_columns},
        mistakes={
            "a category's slot is offset_j + c: add the widths of the columns before j": (
                _cond_no_offset
            ),
            "offset_j adds the *widths* of the columns before j, not their number j": (
                _cond_column_index_offset
            ),
            "the mask has one entry per discrete column (e_j), not one per category": (
                _cond_mask_over_categories
            ),
        },
    )
)

# ------------------------------------------------------------------ packed gradient penalty


class _PackedCritic(torch.nn.Module):
    """A fixed smooth critic on PacGAN packs: [N, d] rows → [N / pac] scores."""

    def __init__(self, d: int, pac: int, seed: int) -> None:
        super().__init__()
        self.pac = pac
        with torch.random.fork_rng(devices=[]):  # leave the notebook's random stream alone
            torch.manual_seed(seed)
            self.net = torch.nn.Sequential(
                torch.nn.Linear(pac * d, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)
            ).double()

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return self.net(gan.pack(rows, self.pac)).squeeze(-1)


def _gp_inputs(seed: int) -> dict:
    g = seeded_generator(seed)
    pac = 2 + seed % 3
    n_packs, d = 3 + seed % 4, 2 + seed % 3
    n = pac * n_packs
    return {
        "critic": _PackedCritic(d, pac, seed),
        "real": torch.randn(n, d, generator=g, dtype=torch.float64),
        "fake": 1.5 + torch.randn(n, d, generator=g, dtype=torch.float64),
        "eps": torch.rand(n_packs, generator=g, dtype=torch.float64),
        "pac": pac,
    }


def ref_packed_gradient_penalty(critic, real, fake, eps, pac):
    return gan.gradient_penalty(critic, real, fake, pac=pac, eps=eps)


def _packed_gp(critic, real, fake, eps, pac, *, tile=False, per_row=False, weight=10.0):
    e = eps.repeat(pac) if tile else eps.repeat_interleave(pac)
    x_hat = (e[:, None] * real + (1 - e[:, None]) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norms = grad.norm(dim=1) if per_row else grad.reshape(len(eps), -1).norm(dim=1)
    return weight * ((norms - 1) ** 2).mean()


register(
    Exercise(
        id="10a.packed_gradient_penalty",
        title="WGAN-GP penalty on PacGAN packs: one ε and one gradient norm per pack",
        inputs=_gp_inputs,
        reference=ref_packed_gradient_penalty,
        grad_inputs=(),  # the critic's parameters: the penalty trains the critic
        gradient_note=(
            "The penalty trains the critic only if torch.autograd.grad(..., "
            "create_graph=True) keeps the graph of the gradient."
        ),
        # pac is len(real) / len(eps) and the critic's own pack size: it cannot change alone
        perturb={"pac": None},
        mistakes={
            "the critic scores a whole pack: take one gradient norm per pack of pac rows, "
            "not one per row": lambda c, r, f, e, p: _packed_gp(c, r, f, e, p, per_row=True),
            "rows 0..pac-1 form pack 0, so they share eps[0]: repeat_interleave, not repeat": (
                lambda c, r, f, e, p: _packed_gp(c, r, f, e, p, tile=True)
            ),
            "multiply by λ = 10": lambda c, r, f, e, p: _packed_gp(c, r, f, e, p, weight=1.0),
        },
    )
)

# ------------------------------------------------------------------ the central algorithm


def _cond_loss_inputs(seed: int) -> dict:
    """Raw generator outputs of a row layout that interleaves 1-2 tanh columns (α of a
    numeric column) before every one-hot span, so a span's position in the logits is never
    its offset in the conditional vector; one condition per row, every column conditioned."""
    g = seeded_generator(seed)
    n_cols = 2 + seed % 3
    widths = [int(w) for w in torch.randint(2, 6, (n_cols,), generator=g)]
    spans, position = [], 0
    for w in widths:
        position += 1 + int(torch.randint(2, (1,), generator=g))  # tanh columns first
        spans.append((position, position + w))
        position += w
    batch = 8 + seed % 5
    span = torch.arange(batch) % n_cols  # every column is conditioned in some row
    span = span[torch.randperm(batch, generator=g)]
    category = (torch.rand(batch, generator=g) * torch.tensor(widths)[span]).long()
    cond, _ = conditional_vector(span, category, widths)
    logits = 2.0 * torch.randn(batch, position + 1, generator=g, dtype=torch.float64)
    return {"logits": logits, "cond": cond.double(), "spans": spans}


def _extreme_logits(seed: int) -> dict:
    """Logits of size 10^3-10^4: the conditioned category may be far from the most likely."""
    inputs = _cond_loss_inputs(seed)
    inputs["logits"] = 1500.0 * inputs["logits"]
    return inputs


def _conditions_of(cond: torch.Tensor, spans) -> tuple[torch.Tensor, torch.Tensor]:
    """(column, category) of every row's single 1 in ``cond``."""
    widths = torch.tensor([end - start for start, end in spans])
    ends = widths.cumsum(0)
    slot = cond.argmax(1)
    span = torch.searchsorted(ends, slot, right=True)
    return span, slot - (ends - widths)[span]


def ref_conditional_generator_loss(logits, cond, spans):
    """The package's :func:`conditional_cross_entropy` on the spans and the decoded conditions."""
    soft = SoftmaxSpans(
        [Span(f"c{j}", start, end, "softmax", "category") for j, (start, end) in enumerate(spans)]
    )
    span, category = _conditions_of(cond, spans)
    return conditional_cross_entropy(logits, soft, span, category)


def _per_column(logits, cond, spans, *, offsets_for_logits=False, softmax_first=False):
    """[B, J] cross-entropies of every column against its cond block's argmax, and the
    [B, J] mask of the conditioned column."""
    ces, masks, offset = [], [], 0
    for start, end in spans:
        width = end - start
        block = cond[:, offset : offset + width]
        scores = logits[:, offset : offset + width] if offsets_for_logits else logits[:, start:end]
        if softmax_first:
            scores = torch.softmax(scores, dim=1)
        ces.append(F.cross_entropy(scores, block.argmax(1), reduction="none"))
        masks.append(block.sum(1))
        offset += width
    return torch.stack(ces, 1), torch.stack(masks, 1)


def _cl_all_columns(logits, cond, spans):
    ce, _ = _per_column(logits, cond, spans)
    return ce.sum(1).mean()


def _cl_softmax_first(logits, cond, spans):
    ce, mask = _per_column(logits, cond, spans, softmax_first=True)
    return (ce * mask).sum(1).mean()


def _cl_sum_batch(logits, cond, spans):
    ce, mask = _per_column(logits, cond, spans)
    return (ce * mask).sum()


def _cl_cond_offsets(logits, cond, spans):
    ce, mask = _per_column(logits, cond, spans, offsets_for_logits=True)
    return (ce * mask).sum(1).mean()


def _cl_mean_over_columns(logits, cond, spans):
    ce, mask = _per_column(logits, cond, spans)
    return (ce * mask).mean()


def _cl_unstable(logits, cond, spans):
    ce, mask = [], []
    offset = 0
    for start, end in spans:
        block = cond[:, offset : offset + end - start]
        p = torch.softmax(logits[:, start:end], dim=1)  # log of a probability that underflows
        ce.append(-torch.log((p * block).sum(1) + (1 - block.sum(1))))
        mask.append(block.sum(1))
        offset += end - start
    return (torch.stack(ce, 1) * torch.stack(mask, 1)).sum(1).mean()


def _shift_spans(inputs, g) -> list[tuple[int, int]]:
    """Every span one column to the left (into the tanh column before it): same widths."""
    return [(start - 1, end - 1) for start, end in inputs["spans"]]


register(
    Exercise(
        id="10a.conditional_generator_loss",
        title="CTGAN's conditional generator loss: cross-entropy of the conditioned column only",
        points=20,
        inputs=_cond_loss_inputs,
        reference=ref_conditional_generator_loss,
        grad_inputs=("logits",),  # the loss trains the generator through its logits
        perturb={
            "cond": lambda inputs, g: inputs["cond"].roll(1, 0),  # other rows' conditions
            "spans": _shift_spans,
        },
        stability=(
            Case(
                "logits of size 10³-10⁴",
                _extreme_logits,
                "take F.cross_entropy (or log_softmax) of the logits; log(softmax(...)) "
                "underflows to log(0) = -inf",
            ),
        ),
        unstable=_cl_unstable,
        mistakes={
            "only the conditioned column pays: weight each column's cross-entropy by whether "
            "the row's condition is in it (the mask)": _cl_all_columns,
            "the generator's outputs are logits: F.cross_entropy applies the log-softmax "
            "itself, do not apply a softmax first": _cl_softmax_first,
            "average over the rows of the batch, do not sum": _cl_sum_batch,
            "slice the logits with the spans (the row layout has tanh columns between "
            "them), and the condition with the cumulative widths": _cl_cond_offsets,
            "sum over the columns (one of them is conditioned), then average over the rows; "
            "not the mean over rows × columns": _cl_mean_over_columns,
        },
    )
)
