"""Chapter 10a's central exercise (CTGAN's conditional generator loss) and the lesson's
conditional cross-entropy written out.

Correct answers written differently keep full marks; hostile answers that the planted
mistakes do not cover lose points on the contract they break; the loss equals the one the
package's CTGAN trains with on real batches; the lesson's loop matches the package and its
claim fails for a loop that is off; each lesson file asks 3 to 5 questions.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from edu_gen.course import grading
from edu_gen.course.claims import ClaimFailed, claim_close
from edu_gen.course.grading.core import GRADIENT, STABILITY, TYPE, VALUES
from edu_gen.data import tables
from edu_gen.tabular.encoding import ConditionalSampler, DataTransformer
from edu_gen.tabular.synthesizers import SoftmaxSpans, conditional_cross_entropy

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "lessons" / "10a_tabular_ctgan_tvae.py"
COLUMNS = ROOT / "lessons" / "10a_tabular_columns.py"
EXERCISES = ROOT / "lessons" / "10a_tabular_ctgan_tvae_exercises.py"


def _exercise():
    return grading.get("10a.conditional_generator_loss")


# ------------------------------------------------------------------ correct alternatives


def _loss_mask_and_sum(logits, cond, spans):
    """The reference code's form: every column's cross-entropy, times the mask, summed over
    the columns and divided by the batch size."""
    ces, masks, offset = [], [], 0
    for start, end in spans:
        block = cond[:, offset : offset + end - start]
        ces.append(F.cross_entropy(logits[:, start:end], block.argmax(1), reduction="none"))
        masks.append(block.sum(1))
        offset += end - start
    return (torch.stack(ces, 1) * torch.stack(masks, 1)).sum() / logits.shape[0]


def _loss_row_by_row(logits, cond, spans):
    widths = [end - start for start, end in spans]
    terms = []
    for i in range(len(logits)):
        slot = int(cond[i].argmax())
        j = 0
        while slot >= widths[j]:
            slot -= widths[j]
            j += 1
        start, end = spans[j]
        terms.append(-torch.log_softmax(logits[i, start:end], 0)[slot])
    return torch.stack(terms).mean()


def _loss_soft_targets(logits, cond, spans):
    """−Σ cond_block · log_softmax: the same number when cond is one-hot."""
    total, offset = 0.0, 0
    for start, end in spans:
        block = cond[:, offset : offset + end - start]
        total = total - (block * torch.log_softmax(logits[:, start:end], 1)).sum()
        offset += end - start
    return total / len(logits)


def _loss_gather(logits, cond, spans):
    starts = torch.tensor([s for s, _ in spans])
    widths = torch.tensor([e - s for s, e in spans])
    offsets = torch.cumsum(widths, 0) - widths
    slot = cond.argmax(1)
    column = torch.bucketize(slot, offsets, right=True) - 1
    target = starts[column] + slot - offsets[column]
    lse = torch.stack(
        [torch.logsumexp(logits[i, spans[j][0] : spans[j][1]], 0) for i, j in enumerate(column)]
    )
    return (lse - logits.gather(1, target[:, None]).squeeze(1)).mean()


@pytest.mark.parametrize(
    "answer", [_loss_mask_and_sum, _loss_row_by_row, _loss_soft_targets, _loss_gather]
)
def test_correct_answers_written_differently_get_full_marks(answer):
    result = grading.grade(_exercise(), answer)
    assert result.points == _exercise().points, result.report()


# ------------------------------------------------------------------ hostile answers


def test_a_detached_loss_breaks_the_gradient_contract_only():
    exercise = _exercise()

    def detached(logits, cond, spans):
        return _loss_mask_and_sum(logits.detach(), cond, spans)

    result = grading.grade(exercise, detached)
    assert GRADIENT in result.broken and result.hint is None, result.report()
    assert grading.grade(exercise, detached, skip=(GRADIENT,)).points == exercise.points


def test_the_log_of_a_softmax_fails_only_the_stability_case():
    exercise = _exercise()
    result = grading.grade(exercise, exercise.unstable)
    assert STABILITY in result.broken
    assert all(t.passed for t in result.tests if t.contract != STABILITY), result.report()


def test_per_row_losses_instead_of_their_mean_lose_points():
    def per_row(logits, cond, spans):
        ces, offset = [], 0
        for start, end in spans:
            block = cond[:, offset : offset + end - start]
            ce = F.cross_entropy(logits[:, start:end], block.argmax(1), reduction="none")
            ces.append(ce * block.sum(1))
            offset += end - start
        return torch.stack(ces, 1).sum(1)

    result = grading.grade(_exercise(), per_row)
    assert result.points == 0 and VALUES in result.broken, result.report()


def test_a_python_float_loses_the_type_contract():
    result = grading.grade(_exercise(), lambda *a: float(_loss_mask_and_sum(*a)))
    assert TYPE in result.broken


def test_label_smoothing_is_another_loss():
    def smoothed(logits, cond, spans):
        ces, offset = [], 0
        for start, end in spans:
            block = cond[:, offset : offset + end - start]
            ce = F.cross_entropy(
                logits[:, start:end], block.argmax(1), reduction="none", label_smoothing=0.1
            )
            ces.append(ce * block.sum(1))
            offset += end - start
        return torch.stack(ces, 1).sum(1).mean()

    result = grading.grade(_exercise(), smoothed)
    assert result.points < 0.5 * _exercise().points and result.hint is None


# ------------------------------------------------------------------ the package's CTGAN loss


def _fair_batch(batch=300, seed=0):
    frame, schema = tables.fair()
    transformer = DataTransformer(schema, seed=0).fit(frame)
    spans = transformer.discrete_spans
    sampler = ConditionalSampler(transformer.transform(frame), spans, seed=seed)
    condition = sampler.sample_train(batch, generator=torch.Generator().manual_seed(seed))
    logits = 3 * torch.randn(
        batch, transformer.output_dim, generator=torch.Generator().manual_seed(seed + 1)
    )
    return logits, spans, condition


def test_reference_equals_the_loss_ctgan_trains_with_on_real_batches():
    """The exercise's (logits, cond, spans) convention gives the number CTGAN's generator
    pays (conditional_cross_entropy with the sampler's span and category)."""
    logits, spans, condition = _fair_batch()
    mine = _exercise().reference(logits, condition.cond, [(s.start, s.end) for s in spans])
    package = conditional_cross_entropy(
        logits, SoftmaxSpans(spans), condition.span, condition.category
    )
    assert torch.allclose(mine, package, atol=1e-6)
    by_row = _loss_row_by_row(logits, condition.cond, [(s.start, s.end) for s in spans])
    assert torch.allclose(by_row, package, atol=1e-5)


# ------------------------------------------------------------------ the lesson's loop


def _lesson_function(path: Path, name: str, replace: tuple[str, str] | None = None):
    text = path.read_text()
    node = next(
        n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == name
    )
    source = ast.get_source_segment(text, node)
    if replace is not None:
        assert replace[0] in source
        source = source.replace(*replace)
    namespace = {"torch": torch}
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - our own lesson code
    return namespace[name]


def _claimed_pair(fn):
    logits, spans, condition = _fair_batch(seed=3)
    loop, _ = fn(logits.double(), spans, condition.span, condition.category)
    package = conditional_cross_entropy(
        logits, SoftmaxSpans(spans), condition.span, condition.category
    )
    return loop, float(package)


def test_lesson_loop_matches_the_package():
    loop, package = _claimed_pair(_lesson_function(LESSON, "conditional_ce_by_hand"))
    assert claim_close("loop = package", loop, package, atol=1e-5)


@pytest.mark.parametrize(
    "replace",
    [
        ("scores - torch.logsumexp(scores, dim=0)", "scores"),  # no normalisation
        ("spans[j].start : spans[j].end", "spans[j].start + 1 : spans[j].end + 1"),  # off by one
        ("log_probs[k]", "log_probs[0]"),  # always the first category
        ("total / len(row_logits)", "total"),  # a sum over the batch
    ],
)
def test_lesson_claim_fails_for_a_wrong_loop(monkeypatch, replace):
    monkeypatch.setenv("EDU_GEN_STRICT", "1")
    loop, package = _claimed_pair(_lesson_function(LESSON, "conditional_ce_by_hand", replace))
    with pytest.raises(ClaimFailed):
        claim_close("loop = package", loop, package, atol=1e-5)


# ------------------------------------------------------------------ notebooks


def test_exercise_notebook_trains_ctgan_with_the_learners_loss():
    text = EXERCISES.read_text()
    assert "cond_loss_fn = result_cond_loss.choose(conditional_generator_loss)" in text
    assert "ce = self.cond_loss(logits, cond, spans)" in text
    assert "CTGANWithYourLoss(" in text and "cond_loss_fn," in text


@pytest.mark.parametrize("path", [COLUMNS, LESSON])
def test_each_lesson_asks_three_to_five_questions_one_numeric(path):
    text = path.read_text()
    assert 3 <= len(re.findall(r"^quiz\.(choice|number)\(", text, flags=re.M)) <= 5
    assert re.search(r"^quiz\.number\(", text, flags=re.M)
