"""Regularization strength chosen by validation, on training data only.

Each candidate L2 strength of ``training.reg_grid`` gets held-out scores of training postings
(the validation carve, or out-of-fold scores with ``calibration.folds``). On those scores the
configured decision (score calibration, per-label thresholds, rules) is fitted and applied, and
the candidate is judged by the held-out micro-F1 + macro-F1 of its tags: what the test figures
will measure, with the thresholds every candidate would really get. A tie keeps the stronger
regularization. The mean per-label log-loss of the scores is recorded beside the F1 figures, for
the model card and the registry; it does not decide.

A grid is a guess of where the best strength lies. When the strongest or the weakest candidate
wins by more than ``training.reg_extend_min_gain``, the best may lie past it, so training tries
one more strength a grid step beyond that edge (:func:`reg_param_beyond`), up to
``training.reg_extend`` times, and stops as soon as a strength inside wins or the gain flattens.

The figures are optimistic (thresholds fitted and judged on the same held-out rows), but equally
so for every candidate, which is all a choice between them needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobtagger.calibration import fit_decision
from jobtagger.config import CalibrationConfig
from jobtagger.metrics import evaluate

LOG_LOSS_CLIP = 1e-7


@dataclass(frozen=True)
class RegCandidate:
    reg_param: float
    micro_f1: float
    macro_f1: float
    log_loss: float

    @property
    def score(self) -> float:
        """Held-out micro- + macro-F1: what the choice ranks candidates by."""
        return self.micro_f1 + self.macro_f1


@dataclass(frozen=True)
class RegSelection:
    candidates: tuple[RegCandidate, ...]
    chosen: int  # index into candidates
    held_out: str  # what the figures were measured on

    @property
    def reg_param(self) -> float:
        return self.candidates[self.chosen].reg_param

    def facts(self) -> dict[str, str]:
        """Model card facts: the choice and each candidate's held-out figures."""
        facts = {"reg_param (chosen by validation)": f"{self.reg_param:g} of {len(self.candidates)} candidates"}
        for candidate in self.candidates:
            facts[f"reg_param {candidate.reg_param:g}: {self.held_out} micro-F1 / macro-F1 / log-loss"] = (
                f"{candidate.micro_f1:.4f} / {candidate.macro_f1:.4f} / {candidate.log_loss:.4f}"
            )
        return facts

    def metrics(self) -> dict[str, float]:
        """Registry metrics (one flat float map): the choice and each candidate's figures."""
        figures = {"selection_reg_param": self.reg_param}
        for candidate in self.candidates:
            for name in ("micro_f1", "macro_f1", "log_loss"):
                figures[f"validation_reg_{candidate.reg_param:g}_{name}"] = float(getattr(candidate, name))
        return figures


def judge_reg_param(
    scored: DataFrame,
    reg_param: float,
    labels: Sequence[str],
    calibration: CalibrationConfig,
    *,
    top_candidates: int,
    parents: Mapping[str, str] | None = None,
) -> RegCandidate:
    """One candidate's held-out figures: the configured decision fitted and applied on its
    ``scored`` rows, and the micro- and macro-F1 of the tags it gives there."""
    decision, _ = fit_decision(scored, labels, calibration, top_candidates=top_candidates, parents=parents)
    tagged = decision.transform(scored).select("labels", "tags")
    result = evaluate(tagged, labels, scores_col=None)
    result.per_label.unpersist()
    return RegCandidate(
        reg_param=float(reg_param), micro_f1=result.headline.micro_f1, macro_f1=result.headline.macro_f1,
        log_loss=float(scored.agg(F.avg(_row_log_loss(labels))).first()[0]),
    )


def choose_reg_param(candidates: Sequence[RegCandidate], *, held_out: str) -> RegSelection:
    """The selection over judged ``candidates`` (any order; recorded strongest first): the best
    held-out micro- + macro-F1, a tie to the stronger regularization."""
    if not candidates:
        raise ValueError("choose_reg_param needs at least one candidate")
    ordered = tuple(sorted(candidates, key=lambda c: -c.reg_param))
    best = max(range(len(ordered)), key=lambda n: (ordered[n].score, -n))
    return RegSelection(candidates=ordered, chosen=best, held_out=held_out)


def reg_param_beyond(selection: RegSelection, *, min_gain: float = 0.0) -> float | None:
    """The next strength to try when the choice sits at an edge of the candidates: one step
    (the ratio of the two edge strengths) past the weakest or the strongest, whichever beat its
    neighbour by more than ``min_gain`` (micro- + macro-F1). None when a strength inside won (the
    held-out figures have turned), when the edge won by ``min_gain`` or less (the figures have
    flattened: one more fit would buy less than their noise; a tie is never a gain), or with a
    single candidate."""
    candidates, chosen = selection.candidates, selection.chosen
    if len(candidates) < 2 or 0 < chosen < len(candidates) - 1:
        return None
    first, second = (candidates[-1], candidates[-2]) if chosen else (candidates[0], candidates[1])
    if first.score - second.score <= min_gain:
        return None
    return first.reg_param * first.reg_param / second.reg_param


def _row_log_loss(labels: Sequence[str]) -> Column:
    """Mean binary log-loss of one row's K scores against its labels."""
    names = F.array(*[F.lit(label) for label in labels])
    clipped = F.transform("scores", lambda s: F.least(F.greatest(s, F.lit(LOG_LOSS_CLIP)), F.lit(1 - LOG_LOSS_CLIP)))
    losses = F.transform(
        clipped,
        lambda p, i: F.when(F.array_contains("labels", F.element_at(names, i + 1)), -F.log(p)).otherwise(-F.log(1 - p)),
    )
    return F.aggregate(losses, F.lit(0.0), lambda acc, x: acc + x) / F.lit(float(len(labels)))
