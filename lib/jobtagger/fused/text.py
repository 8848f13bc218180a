"""The feature pipeline's text stages (tokens -> stop words -> n-grams -> counts -> sublinear tf ->
IDF -> L2 norm) on whole Arrow batches with pyarrow.compute and numpy, value for value as Spark.

What makes it match Spark exactly:
- the text arrives lower-cased by the JVM with the call RegexTokenizer makes
  (``String.toLowerCase()``, the executor's default locale: final sigma, dotted I);
- the letter/digit class of ``TOKEN_PATTERN`` is the JVM's own ``[\\p{L}\\p{N}]``, handed in as code
  point ranges (RE2's Unicode tables are newer than Java 17's);
- ``minTokenLength`` counts UTF-16 units, as Java's ``String.length``;
- counts, ``1 + log(tf)``, ``tf * idf`` and the L2 norm are computed in float64 in Spark's order
  (the norm sums squares sequentially per row, as ``Vectors.norm``; ``np.bincount`` adds in input
  order), so the vectors are identical.

Tokenizing without a per-row loop (RE2 in pyarrow has no find-all): every byte of the UTF-8
buffer gets a class (gap, letter/digit, ``.``/``-``, ``+``/``#``) with numpy, and the runs of
non-gap bytes within a row are the chunks a token can come from. A chunk without punctuation is
one token (nearly all); one with punctuation is trimmed of its leading junk and trailing
``.``/``-`` and taken as is when what remains has the token's shape, and the rare others
(``a.-b``, ``c++b``) are tokenized by marking every match with a regex replacement.

The tokens of a batch are few distinct strings, so stop words, the length filter and the
vocabulary are looked up once per distinct token, and n-grams are matched on integer word ids
against a trie of the vocabulary's n-grams instead of being joined into strings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from jobtagger.text.features import sublinear_counts

_SUPPLEMENTARY = r"[\x{10000}-\x{10FFFF}]"  # two UTF-16 units each in Java's String.length
# Byte classes. A letter's every byte is _LETTER; '.'/'-' may only sit between letters, '+'/'#'
# only end a token.
_GAP, _LETTER, _INNER, _TRAILING = 0, 1, 2, 3


@dataclass(frozen=True, eq=False)
class TextFeatureParams:
    """What the fitted text stages hold, as plain values (shipped to the executors)."""

    letter_ranges: tuple[tuple[int, int], ...]  # the JVM's [\p{L}\p{N}], inclusive code point ranges
    min_token_length: int
    stop_words: tuple[str, ...]
    ngram_sizes: tuple[int, ...]
    vocabulary: tuple[str, ...]
    sublinear: bool
    idf: np.ndarray  # float64, one per vocabulary term


@dataclass(frozen=True)
class _TrieLevel:
    """The vocabulary n-grams' prefixes of one length: node = child of (prefix node, word)."""

    keys: pa.Array  # prefix node * word count + word id, at its node's position (none at level 1)
    terms: np.ndarray  # vocabulary index of the term each node spells or -1, then -1 (for node -1)


class TextFeaturizer:
    """Built once per partition from :class:`TextFeatureParams` (byte classes, vocabulary trie)."""

    def __init__(self, params: TextFeatureParams) -> None:
        self.params = params
        letters = "".join(
            f"\\x{{{low:x}}}" if low == high else f"\\x{{{low:x}}}-\\x{{{high:x}}}" for low, high in params.letter_ranges
        )
        letter = f"[{letters}]"
        token = f"{letter}+(?:[.\\-]{letter}+)*[+#]*"  # TOKEN_PATTERN with the JVM's class
        self.mark_tokens = f"[^{letters}]*({token})|[^{letters}]+"
        self.letter_ranges = np.array(params.letter_ranges, np.int64).reshape(-1, 2)
        ascii_classes = _ascii_classes(self.letter_ranges)
        pairs = np.arange(1 << 16)  # read as little-endian: the first byte is the low one
        pair_classes = np.stack([ascii_classes[pairs & 0xFF], ascii_classes[pairs >> 8]], axis=1)
        self.ascii_pair_classes = pair_classes.view("<u2").ravel()
        self.stop_words = pa.array(params.stop_words, pa.string())
        self.words, self.trie = _vocabulary_trie(params.vocabulary, {1, *params.ngram_sizes})

    def features(self, texts: pa.Array, *, width: int) -> sp.csr_matrix:
        """Rows of TF-IDF features (float32 CSR, ``width`` columns, sorted indices) of lower-cased texts."""
        rows, token_ids, distinct = self.token_ids(texts)
        rows, terms = self.terms(rows, token_ids, distinct)
        return self.vectors(rows, terms, len(texts), width=width)

    def tokens(self, texts: pa.Array) -> tuple[np.ndarray, pa.Array]:
        """(row of each token, token) in text order, after the length filter and the stop words."""
        rows, token_ids, distinct = self.token_ids(texts)
        return rows, distinct.take(pa.array(token_ids))

    def token_ids(self, texts: pa.Array) -> tuple[np.ndarray, np.ndarray, pa.Array]:
        """(row of each token, its index in the distinct tokens, the distinct tokens), in text order,
        after the length filter and the stop words."""
        offsets, data = _utf8_buffers(texts)
        rows, found = self._all_tokens(offsets, data, texts.type)
        encoded = pc.dictionary_encode(found)
        distinct = encoded.dictionary
        stop_word = pc.is_in(distinct, value_set=self.stop_words).to_numpy(zero_copy_only=False)
        wanted = self._long_enough(distinct) & ~stop_word
        token_ids = encoded.indices.to_numpy()  # int32, as rows and term ids: half the memory to touch
        kept = wanted[token_ids]
        return rows[kept], token_ids[kept], distinct

    def _all_tokens(
        self, offsets: np.ndarray, data: np.ndarray, string_type: pa.DataType,
    ) -> tuple[np.ndarray, pa.Array]:
        """(row, token) of every TOKEN_PATTERN match, in text order."""
        classes = self._byte_classes(data)
        in_token = classes != _GAP  # then cleared where a chunk is trimmed or not one token
        starts, ends = _chunks(in_token, offsets)
        chunk_rows = np.repeat(np.arange(len(offsets) - 1, dtype=np.int32), np.diff(np.searchsorted(starts, offsets)))
        lengths = ends - starts
        irregular = np.zeros(0, np.int64)
        punctuated, kept_starts, kept_ends, shapely = _trimmed_punctuated_chunks(classes, starts, ends)
        if punctuated.size:
            irregular = punctuated[~shapely & (kept_ends > kept_starts)]
            kept_ends = np.where(shapely, kept_ends, kept_starts)
            in_token[_ranges(starts[punctuated], kept_starts)] = False
            in_token[_ranges(kept_ends, ends[punctuated])] = False
            lengths[punctuated] = kept_ends - kept_starts
        owners = np.flatnonzero(lengths)
        found = _strings(_kept_bytes(data, in_token), lengths[owners], string_type)
        if irregular.size:
            chunk_bytes = pa.py_buffer(data[_ranges(starts[irregular], ends[irregular])])
            chunks = _strings(chunk_bytes, ends[irregular] - starts[irregular], string_type)
            pieces, piece_chunks = self._tokens_of_irregular(chunks, irregular)
            owners = np.concatenate([owners, piece_chunks])
            order = np.argsort(owners, kind="stable")  # two sorted runs: chunk order, pieces in order
            found, owners = pa.concat_arrays([found, pieces]).take(order), owners[order]
        return chunk_rows[owners], found

    def _byte_classes(self, data: np.ndarray) -> np.ndarray:
        """The class of each byte; a non-ASCII character is a letter or a gap, decoded from its lead byte."""
        classes = _pairwise_lookup(self.ascii_pair_classes, data)
        leads = np.flatnonzero(data >= 0xC0)
        if leads.size:
            code_points, widths = _code_points(data, leads)
            range_index = np.maximum(np.searchsorted(self.letter_ranges[:, 0], code_points, "right") - 1, 0)
            low, high = self.letter_ranges[range_index, 0], self.letter_ranges[range_index, 1]
            letter = (code_points >= low) & (code_points <= high)
            for byte in range(4):
                classes[leads[letter & (widths > byte)] + byte] = _LETTER
        return classes

    def _tokens_of_irregular(self, chunks: pa.Array, irregular: np.ndarray) -> tuple[pa.Array, np.ndarray]:
        """Tokens of the chunks that are not one token, each prefixed by a space, then split."""
        marked = pc.replace_substring_regex(chunks, pattern=self.mark_tokens, replacement=" \\1")
        split = pc.split_pattern(marked, " ")
        owners = irregular[pc.list_parent_indices(split).to_numpy()]
        pieces = pc.list_flatten(split)
        nonempty = pc.binary_length(pieces).to_numpy() > 0
        return pieces.filter(nonempty), owners[nonempty]

    def _long_enough(self, tokens: pa.Array) -> np.ndarray:
        """Java's ``length >= minTokenLength``: UTF-16 units, so a supplementary character counts 2."""
        length = pc.utf8_length(tokens).to_numpy().astype(np.int64)
        short = np.flatnonzero(length < self.params.min_token_length)
        if short.size:
            length[short] += pc.count_substring_regex(tokens.take(short), pattern=_SUPPLEMENTARY).to_numpy()
        return length >= self.params.min_token_length

    def terms(self, rows: np.ndarray, token_ids: np.ndarray, distinct: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """(row, vocabulary index) of each token and n-gram (a run of n tokens within a row) that
        is a vocabulary term. A trie node at level n is the n-gram starting at that position."""
        words = pc.fill_null(pc.index_in(distinct, value_set=self.words), -1).to_numpy()[token_ids]
        nodes = {1: words}
        for n in range(2, max(self.trie) + 1):
            count = max(len(rows) - n + 1, 0)
            nodes[n] = self._children(self.trie[n], nodes[n - 1][:count], words[n - 1:], rows[:count] == rows[n - 1:])
        all_rows, all_terms = [], []
        for n in (1, *self.params.ngram_sizes):
            terms = self.trie[n].terms[nodes[n]]  # node -1 (no such n-gram) picks the trailing -1
            known = np.flatnonzero(terms >= 0)
            all_rows.append(rows[known])
            all_terms.append(terms[known])
        return np.concatenate(all_rows), np.concatenate(all_terms)

    def _children(
        self, level: _TrieLevel, parents: np.ndarray, words: np.ndarray, same_row: np.ndarray,
    ) -> np.ndarray:
        """The node of each (prefix node, next word) at ``level``, -1 where the vocabulary has none."""
        candidates = np.flatnonzero((parents >= 0) & (words >= 0) & same_row)
        keys = pa.array(parents[candidates].astype(np.int64) * len(self.words) + words[candidates])
        children = np.full(len(parents), -1, np.int32)
        children[candidates] = pc.fill_null(pc.index_in(keys, value_set=level.keys), -1).to_numpy()
        return children

    def vectors(self, rows: np.ndarray, terms: np.ndarray, n: int, *, width: int) -> sp.csr_matrix:
        """CountVectorizerModel -> SublinearTf -> IDFModel -> Normalizer (p=2) of the (row,
        vocabulary index) of each term, as float32 CSR."""
        counts = sp.csr_matrix((np.ones(len(terms)), (rows, terms)), shape=(n, len(self.params.vocabulary)))
        counts.sum_duplicates()  # indices sorted within each row, as in Spark's SparseVector
        entry_rows = np.repeat(np.arange(n), np.diff(counts.indptr))
        columns, values = counts.indices, counts.data
        if self.params.sublinear:
            values = sublinear_counts(values)
        values = values * self.params.idf[columns]
        norms = np.sqrt(np.bincount(entry_rows, weights=values * values, minlength=n))  # sequential per row
        values = values / np.where(norms != 0.0, norms, 1.0)[entry_rows]  # a zero vector stays zero
        inside = columns < width  # as the classifier's scoring: features beyond its width are dropped
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(entry_rows[inside], minlength=n), out=indptr[1:])
        return sp.csr_matrix((values[inside].astype(np.float32), columns[inside], indptr), shape=(n, width))


def _ascii_classes(letter_ranges: np.ndarray) -> np.ndarray:
    """Class of each byte value as an ASCII character (non-ASCII bytes start as gaps)."""
    classes = np.full(256, _GAP, np.uint8)
    for low, high in letter_ranges:
        classes[min(low, 128) : min(high + 1, 128)] = _LETTER
    classes[[ord("."), ord("-")]] = _INNER
    classes[[ord("+"), ord("#")]] = _TRAILING
    return classes


def _vocabulary_trie(vocabulary: tuple[str, ...], sizes: set[int]) -> tuple[pa.Array, dict[int, _TrieLevel]]:
    """(the words of the vocabulary's n-grams of these sizes, their trie level by length). Level 1
    nodes are the word ids; tokens never hold a space, so a term's words are its space-split parts."""
    term_words = [term.split(" ") for term in vocabulary]
    words = sorted({word for parts in term_words if len(parts) in sizes for word in parts})
    word_id = {word: i for i, word in enumerate(words)}
    children: dict[int, dict[tuple[int, int], int]] = {n: {} for n in range(2, max(sizes) + 1)}
    term_of: dict[int, dict[int, int]] = {n: {} for n in range(1, max(sizes) + 1)}
    for index, parts in enumerate(term_words):
        if len(parts) not in sizes:
            continue
        node = word_id[parts[0]]
        for n in range(2, len(parts) + 1):
            node = children[n].setdefault((node, word_id[parts[n - 1]]), len(children[n]))
        term_of[len(parts)].setdefault(node, index)
    trie = {}
    for n, terms_by_node in term_of.items():
        node_count = len(words) if n == 1 else len(children[n])
        terms = np.full(node_count + 1, -1, np.int32)
        terms[list(terms_by_node)] = list(terms_by_node.values())
        keys = [parent * len(words) + word for parent, word in children.get(n, {})]  # dicts keep node order
        trie[n] = _TrieLevel(keys=pa.array(keys, pa.int64()), terms=terms)
    return pa.array(words, pa.string()), trie


def _utf8_buffers(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets of each text into the bytes, starting at 0; the UTF-8 bytes), null texts empty."""
    if texts.null_count:
        texts = pc.fill_null(texts, "")
    _, offset_buffer, data_buffer = texts.buffers()
    if data_buffer is None or len(texts) == 0:
        return np.zeros(len(texts) + 1, np.int64), np.zeros(0, np.uint8)
    offset_type = np.int64 if pa.types.is_large_string(texts.type) else np.int32
    offsets = np.frombuffer(offset_buffer, offset_type)[texts.offset : texts.offset + len(texts) + 1].astype(np.int64)
    return offsets - offsets[0], np.frombuffer(data_buffer, np.uint8)[offsets[0] : offsets[-1]]


def _pairwise_lookup(pair_table: np.ndarray, data: np.ndarray) -> np.ndarray:
    """``table[data]`` for a byte table, two bytes per lookup (``pair_table`` holds both results):
    numpy's gather costs per element, so this halves it."""
    even = np.zeros(len(data) + (len(data) & 1), np.uint8)
    even[: len(data)] = data
    return pair_table[even.view("<u2")].view(np.uint8)[: len(data)]


def _code_points(data: np.ndarray, leads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code point, byte count) of the characters whose UTF-8 lead bytes sit at ``leads``."""
    first = data[leads].astype(np.int64)
    follow = [np.take(data, leads + k, mode="clip").astype(np.int64) & 0x3F for k in (1, 2, 3)]
    widths = np.where(first < 0xE0, 2, np.where(first < 0xF0, 3, 4))
    code_points = np.where(
        widths == 2, ((first & 0x1F) << 6) | follow[0],
        np.where(widths == 3, ((first & 0x0F) << 12) | (follow[0] << 6) | follow[1],
                 ((first & 0x07) << 18) | (follow[0] << 12) | (follow[1] << 6) | follow[2]))
    return code_points, widths


def _chunks(inside: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) byte positions of the runs of ``inside`` bytes, cut where a text ends."""
    before, after = np.zeros_like(inside), np.zeros_like(inside)
    before[1:], after[:-1] = inside[:-1], inside[1:]
    cuts = offsets[(offsets > 0) & (offsets < len(inside))]
    before[cuts], after[cuts - 1] = False, False
    return np.flatnonzero(inside > before), np.flatnonzero(inside > after) + 1


def _trimmed_punctuated_chunks(
    classes: np.ndarray, starts: np.ndarray, ends: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(chunks holding punctuation, their start and end once trimmed of leading ``.-+#`` and
    trailing ``.-``, whether the trimmed text has TOKEN_PATTERN's shape). Each mark (punctuation
    byte) is ranked within its chunk from both ends; the trimmed text starts with a letter, so it
    has the shape when inside it every ``.``/``-`` is followed by a letter and every ``+``/``#``
    by ``+``/``#``."""
    marks = np.flatnonzero(classes >= _INNER)
    if marks.size == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty, np.zeros(0, bool)
    owner = np.searchsorted(starts, marks, "right") - 1
    first = np.flatnonzero(np.diff(owner, prepend=-1))
    sizes = np.diff(np.append(first, len(marks)))
    group = np.repeat(np.arange(len(first)), sizes)
    chunks = owner[first]
    rank = np.arange(len(marks)) - first[group]
    rank_from_end = sizes[group] - 1 - rank
    leading = np.add.reduceat(marks == starts[owner] + rank, first)  # the marks the chunk starts with
    at_end = marks == ends[owner] - 1 - rank_from_end  # the marks it ends with, of which rtrim takes
    trailing = np.minimum(np.add.reduceat(at_end, first), np.minimum.reduceat(  # those after the last '+'/'#'
        np.where(at_end & (classes[marks] == _TRAILING), rank_from_end, len(classes)), first))
    trimmed_starts = starts[chunks] + leading
    trimmed_ends = np.maximum(ends[chunks] - trailing, trimmed_starts)
    within = (marks >= trimmed_starts[group]) & (marks < trimmed_ends[group] - 1)
    following = classes[np.minimum(marks + 1, len(classes) - 1)]
    misplaced = within & np.where(classes[marks] == _INNER, following != _LETTER, following != _TRAILING)
    return chunks, trimmed_starts, trimmed_ends, np.add.reduceat(misplaced, first) == 0


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The positions in the ranges [start, end), in order."""
    lengths = ends - starts
    return np.arange(lengths.sum()) + np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)


def _kept_bytes(data: np.ndarray, keep: np.ndarray) -> pa.Buffer:
    """``data[keep]``, by Arrow's filter on a bitmap (faster than numpy's boolean indexing)."""
    mask = pa.Array.from_buffers(pa.bool_(), len(keep), [None, pa.py_buffer(np.packbits(keep, bitorder="little"))])
    return pc.filter(pa.Array.from_buffers(pa.uint8(), len(data), [None, pa.py_buffer(data)]), mask).buffers()[1]


def _strings(values: pa.Buffer, lengths: np.ndarray, string_type: pa.DataType) -> pa.Array:
    """Consecutive strings of these byte lengths made of the UTF-8 bytes ``values``."""
    offset_type = np.int64 if pa.types.is_large_string(string_type) else np.int32
    offsets = np.zeros(len(lengths) + 1, offset_type)
    np.cumsum(lengths, out=offsets[1:])
    return pa.Array.from_buffers(string_type, len(lengths), [None, pa.py_buffer(offsets), values])
