"""Claim cells must report, record, and raise under validation when false."""

from __future__ import annotations

import json

import pytest
import torch

from edu_gen.course.claims import ClaimFailed, claim, claim_close


def test_true_claim_prints_and_records(monkeypatch, tmp_path, capsys):
    report = tmp_path / "claims.jsonl"
    monkeypatch.setenv("EDU_GEN_REPORT", str(report))
    assert claim("one is positive", torch.tensor(1.0) > 0, value=torch.tensor(1.0))
    assert "✔ claim: one is positive  [value=1]" in capsys.readouterr().out
    row = json.loads(report.read_text())
    assert row["holds"] is True and row["claim"] == "one is positive"


def test_false_claim_raises_in_strict_mode_only(monkeypatch, capsys):
    monkeypatch.setenv("EDU_GEN_STRICT", "1")
    with pytest.raises(ClaimFailed, match="two is negative"):
        claim("two is negative", 2 < 0)
    monkeypatch.setenv("EDU_GEN_STRICT", "0")
    verdict = claim("two is negative", 2 < 0)
    assert not verdict and verdict == False  # noqa: E712  (equal to the bool, not the object)
    assert "✘ claim: two is negative" in capsys.readouterr().out


def test_claim_close_tolerances_and_nan(monkeypatch):
    monkeypatch.setenv("EDU_GEN_STRICT", "0")
    assert claim_close("close", torch.tensor([1.0, 2.0]), [1.0, 2.0 + 1e-7], atol=1e-6)
    assert not claim_close("far", 1.0, 1.1, atol=1e-3)
    assert claim_close("relative", 1000.0, 1001.0, atol=0.0, rtol=1e-2)
    assert not claim_close("nan never holds", float("nan"), 0.0, atol=1e9)


def test_a_claim_made_for_other_runs_is_shown_not_checked(monkeypatch, tmp_path, capsys):
    report = tmp_path / "claims.jsonl"
    monkeypatch.setenv("EDU_GEN_REPORT", str(report))
    monkeypatch.setenv("EDU_GEN_STRICT", "1")
    claim("a trend", False, made_for="long runs", gain=0.5)  # no raise, no record
    out = capsys.readouterr().out
    assert "not checked in this run (made for long runs): a trend  [gain=0.5]" in out
    assert "✘" not in out and not report.exists()
    with pytest.raises(ClaimFailed):  # made_for=None is an ordinary claim
        claim("a trend", False, made_for=None)
    with pytest.raises(ValueError, match="made_for"):
        claim("a trend", True, made_for=" ")


def test_a_claim_ending_a_notebook_cell_shows_no_true_or_false(monkeypatch):
    """The verdict is truthy like a bool, but IPython's display hook shows nothing for it."""
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("EDU_GEN_STRICT", "0")
    shell = InteractiveShell.instance()
    shown = []
    monkeypatch.setattr(shell.displayhook, "write_format_data", lambda *a, **k: shown.append(a))
    result = shell.run_cell("from edu_gen.course.claims import claim\nclaim('x', 1 > 2)")
    assert result.success and not result.result and shown == []
    result = shell.run_cell("1 > 2")  # the control: a plain bool is shown
    assert len(shown) == 1
