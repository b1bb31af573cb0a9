"""Similarity between query and gallery embeddings, computed in bounded blocks.

The one implementation of cosine / dot / euclidean scoring, and of the exact
top-k search over it, used by :mod:`skcrossmodal.metrics`,
:mod:`skcrossmodal.retrieval` and :class:`skcrossmodal.mapping.KNNMapper`.
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
from threadpoolctl import ThreadpoolController

SIMILARITY_METRICS = ("cosine", "dot", "euclidean")

# Upper bound on the entries of one query x gallery score block (64 MiB of float64).
DEFAULT_BLOCK_ENTRIES = 2**23
# Entries of one score tile of a top-k search: 16 MiB of float32.
TILE_ENTRIES = 2**22
# Largest block of queries of a top-k search with batch_size="auto".
AUTO_BATCH_ROWS = 1024
# Columns per group whose maximum screens a score tile (see RunningTopK).
GROUP_SIZE = 16
# Cost of gathering one entry of a passing group, in passes over one entry:
# above 1 / GATHER_COST of the tile in passing groups, rescan the whole tile.
GATHER_COST = 32


def check_similarity_metric(metric):
    if metric not in SIMILARITY_METRICS:
        raise ValueError(
            f"metric must be one of {SIMILARITY_METRICS}, got {metric!r}."
        )


def prepare(A, metric):
    """Return ``A`` (and its squared norms) ready for :func:`similarity`.

    Cosine rows are L2-normalised once (a zero row stays zero); euclidean keeps
    the squared norms so that a block costs one matrix product.
    """
    check_similarity_metric(metric)
    A = np.asarray(A)
    if A.dtype.kind != "f":
        A = A.astype(np.float64)
    if metric == "cosine":
        norms = np.linalg.norm(A, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return A / norms, None
    if metric == "euclidean":
        return A, np.einsum("ij,ij->i", A, A)
    return A, None


def similarity(
    Q, G, metric="cosine", *, prepared=False, q_sq=None, g_sq=None, out=None
):
    """Similarity of every query row to every gallery row (higher is closer).

    ``"euclidean"`` returns the negative squared distance, which ranks exactly
    as the negative distance does. ``out``, if given, receives the result
    (shape ``(len(Q), len(G))``), so that a tile loop can reuse one buffer.
    """
    if not prepared:
        Q, q_sq = prepare(Q, metric)
        G, g_sq = prepare(G, metric)
    S = np.matmul(Q, G.T, out=out)
    if metric == "euclidean":
        S *= 2.0
        S -= q_sq[:, None]
        S -= g_sq[None, :]
    return S


def batch_rows(n_columns, batch_size="auto", max_entries=DEFAULT_BLOCK_ENTRIES):
    """Number of query rows per block so that a block holds at most ``max_entries``."""
    if batch_size == "auto":
        return max(1, max_entries // max(1, n_columns))
    return int(batch_size)


def iter_similarity_blocks(Q, G, metric="cosine", batch_size="auto"):
    """Yield ``(start, stop, S)`` with ``S = similarity(Q[start:stop], G)``.

    Memory is bounded by one block of ``batch_size`` query rows (by default
    about 64 MiB), never the full ``n_queries x n_gallery`` matrix.
    """
    Q, q_sq = prepare(Q, metric)
    G, g_sq = prepare(G, metric)
    if Q.shape[1] != G.shape[1]:
        raise ValueError(
            f"Queries have {Q.shape[1]} features but the gallery has {G.shape[1]}; "
            "both must live in the same space."
        )
    step = batch_rows(G.shape[0], batch_size)
    for start in range(0, Q.shape[0], step):
        stop = min(start + step, Q.shape[0])
        yield start, stop, similarity(
            Q[start:stop],
            G,
            metric,
            prepared=True,
            q_sq=None if q_sq is None else q_sq[start:stop],
            g_sq=g_sq,
        )


def top_k_batch_rows(n_queries, batch_size="auto", n_threads=1):
    """Queries per block of a top-k search.

    ``batch_size``, or for ``"auto"`` at most ``AUTO_BATCH_ROWS`` with a number
    of blocks that ``n_threads`` share evenly.
    """
    if batch_size != "auto":
        return min(n_queries, int(batch_size))
    n_blocks = -(-n_queries // AUTO_BATCH_ROWS)
    n_blocks = -(-n_blocks // n_threads) * n_threads
    return -(-n_queries // n_blocks)


def tile_columns(n_rows, keep):
    """Gallery rows per score tile of ``n_rows`` queries (at least ``keep``)."""
    return max(keep, TILE_ENTRIES // n_rows)


@lru_cache(maxsize=1)
def _blas_controller():
    """numpy's BLAS, found once: scanning the loaded libraries costs ~5 ms."""
    return ThreadpoolController()


def top_k_candidates(
    Q, G, keep, metric, *, q_sq=None, g_sq=None, batch_size="auto", n_threads=1
):
    """The ``keep`` highest scores of each query and their gallery rows, unordered.

    ``Q`` and ``G`` are :func:`prepare`-d. Query blocks run in ``n_threads``
    threads, each with one BLAS thread (numpy releases the GIL), scoring
    tiles of about ``TILE_ENTRIES`` entries into one reused buffer and
    keeping a :class:`RunningTopK`. The kept values are exact; which of
    several entries equal to a query's cut-off is kept is not defined
    (:func:`top_k_similarity` settles it).
    """
    n_gallery = G.shape[0]
    rows = top_k_batch_rows(Q.shape[0], batch_size, n_threads)
    cols = tile_columns(rows, keep)
    euclidean = metric == "euclidean"
    if euclidean:
        # Within a query row, q.g - |g|^2 / 2 ranks as -|q - g|^2 does (it is
        # half of it plus |q|^2 / 2) and costs one pass over a tile, not three.
        half_g_sq = g_sq / 2

    def block(start):
        stop = min(start + rows, Q.shape[0])
        q = Q[start:stop]
        buffer = np.empty(q.shape[0] * min(cols, n_gallery), dtype=Q.dtype)
        top = RunningTopK(q.shape[0], keep, Q.dtype)
        for g_start in range(0, n_gallery, cols):
            g_stop = min(g_start + cols, n_gallery)
            tile = buffer[: q.shape[0] * (g_stop - g_start)].reshape(q.shape[0], -1)
            S = np.matmul(q, G[g_start:g_stop].T, out=tile)
            if euclidean:
                S -= half_g_sq[g_start:g_stop]
            top.push(S, g_start)
        if euclidean:
            return 2.0 * top.scores - q_sq[start:stop, None], top.indices
        return top.scores, top.indices

    starts = range(0, Q.shape[0], rows)
    n_threads = min(n_threads, len(starts))
    if n_threads == 1:
        results = [block(start) for start in starts]
    else:
        with (
            _blas_controller().limit(limits=1, user_api="blas"),
            ThreadPoolExecutor(n_threads) as pool,
        ):
            results = list(pool.map(block, starts))
    return (
        np.concatenate([scores for scores, _ in results]),
        np.concatenate([indices for _, indices in results]),
    )


def top_k_similarity(
    Q,
    G,
    k,
    metric="cosine",
    *,
    q_sq=None,
    g_sq=None,
    batch_size="auto",
    n_threads=1,
    candidates=None,
):
    """Exact top-k gallery rows of each query, best first, ties to the lower row.

    ``Q`` and ``G`` are :func:`prepare`-d, ``k <= len(G)``. The ``k + 1``
    best candidates come from :func:`top_k_candidates`, or from
    ``candidates(keep)`` (another engine: torch, faiss); the extra candidate
    shows whether a tie crosses the cut-off, and only the queries where one
    does are rescored in full, so the result never depends on how an engine
    orders equal scores.

    Returns
    -------
    scores, indices : ndarray of shape (n_queries, k)
    """
    keep = min(k + 1, G.shape[0])
    if candidates is None:
        scores, indices = top_k_candidates(
            Q, G, keep, metric, q_sq=q_sq, g_sq=g_sq, batch_size=batch_size,
            n_threads=n_threads,
        )
    else:
        scores, indices = candidates(keep)
    scores, indices = sort_candidates(scores, indices)
    if keep > k:
        tied = np.flatnonzero(scores[:, k] == scores[:, k - 1])
        if tied.size:
            scores[tied, :k], indices[tied, :k] = _rescore_top_k(
                Q[tied], G, k, metric, None if q_sq is None else q_sq[tied], g_sq
            )
    return scores[:, :k], indices[:, :k]


def _rescore_top_k(Q, G, k, metric, q_sq, g_sq):
    """Top-k of a few queries by scoring the whole gallery, ties to the lower row."""
    n_gallery = G.shape[0]
    rows = max(1, TILE_ENTRIES // n_gallery)
    scores = np.empty((Q.shape[0], k), dtype=G.dtype)
    indices = np.empty((Q.shape[0], k), dtype=np.int64)
    for start in range(0, Q.shape[0], rows):
        stop = min(start + rows, Q.shape[0])
        S = similarity(
            Q[start:stop], G, metric, prepared=True,
            q_sq=None if q_sq is None else q_sq[start:stop], g_sq=g_sq,
        )
        kth = np.partition(S, n_gallery - k, axis=1)[:, n_gallery - k]
        for r, (row, threshold) in enumerate(zip(S, kth)):
            above = np.flatnonzero(row > threshold)
            tied = np.flatnonzero(row == threshold)[: k - above.size]
            chosen = np.concatenate([above, tied])
            order = np.lexsort((chosen, -row[chosen]))
            indices[start + r] = chosen[order]
            scores[start + r] = row[chosen[order]]
    return scores, indices


class RunningTopK:
    """The ``keep`` highest scores of each query row over successive tiles.

    A tile is screened by the maxima of its column groups (group ``j`` holds
    the columns ``j, j + stride, j + 2 * stride, ...`` with ``stride = width //
    GROUP_SIZE``): one vectorised pass over the tile. Only the groups whose
    maximum beats the row's current cut-off (its ``keep``-th best score) are
    read again, and once a few tiles have been seen almost none do, so the
    selection costs little more than that pass (see ``benchmarks/bench_retrieval.py``).

    The kept values are exact. Among entries equal to the cut-off, which are
    kept is not defined; `top_k_similarity` rescores the rows
    where that matters.
    """

    def __init__(self, n_rows, keep, dtype):
        self.keep = keep
        self.scores = np.full((n_rows, keep), -np.inf, dtype=dtype)
        self.indices = np.full((n_rows, keep), -1, dtype=np.int64)
        self.cutoff = None  # lowest kept score of each row, once a tile was seen

    def push(self, S, offset):
        """Merge the score tile ``S`` of gallery columns ``offset:offset + width``."""
        rows, columns, values = self._candidates(S)
        self._merge(rows, columns + offset, values)
        if self.cutoff is None:
            self.cutoff = self.scores.min(axis=1)

    def _lower_bounds(self, maxima):
        """Per row, the lowest score that can still enter the top ``keep``."""
        if self.cutoff is not None:
            return np.nextafter(self.cutoff, np.inf)  # strictly above the cut-off
        if maxima is None:
            return np.full(self.scores.shape[0], -np.inf, dtype=self.scores.dtype)
        # First tile: its ``keep`` highest group maxima are entries of the tile,
        # so its top ``keep`` are at least as high as the lowest of them.
        n_groups = maxima.shape[1]
        return np.partition(maxima, n_groups - self.keep, axis=1)[:, n_groups - self.keep]

    def _candidates(self, S):
        """Rows (sorted), columns and values of the entries of ``S`` that may enter."""
        n_rows, width = S.shape
        stride = width // GROUP_SIZE
        if stride < self.keep:  # a narrow tile: screen every entry
            return _entries_at_least(S, self._lower_bounds(None))
        body = stride * GROUP_SIZE
        maxima = S[:, :body].reshape(n_rows, GROUP_SIZE, stride).max(axis=1)
        bounds = self._lower_bounds(maxima)
        passing = np.flatnonzero(maxima >= bounds[:, None])
        if passing.size * GROUP_SIZE * GATHER_COST > S.size:
            # Many groups pass (the first tiles): a group's entries lie on
            # different cache lines, so one more pass over the tile is cheaper.
            return _entries_at_least(S, bounds)
        group_rows, groups = np.divmod(passing, stride)
        columns = groups[:, None] + stride * np.arange(GROUP_SIZE)
        values = np.take(S, columns + (group_rows * width)[:, None])
        hit = values >= bounds[group_rows, None]
        rows = np.broadcast_to(group_rows[:, None], columns.shape)[hit]
        columns, values = columns[hit], values[hit]
        if body == width:
            return rows, columns, values
        tail_rows, tail_columns = np.nonzero(S[:, body:] >= bounds[:, None])
        rows = np.concatenate([rows, tail_rows])
        order = np.argsort(rows, kind="stable")
        columns = np.concatenate([columns, tail_columns + body])[order]
        values = np.concatenate([values, S[tail_rows, tail_columns + body]])[order]
        return rows[order], columns, values

    def _merge(self, rows, columns, values):
        """Keep the ``keep`` best of the held scores and the candidates.

        ``rows`` must be sorted: candidates of one row are contiguous.
        """
        if rows.size == 0:
            return
        counts = np.bincount(rows, minlength=self.scores.shape[0])
        touched = np.flatnonzero(counts)
        slots = np.cumsum(counts > 0) - 1
        positions = np.arange(rows.size) - (np.cumsum(counts) - counts)[rows]
        width = self.keep + int(counts.max())
        scores = np.full((touched.size, width), -np.inf, dtype=self.scores.dtype)
        indices = np.full((touched.size, width), -1, dtype=np.int64)
        scores[:, : self.keep] = self.scores[touched]
        indices[:, : self.keep] = self.indices[touched]
        scores[slots[rows], self.keep + positions] = values
        indices[slots[rows], self.keep + positions] = columns
        best = np.argpartition(scores, width - self.keep, axis=1)[:, width - self.keep :]
        self.scores[touched] = np.take_along_axis(scores, best, axis=1)
        self.indices[touched] = np.take_along_axis(indices, best, axis=1)
        if self.cutoff is not None:
            self.cutoff[touched] = self.scores[touched].min(axis=1)


def _entries_at_least(S, bounds):
    """Rows (sorted), columns and values of the entries of ``S`` at least ``bounds``."""
    flat = np.flatnonzero(S >= bounds[:, None])
    rows, columns = np.divmod(flat, S.shape[1])
    return rows, columns, np.take(S, flat)


def sort_candidates(scores, indices):
    """Sort each row best first, equal scores by lower gallery row."""
    order = np.lexsort((indices, -scores), axis=-1)
    return (
        np.take_along_axis(scores, order, axis=1),
        np.take_along_axis(indices, order, axis=1),
    )
