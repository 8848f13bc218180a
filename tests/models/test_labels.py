from chispa import assert_df_equality
from pyspark.sql import functions as F

from jobtagger.labels import assign_folds, assign_split, build_label_space, multi_hot


def _postings(spark, n_common=40):
    rows = [(f"p{i}", ["common"]) for i in range(n_common)]
    rows += [(f"r{i}", ["common", "rare"]) for i in range(3)]
    rows += [("x1", ["single"]), ("x2", ["ghost"]), ("x3", [])]
    return spark.createDataFrame(rows, "posting_id string, labels array<string>")


def test_label_space_reports_labels_below_support_beyond_cap_and_outside_taxonomy(spark):
    report = build_label_space(
        _postings(spark), min_support=2, max_labels=1,
        taxonomy_labels=["common", "rare", "single", "unused"],
    )
    assert report.labels == ["common"]
    assert report.beyond_max_labels == {"rare": 3}
    assert report.below_support == {"single": 1}
    assert report.not_in_taxonomy == {"ghost": 1}
    assert report.missing_from_data == ["unused"]


def test_multi_hot_aligns_with_the_label_list(spark):
    df = spark.createDataFrame([("a", ["y"]), ("b", None)], "posting_id string, labels array<string>")
    expected = spark.createDataFrame([("a", ["y"], [0, 1]), ("b", None, [0, 0])],
                                     "posting_id string, labels array<string>, targets array<int>")
    assert_df_equality(multi_hot(df, ["x", "y"]), expected, ignore_nullable=True)


def test_split_is_deterministic_and_gives_a_rare_label_an_example_in_every_split(spark, make_config):
    df = _postings(spark)
    report = build_label_space(df, min_support=2, max_labels=10)
    split_config = make_config().training.split
    first = assign_split(df, report, split_config).select("posting_id", "split")
    again = assign_split(df.orderBy(F.rand(3)), report, split_config).select("posting_id", "split")
    assert_df_equality(first, again, ignore_row_order=True)
    rare = {r["split"] for r in first.filter(F.col("posting_id").startswith("r")).collect()}
    assert rare == {"train", "validation", "test"}
    counts = {r["split"]: r["count"] for r in first.groupBy("split").count().collect()}
    assert counts["train"] > counts["validation"] > 0 and counts["test"] > 0


def test_corpus_split_keeps_test_and_carves_validation_from_train(spark, make_config):
    rows = [(f"t{i}", ["a"], "train") for i in range(30)] + [(f"s{i}", ["a"], "test") for i in range(5)]
    df = spark.createDataFrame(rows, "posting_id string, labels array<string>, split string")
    report = build_label_space(df, min_support=1, max_labels=10)
    out = assign_split(df, report, make_config().training.split)
    by_id = {r["posting_id"]: r["split"] for r in out.collect()}
    assert all(by_id[f"s{i}"] == "test" for i in range(5))
    assert {by_id[f"t{i}"] for i in range(30)} == {"train", "validation"}
    assert len(by_id) == 35


def test_rows_without_an_own_split_are_split_three_ways_next_to_a_corpus_split(spark, make_config):
    rows = [(f"n{i}", ["a"], None) for i in range(30)] + [(f"s{i}", ["a"], "test") for i in range(5)]
    df = spark.createDataFrame(rows, "posting_id string, labels array<string>, split string")
    report = build_label_space(df, min_support=1, max_labels=10)
    by_id = {r["posting_id"]: r["split"] for r in assign_split(df, report, make_config().training.split).collect()}
    assert len(by_id) == 35
    assert all(by_id[f"s{i}"] == "test" for i in range(5))
    assert {by_id[f"n{i}"] for i in range(30)} == {"train", "validation", "test"}


def test_folds_are_deterministic_and_spread_a_rare_label_over_distinct_folds(spark):
    rows = [(f"c{i}", ["common"]) for i in range(40)] + [(f"r{i}", ["rare", "common"]) for i in range(3)]
    df = spark.createDataFrame(rows, "posting_id string, labels array<string>")
    report = build_label_space(df, min_support=1, max_labels=10)
    first = {r["posting_id"]: r["fold"] for r in assign_folds(df, report, 5, seed=7).collect()}
    again = {r["posting_id"]: r["fold"] for r in assign_folds(df, report, 5, seed=7).collect()}
    assert first == again and len(first) == 43
    assert len({first[f"r{i}"] for i in range(3)}) == 3
    sizes = [sum(1 for fold in first.values() if fold == k) for k in range(5)]
    assert min(sizes) >= 8 and max(sizes) <= 10
