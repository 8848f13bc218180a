"""Words alone or words + character n-grams, chosen by held-out figures on training data."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

from jobtagger.cli import build_parser
from jobtagger.feature_selection import CHAR_NGRAM_CANDIDATE, feature_candidates, select_features
from jobtagger.reg_selection import RegCandidate, RegSelection
from jobtagger.runlog import RunContext
from jobtagger.stages import evaluate

STEMS = {"java": ["java"], "python": ["python"], "cloud": ["azure", "aws"]}


def names(config, **sizes):
    candidates, reason = feature_candidates(config, **sizes)
    return [c.name for c in candidates], reason


def test_both_candidates_only_where_fits_are_cheap_and_nothing_is_set_by_hand(make_config):
    assert names(make_config("training.reg_grid=[0.001]", "features.select_char_ngrams=never"), train_postings=5,
                 labels=2) == (["words"], "set by features.select_char_ngrams")
    config = make_config("training.reg_grid=[0.001]", "features.select_max_cells=100")  # the default: auto
    assert names(config, train_postings=50, labels=2) == (["words", "words_chars345"], "auto: both fitted")
    candidates, _ = feature_candidates(config, train_postings=50, labels=2)
    assert candidates[1].features.char_ngrams == list(CHAR_NGRAM_CANDIDATE)
    assert candidates[1].features.model_copy(update={"char_ngrams": []}) == candidates[0].features
    assert names(config, train_postings=51, labels=2) == (
        ["words"], "auto: 51 training postings x 2 labels, over features.select_max_cells")
    assert names(config.with_overrides(["features.char_ngrams=[3]"]), train_postings=5, labels=2) == (
        ["words_chars3"], "features.char_ngrams set by hand")
    assert names(config.with_overrides(["features.select_char_ngrams=never"]), train_postings=5, labels=2)[0] == ["words"]
    assert names(config.with_overrides(["training.reg_grid=[]"]), train_postings=5, labels=2)[0] == ["words"]


def selection(reg: float, micro: float, macro: float) -> RegSelection:
    other = RegCandidate(reg_param=reg * 10, micro_f1=0.0, macro_f1=0.0, log_loss=1.0)
    chosen = RegCandidate(reg_param=reg, micro_f1=micro, macro_f1=macro, log_loss=0.5)
    return RegSelection(candidates=(other, chosen), chosen=1, held_out="validation")


def test_the_better_sum_of_the_chosen_strengths_figures_wins_and_a_tie_keeps_words():
    chosen = select_features(["words", "words_chars345"], [selection(1e-4, 0.80, 0.40), selection(1e-5, 0.78, 0.43)])
    assert chosen.name == "words_chars345" and chosen.best()[1][1].reg_param == 1e-5
    assert chosen.metrics()["validation_features_words_macro_f1"] == 0.40
    tie = select_features(["words", "words_chars345"], [selection(1e-4, 0.80, 0.40), selection(1e-4, 0.75, 0.45)])
    assert tie.name == "words"


def stem_corpus(count: int, seed: int) -> list[dict]:
    """Every word is new (a stem plus a suffix never seen twice): only the stems' characters generalize."""
    rng = random.Random(seed)
    docs = []
    for i in range(count):
        label = rng.choice(sorted(STEMS))
        word = f"{rng.choice(STEMS[label])}{rng.choice('bdfgkmprstvz')}{seed}x{i}"
        filler = f"zq{seed}y{i}"
        docs.append({"id": f"{seed}-{i}", "title": word, "text": f"{filler} {word}", "labels": [label]})
    return docs


@pytest.mark.slow  # two feature candidates, each a fit
def test_evaluate_keeps_the_character_grams_where_only_they_generalize(spark, make_config, tmp_path):
    paths = {}
    for name, count, seed in (("train", 160, 1), ("test", 60, 2)):
        paths[name] = tmp_path / f"{name}.jsonl"
        paths[name].write_text("\n".join(json.dumps(d) for d in stem_corpus(count, seed)), encoding="utf-8")
    config = make_config("training.max_iter=30", "features.min_doc_freq=1", "training.reg_grid=[0.001]",
                         "features.select_char_ngrams=auto")
    argv = ["evaluate", "--run-date", "2026-11-01", "--train", str(paths["train"]), "--test", str(paths["test"]),
            "--card", str(tmp_path / "card")]
    run = RunContext(job="evaluate", run_date=dt.date(2026, 11, 1))
    result = evaluate.run(spark, config, run, build_parser(argv).parse_args(argv))
    chosen = result["feature_selection"]
    assert chosen["chosen"] == "words_chars345"
    words, chars = chosen["candidates"]
    assert chars["micro_f1"] > words["micro_f1"] + 0.2
    assert result["metrics"]["micro_f1"] > 0.9
    card = (tmp_path / "card" / "model_card.html").read_text(encoding="utf-8")
    assert "features words_chars345: validation micro-F1 / macro-F1" in card
