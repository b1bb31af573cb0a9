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

    Cosine rows are L2-normalised once by :func:`unit_rows` (a zero row stays
    zero, and no norm overflows); euclidean keeps the squared norms so that a
    block costs one matrix product.
    """
    check_similarity_metric(metric)
    A = np.asarray(A)
    if A.dtype.kind != "f":
        A = A.astype(np.float64)
    if metric == "cosine":
        return unit_rows(A), None
    if metric == "euclidean":
        return A, np.einsum("ij,ij->i", A, A)
    return A, None


def unit_rows(A):
    """The rows of ``A`` divided by their L2 norms; a zero row stays zero.

    Each row is first scaled by the power of two of its largest absolute
    value, so that its norm neither overflows (rows of norm above ``sqrt(max)``:
    about 1.3e154 in float64, 1.8e19 in float32) nor underflows (the reference
    BLAS ``dnrm2`` scales by the largest entry for the same reason). Scaling
    by a power of two is exact, so it changes nothing else.

    Parameters
    ----------
    A : ndarray of shape (n_rows, n_features), float
        Finite rows.

    Returns
    -------
    unit : ndarray of shape (n_rows, n_features)
        A new array of ``A``'s dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._similarity import unit_rows
    >>> unit_rows(np.array([[3e200, 4e200], [0.0, 0.0]]))
    array([[0.6, 0.8],
           [0. , 0. ]])
    """
    peak = np.maximum(A.max(axis=1, initial=0), -A.min(axis=1, initial=0))
    _, exponent = np.frexp(peak)  # peak = m * 2**exponent, 0.5 <= m < 1; 0 -> 0
    # 2**-exponent stays finite (rows below 2**(1 - maxexp) are rescaled less).
    exponent = np.maximum(exponent, 1 - np.finfo(A.dtype).maxexp)
    unit = A * np.ldexp(np.ones_like(peak), -exponent)[:, None]
    norms = np.sqrt(np.einsum("ij,ij->i", unit, unit))[:, None]
    norms[norms == 0] = 1.0
    unit /= norms
    return unit


def peak_magnitude(A):
    """Largest absolute entry of ``A`` as a Python float (0 for an empty array)."""
    if A.size == 0:
        return 0.0
    return max(float(A.max()), -float(A.min()))


def check_finite_sq_norms(sq_norms, what):
    """Raise a ValueError if a squared norm overflowed its dtype.

    Euclidean scores are computed as ``2 q.g - |q|^2 - |g|^2`` (one matrix
    product per block); a row whose squared norm is infinite has no finite
    score, so a gallery holding one is refused when it is indexed.

    Parameters
    ----------
    sq_norms : ndarray of shape (n_rows,)
        Squared norms, as :func:`prepare` returns them.
    what : str
        The rows, for the message (e.g. ``"The gallery ('image')"``).
    """
    bad = np.flatnonzero(~np.isfinite(sq_norms))
    if not bad.size:
        return
    dtype = sq_norms.dtype
    remedy = "rescale it or use metric='cosine'"
    if dtype == np.float32:
        remedy = "rescale it, use float64 or metric='cosine'"
    raise ValueError(
        f"{what} is too large for its dtype {dtype.name}: the squared norm of its "
        f"row {bad[0]} overflows, and euclidean scores (2 q.g - |q|^2 - |g|^2) need "
        f"it; {remedy}."
    )


def check_finite_scores(
    Q,
    G,
    metric,
    *,
    q_sq=None,
    g_sq=None,
    g_peak=None,
    dtype=None,
    queries="the queries",
    gallery="the gallery",
):
    """Raise a ValueError if a score of ``Q`` against ``G`` overflows ``dtype``.

    ``Q`` and ``G`` are :func:`prepare`-d. Cosine scores lie in [-1, 1]. A dot
    product of huge finite embeddings overflows to infinity, and a euclidean
    score then becomes ``inf - inf = nan``, which ranks nowhere; a search must
    refuse them rather than return garbage. In O(n d), bounds on the scores
    from the largest absolute entries ``a`` of ``Q`` and ``b`` of ``G`` (with
    ``d`` features, ``|q.g| <= d a b`` and ``|q - g|^2 <= d (a + b)^2``) show
    that no score can overflow; only when they cannot (entries within a factor
    of about ``sqrt(d)`` of the overflow) are the scores computed to find out.

    Parameters
    ----------
    Q, G : ndarray of shape (n_queries, d) and (n_gallery, d)
        Prepared queries and gallery.
    metric : {"cosine", "dot", "euclidean"}
        The similarity.
    q_sq, g_sq : ndarray, default=None
        Their squared norms, for ``"euclidean"``.
    g_peak : float, default=None
        ``peak_magnitude(G)``, if known (a fitted gallery keeps it).
    dtype : data-type, default=None
        The dtype the scores are computed in (``Q``'s when None).
    queries, gallery : str
        What ``Q`` and ``G`` are, for the message.
    """
    if metric == "cosine":
        return
    dtype = np.dtype(Q.dtype if dtype is None else dtype)
    q_peak = peak_magnitude(Q)
    g_peak = peak_magnitude(G) if g_peak is None else g_peak
    n_features = Q.shape[1]
    if metric == "dot":
        bound = n_features * q_peak * g_peak
    else:
        bound = n_features * (q_peak + g_peak) * (q_peak + g_peak)
    # A factor 2 covers the rounding of the sums (d * eps < 1 in either dtype).
    if bound < float(np.finfo(dtype).max) / 2:
        return
    cast = dtype != Q.dtype or dtype != G.dtype
    with np.errstate(over="ignore", invalid="ignore"):
        if cast:
            Q, G = Q.astype(dtype), G.astype(dtype)
            if metric == "euclidean":
                q_sq = np.einsum("ij,ij->i", Q, Q)
                g_sq = np.einsum("ij,ij->i", G, G)
        step = batch_rows(G.shape[0])
        for start in range(0, Q.shape[0], step):
            stop = min(start + step, Q.shape[0])
            S = similarity(
                Q[start:stop], G, metric, prepared=True,
                q_sq=None if q_sq is None else q_sq[start:stop], g_sq=g_sq,
            )
            bad = np.flatnonzero(~np.isfinite(S).all(axis=1))
            if bad.size:
                break
        else:
            return
    where = dtype.name
    remedy = "rescale them or use metric='cosine'"
    if cast:
        where += ", the dtype the search computes in"
    elif dtype == np.float32:
        remedy = "rescale them, use metric='cosine' or float64 embeddings"
    raise ValueError(
        f"The {metric} scores of {queries} against {gallery} overflow {where} "
        f"(first at query row {start + bad[0]}): the embeddings are too large for "
        f"their dtype (largest absolute entries {q_peak:.3g} and {g_peak:.3g}); "
        f"{remedy}."
    )


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
