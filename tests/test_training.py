"""``calibration.folds: auto``: out-of-fold thresholds only where the validation carve is too thin."""

from __future__ import annotations

import pytest

from jobtagger.config import AUTO_FOLDS, CalibrationConfig
from jobtagger.training import resolve_folds

LABELS = ["common", "rare"]


@pytest.fixture
def carved(spark):
    """Validation holds 3 `common` positives and 1 `rare` one; train holds more of both."""
    rows = [("v1", ["common"], "validation"), ("v2", ["common", "rare"], "validation"), ("v3", ["common"], "validation"),
            *[(f"t{i}", ["common", "rare"], "train") for i in range(6)], ("x1", ["rare"], "test")]
    return spark.createDataFrame(rows, "posting_id string, labels array<string>, split string")


COUNTS = {"train": 6, "validation": 3, "test": 1}


def test_auto_folds_when_a_label_has_too_few_validation_positives(carved):
    folds, reason = resolve_folds(CalibrationConfig(min_positives=3), carved, LABELS, COUNTS)
    assert (folds, reason) == (AUTO_FOLDS, "auto: 1 of 2 labels under 3 validation positives")


def test_auto_keeps_the_carve_when_every_label_has_enough_positives(carved):
    assert resolve_folds(CalibrationConfig(min_positives=1), carved, LABELS, COUNTS) == (
        0, "auto: every label has 1+ validation positives")
    # A label with no validation positive at all counts as short.
    assert resolve_folds(CalibrationConfig(min_positives=1), carved, [*LABELS, "unseen"], COUNTS)[0] == AUTO_FOLDS


def test_auto_keeps_the_carve_where_the_fits_are_costly(carved):
    config = CalibrationConfig(min_positives=3, auto_folds_max_cells=17)
    assert resolve_folds(config, carved, LABELS, COUNTS) == (
        0, "auto: 9 training postings x 2 labels, over auto_folds_max_cells")
    assert resolve_folds(config.model_copy(update={"auto_folds_max_cells": 18}), carved, LABELS, COUNTS)[0] == AUTO_FOLDS


def test_set_folds_are_taken_as_they_are(carved):
    assert resolve_folds(CalibrationConfig(folds=0), carved, LABELS, COUNTS) == (0, "set by calibration.folds")
    assert resolve_folds(CalibrationConfig(folds=3), carved, LABELS, COUNTS) == (3, "set by calibration.folds")
