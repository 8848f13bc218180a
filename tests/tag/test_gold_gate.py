"""The gold data-quality gate with real GX on tiny gold frames: each failure kind is caught."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from jobtagger.quality.gold import check_gold
from jobtagger.tagging import tag_shares, to_gold_rows

DAY = dt.date(2026, 11, 2)
LABELS = ["skill:python", "skill:java", "category:software_engineering"]
DECIDED_DDL = (
    "posting_id string, run_date date, tags array<string>, "
    "tag_scores map<string,double>, candidate_scores map<string,double>"
)
GOOD_ROWS = [
    ("p1", DAY, ["skill:python"], {"skill:python": 0.9}, {"skill:python": 0.9, "skill:java": 0.3}),
    ("p2", DAY, ["skill:java"], {"skill:java": 0.7}, {"skill:java": 0.7}),
    ("p3", DAY, ["skill:python", "category:software_engineering"],
     {"skill:python": 0.8, "category:software_engineering": 0.8}, {"skill:python": 0.8}),
    ("p4", DAY, ["skill:java"], {"skill:java": 0.6}, {"skill:java": 0.6}),
]


def gold_of(spark, rows):
    decided = spark.createDataFrame(rows, DECIDED_DDL)
    return to_gold_rows(decided, model_version="m1", run_id="r1", tagged_at=dt.datetime(2026, 11, 2, 6))


def gate(spark, tmp_path, rows, *, input_ids=None, expected_rows=None, previous=None, drift_bound=0.2):
    gold = gold_of(spark, rows)
    ids = input_ids or sorted({row[0] for row in rows})
    return check_gold(
        gold,
        spark.createDataFrame([(i,) for i in ids], "posting_id string"),
        labels=LABELS,
        expected_rows=len(rows) if expected_rows is None else expected_rows,
        at_least_one=True,
        previous_shares=previous,
        drift_bound=drift_bound,
        drift_min_share=0.01,
        results_dir=tmp_path / "quality",
        run_id="r1",
    )


def test_clean_rows_pass_and_results_are_kept(spark, tmp_path):
    outcome = gate(spark, tmp_path, GOOD_ROWS, previous=tag_shares(gold_of(spark, GOOD_ROWS)))
    assert outcome.passed, outcome.reason
    assert outcome.drift_checked
    assert sorted(path.name for path in (tmp_path / "quality").glob("*.json")) == [
        "gold_posting_tags.r1.json", "gold_tag_drift.r1.json"
    ]
    assert all(json.loads(report.results_path.read_text())["success"] for report in outcome.reports)


@pytest.mark.parametrize(
    ("case", "expected_phrase"),
    [
        ("duplicate_id", "expect_column_values_to_be_unique(posting_id)"),
        ("not_in_input", "expect_column_values_to_not_be_null(in_input)"),
        ("row_count", "expect_table_row_count_to_equal"),
        ("untagged", "expect_column_min_to_be_between(tag_count)"),
        ("score_above_one", "expect_column_max_to_be_between(score_max)"),
        ("score_below_zero", "expect_column_min_to_be_between(score_min)"),
        ("unknown_tag", "expect_column_max_to_be_between(unknown_tags)"),
    ],
)
def test_each_failure_kind_is_named(spark, tmp_path, case, expected_phrase):
    rows = list(GOOD_ROWS)
    input_ids = None
    expected_rows = None
    if case == "duplicate_id":
        rows.append(rows[0])
    elif case == "not_in_input":
        input_ids = ["p1", "p2", "p3"]
    elif case == "row_count":
        expected_rows = len(rows) + 1
    elif case == "untagged":
        rows.append(("p5", DAY, [], {}, {"skill:java": 0.1}))
    elif case == "score_above_one":
        rows.append(("p5", DAY, ["skill:java"], {"skill:java": 1.5}, {}))
    elif case == "score_below_zero":
        rows.append(("p5", DAY, ["skill:java"], {"skill:java": 0.5}, {"skill:python": -0.1}))
    elif case == "unknown_tag":
        rows.append(("p5", DAY, ["skill:cobol"], {"skill:cobol": 0.9}, {}))

    outcome = gate(spark, tmp_path, rows, input_ids=input_ids, expected_rows=expected_rows)

    assert not outcome.passed
    assert expected_phrase in outcome.reason
    assert "\n" not in outcome.reason
    assert json.loads(outcome.reports[0].results_path.read_text())["success"] is False


def test_drift_beyond_the_bound_fails_and_names_the_tag(spark, tmp_path):
    previous = spark.createDataFrame(
        [("skill:python", 2, 0.5), ("skill:java", 1, 0.25), ("category:software_engineering", 1, 0.25)],
        "tag string, postings long, share double",
    )
    # now: java 2/4 = 0.5 vs 0.25 -> drift 0.5; python 2/4 unchanged; category unchanged
    outcome = gate(spark, tmp_path, GOOD_ROWS, previous=previous, drift_bound=0.2)
    assert not outcome.passed
    assert outcome.reason.startswith("tag share drift above 0.2: skill:java 0.250->0.500")


def test_rare_tags_are_exempt_from_drift(spark, tmp_path):
    previous = tag_shares(gold_of(spark, GOOD_ROWS))
    outcome = check_gold(
        gold_of(spark, GOOD_ROWS[:3]),
        spark.createDataFrame([("p1",), ("p2",), ("p3",)], "posting_id string"),
        labels=LABELS, expected_rows=3, at_least_one=True, previous_shares=previous,
        drift_bound=0.0, drift_min_share=0.9, results_dir=tmp_path / "quality", run_id="r2",
    )
    assert outcome.passed and outcome.drift_checked, outcome.reason
