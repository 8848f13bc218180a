"""The bytes of Arrow string and binary arrays as the compiled (numba) kernels read them: the
offsets and data buffers without copying the bytes, and little-endian words loaded from them.
Shared by the fused scorer's kernels and the gold profile's id hashing."""

from __future__ import annotations

import numba
import numpy as np
import pyarrow as pa


def byte_buffers(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(the int64 offsets of each value into the bytes, the bytes) of a string, large_string,
    binary or large_binary array (nulls read as whatever their slots hold, usually empty)."""
    large = pa.types.is_large_string(values.type) or pa.types.is_large_binary(values.type)
    _, offset_buffer, data_buffer = values.buffers()
    if len(values) == 0 or data_buffer is None:
        return np.zeros(len(values) + 1, np.int64), np.zeros(0, np.uint8)
    offsets = np.frombuffer(offset_buffer, np.int64 if large else np.int32)[values.offset : values.offset + len(values) + 1]
    return offsets.astype(np.int64), np.frombuffer(data_buffer, np.uint8)


@numba.njit(cache=True, nogil=True)
def little_endian_word(data, at, count):
    """The bytes ``data[at : at + min(count, 8)]`` as one little-endian word, zero-padded: one
    8-byte load (the byte loads are indexed unsigned, so without wraparound tests, which lets LLVM
    merge them) and a mask, but byte by byte at the end of the buffer, never read past."""
    if at + 8 > len(data):
        word = np.uint64(0)
        for i in range(min(count, 8)):
            word |= np.uint64(data[at + i]) << np.uint64(8 * i)
        return word
    unsigned_at = np.uint64(at)
    word = np.uint64(0)
    for i in range(8):
        word |= np.uint64(data[unsigned_at + np.uint64(i)]) << np.uint64(8 * i)
    half = np.uint64(4 * min(count, 8))  # the mask's shift in two halves: a shift by 64 is undefined
    return word & ~((~np.uint64(0) << half) << half)
