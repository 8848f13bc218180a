"""Java's ``String.toLowerCase()`` on Arrow string batches, compiled: the tokenizer's lower-casing
done in the fused scorer's Python pass instead of by the JVM (about a third of the JVM's work in
the tag job: each text decoded to UTF-16, lower-cased and encoded again, through reflection).

Why a table reproduces the JVM: outside the Turkish, Azeri and Lithuanian locales (whose rules
look at neighbouring characters), ``toLowerCase`` maps every code point by
``Character.toLowerCase`` except two: the capital sigma, whose form depends on the word around it
(by the JVM's word breaks), and the capital I with dot above, which becomes two code points. The
table is what the executors' JVM itself returns for every other code point (probed once per plan,
:func:`jobtagger.fused.plan.probe_jvm_text`), the dotted I is probed apart, and texts holding a
capital sigma stay lower-cased by the JVM (:func:`jvm_lowercased`; lower-casing them again here
changes nothing, as the table is checked to map its own results to themselves). Bytes that are
not UTF-8 become U+FFFD exactly where the JVM's decoder puts them (``new String(bytes, UTF_8)``,
which Spark's ``UTF8String.toString`` calls).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column
from pyspark.sql import functions as F

from jobtagger.arrow_bytes import byte_buffers

CAPITAL_SIGMA = "\u03a3"  # lower-cased by context: the JVM keeps it
CAPITAL_I_WITH_DOT = "\u0130"  # lower-cases to two code points
LOCALES_WITH_RULES = frozenset({"tr", "az", "lt"})  # String.toLowerCase's locale-dependent languages
LAST_CODE_POINT = 0x10FFFF
_REPLACEMENT = 0xFFFD


def java_lowercase(text: Column) -> Column:
    """``String.toLowerCase()`` in the executor's default locale, exactly what RegexTokenizer calls
    (commons-lang3's ``StringUtils.lowerCase`` delegates to it). Python's ``str.lower`` and Spark
    SQL's ``lower`` (ICU) differ from it on final sigma before digits or hyphens (``ΑΣ-Β``), on
    letters newer than the JVM's Unicode, and under a Turkish default locale."""
    return F.call_function("reflect", F.lit("org.apache.commons.lang3.StringUtils"), F.lit("lowerCase"), text)


def jvm_lowercased(text: Column, lowercase: JavaLowercase | None) -> Column:
    """The text as the JVM hands it to the Python pass: lower-cased by the JVM when ``lowercase``
    is None (its rules are not reproduced), else only when it holds a capital sigma."""
    if lowercase is None:
        return java_lowercase(text)
    return F.when(text.contains(CAPITAL_SIGMA), java_lowercase(text)).otherwise(text)


@dataclass(frozen=True, eq=False)
class JavaLowercase:
    """The executor JVM's lower-case mapping: the code points it changes and what each becomes
    (one code point each; ``expanded`` the ones that become several, as strings)."""

    changed: np.ndarray  # int32 code points
    lowered: np.ndarray  # int32, one per changed code point
    expanded: tuple[tuple[int, str], ...]

    @classmethod
    def of_probe(cls, code_points: np.ndarray, lowered: np.ndarray, *, expanded: dict[int, str],
                 locale: str) -> JavaLowercase | None:
        """The mapping from the JVM's lower-casing of ``code_points`` (one result each) and of the
        characters in ``expanded``; None when the table cannot reproduce the JVM: a locale with rules
        of its own, or lower-case results the JVM would lower-case again differently."""
        if locale.split("_")[0] in LOCALES_WITH_RULES or len(lowered) != len(code_points):
            return None
        changes = lowered != code_points
        mapping = cls(changed=code_points[changes].astype(np.int32), lowered=lowered[changes].astype(np.int32),
                      expanded=tuple(sorted(expanded.items())))
        table, _, _ = mapping.tables()
        results = np.concatenate([mapping.lowered, [ord(c) for _, text in mapping.expanded for c in text]]).astype(np.int64)
        stable = bool(np.all(table[results] == results))
        ascii_stays_ascii = bool(np.all((table[:128] >= 0) & (table[:128] < 128)))
        return mapping if stable and ascii_stays_ascii else None

    def tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(the lower-case code point of every code point, or -k for the k-th expansion; the
        expansions' UTF-8 offsets; their bytes), as :func:`_lowercased` reads them."""
        table = np.arange(LAST_CODE_POINT + 1, dtype=np.int32)
        table[self.changed] = self.lowered
        encoded = [text.encode() for _, text in self.expanded]
        for k, (code_point, _) in enumerate(self.expanded):
            table[code_point] = -(k + 1)
        offsets = np.zeros(len(encoded) + 1, np.int64)
        np.cumsum([len(text) for text in encoded], out=offsets[1:])
        return table, offsets, np.frombuffer(b"".join(encoded), np.uint8).copy()


class Lowercaser:
    """Built once per Python worker from :class:`JavaLowercase` (its dense table, 4.4 MB)."""

    def __init__(self, mapping: JavaLowercase) -> None:
        self.table, self.expansion_offsets, self.expansion_bytes = mapping.tables()

    def lowercased(self, texts: pa.Array) -> pa.Array:
        """The texts (string or large_string) lower-cased as the JVM does, as large_string; nulls
        read as empty."""
        if texts.null_count:
            texts = pc.fill_null(texts, "")
        offsets, data = byte_buffers(texts)
        lowered_offsets, lowered = _lowercased(offsets, data, self.table, self.expansion_offsets, self.expansion_bytes)
        return pa.Array.from_buffers(pa.large_string(), len(texts),
                                     [None, pa.py_buffer(lowered_offsets), pa.py_buffer(lowered)])


@numba.njit(cache=True, nogil=True)
def _lowercased(offsets, data, table, expansion_offsets, expansion_bytes):
    """(offsets from 0, bytes) of each text lower-cased by ``table``. A character is copied as it
    is when the table keeps it, else encoded anew; malformed UTF-8 is decoded as the JVM does."""
    n = len(offsets) - 1
    out = np.empty(3 * (offsets[n] - offsets[0]) + 4, np.uint8)  # a byte never becomes more than 3
    out_offsets = np.zeros(n + 1, np.int64)
    ascii_lower = table[:128].astype(np.uint8)  # the table keeps ASCII ASCII
    o = 0
    for row in range(n):
        position, end = offsets[row], offsets[row + 1]
        while position < end:
            byte = data[position]
            if byte < 0x80:  # an ASCII character (nearly every one)
                out[o] = ascii_lower[byte]
                o += 1
                position += 1
                continue
            code_point, width = _decoded(data, position, end)
            if code_point == _REPLACEMENT:  # malformed (a real U+FFFD is its own lower case too)
                o = _encoded(out, o, _REPLACEMENT)
            else:
                lower = table[code_point]
                if lower == code_point:
                    for i in range(position, position + width):
                        out[o] = data[i]
                        o += 1
                elif lower >= 0:
                    o = _encoded(out, o, lower)
                else:
                    for i in range(expansion_offsets[-lower - 1], expansion_offsets[-lower]):
                        out[o] = expansion_bytes[i]
                        o += 1
            position += width
        out_offsets[row + 1] = o
    return out_offsets, out[:o]


@numba.njit(cache=True, nogil=True)
def _continues(byte):
    return (byte & 0xC0) == 0x80


@numba.njit(cache=True, nogil=True)
def _decoded(data, position, end):
    """(code point, bytes read) of the non-ASCII character at ``position``, or (U+FFFD, bytes the
    JVM replaces by it): Java 17's ``String`` UTF-8 decoder with replacement, case by case. A
    truncated sequence at the end of the text is replaced whole."""
    b1 = np.int64(data[position])
    remaining = end - position
    if 0xC2 <= b1 <= 0xDF:
        if remaining >= 2 and _continues(data[position + 1]):
            return ((b1 & 0x1F) << 6) | np.int64(data[position + 1] & 0x3F), 2
        return _REPLACEMENT, 1
    if 0xE0 <= b1 <= 0xEF:
        if remaining >= 3:
            b2, b3 = np.int64(data[position + 1]), np.int64(data[position + 2])
            bad_second = (b1 == 0xE0 and (b2 & 0xE0) == 0x80) or not _continues(b2)
            if bad_second or not _continues(b3):
                return _REPLACEMENT, 1 if bad_second else 2
            code_point = ((b1 & 0x0F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F)
            return (_REPLACEMENT if 0xD800 <= code_point <= 0xDFFF else code_point), 3
        if remaining == 2:
            b2 = np.int64(data[position + 1])
            if (b1 == 0xE0 and (b2 & 0xE0) == 0x80) or not _continues(b2):
                return _REPLACEMENT, 1
        return _REPLACEMENT, remaining
    if 0xF0 <= b1 <= 0xF7:
        if remaining >= 4:
            b2, b3, b4 = np.int64(data[position + 1]), np.int64(data[position + 2]), np.int64(data[position + 3])
            code_point = ((b1 & 0x07) << 18) | ((b2 & 0x3F) << 12) | ((b3 & 0x3F) << 6) | (b4 & 0x3F)
            if _continues(b2) and _continues(b3) and _continues(b4) and 0x10000 <= code_point <= LAST_CODE_POINT:
                return code_point, 4
            if b1 > 0xF4 or _bad_second_of_four(b1, b2):
                return _REPLACEMENT, 1
            return _REPLACEMENT, 3 if _continues(b3) else 2
        if b1 > 0xF4 or (remaining >= 2 and _bad_second_of_four(b1, np.int64(data[position + 1]))):
            return _REPLACEMENT, 1
        if remaining == 3 and not _continues(data[position + 2]):
            return _REPLACEMENT, 2
        return _REPLACEMENT, remaining
    return _REPLACEMENT, 1  # a continuation byte, an overlong 2-byte lead, or 0xF8 and above


@numba.njit(cache=True, nogil=True)
def _bad_second_of_four(b1, b2):
    return (b1 == 0xF0 and (b2 < 0x90 or b2 > 0xBF)) or (b1 == 0xF4 and (b2 & 0xF0) != 0x80) or not _continues(b2)


@numba.njit(cache=True, nogil=True)
def _encoded(out, o, code_point):
    """Writes the code point as UTF-8 at ``o``; returns the position after it."""
    if code_point < 0x80:
        out[o] = code_point
        return o + 1
    if code_point < 0x800:
        out[o] = 0xC0 | (code_point >> 6)
        out[o + 1] = 0x80 | (code_point & 0x3F)
        return o + 2
    if code_point < 0x10000:
        out[o] = 0xE0 | (code_point >> 12)
        out[o + 1] = 0x80 | ((code_point >> 6) & 0x3F)
        out[o + 2] = 0x80 | (code_point & 0x3F)
        return o + 3
    out[o] = 0xF0 | (code_point >> 18)
    out[o + 1] = 0x80 | ((code_point >> 12) & 0x3F)
    out[o + 2] = 0x80 | ((code_point >> 6) & 0x3F)
    out[o + 3] = 0x80 | (code_point & 0x3F)
    return o + 4
