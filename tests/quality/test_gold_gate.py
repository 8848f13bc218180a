"""The gold data-quality gate with real GX on tiny gold frames: each failure kind is caught."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from jobtagger.quality.drift import tag_shares
from jobtagger.quality.gold import check_gold
from jobtagger.quality.gold_profile import (
    InputSummary,
    count_duplicate_ids,
    gold_profile_accumulator,
    hash_sum,
    observed_input,
    profiling,
)
from jobtagger.tables import MappedRows
from jobtagger.gold_rows import to_gold_rows

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


def profile_of(spark, gold, **accumulator_options):
    """The gold rows computed once through the profiling pass, as the tag job stages them."""
    accumulator = gold_profile_accumulator(spark.sparkContext, **accumulator_options)
    profiled = MappedRows.of(gold).then(profiling(accumulator), gold.schema)
    profiled.frame().write.format("noop").mode("overwrite").save()
    return accumulator.value


def inputs_of(spark, ids):
    """The input summary Spark observes while a pass reads these ids."""
    observed, observation = observed_input(spark.createDataFrame([(i,) for i in ids], "posting_id string").repartition(3))
    observed.write.format("noop").mode("overwrite").save()
    return InputSummary.of_observation(observation)


def gate(spark, tmp_path, rows, *, input_ids=None, previous=None, drift_bound=0.2, drift_min_share=0.01, run_id="r1"):
    gold = gold_of(spark, rows)
    profile = profile_of(spark, gold)
    return check_gold(
        spark,
        profile,
        inputs_of(spark, [row[0] for row in rows] if input_ids is None else input_ids),
        duplicate_ids=count_duplicate_ids(profile, gold),
        labels=LABELS,
        at_least_one=True,
        previous_shares=previous,
        drift_bound=drift_bound,
        drift_min_share=drift_min_share,
        results_dir=tmp_path / "quality",
        run_id=run_id,
    )


def test_clean_rows_pass_and_results_are_kept(spark, tmp_path):
    outcome = gate(spark, tmp_path, GOOD_ROWS, previous=tag_shares(gold_of(spark, GOOD_ROWS)))
    assert outcome.passed, outcome.reason
    assert outcome.drift_checked
    assert sorted(path.name for path in (tmp_path / "quality").glob("*.json")) == [
        "gold_posting_tags.r1.json", "gold_tag_drift.r1.json", "gold_tags.r1.json"
    ]
    assert all(json.loads(report.results_path.read_text())["success"] for report in outcome.reports)
    docs = tmp_path / "quality" / "data_docs"
    suites = {"gold_posting_tags", "gold_tags", "gold_tag_drift"}
    assert {page.name for page in (docs / "validations").iterdir()} == suites  # one site shows every suite of the run
    assert all(suite in (docs / "index.html").read_text() for suite in suites)


def test_the_profile_counts_what_spark_counts(spark):
    rows = [*GOOD_ROWS, ("ü-ß-€", DAY, [], {}, {"skill:java": 0.0}), ("", DAY, ["skill:java"], {"skill:java": 1.0}, {})]
    gold = gold_of(spark, rows)
    profile = profile_of(spark, gold)

    assert profile.rows == gold.count() == 6 and profile.untagged == 1 and profile.null_ids == 0
    assert profile.id_fingerprint == inputs_of(spark, [row[0] for row in rows]).id_fingerprint
    assert (profile.score_min, profile.score_max, profile.non_finite_scores) == (0.0, 1.0, 0)
    assert dict(profile.tag_postings) == {
        row.tag: row.postings for row in tag_shares(gold).collect()
    }
    assert profile.scored_tags["skill:java"] == 7 and profile.scores == 12


def test_duplicate_ids_are_counted_from_the_hashes_or_by_spark(spark):
    unique, repeated = gold_of(spark, GOOD_ROWS), gold_of(spark, [*GOOD_ROWS, GOOD_ROWS[1], GOOD_ROWS[1]])

    assert profile_of(spark, unique).duplicate_id_hashes == 0
    assert count_duplicate_ids(profile_of(spark, unique), repeated) == 0  # the hashes decide: Spark would count 2
    assert profile_of(spark, repeated).duplicate_id_hashes == 2
    assert count_duplicate_ids(profile_of(spark, repeated), repeated) == 2  # confirmed by Spark
    past_the_cap = profile_of(spark, repeated, max_id_hashes=5)  # 6 rows: the hashes are not kept
    assert past_the_cap.duplicate_id_hashes is None and count_duplicate_ids(past_the_cap, repeated) == 2
    assert profile_of(spark, repeated, max_id_hashes=6).duplicate_id_hashes == 2


def test_the_observed_summary_of_no_rows_is_zero(spark):
    assert inputs_of(spark, []) == InputSummary(rows=0, null_ids=0, id_fingerprint=0)
    assert inputs_of(spark, [None, "p1"]).null_ids == 1


def test_hash_sums_are_exact_at_the_int64_extremes():
    hashes = np.array([np.iinfo(np.int64).max] * 3 + [np.iinfo(np.int64).min] * 2 + [-1, 0, 1], np.int64)
    assert hash_sum(hashes) == sum(int(value) for value in hashes)
    assert hash_sum(hashes[:3]) == 3 * (2**63 - 1) and hash_sum(np.empty(0, np.int64)) == 0


@pytest.mark.parametrize(
    ("case", "expected_phrase"),
    [
        ("duplicate_id", "expect_column_pair_values_to_be_equal(rows,input_rows): 1 unexpected [rows=5, input_rows=4]"),
        ("duplicate_input_id", "expect_column_values_to_be_between(duplicate_ids): 1 unexpected [duplicate_ids=1]"),
        ("not_in_input", "expect_column_pair_values_to_be_equal(id_fingerprint,input_id_fingerprint)"),
        ("row_count", "expect_column_pair_values_to_be_equal(rows,input_rows)"),
        ("null_id", "expect_column_values_to_be_between(null_ids)"),
        ("untagged", "expect_column_values_to_be_between(untagged)"),
        ("score_above_one", "expect_column_values_to_be_between(score_max)"),
        ("score_below_zero", "expect_column_values_to_be_between(score_min)"),
        ("score_not_a_number", "expect_column_values_to_be_between(non_finite_scores)"),
        ("unknown_tag", "expect_column_values_to_be_in_set(tag): 1 unexpected: tags outside the model's labels ['skill:cobol']"),
    ],
)
def test_each_failure_kind_is_named(spark, tmp_path, case, expected_phrase):
    rows = list(GOOD_ROWS)
    input_ids = [row[0] for row in rows]
    if case == "duplicate_id":
        rows.append(rows[0])
    elif case == "duplicate_input_id":
        rows.append(rows[0])
        input_ids.append(rows[0][0])
    elif case == "not_in_input":
        input_ids = ["p1", "p2", "p3", "p9"]
    elif case == "row_count":
        input_ids.append("p5")
    elif case == "null_id":
        rows.append((None, DAY, ["skill:java"], {"skill:java": 0.5}, {}))
        input_ids.append(None)
    elif case == "untagged":
        rows.append(("p5", DAY, [], {}, {"skill:java": 0.1}))
        input_ids.append("p5")
    elif case == "score_above_one":
        rows.append(("p5", DAY, ["skill:java"], {"skill:java": 1.5}, {}))
        input_ids.append("p5")
    elif case == "score_below_zero":
        rows.append(("p5", DAY, ["skill:java"], {"skill:java": 0.5}, {"skill:python": -0.1}))
        input_ids.append("p5")
    elif case == "score_not_a_number":
        rows.append(("p5", DAY, ["skill:java"], {"skill:java": float("nan")}, {}))
        input_ids.append("p5")
    elif case == "unknown_tag":
        rows.append(("p5", DAY, ["skill:cobol"], {"skill:cobol": 0.9}, {}))
        input_ids.append("p5")

    outcome = gate(spark, tmp_path, rows, input_ids=input_ids)

    assert not outcome.passed
    assert expected_phrase in outcome.reason, outcome.reason
    assert "\n" not in outcome.reason
    failed = [report for report in outcome.reports if not report.passed]
    assert len(failed) == 1 and json.loads(failed[0].results_path.read_text())["success"] is False


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
    outcome = gate(spark, tmp_path, GOOD_ROWS[:3], previous=previous, drift_bound=0.0, drift_min_share=0.9, run_id="r2")
    assert outcome.passed and outcome.drift_checked, outcome.reason
