"""Model card: curves computed in Spark, HTML + PNGs written, readable content."""

from __future__ import annotations

import pytest

from jobtagger.calibration import fit_decision
from jobtagger.config import CalibrationConfig
from jobtagger.metrics import evaluate
from jobtagger.model_card import CardData, card_curves, curve_labels, write_model_card

LABELS = ["skill:python", "skill:sql", "category:data"]


@pytest.mark.slow  # the evaluate stage's test writes a card too
def test_model_card_is_written_with_its_plots(spark, tmp_path):
    rows = []
    for i in range(40):
        truth = [label for j, label in enumerate(LABELS) if (i + j) % (j + 2) == 0]
        scores = [0.8 if label in truth else 0.2 + 0.01 * (i % 7) for label in LABELS]
        rows.append((str(i), truth, scores))
    df = spark.createDataFrame(rows, "posting_id string, labels array<string>, scores array<double>")
    decision, thresholds = fit_decision(df, LABELS, CalibrationConfig(min_positives=1))
    predictions = decision.transform(df)
    result = evaluate(predictions, LABELS, thresholds=dict(zip(thresholds.labels, thresholds.values)))
    per_label = result.per_label_rows()
    chosen = curve_labels(per_label, each_end=1)
    assert chosen[0] == per_label[0]["label"] and len(chosen) == 2
    curves, reliability = card_curves(predictions, decision, labels_for_curves=chosen)
    assert [c.label for c in curves] == chosen
    assert all(c.chosen == (1.0, 1.0) for c in curves)  # separable scores: the threshold is perfect
    assert sum(b.count for b in reliability) == 40 * 3
    card = CardData(
        model_version="m1", headline=result.headline, per_label=per_label, thresholds=thresholds,
        curves=curves, reliability=reliability, top_terms={"skill:python": [("python", 1.5), ("pandas", 0.7)]},
        facts={"strategy": "one_vs_rest"},
    )
    path = write_model_card(tmp_path / "m1", card)
    for image in ("pr_curves.png", "reliability.png", "frequency_vs_f1.png", "thresholds.png"):
        data = (tmp_path / "m1" / image).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
        assert f'src="{image}"' in path.read_text()
    text = path.read_text()
    assert "Model card: m1" in text and "python (1.50)" in text and "skill:sql" in text
    assert f"{result.headline.micro_f1:.3f}" in text
