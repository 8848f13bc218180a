"""The fused tag scorer: a fitted tag model's features, classifier and decision reproduced on
Arrow batches in one ``mapInArrow`` pass, with the same results as ``model.transform``.

``read_plan(model, spark)`` reads the fitted stages (or raises :class:`NotFusable` saying what it
cannot reproduce); ``fused_gold_columns(postings, plan)`` scores.
"""

from jobtagger.fused.plan import FusedPlan, NotFusable, read_plan
from jobtagger.fused.scorer import fused_gold_columns

__all__ = ["FusedPlan", "NotFusable", "fused_gold_columns", "read_plan"]
