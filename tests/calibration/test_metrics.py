"""Metrics against values computed by hand (the formulas of scikit-learn written out)."""

from __future__ import annotations

import pytest

from jobtagger.metrics import evaluate, format_table

LABELS = ["a", "b", "c", "d"]
# truth, predicted tags, scores aligned with LABELS
ROWS = [
    ("1", ["a", "b"], ["a"], [0.9, 0.4, 0.1, 0.2]),
    ("2", ["b"], ["b", "c"], [0.1, 0.8, 0.6, 0.3]),
    ("3", ["c"], ["c"], [0.2, 0.1, 0.7, 0.6]),
    ("4", ["a", "e"], [], [0.3, 0.2, 0.1, 0.4]),  # e: a true label outside the model's labels
    ("5", [], [], [0.1, 0.1, 0.1, 0.1]),
]


@pytest.fixture
def result(spark):
    df = spark.createDataFrame(ROWS, "posting_id string, labels array<string>, tags array<string>, scores array<double>")
    return evaluate(df, LABELS, thresholds={"a": 0.5, "b": 0.45, "c": 0.55, "d": 0.7})


def test_micro_metrics(result):
    h = result.headline
    tp, predicted, true = 3, 4, 6  # hits: 1:a, 2:b, 3:c
    assert h.micro_precision == pytest.approx(tp / predicted)
    assert h.micro_recall == pytest.approx(tp / true)
    assert h.micro_f1 == pytest.approx(2 * tp / (predicted + true))


def test_macro_metrics_cover_every_supported_label(result):
    # per label (support, predicted, tp): a (2,1,1) b (2,1,1) c (1,2,1) e (1,0,0); d has no support
    precision = [1.0, 1.0, 0.5, 0.0]
    recall = [0.5, 0.5, 1.0, 0.0]
    f1 = [2 * 1 / 3, 2 * 1 / 3, 2 * 1 / 3, 0.0]
    h = result.headline
    assert h.macro_precision == pytest.approx(sum(precision) / 4)
    assert h.macro_recall == pytest.approx(sum(recall) / 4)
    assert h.macro_f1 == pytest.approx(sum(f1) / 4)
    assert h.labels_evaluated == 5  # a b c d (model) + e (truth)


def test_sample_metrics_hamming_subset_and_cardinality(result):
    h = result.headline
    # samples: (p, r, f): 1 (1, .5, 2/3) 2 (.5, 1, 2/3) 3 (1, 1, 1) 4 (0 [P empty], 0, 0) 5 (1, 1, 1)
    assert h.samples_precision == pytest.approx((1 + 0.5 + 1 + 0 + 1) / 5)
    assert h.samples_recall == pytest.approx((0.5 + 1 + 1 + 0 + 1) / 5)
    assert h.samples_f1 == pytest.approx((2 / 3 + 2 / 3 + 1 + 0 + 1) / 5)
    assert h.hamming_loss == pytest.approx((1 + 1 + 0 + 2 + 0) / (5 * 5))
    assert h.subset_accuracy == pytest.approx(2 / 5)
    assert h.label_cardinality_true == pytest.approx(6 / 5)
    assert h.label_cardinality_predicted == pytest.approx(4 / 5)
    assert h.postings == 5


def test_precision_at_k_from_scores(result):
    # postings with truth: 1 top [a,b,d] 2 [b,c,d] 3 [c,d,a] 4 [d,a,b]
    h = result.headline
    assert h.precision_at_1 == pytest.approx((1 + 1 + 1 + 0) / 4)
    assert h.precision_at_3 == pytest.approx((2 / 3 + 1 / 3 + 1 / 3 + 1 / 3) / 4)
    assert h.precision_at_5 == pytest.approx((2 / 5 + 1 / 5 + 1 / 5 + 1 / 5) / 4)


def test_per_label_rows(result):
    rows = {r["label"]: r for r in result.per_label_rows()}
    assert set(rows) == {"a", "b", "c", "d", "e"}
    assert (rows["c"]["support"], rows["c"]["predicted"], rows["c"]["tp"], rows["c"]["fp"], rows["c"]["fn"]) == (1, 2, 1, 1, 0)
    assert rows["c"]["precision"] == pytest.approx(0.5) and rows["c"]["f1"] == pytest.approx(2 / 3)
    assert rows["a"]["threshold"] == 0.5 and rows["e"]["threshold"] is None
    assert rows["d"]["support"] == 0 and rows["d"]["f1"] == 0.0


def test_metrics_frame_and_table(spark, result):
    frame = result.to_frame(spark, model_version="v1", split="test")
    overall = {r["metric"]: r["value"] for r in frame.where("label is null").collect()}
    assert overall["micro_f1"] == pytest.approx(result.headline.micro_f1)
    per_label = frame.where("label = 'c' and metric = 'precision'").collect()
    assert per_label[0]["value"] == pytest.approx(0.5)
    assert frame.where("label is not null").count() == 5 * 9
    text = format_table(result)
    assert "micro_f1" in text and "\nc " in text
