"""jobtagger evaluate on labelled files (no warehouse tables), through the CLI parser."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from jobtagger.cli import build_parser, run_stage
from jobtagger.errors import MissingInputError
from jobtagger.runlog import RunContext
from jobtagger.stages import evaluate
from jobtagger.stages.evaluate import read_labelled_files

WORDS = {
    "earn": ["profit", "dividend", "quarter", "net", "shares"],
    "grain": ["wheat", "corn", "harvest", "tonnes", "crop"],
    "crude": ["oil", "barrel", "opec", "refinery", "pipeline"],
}
FILLER = ["the", "company", "said", "market", "today", "report", "year", "price"]


def corpus(count, seed):
    rng = random.Random(seed)
    docs = []
    for i in range(count):
        labels = rng.sample(sorted(WORDS), k=1 if rng.random() < 0.8 else 2)
        words = [w for label in labels for w in rng.sample(WORDS[label], 3)] + rng.sample(FILLER, 5)
        rng.shuffle(words)
        docs.append({"id": f"{seed}-{i}", "title": " ".join(words[:3]), "text": " ".join(words), "labels": labels})
    return docs


def write_jsonl(path, docs):
    path.write_text("\n".join(json.dumps(d) for d in docs), encoding="utf-8")
    return str(path)


def test_evaluate_prints_the_metrics_table(spark, make_config, tmp_path, capsys):
    train = write_jsonl(tmp_path / "train.jsonl", corpus(150, 1))
    test = write_jsonl(tmp_path / "test.jsonl", corpus(40, 2))
    config = make_config("training.max_iter=30", "features.min_doc_freq=1")
    argv = ["evaluate", "--run-date", "2026-11-01", "--train", train, "--test", test, "--card", str(tmp_path / "card")]
    args = build_parser(argv).parse_args(argv)
    assert run_stage("evaluate", config, args, spark=spark) == 0
    out = capsys.readouterr().out
    assert "micro_f1" in out and "baseline with one 0.5 threshold" in out
    assert "threshold rules followed per label: " in out
    [per_posting] = [line for line in out.splitlines() if line.startswith("one global threshold for k labels")]
    thresholds = [float(part.split(": ")[1]) for part in per_posting.split("validation: ")[1].split(", ")]
    assert len(thresholds) == 3 and thresholds[0] >= thresholds[1] >= thresholds[2]  # more labels, lower bar
    for label in WORDS:
        assert f"\n{label} " in out
    micro = float(next(line.split()[1] for line in out.splitlines() if line.startswith("micro_f1")))
    assert micro > 0.8  # the keywords make the labels easy
    assert (tmp_path / "card" / "model_card.html").is_file()
    assert not (tmp_path / "warehouse" / "ml_models").exists()


def test_csv_labels_are_split_and_bad_inputs_fail_clearly(spark, tmp_path):
    csv = tmp_path / "docs.csv"
    csv.write_text('id,title,text,labels,split\n1,"a, b","multi\nline",earn|grain,train\n2,c,d,,test\n', encoding="utf-8")
    rows = {r["posting_id"]: r for r in read_labelled_files(spark, [str(csv)]).collect()}
    assert rows["1"]["labels"] == ["earn", "grain"] and rows["1"]["description"] == "multi\nline"
    assert rows["2"]["labels"] == [] and rows["2"]["split"] == "test"
    with pytest.raises(MissingInputError, match="format"):
        read_labelled_files(spark, [str(tmp_path / "x.txt")])
    with pytest.raises(MissingInputError, match="not found"):
        read_labelled_files(spark, [str(tmp_path / "missing.jsonl")])


@pytest.mark.slow  # k fold models plus the final fit
def test_evaluate_with_folds_fits_thresholds_on_out_of_fold_scores_of_all_train(spark, make_config, tmp_path):
    docs = [{**d, "split": "train"} for d in corpus(120, 1)] + [{**d, "split": "test"} for d in corpus(40, 2)]
    files = write_jsonl(tmp_path / "docs.jsonl", docs)
    config = make_config("training.max_iter=30", "features.min_doc_freq=1", "calibration.folds=3")
    argv = ["evaluate", "--run-date", "2026-11-01", "--train", files]
    run = RunContext(job="evaluate", run_date=dt.date(2026, 11, 1))
    result = evaluate.run(spark, config, run, build_parser(argv).parse_args(argv))
    # No validation carve: all 120 training postings fit the model, and each is held out once.
    assert run.counts["train_postings"] == 120 and run.counts["test_postings"] == 40
    assert "validation_postings" not in run.counts
    assert result["threshold_fallbacks"] == {}
    assert result["metrics"]["micro_f1"] > 0.8


@pytest.mark.slow
def test_postings_without_a_split_of_their_own_are_split_three_ways_and_train(spark, make_config, tmp_path):
    docs = [{**d, "split": None} for d in corpus(150, 1)]
    files = write_jsonl(tmp_path / "docs.jsonl", docs)
    config = make_config("training.max_iter=30", "features.min_doc_freq=1")
    argv = ["evaluate", "--run-date", "2026-11-01", "--train", files]
    run = RunContext(job="evaluate", run_date=dt.date(2026, 11, 1))
    result = evaluate.run(spark, config, run, build_parser(argv).parse_args(argv))
    assert run.counts["labels"] == len(WORDS)
    assert run.counts["train_postings"] + run.counts["validation_postings"] + run.counts["test_postings"] == 150
    assert result["metrics"]["micro_f1"] > 0.8


@pytest.mark.slow
def test_baseline_option_prints_the_scikit_learn_figures_beside_the_model(spark, make_config, tmp_path, capsys):
    train = write_jsonl(tmp_path / "train.jsonl", corpus(150, 1))
    test = write_jsonl(tmp_path / "test.jsonl", corpus(40, 2))
    config = make_config("training.max_iter=30", "features.min_doc_freq=1")
    argv = ["evaluate", "--run-date", "2026-11-01", "--train", train, "--test", test, "--baseline"]
    run = RunContext(job="evaluate", run_date=dt.date(2026, 11, 1))
    result = evaluate.run(spark, config, run, build_parser(argv).parse_args(argv))
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header == ["metric", "value", "sklearn"]
    sklearn = result["sklearn_baseline_metrics"]
    assert sklearn["postings"] == 40 and sklearn["labels_evaluated"] == len(WORDS)
    assert sklearn["micro_f1"] > 0.8  # keywords: the baseline finds them too
    micro_line = next(line.split() for line in out.splitlines() if line.startswith("micro_f1"))
    assert micro_line[1:] == [f"{result['metrics']['micro_f1']:.4f}", f"{sklearn['micro_f1']:.4f}"]


def test_baseline_thresholds_are_f1_best_on_the_carve_and_half_below_five_positives():
    from jobtagger.baseline import _f1_best_thresholds

    import numpy as np

    scores = np.array([[0.9, 0.9], [0.8, 0.8], [0.7, 0.7], [0.6, 0.6], [0.5, 0.5], [0.4, 0.4], [0.4, 0.3], [0.3, 0.2]])
    targets = np.array([[1, 1], [1, 1], [0, 0], [1, 1], [1, 1], [1, 0], [0, 0], [0, 0]])
    # Label 0: 5 positives; tagging down to 0.5 gives F1 8/10, down to 0.4 (both tied rows) 10/12,
    # down to 0.3 10/13: 0.4 is best. Label 1: 4 positives, too few for a threshold of its own.
    assert _f1_best_thresholds(scores, targets).tolist() == [0.4, 0.5]


@pytest.mark.slow  # a fit per candidate; test_reg_selection covers the choice
def test_reg_grid_keeps_the_strength_that_validates_best_and_records_every_candidate(spark, make_config, tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", corpus(150, 1))
    test = write_jsonl(tmp_path / "test.jsonl", corpus(40, 2))
    # 1e6 leaves weights below float32 resolution: every posting gets the same scores.
    config = make_config("training.max_iter=30", "features.min_doc_freq=1", "training.reg_grid=[0.001, 1000000.0]",
                         "training.reg_extend=0")
    argv = ["evaluate", "--run-date", "2026-11-01", "--train", train, "--test", test, "--card", str(tmp_path / "card")]
    run = RunContext(job="evaluate", run_date=dt.date(2026, 11, 1))
    result = evaluate.run(spark, config, run, build_parser(argv).parse_args(argv))
    selection = result["reg_param_selection"]
    assert selection["chosen"] == 0.001
    assert [c["reg_param"] for c in selection["candidates"]] == [1000000.0, 0.001]  # strongest first
    strong, weak = selection["candidates"]
    assert weak["micro_f1"] + weak["macro_f1"] > strong["micro_f1"] + strong["macro_f1"]
    assert result["metrics"]["micro_f1"] > 0.8
    card = (tmp_path / "card" / "model_card.html").read_text(encoding="utf-8")
    assert "reg_param 1e+06: validation micro-F1 / macro-F1 / log-loss" in card
