"""Spark's ``xxhash64()`` of string columns on Arrow arrays, compiled: XXH64 (Yann Collet's
64-bit xxHash) of each value's UTF-8 bytes with Spark's seed, 42. The gold profile hashes every
posting id this way; one call per id through the ``xxhash`` package cost more than the rest of
the profile. The tests compare it with that package and with Spark itself.
"""

from __future__ import annotations

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobtagger.arrow_bytes import byte_buffers, little_endian_word

SPARK_XXHASH64_SEED = 42  # what Spark's xxhash64() uses

_P1 = np.uint64(11400714785074694791)
_P2 = np.uint64(14029467366897019727)
_P3 = np.uint64(1609587929392839161)
_P4 = np.uint64(9650029242287828579)
_P5 = np.uint64(2870177450012600261)


def xxhash64(values: pa.Array, *, seed: int = SPARK_XXHASH64_SEED) -> np.ndarray:
    """The signed 64-bit hash of each non-null value (string or binary), as Spark's ``xxhash64``."""
    offsets, data = byte_buffers(pc.drop_null(values))
    return _hashes(offsets, data, np.uint64(seed)).view(np.int64)


@numba.njit(cache=True, nogil=True)
def _hashes(offsets, data, seed):
    hashes = np.empty(len(offsets) - 1, np.uint64)
    for i in range(len(hashes)):
        hashes[i] = _xxh64(data, offsets[i], offsets[i + 1], seed)
    return hashes


@numba.njit(cache=True, nogil=True, inline="always")
def _rotl(value, bits):
    return (value << np.uint64(bits)) | (value >> np.uint64(64 - bits))


@numba.njit(cache=True, nogil=True, inline="always")
def _round(accumulator, lane):
    return _rotl(accumulator + lane * _P2, 31) * _P1


@numba.njit(cache=True, nogil=True, inline="always")
def _merged(accumulator, lane):
    return (accumulator ^ _round(np.uint64(0), lane)) * _P1 + _P4


@numba.njit(cache=True, nogil=True)
def _xxh64(data, start, end, seed):
    position, length = start, np.uint64(end - start)
    if end - start >= 32:
        v1, v2, v3, v4 = seed + _P1 + _P2, seed + _P2, seed, seed - _P1
        while position + 32 <= end:
            v1 = _round(v1, little_endian_word(data, position, 8))
            v2 = _round(v2, little_endian_word(data, position + 8, 8))
            v3 = _round(v3, little_endian_word(data, position + 16, 8))
            v4 = _round(v4, little_endian_word(data, position + 24, 8))
            position += 32
        hashed = _rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)
        hashed = _merged(_merged(_merged(_merged(hashed, v1), v2), v3), v4)
    else:
        hashed = seed + _P5
    hashed += length
    while position + 8 <= end:
        hashed = _rotl(hashed ^ _round(np.uint64(0), little_endian_word(data, position, 8)), 27) * _P1 + _P4
        position += 8
    if position + 4 <= end:
        hashed = _rotl(hashed ^ (little_endian_word(data, position, 4) * _P1), 23) * _P2 + _P3
        position += 4
    while position < end:
        hashed = _rotl(hashed ^ (np.uint64(data[position]) * _P5), 11) * _P1
        position += 1
    hashed ^= hashed >> np.uint64(33)
    hashed *= _P2
    hashed ^= hashed >> np.uint64(29)
    hashed *= _P3
    hashed ^= hashed >> np.uint64(32)
    return hashed
