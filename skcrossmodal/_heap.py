"""Compiled kernel of the running top-k (:class:`~skcrossmodal._similarity.RunningTopK`).

Each query holds a binary min-heap of its best scores, as faiss's
``faiss/utils/Heap.h`` does: its root is the lowest held score, and an entry
enters only if it beats the root. A score tile is read row by row (one gallery
item, every query): one vectorised comparison of the whole row with the roots
marks the entries that enter (a byte per query), and only the set bytes of the
mark are visited, 8 at a time as one 64-bit word. After the first rows of a
gallery almost every word is zero.

The functions are compiled by numba on first use (and cached on disk), and
release the GIL, so that the threads of a search run them in parallel.
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import numba
import numpy as np


def _compile(function=None, **options):
    """``numba.njit(nogil=True, cache=True)``, without the on-disk cache where
    no writable place for it exists (numba then refuses ``cache=True``)."""
    if function is None:
        return lambda function: _compile(function, **options)
    try:
        return numba.njit(nogil=True, cache=True, **options)(function)
    except RuntimeError:
        return numba.njit(nogil=True, **options)(function)


# Not inlined: in a function of its own the loop is vectorised (inlined into
# push_tile, which also writes the heaps, it is not).
@_compile(inline="never")
def _mark_entering(row, roots, mark):
    for q in range(row.shape[0]):
        mark[q] = row[q] > roots[q]


@_compile
def _replace_root(scores, indices, q, value, index):
    """Put ``(value, index)`` in place of the root of query ``q``'s heap and
    sift it down."""
    keep = scores.shape[1]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= keep:
            break
        if child + 1 < keep and scores[q, child + 1] < scores[q, child]:
            child += 1
        if scores[q, child] >= value:
            break
        scores[q, i] = scores[q, child]
        indices[q, i] = indices[q, child]
        i = child
    scores[q, i] = value
    indices[q, i] = index


# Multiplied by a word with one bit set at bit 8 j (the lowest set byte of a
# mark word, isolated), this puts j in the top byte: the byte's index without
# a loop over the bytes.
_BYTE_INDEX = np.uint64(0x0001020304050607)


@_compile
def push_tile(T, offset, scores, indices, floors, mark):
    """Merge the tile ``T`` (``n_tile_rows, n_queries``, C order) of the scores
    of gallery rows ``offset:offset + n_tile_rows`` into the heaps.

    ``scores`` and ``indices`` (``n_queries, keep``) are the heaps, ``-inf``
    and ``-1`` where empty. Only entries above ``floors`` (one per query,
    below its ``keep``-th best score) can enter. ``mark`` is a zeroed
    ``uint8`` buffer of ``n_queries`` rounded up to a multiple of 8 entries.
    """
    n_tile_rows, n_queries = T.shape
    words = mark.view(np.uint64)
    roots = np.maximum(scores[:, 0], floors)
    for r in range(n_tile_rows):
        row = T[r]
        _mark_entering(row, roots, mark)
        for w in range(words.shape[0]):
            word = words[w]
            while word:
                lowest = word & (~word + np.uint64(1))
                q = 8 * w + np.intp((lowest * _BYTE_INDEX) >> np.uint64(56))
                _replace_root(scores, indices, q, row[q], offset + r)
                roots[q] = max(scores[q, 0], floors[q])
                word ^= lowest
