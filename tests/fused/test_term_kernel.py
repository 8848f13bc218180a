"""The compiled ASCII term kernel against TextFeaturizer: the same (row, vocabulary index) multiset
on the tokenizer's hard cases and on random texts over a small alphabet (many repeated tokens,
every punctuation TOKEN_PATTERN treats specially)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobtagger.fused.ascii_terms import AsciiTermIndex
from jobtagger.fused.text import TextFeatureParams, TextFeaturizer

# The ASCII part of the JVM's [\p{L}\p{N}] (digits, upper and lower case) and a non-ASCII range.
LETTER_RANGES = ((0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A), (0xAA, 0xAA))
EDGE_TEXTS = [
    "c++ c# node.js a-b a.-b ..a.. a+b c++b x..y c+-d c-+d ab.-cd.-ef++gh a..b+#c--d",
    "trailing. trailing- trailing.- .-leading -x- 10+ years 3.14 v2.0.1 e-mail --flag ...python...",
    "a b the a b of c d a the b",  # stop words and short tokens sit between n-gram words
    "", "!!! --- ... +++ ### ", " ", "-.- +", "the of", "a",
    "abc", "def", "c+", "+d", "ab.", "-cd",  # tokens touching across texts
    "node.js c++ node.js c++ c# c#",
]
EDGE_STOP_WORDS = ("the", "of", "b")


def params(vocabulary, *, min_token_length=2, stop_words=EDGE_STOP_WORDS, ngram_sizes=(2,)) -> TextFeatureParams:
    return TextFeatureParams(
        letter_ranges=LETTER_RANGES, min_token_length=min_token_length, stop_words=tuple(stop_words),
        ngram_sizes=tuple(ngram_sizes), vocabulary=tuple(vocabulary), sublinear=False, idf=np.ones(len(vocabulary)),
    )


def featurizer_terms(text_params: TextFeatureParams, texts: pa.Array) -> list[tuple[int, str]]:
    """(row, term) of the featurizer's tokens and their n-grams (Spark's NGram then concat)."""
    rows, tokens = TextFeaturizer(text_params).tokens(texts)
    by_row: dict[int, list[str]] = {}
    for row, token in zip(rows.tolist(), tokens.to_pylist()):
        by_row.setdefault(row, []).append(token)
    return [
        (row, " ".join(row_tokens[i : i + n]))
        for row, row_tokens in by_row.items()
        for n in (1, *text_params.ngram_sizes)
        for i in range(len(row_tokens) - n + 1)
    ]


def expected_occurrences(text_params: TextFeatureParams, texts: pa.Array) -> Counter:
    """CountVectorizerModel's lookup of the featurizer's terms (first index of a repeated term)."""
    index = {}
    for i, term in enumerate(text_params.vocabulary):
        index.setdefault(term, i)
    return Counter((row, index[term]) for row, term in featurizer_terms(text_params, texts) if term in index)


def kernel_occurrences(text_params: TextFeatureParams, texts: pa.Array) -> Counter:
    rows, terms = AsciiTermIndex(text_params).term_occurrences(texts)
    assert rows.dtype == terms.dtype == np.int64
    return Counter(zip(rows.tolist(), terms.tolist()))


def every_term(texts: pa.Array, **options) -> list[str]:
    """The distinct terms the featurizer finds in these texts, as a vocabulary that holds them all."""
    return sorted({term for _, term in featurizer_terms(params((), **options), texts)})


def test_edge_texts_with_every_term_in_the_vocabulary():
    texts = pa.array(EDGE_TEXTS)
    text_params = params(["never seen", *every_term(texts), "c++ never"])

    expected = expected_occurrences(text_params, texts)

    assert {"c++", "c#", "node.js", "a-b", "ef++", "c++ c#", "10+ years", "v2.0.1"} <= set(text_params.vocabulary)
    assert kernel_occurrences(text_params, texts) == expected


def test_edge_texts_tokens_are_the_java_regex_matches():
    """What the edge cases must tokenize to, so a featurizer regression cannot hide in the comparison."""
    found = set(every_term(pa.array(["a+b c++b a.-b ..a.. x. y- z.-"]), min_token_length=1, stop_words=(), ngram_sizes=()))
    assert found == {"a+", "b", "c++", "a", "x", "y", "z"}


def test_min_length_and_stop_words_apply_before_ngrams():
    texts = pa.array(["ab x cd", "ab the cd", "ab cd"])
    text_params = params(["ab cd", "ab x", "ab the"])  # "x" is too short, "the" a stop word

    assert kernel_occurrences(text_params, texts) == Counter({(0, 0): 1, (1, 0): 1, (2, 0): 1})


def test_nulls_empty_and_tokenless_rows_give_nothing():
    texts = pa.array([None, "", "ab", "!!! ...", None, "ab cd"])
    text_params = params(["ab", "cd", "ab cd"])

    assert kernel_occurrences(text_params, texts) == Counter({(2, 0): 1, (5, 0): 1, (5, 1): 1, (5, 2): 1})


def test_ngrams_stay_within_a_row():
    texts = pa.array(["ab cd", "ef gh", "", "ij", "kl"])
    text_params = params(["cd ef", "gh ij", "ij kl", "ab cd"])

    assert kernel_occurrences(text_params, texts) == Counter({(0, 3): 1})


def test_sliced_and_large_string_arrays():
    texts = pa.array(EDGE_TEXTS)
    text_params = params(every_term(texts))
    sliced = texts.slice(3, 9)

    assert kernel_occurrences(text_params, sliced) == expected_occurrences(text_params, sliced)
    assert kernel_occurrences(text_params, texts.cast(pa.large_string())) == expected_occurrences(text_params, texts)


def test_more_terms_than_the_first_guess_grow_the_output():
    texts = pa.array(["ab " * 500, "cd ab " * 300, "ab"])
    text_params = params(["ab", "ab ab", "cd ab", "ab cd", "cd"], ngram_sizes=(1, 2, 2))

    assert kernel_occurrences(text_params, texts) == expected_occurrences(text_params, texts)


def test_vocabulary_terms_of_other_lengths_and_repeated_terms():
    texts = pa.array(["ab cd ef gh", "cd ef gh ab cd"])
    text_params = params(["ab cd ef", "ab", "cd ef gh", "ab", "ef gh", "zz yy"], ngram_sizes=(3,))

    assert kernel_occurrences(text_params, texts) == expected_occurrences(text_params, texts)


WORDS = ["a", "b", "ab", "ba", "1", "a1", "zz", "abc"]
SEPARATORS = [" ", " ", " ", "  ", ".", "-", "+", "#", ".-", "++", " .", "- ", "+ ", "# "]
random_texts = st.lists(
    st.one_of(
        st.none(),
        st.text(alphabet="ab1z.-+# ", max_size=40),
        st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=15).map(
            lambda pairs: "".join(word + separator for word, separator in pairs)),  # runs of words: n-grams
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=random_texts,
    min_token_length=st.integers(1, 3),
    stop_words=st.lists(st.sampled_from([*WORDS, "a+", "zz#"]), max_size=3),
    ngram_sizes=st.lists(st.integers(1, 3), max_size=3),
    kept_share=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_ascii_texts_give_the_featurizers_occurrences(texts, min_token_length, stop_words, ngram_sizes, kept_share, seed):
    texts = pa.array(texts, pa.string())
    options = dict(min_token_length=min_token_length, stop_words=stop_words, ngram_sizes=ngram_sizes)
    terms = every_term(texts, **options)
    rng = np.random.default_rng(seed)
    vocabulary = [term for term in terms if rng.random() < kept_share] + ["zz zz", "a.-b", "ab ab ab ab"]
    rng.shuffle(vocabulary)
    text_params = params(vocabulary, **options)

    assert kernel_occurrences(text_params, texts) == expected_occurrences(text_params, texts)
