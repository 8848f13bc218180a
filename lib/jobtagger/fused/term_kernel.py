"""The vocabulary terms of lower-cased texts in one compiled pass over the UTF-8 buffer: tokens,
length filter, stop words, n-grams and the vocabulary lookup, exactly as
:class:`~jobtagger.fused.text_vectors.TextFeaturizer` (so Spark) finds them.

Why it can be one pass over bytes: TOKEN_PATTERN (``L+(?:[.-]L+)*[+#]*``) never backtracks: ``L+``
stops at a non-letter, a ``.``/``-`` joins the token only when a letter follows, then ``+``/``#``
are taken greedily, and Java's find resumes where the match ended (``a+b`` is ``a+`` then ``b``).
A character is read where it starts: an ASCII byte's class comes from a table (nearly every
character), any other character is decoded and is a letter when its code point falls in the JVM's
``[\\p{L}\\p{N}]`` ranges (binary search). Java's ``String.length``, which ``minTokenLength``
compares, counts UTF-16 units: one per character, two for a 4-byte one (code point >= 0x10000).

The strings a token can be (the words of the vocabulary's terms, the stop words) sit in one
open-addressing table, so a token costs one lookup: stop word, word id, or neither. Reading a
token's bytes only finds where it ends; then its first and last 8 bytes are loaded as two words,
which give its hash (every byte of a token of up to 16) and the first word a slot keeps: most
tokens are checked by one compare, only the bytes of longer ones beyond the 8th are compared one
by one. N-grams are matched on word ids, never joined: the vocabulary's terms form a trie whose
nodes are numbered across all lengths (a word's node is its id), and the (parent node, word) ->
child table turns the nodes of the k-grams ending at the previous token into those of the
(k+1)-grams ending at this one. A token that is no word of any term ends every n-gram through it
without a lookup.

Character n-grams (``features.char_ngrams``) are windows of the kept token padded as
``<token>``, looked up in a table of their own (the vocabulary's ``~gram`` terms without the
mark). Spark finds them by a zero-width regular expression match at every UTF-16 position, so a
window also starts at the second half of a 4-byte character: Java reads that lone surrogate as one
character, and Spark writes it as ``?``. The kernel makes those windows too. A token that is a
word of the vocabulary (most are) copies its grams, found once when the index is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobtagger.arrow_bytes import byte_buffers, little_endian_word
from jobtagger.text.features import CHAR_NGRAM_MARK

if TYPE_CHECKING:  # text.py builds its featurizer on this module
    from jobtagger.fused.text_vectors import TextFeatureParams

_GAP, _LETTER, _INNER, _TRAILING = 0, 1, 2, 3  # byte classes: '.'/'-' inner, '+'/'#' trailing
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: a hash's top bits pick its slot
_STOP = -2  # the string table's payload for a stop word (else the word id)


class TermIndex:
    """Built once per Python worker from :class:`TextFeatureParams`: the ASCII classes, the letter
    ranges, the string table and the vocabulary trie the kernel reads."""

    def __init__(self, params: TextFeatureParams) -> None:
        self.byte_classes = _ascii_byte_classes(params.letter_ranges)
        ranges = np.array(params.letter_ranges, np.int64).reshape(-1, 2)
        self.range_lows, self.range_highs = ranges[:, 0].copy(), ranges[:, 1].copy()
        self.min_token_length = params.min_token_length
        sizes = (1, *params.ngram_sizes)
        self.repeats = np.bincount(sizes).astype(np.int64)  # NGram(n=1), or one n twice, counts its terms again
        words, children, self.node_terms = _vocabulary_trie(params.vocabulary, set(sizes))
        stop_words = set(params.stop_words)  # a stop word is removed even when a term holds it
        strings = [*words, *sorted(stop_words - words.keys())]
        payloads = [_STOP if string in stop_words else words[string] for string in strings]
        self.string_bytes, self.string_table = _string_table([string.encode() for string in strings], payloads)
        self.child_table = _child_table(children, len(words))
        self.word_count = len(words)
        self.gram_sizes = np.array(params.char_ngram_sizes, np.int64)
        grams: dict[bytes, int] = {}
        if params.char_ngram_sizes:
            for index, term in enumerate(params.vocabulary):
                if term.startswith(CHAR_NGRAM_MARK):
                    grams.setdefault(term[len(CHAR_NGRAM_MARK):].encode(), index)
        self.gram_bytes, self.gram_table = _string_table(list(grams), list(grams.values()))
        self.word_grams, self.word_gram_terms = _grams_of_words(list(words), self.gram_sizes, self.gram_table,
                                                                self.gram_bytes)

    def term_occurrences(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(row, vocabulary index) of every token and n-gram of these lower-cased texts (string or
        large_string, nulls read as empty) that is a vocabulary term, in row order."""
        if texts.null_count:
            texts = pc.fill_null(texts, "")
        offsets, data = byte_buffers(texts)
        # a first guess, grown when short: a term per 4 bytes (job texts have one per 5 or so,
        # bigrams included), as many again per character gram size; pages never written cost nothing
        rows = np.empty((offsets[-1] - offsets[0]) * (1 + len(self.gram_sizes)) // 4 + 64, np.int64)
        terms = np.empty_like(rows)
        row, count = 0, 0
        while True:
            row, count = _fill_term_occurrences(
                offsets, data, row, count, rows, terms, self.byte_classes, self.range_lows, self.range_highs, self.min_token_length,
                self.string_table, self.string_bytes, self.child_table, self.word_count, self.node_terms, self.repeats,
                self.gram_sizes, self.gram_table, self.gram_bytes, self.word_grams, self.word_gram_terms,
            )
            if row == len(texts):
                return rows[:count], terms[:count]
            rows, terms = _doubled(rows, count), _doubled(terms, count)


def _ascii_byte_classes(letter_ranges: tuple[tuple[int, int], ...]) -> np.ndarray:
    """The class of each byte value read as an ASCII character (bytes >= 128 are gaps: they are
    decoded, and a '+'/'#' test on one must fail)."""
    classes = np.full(256, _GAP, np.uint8)
    for low, high in letter_ranges:
        classes[min(low, 128) : min(high + 1, 128)] = _LETTER
    classes[[ord("."), ord("-")]] = _INNER
    classes[[ord("+"), ord("#")]] = _TRAILING
    return classes


def _vocabulary_trie(vocabulary: tuple[str, ...], sizes: set[int]) -> tuple[dict[str, int], dict[tuple[int, int], int], np.ndarray]:
    """(word id of each word of the terms of these lengths, the child node of each (node, word),
    the vocabulary index each node spells or -1). A term's words are its space-separated parts
    (tokens hold no space); nodes 0..words-1 are the words, the longer prefixes follow; a term
    listed twice keeps its first index, as ``index_in``."""
    # a character gram is a term of its own table (tokens never hold the mark)
    term_words = [[] if term.startswith(CHAR_NGRAM_MARK) else term.split(" ") for term in vocabulary]
    words: dict[str, int] = {}
    for parts in term_words:
        if len(parts) in sizes:
            for part in parts:
                words.setdefault(part, len(words))
    children: dict[tuple[int, int], int] = {}
    node_terms = np.full(len(words) + sum(len(parts) - 1 for parts in term_words if len(parts) in sizes), -1, np.int64)
    for index, parts in enumerate(term_words):
        if len(parts) not in sizes:
            continue
        node = words[parts[0]]
        for part in parts[1:]:
            node = children.setdefault((node, words[part]), len(words) + len(children))
        if node_terms[node] < 0:
            node_terms[node] = index
    return words, children, node_terms[: len(words) + len(children)]


def _string_table(strings: list[bytes], payloads: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(the strings' bytes end to end; open-addressing slots of (first 8 bytes as in
    :func:`_string_key`, start, length or -1 when empty, payload)) for distinct strings."""
    data, offsets = _packed(strings)
    return data, _filled_string_table(data, offsets, np.array(payloads, np.int64), _table_bits(len(strings)))


def _packed(strings: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(the strings' bytes end to end, where each starts and the last ends)."""
    offsets = np.zeros(len(strings) + 1, np.int64)
    np.cumsum([len(string) for string in strings], out=offsets[1:])
    return (np.frombuffer(b"".join(strings), np.uint8) if strings else np.zeros(0, np.uint8)), offsets


def _grams_of_words(words: list[str], sizes: np.ndarray, table: np.ndarray, strings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(offsets by word id, vocabulary indexes) of the character grams of each word (by id) that
    are terms: made once, so a token that is a word copies its grams instead of looking up each
    window (most tokens are)."""
    if not len(sizes):
        return np.zeros(len(words) + 1, np.int64), np.zeros(0, np.int64)
    data, offsets = _packed([word.encode() for word in words])
    return _filled_word_grams(data, offsets, sizes, table, _log2(len(table)), strings)


@numba.njit(cache=True, nogil=True)
def _filled_word_grams(data, offsets, sizes, table, bits, strings):
    """The arrays of :func:`_grams_of_words` for words ``data[offsets[i]:offsets[i + 1]]``."""
    words = len(offsets) - 1
    room = 0
    for word in range(words):
        room += 2 * len(sizes) * (offsets[word + 1] - offsets[word] + 2)
    rows = np.empty(room, np.int64)
    terms = np.empty(room, np.int64)
    padded, shifted, starts = _gram_scratch(offsets, 0)
    count = 0
    for word in range(words):
        count = _write_char_grams(data, offsets[word], offsets[word + 1], word, count, rows, terms, sizes, table, bits,
                                  strings, padded, shifted, starts)
    grams = np.zeros(words + 1, np.int64)
    for k in range(count):
        grams[rows[k] + 1] += 1
    for word in range(words):
        grams[word + 1] += grams[word]
    return grams, terms[:count].copy()


def _child_table(children: dict[tuple[int, int], int], word_count: int) -> np.ndarray:
    """Open-addressing slots of (parent node * word count + word or -1 when empty, child node)."""
    keys = np.array([parent * word_count + word for parent, word in children], np.int64)
    return _filled_child_table(keys, np.array(list(children.values()), np.int64), _table_bits(len(children)))


def _doubled(array: np.ndarray, count: int) -> np.ndarray:
    """An array twice as long holding ``array``'s first ``count`` values."""
    doubled = np.empty(2 * len(array), array.dtype)
    doubled[:count] = array[:count]
    return doubled


def _table_bits(count: int) -> int:
    """log2 of a table size at least twice the entries: short probe runs."""
    return max(4, count.bit_length() + 1)


@numba.njit(cache=True, nogil=True)
def _slot(hash_value, bits):
    """Fibonacci hashing: the top bits of the hash times the golden ratio."""
    return np.int64((np.uint64(hash_value) * _GOLDEN) >> np.uint64(64 - bits))


@numba.njit(cache=True, nogil=True)
def _string_key(data, start, end):
    """(hash, first 8 bytes as one word) of the string ``data[start:end]``, as the table is built
    and a token is looked up: the first word times the golden ratio, xor the last 8 bytes (the
    first word again for a string of up to 8), so a token is hashed once, not a byte at a time."""
    prefix = little_endian_word(data, start, end - start)
    tail_start = max(start, end - 8)
    return (prefix * _GOLDEN) ^ little_endian_word(data, tail_start, end - tail_start), prefix


@numba.njit(cache=True, nogil=True)
def _filled_string_table(data, offsets, payloads, bits):
    """The slots of :func:`_string_table`, linear probing."""
    table = np.zeros((1 << bits, 4), np.int64)
    table[:, 2] = -1
    for entry in range(len(offsets) - 1):
        hash_value, prefix = _string_key(data, offsets[entry], offsets[entry + 1])
        slot = _slot(hash_value, bits)
        while table[slot, 2] >= 0:
            slot = (slot + 1) & ((1 << bits) - 1)
        table[slot, 0] = np.int64(prefix)
        table[slot, 1] = offsets[entry]
        table[slot, 2] = offsets[entry + 1] - offsets[entry]
        table[slot, 3] = payloads[entry]
    return table


@numba.njit(cache=True, nogil=True)
def _filled_child_table(keys, children, bits):
    """The slots of :func:`_child_table`, linear probing."""
    table = np.full((1 << bits, 2), -1, np.int64)
    for entry in range(len(keys)):
        slot = _slot(keys[entry], bits)
        while table[slot, 0] >= 0:
            slot = (slot + 1) & ((1 << bits) - 1)
        table[slot, 0] = keys[entry]
        table[slot, 1] = children[entry]
    return table


@numba.njit(cache=True, nogil=True, inline="always")
def _string_payload(table, bits, strings, hash_value, prefix, data, start, end):
    """The payload of the string ``data[start:end]`` (of this hash and first 8 bytes), or -1 when
    it is not in the table. Inlined by Numba: LLVM leaves it a call, and passing its three arrays
    cost nearly a quarter of the kernel's time."""
    mask = len(table) - 1
    slot = _slot(hash_value, bits)
    length = end - start
    while table[slot, 2] >= 0:
        if table[slot, 0] == np.int64(prefix) and table[slot, 2] == length:
            key_start = table[slot, 1]
            same = True
            for i in range(8, length):
                if strings[key_start + i] != data[start + i]:
                    same = False
                    break
            if same:
                return table[slot, 3]
        slot = (slot + 1) & mask
    return -1


@numba.njit(cache=True, nogil=True)
def _child(table, bits, key):
    """The child node under this (parent node * word count + word) key, or -1."""
    mask = len(table) - 1
    slot = _slot(key, bits)
    while table[slot, 0] >= 0:
        if table[slot, 0] == key:
            return table[slot, 1]
        slot = (slot + 1) & mask
    return -1


@numba.njit(cache=True, nogil=True)
def _log2(size):
    """The bits of a table's power-of-two size."""
    bits = 0
    while (1 << bits) < size:
        bits += 1
    return bits


@numba.njit(cache=True, nogil=True)
def _is_letter(code_point, range_lows, range_highs):
    """Whether the code point falls in one of the sorted inclusive ranges (binary search)."""
    low, high = 0, len(range_lows)
    while low < high:
        middle = (low + high) >> 1
        if range_lows[middle] <= code_point:
            low = middle + 1
        else:
            high = middle
    return low > 0 and code_point <= range_highs[low - 1]


@numba.njit(cache=True, nogil=True)
def _letter_width(data, position, end, classes, range_lows, range_highs):
    """The byte count of the letter starting at ``position``, or 0 when none does: a gap, a mark,
    a continuation byte (so a non-letter is skipped a byte at a time), or a character cut by ``end``
    (invalid UTF-8, never read past)."""
    byte = data[position]
    if byte < 0x80:
        return 1 if classes[byte] == _LETTER else 0
    if byte < 0xC0:
        return 0
    if byte < 0xE0:
        width, code_point = 2, np.int64(byte & 0x1F)
    elif byte < 0xF0:
        width, code_point = 3, np.int64(byte & 0x0F)
    else:
        width, code_point = 4, np.int64(byte & 0x07)
    if position + width > end:
        return 0
    for i in range(position + 1, position + width):
        code_point = (code_point << 6) | np.int64(data[i] & 0x3F)
    return width if _is_letter(code_point, range_lows, range_highs) else 0


@numba.njit(cache=True, nogil=True)
def _fill_term_occurrences(
    offsets, data, first_row, count, rows, terms, classes, range_lows, range_highs, min_token_length,
    string_table, strings, child_table, word_count, node_terms, repeats, gram_sizes, gram_table, gram_strings,
    word_grams, word_gram_terms,
):
    """Writes (row, vocabulary index) of the terms of the texts from ``first_row`` on at ``count``
    on; returns (the row it stopped at, as it was full, or the row count; the new count)."""
    string_bits, child_bits, gram_bits = _log2(len(string_table)), _log2(len(child_table)), _log2(len(gram_table))
    padded, shifted, starts = _gram_scratch(offsets, first_row if len(gram_sizes) else len(offsets) - 1)
    longest = len(repeats) - 1
    per_token = 0
    for n in range(1, longest + 1):
        per_token += repeats[n]
    ending = np.empty(longest + 1, np.int64)  # node of the n-gram ending at the last kept token, by n
    for row in range(first_row, len(offsets) - 1):
        row_count = count
        ending[:] = -1
        position, end = offsets[row], offsets[row + 1]
        while position < end:
            # an ASCII byte's class is one table lookup (bytes >= 0x80 are gaps in it): only the
            # others go to _letter_width, which LLVM leaves a call (here and below)
            byte = data[position]
            if classes[byte] != _LETTER and (
                    byte < 0x80 or not _letter_width(data, position, end, classes, range_lows, range_highs)):
                position += 1
                continue
            start = position
            surplus = 0  # the token's bytes beyond its UTF-16 units (none in ASCII)
            while position < end:  # L+, then [.-]L+ while a letter follows the mark
                byte = data[position]
                if classes[byte] == _LETTER:
                    position += 1
                elif byte >= 0x80:
                    width = _letter_width(data, position, end, classes, range_lows, range_highs)
                    if width == 0:
                        break
                    surplus += 2 if width == 4 else width - 1  # a 4-byte one is 2 units
                    position += width
                elif (classes[byte] == _INNER and position + 1 < end
                        and (classes[data[position + 1]] == _LETTER or data[position + 1] >= 0x80
                             and _letter_width(data, position + 1, end, classes, range_lows, range_highs))):
                    position += 1
                else:
                    break
            while position < end and classes[data[position]] == _TRAILING:
                position += 1
            if position - start - surplus < min_token_length:
                continue
            hash_value, prefix = _string_key(data, start, position)
            word = _string_payload(string_table, string_bits, strings, hash_value, prefix, data, start, position)
            if word == _STOP:
                continue
            # each gram size makes at most two windows per byte of the padded token
            if count + per_token + 2 * len(gram_sizes) * (position - start + 2) > len(rows):
                return row, row_count
            for n in range(longest, 1, -1):
                parent = ending[n - 1]
                ending[n] = _child(child_table, child_bits, parent * word_count + word) if parent >= 0 and word >= 0 else -1
            ending[1] = word
            for n in range(1, longest + 1):
                term = node_terms[ending[n]] if ending[n] >= 0 else -1
                for _ in range(repeats[n]):  # written always (there is room), kept if a term: no branch
                    rows[count] = row
                    terms[count] = term
                    count += term >= 0
            if len(gram_sizes) and word >= 0:  # a word's grams were found once, by id
                for k in range(word_grams[word], word_grams[word + 1]):
                    rows[count] = row
                    terms[count] = word_gram_terms[k]
                    count += 1
            elif len(gram_sizes):
                count = _write_char_grams(data, start, position, row, count, rows, terms, gram_sizes, gram_table,
                                          gram_bits, gram_strings, padded, shifted, starts)
    return len(offsets) - 1, count


@numba.njit(cache=True, nogil=True)
def _gram_scratch(offsets, first):
    """The buffers :func:`_write_char_grams` needs for any token of the strings from ``first`` on
    (none from ``len(offsets) - 1``): the padded ``<token>``, a window from a character's second
    half, and where each character of the padded token starts."""
    longest = 0
    for i in range(first, len(offsets) - 1):
        longest = max(longest, offsets[i + 1] - offsets[i])
    return np.empty(longest + 2, np.uint8), np.empty(longest + 2, np.uint8), np.empty(longest + 3, np.int64)


@numba.njit(cache=True, nogil=True)
def _write_char_grams(data, start, end, row, count, rows, terms, sizes, table, bits, strings, padded, shifted, starts):
    """Writes (row, vocabulary index) of the character grams of the token ``data[start:end]`` that
    are terms: every window of each size of the padded ``<token>``, plus, where a window would
    start at the second half of a 4-byte character, ``?`` and the characters after it (as Spark
    finds them, see the module docstring). Returns the new count."""
    length = end - start
    padded[0] = 60  # '<'
    padded[1 : length + 1] = data[start:end]
    padded[length + 1] = 62  # '>'
    characters, position = 0, 0
    while position < length + 2:
        starts[characters] = position
        characters += 1
        byte = padded[position]
        position += 1 if byte < 0xC0 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
    starts[characters] = length + 2
    shifted[0] = 63  # '?'
    for s in range(len(sizes)):
        n = sizes[s]
        for i in range(characters - n + 1):
            low, high = starts[i], starts[i + n]
            hash_value, prefix = _string_key(padded, low, high)
            term = _string_payload(table, bits, strings, hash_value, prefix, padded, low, high)
            rows[count] = row
            terms[count] = term
            count += term >= 0
            if starts[i + 1] - low == 4:
                tail = high - starts[i + 1]
                shifted[1 : tail + 1] = padded[starts[i + 1] : high]
                hash_value, prefix = _string_key(shifted, 0, tail + 1)
                term = _string_payload(table, bits, strings, hash_value, prefix, shifted, 0, tail + 1)
                rows[count] = row
                terms[count] = term
                count += term >= 0
    return count
