"""The compiled term kernel against the tests' reference tokenizer (Spark's tokens, see
reference_tokens.py) with n-grams and the vocabulary lookup in plain Python: the same (row, vocabulary index) multiset on
the tokenizer's hard cases, ASCII and not (accents, CJK, final sigma, letters newer than the JVM's
Unicode, supplementary characters, combining marks, other scripts' digits), and on random texts
over a small mixed alphabet (many repeated tokens, every punctuation TOKEN_PATTERN treats specially)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobtagger.fused.term_kernel import TermIndex
from jobtagger.fused.text_vectors import TextFeatureParams

from reference_tokens import reference_tokens

# The JVM's (Java 17, Unicode 13) [\p{L}\p{N}] in the blocks these texts use: Latin and Greek, the
# Arabic-Indic and Devanagari digits, kana, CJK (U+9FFD on are Unicode 14), bold math capitals
# (U+1D400-U+1D454) and CJK extension B. Combining marks (U+0300-U+036F) and emoji are not in it.
LETTER_RANGES = (
    (0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A), (0xAA, 0xAA), (0xB2, 0xB3), (0xB5, 0xB5), (0xB9, 0xBA), (0xBC, 0xBE),
    (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x2C1), (0x2C6, 0x2D1), (0x2E0, 0x2E4), (0x2EC, 0x2EC), (0x2EE, 0x2EE),
    (0x370, 0x374), (0x376, 0x377), (0x37A, 0x37D), (0x37F, 0x37F), (0x386, 0x386), (0x388, 0x38A), (0x38C, 0x38C),
    (0x38E, 0x3A1), (0x3A3, 0x3F5), (0x3F7, 0x481), (0x660, 0x669), (0x966, 0x96F), (0x3041, 0x3096),
    (0x309D, 0x309F), (0x30A1, 0x30FA), (0x30FC, 0x30FF), (0x4E00, 0x9FFC), (0x1D400, 0x1D454), (0x20000, 0x2A6DD),
)
EDGE_TEXTS = [
    "c++ c# node.js a-b a.-b ..a.. a+b c++b x..y c+-d c-+d ab.-cd.-ef++gh a..b+#c--d",
    "trailing. trailing- trailing.- .-leading -x- 10+ years 3.14 v2.0.1 e-mail --flag ...python...",
    "a b the a b of c d a the b",  # stop words and short tokens sit between n-gram words
    "", "!!! --- ... +++ ### ", " ", "-.- +", "the of", "a",
    "abc", "def", "c+", "+d", "ab.", "-cd",  # tokens touching across texts
    "node.js c++ node.js c++ c# c#",
    "café crème brûlée naïve straße façade-design é.-f ü-ö ß# ä.ö+ à",
    "日本語テキスト 東京 python日本 ab東京 日本.東京 日本 日本",
    "οδυσσευς ας σς ασ-β ασ1β σ ς",  # final sigma: a letter like any other
    "\u9ffd\u9ffe x\u9ffdy ab\u9ffecd",  # Unicode 14 CJK: not the JVM's letters
    "😀x x😀y 𝐀 𝐀b a𝐀 𝐀.𝐁 𝐀++𝐁 𠀀 𠀁𠀂 🇩🇪 👩\u200d💻 ab😀",
    "cafe\u0301 e\u0301e a\u0301b \u0301\u0301",  # combining marks are no letters
    "٣٤٥ ९९ ab٣ ²³ x² v٢.٠",  # \p{N} of other scripts
]
EDGE_STOP_WORDS = ("the", "of", "b", "straße", "東京")


def params(vocabulary, *, min_token_length=2, stop_words=EDGE_STOP_WORDS, ngram_sizes=(2,), char_sizes=()) -> TextFeatureParams:
    return TextFeatureParams(
        letter_ranges=LETTER_RANGES, min_token_length=min_token_length, stop_words=tuple(stop_words),
        ngram_sizes=tuple(ngram_sizes), vocabulary=tuple(vocabulary), sublinear=False, idf=np.ones(len(vocabulary)),
        char_ngram_sizes=tuple(char_sizes),
    )


def java_char_grams(token: str, n: int) -> list[str]:
    """Spark's ``regexp_extract_all('<token>', '(?=([^ ]{n}))', 1)``, written as Java runs it: a
    match is tried at every UTF-16 position; from there ``[^ ]`` takes a surrogate pair as one
    character and a lone low surrogate (the second half of a pair) as another, which Spark then
    writes as '?'."""
    units = ("<" + token + ">").encode("utf-16-le")
    units = [int.from_bytes(units[i : i + 2], "little") for i in range(0, len(units), 2)]
    grams = []
    for first in range(len(units)):
        at, characters = first, []
        while len(characters) < n and at < len(units):
            if 0xD800 <= units[at] < 0xDC00 and at + 1 < len(units):
                pair = ((units[at] - 0xD800) << 10) + (units[at + 1] - 0xDC00) + 0x10000
                characters.append(chr(pair))
                at += 2
            else:
                characters.append("?" if 0xDC00 <= units[at] < 0xE000 else chr(units[at]))
                at += 1
        if len(characters) == n:
            grams.append("~" + "".join(characters))
    return grams


def featurizer_terms(text_params: TextFeatureParams, texts: pa.Array) -> list[tuple[int, str]]:
    """(row, term) of the reference tokens, their n-grams (Spark's NGram then concat) and their
    character n-grams."""
    by_row = {
        row: reference_tokens(text, letter_ranges=text_params.letter_ranges,
                              min_token_length=text_params.min_token_length, stop_words=text_params.stop_words)
        for row, text in enumerate(texts.to_pylist())
    }
    return [
        (row, " ".join(row_tokens[i : i + n]))
        for row, row_tokens in by_row.items()
        for n in (1, *text_params.ngram_sizes)
        for i in range(len(row_tokens) - n + 1)
    ] + [
        (row, gram)
        for row, row_tokens in by_row.items()
        for token in row_tokens
        for n in text_params.char_ngram_sizes
        for gram in java_char_grams(token, n)
    ]


def expected_occurrences(text_params: TextFeatureParams, texts: pa.Array) -> Counter:
    """CountVectorizerModel's lookup of the reference terms (first index of a repeated term)."""
    index = {}
    for i, term in enumerate(text_params.vocabulary):
        index.setdefault(term, i)
    return Counter((row, index[term]) for row, term in featurizer_terms(text_params, texts) if term in index)


def kernel_occurrences(text_params: TextFeatureParams, texts: pa.Array) -> Counter:
    rows, terms = TermIndex(text_params).term_occurrences(texts)
    assert rows.dtype == terms.dtype == np.int64
    return Counter(zip(rows.tolist(), terms.tolist()))


def every_term(texts: pa.Array, **options) -> list[str]:
    """The distinct terms the reference finds in these texts, as a vocabulary that holds them all."""
    return sorted({term for _, term in featurizer_terms(params((), **options), texts)})


def test_edge_texts_with_every_term_in_the_vocabulary():
    texts = pa.array(EDGE_TEXTS)
    text_params = params(["never seen", *every_term(texts), "c++ never"])

    expected = expected_occurrences(text_params, texts)

    assert {"c++", "c#", "node.js", "a-b", "ef++", "c++ c#", "10+ years", "v2.0.1"} <= set(text_params.vocabulary)
    assert kernel_occurrences(text_params, texts) == expected


def test_edge_texts_tokens_are_the_java_regex_matches():
    """What the edge cases must tokenize to, so a reference regression cannot hide in the comparison."""
    found = set(every_term(pa.array(["a+b c++b a.-b ..a.. x. y- z.-"]), min_token_length=1, stop_words=(), ngram_sizes=()))
    assert found == {"a+", "b", "c++", "a", "x", "y", "z"}


def test_non_ascii_tokens_are_the_java_regex_matches():
    """The kernel's own tokens (each its own vocabulary term) where characters are not bytes."""
    texts = pa.array([
        "é.-f ü-ö+ ß#x 日本.東京 ασ-ς ab\u9ffdcd e\u0301e 😀x 𝐀.𝐁++ ٣٤٥",
        "𝐀 é 日 ς ab",  # one character each (𝐀 is two UTF-16 units) and one ASCII token
    ])
    tokens = ["é", "f", "ü-ö+", "ß#", "x", "日本.東京", "ασ-ς", "ab", "cd", "e", "𝐀.𝐁++", "٣٤٥", "𝐀", "日", "ς"]
    kept_at_length_2 = {"ü-ö+", "ß#", "日本.東京", "ασ-ς", "ab", "cd", "𝐀.𝐁++", "٣٤٥", "𝐀"}
    text_params = params([*tokens, "ab\u9ffdcd", "e\u0301e", "😀x", "\u9ffd"], min_token_length=1, stop_words=(), ngram_sizes=())

    found = kernel_occurrences(text_params, texts)
    at_length_2 = kernel_occurrences(params(text_params.vocabulary, stop_words=(), ngram_sizes=()), texts)

    assert found == Counter({
        (0, 0): 1, (0, 1): 1, (0, 2): 1, (0, 3): 1, (0, 4): 2, (0, 5): 1, (0, 6): 1, (0, 7): 1, (0, 8): 1,
        (0, 9): 2, (0, 10): 1, (0, 11): 1, (1, 12): 1, (1, 0): 1, (1, 13): 1, (1, 14): 1, (1, 7): 1,
    })
    assert {text_params.vocabulary[term] for _, term in at_length_2} == kept_at_length_2


def test_supplementary_letters_count_two_toward_the_minimum_length():
    texts = pa.array(["𝐀 𝐀b éé 日本 𠀀 𠀀x abc"])
    text_params = params(["𝐀", "𝐀b", "éé", "日本", "𠀀", "𠀀x", "abc"], min_token_length=3)

    assert kernel_occurrences(text_params, texts) == Counter({(0, 1): 1, (0, 5): 1, (0, 6): 1})
    assert kernel_occurrences(text_params, texts) == expected_occurrences(text_params, texts)


def test_non_ascii_stop_words_and_ngrams():
    texts = pa.array(["straße café 東京 日本 café 日本 東京 ας"])
    text_params = params(["café 日本", "日本 café", "straße café", "café", "東京 日本", "日本 ας"])

    assert kernel_occurrences(text_params, texts) == Counter({(0, 0): 2, (0, 1): 1, (0, 3): 2, (0, 5): 1})
    assert kernel_occurrences(text_params, texts) == expected_occurrences(text_params, texts)


def test_a_character_cut_by_the_end_of_a_text_is_a_gap():
    """Invalid UTF-8 (Arrow does not check buffers it is handed) is read as gaps, never past a text."""
    data = "ab日".encode()[:-1] + "日".encode()[-1:] + b"cd"  # "ab" and two bytes of 日, then its last byte and "cd"
    texts = pa.Array.from_buffers(pa.string(), 2, [None, pa.py_buffer(np.array([0, 4, 7], np.int32)), pa.py_buffer(data)])
    text_params = params(["ab", "cd", "ab日", "日cd"], stop_words=())

    assert kernel_occurrences(text_params, texts) == Counter({(0, 0): 1, (1, 1): 1})


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


def test_character_grams_are_the_java_regex_windows():
    """What the reference must find (Spark's own output for these tokens, see
    test_text_vectors.py for the whole comparison): a window at the second half of 𝐀 is '?'."""
    assert java_char_grams("ab", 3) == ["~<ab", "~ab>"]
    assert java_char_grams("a𝐀b", 3) == ["~<a𝐀", "~a𝐀b", "~𝐀b>", "~?b>"]
    assert java_char_grams("𝐀", 2) == ["~<𝐀", "~𝐀>", "~?>"] and java_char_grams("𝐀", 3) == ["~<𝐀>"]
    assert java_char_grams("ab", 5) == []


def test_character_grams_of_kept_tokens_only():
    texts = pa.array(["abc the x abc", "a𝐀b 日本 ab", "", None, "𝐀"])
    vocabulary = ["abc", "~<ab", "~abc", "~bc>", "~<th", "~<a𝐀", "~?b>", "~𝐀b>", "~本>", "~<ab>", "~?>", "~<𝐀>", "~<𝐀", "~𝐀>"]
    text_params = params(vocabulary, char_sizes=(3, 4))

    found = kernel_occurrences(text_params, texts)

    # "the" is a stop word and "x" too short: no grams of theirs
    assert found == Counter({(0, 0): 2, (0, 1): 2, (0, 2): 2, (0, 3): 2, (1, 5): 1, (1, 6): 1, (1, 7): 1, (1, 1): 1,
                             (1, 9): 1, (4, 11): 1})
    assert found == expected_occurrences(text_params, texts)


def test_long_tokens_grow_the_output_for_their_grams():
    texts = pa.array(["x" * 3000 + " " + "ab" * 700, "𝐀" * 400])
    text_params = params(["~xxx", "~xxxx", "~aba", "~<𝐀𝐀", "~?𝐀𝐀", "~𝐀𝐀𝐀"], char_sizes=(3, 4))

    assert kernel_occurrences(text_params, texts) == expected_occurrences(text_params, texts)


# ASCII and 2-, 3- and 4-byte letters and separators: é, final sigma, CJK, Arabic-Indic 3, bold A;
# a combining acute, U+9FFD (a letter after Java 17), an emoji.
LETTERS = "ab1zéς日٣𝐀"
NON_LETTERS = "\u0301\u9ffd😀"
WORDS = ["a", "b", "ab", "ba", "1", "a1", "zz", "abc", "é", "aé", "ς", "日本", "٣", "𝐀", "𝐀b", "a\u0301"]
SEPARATORS = [" ", " ", " ", "  ", ".", "-", "+", "#", ".-", "++", " .", "- ", "+ ", "# ", "\u0301", "\u9ffd", "😀", " 😀 "]
random_texts = st.lists(
    st.one_of(
        st.none(),
        st.text(alphabet=LETTERS + NON_LETTERS + ".-+# ", max_size=40),
        st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=15).map(
            lambda pairs: "".join(word + separator for word, separator in pairs)),  # runs of words: n-grams
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=random_texts,
    min_token_length=st.integers(1, 3),
    stop_words=st.lists(st.sampled_from([*WORDS, "a+", "zz#", "é+"]), max_size=3),
    ngram_sizes=st.lists(st.integers(1, 3), max_size=3),
    char_sizes=st.sampled_from([(), (), (3,), (1, 2), (3, 4, 5)]),
    kept_share=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_texts_give_the_reference_occurrences(texts, min_token_length, stop_words, ngram_sizes, char_sizes,
                                                     kept_share, seed):
    texts = pa.array(texts, pa.string())
    options = dict(min_token_length=min_token_length, stop_words=stop_words, ngram_sizes=ngram_sizes,
                   char_sizes=char_sizes)
    terms = every_term(texts, **options)
    rng = np.random.default_rng(seed)
    vocabulary = [term for term in terms if rng.random() < kept_share] + ["zz zz", "a.-b", "ab ab ab ab", "𝐀 日本", "~zzz"]
    rng.shuffle(vocabulary)
    text_params = params(vocabulary, **options)

    assert kernel_occurrences(text_params, texts) == expected_occurrences(text_params, texts)
