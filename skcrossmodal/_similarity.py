"""Similarity between query and gallery embeddings, and the exact top-k search.

The one implementation of cosine / dot / euclidean scoring, of the block
sizes that ``batch_size="auto"`` picks from scikit-learn's ``working_memory``,
and of the running top-k that every search engine of
:mod:`skcrossmodal._engines` shares, used by :mod:`skcrossmodal.metrics`,
:mod:`skcrossmodal.retrieval` and :class:`skcrossmodal.mapping.KNNMapper`.
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import warnings

import numpy as np
from sklearn import get_config

SIMILARITIES = ("cosine", "dot", "euclidean")

# Entries of one score tile of a top-k search: 4 MiB of float32, so that the
# steps run once per tile cost little beside its matrix product, while the
# heap kernel still reads the tile back from cache (docs/retrieval.md).
TILE_ENTRIES = 2**20
# Largest block of queries of a top-k search with batch_size="auto".
AUTO_BATCH_ROWS = 1024


def check_similarity(similarity):
    if similarity not in SIMILARITIES:
        raise ValueError(
            f"similarity must be one of {SIMILARITIES}, got {similarity!r}."
        )


def prepare(A, similarity):
    """Return ``A`` (and its squared norms) ready for :func:`similarity`.

    Cosine rows are L2-normalised once by :func:`unit_rows` (a zero row stays
    zero, and no norm overflows); euclidean keeps the squared norms so that a
    block costs one matrix product.
    """
    check_similarity(similarity)
    A = np.asarray(A)
    if A.dtype.kind != "f":
        A = A.astype(np.float64)
    if similarity == "cosine":
        return unit_rows(A), None
    if similarity == "euclidean":
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
    remedy = "rescale it or use similarity='cosine'"
    if dtype == np.float32:
        remedy = "rescale it, use float64 or similarity='cosine'"
    raise ValueError(
        f"{what} is too large for its dtype {dtype.name}: the squared norm of its "
        f"row {bad[0]} overflows, and euclidean scores (2 q.g - |q|^2 - |g|^2) need "
        f"it; {remedy}."
    )


def check_finite_scores(
    Q,
    G,
    similarity,
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
    similarity : {"cosine", "dot", "euclidean"}
        How the rows compare.
    q_sq, g_sq : ndarray, default=None
        Their squared norms, for ``"euclidean"``.
    g_peak : float, default=None
        ``peak_magnitude(G)``, if known (a fitted gallery keeps it).
    dtype : data-type, default=None
        The dtype the scores are computed in (``Q``'s when None).
    queries, gallery : str
        What ``Q`` and ``G`` are, for the message.
    """
    if similarity == "cosine":
        return
    dtype = np.dtype(Q.dtype if dtype is None else dtype)
    q_peak = peak_magnitude(Q)
    g_peak = peak_magnitude(G) if g_peak is None else g_peak
    n_features = Q.shape[1]
    if similarity == "dot":
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
            if similarity == "euclidean":
                q_sq = np.einsum("ij,ij->i", Q, Q)
                g_sq = np.einsum("ij,ij->i", G, G)
        step = block_rows(G.shape[0] * dtype.itemsize)
        for start, _, S in prepared_blocks(Q, G, similarity, step, q_sq, g_sq):
            bad = np.flatnonzero(~np.isfinite(S).all(axis=1))
            if bad.size:
                first_bad_row = start + bad[0]
                break
        else:
            return
    where = dtype.name
    remedy = "rescale them or use similarity='cosine'"
    if cast:
        where += ", the dtype the search computes in"
    elif dtype == np.float32:
        remedy = "rescale them, use similarity='cosine' or float64 embeddings"
    raise ValueError(
        f"The {similarity} scores of {queries} against {gallery} overflow {where} "
        f"(first at query row {first_bad_row}): the embeddings are too large for "
        f"their dtype (largest absolute entries {q_peak:.3g} and {g_peak:.3g}); "
        f"{remedy}."
    )


def pairwise_similarity(
    Q, G, similarity="cosine", *, prepared=False, q_sq=None, g_sq=None, out=None
):
    """Similarity of every query row to every gallery row (higher is closer).

    ``"euclidean"`` returns the negative squared distance, which ranks exactly
    as the negative distance does. ``out``, if given, receives the result
    (shape ``(len(Q), len(G))``), so that a tile loop can reuse one buffer.
    """
    if not prepared:
        Q, q_sq = prepare(Q, similarity)
        G, g_sq = prepare(G, similarity)
    S = np.matmul(Q, G.T, out=out)
    if similarity == "euclidean":
        S *= 2.0
        S -= q_sq[:, None]
        S -= g_sq[None, :]
    return S


def working_memory_bytes():
    """scikit-learn's ``working_memory`` setting (MiB), in bytes."""
    return int(get_config()["working_memory"] * 2**20)


def block_rows(row_bytes, batch_size="auto", max_rows=None):
    """Rows per block: ``batch_size``, or for ``"auto"`` as many as fit in
    ``working_memory`` at ``row_bytes`` each.

    ``"auto"`` is the rule of :func:`sklearn.metrics.pairwise_distances_chunked`
    (``sklearn.utils._chunking.get_chunk_n_rows``): at least one row, with a
    warning when one row does not fit.
    """
    if batch_size != "auto":
        rows = int(batch_size)
    else:
        rows = working_memory_bytes() // max(1, int(row_bytes))
        if rows < 1:
            warnings.warn(
                "Could not adhere to working_memory config. Currently "
                f"{get_config()['working_memory']:.0f}MiB, "
                f"{np.ceil(row_bytes / 2**20):.0f}MiB required.",
                stacklevel=3,
            )
            rows = 1
    return rows if max_rows is None else max(1, min(rows, max_rows))


def iter_similarity_blocks(Q, G, similarity="cosine", batch_size="auto"):
    """Yield ``(start, stop, S)`` with ``S = pairwise_similarity(Q[start:stop], G)``.

    Memory is bounded by one block of ``batch_size`` query rows (for
    ``"auto"``, as many as fit in ``working_memory``), never the full
    ``n_queries x n_gallery`` matrix.
    """
    Q, q_sq = prepare(Q, similarity)
    G, g_sq = prepare(G, similarity)
    if Q.shape[1] != G.shape[1]:
        raise ValueError(
            f"Queries have {Q.shape[1]} features but the gallery has {G.shape[1]}; "
            "both must live in the same space."
        )
    itemsize = np.result_type(Q.dtype, G.dtype).itemsize
    step = block_rows(G.shape[0] * itemsize, batch_size, max_rows=Q.shape[0])
    yield from prepared_blocks(Q, G, similarity, step, q_sq, g_sq)


def prepared_blocks(Q, G, similarity, step, q_sq=None, g_sq=None):
    """Yield ``(start, stop, S)`` for blocks of ``step`` prepared query rows.

    ``Q`` and ``G`` (and the squared norms ``q_sq``, ``g_sq`` for
    ``"euclidean"``) are already prepared (:func:`prepare`).
    """
    for start in range(0, Q.shape[0], step):
        stop = min(start + step, Q.shape[0])
        S = pairwise_similarity(
            Q[start:stop],
            G,
            similarity,
            prepared=True,
            q_sq=None if q_sq is None else q_sq[start:stop],
            g_sq=g_sq,
        )
        yield start, stop, S


def search_blocks(n_queries, n_gallery, keep, itemsize, batch_size="auto", n_threads=1):
    """``(rows, columns)`` of the score tiles of a top-k search.

    Each of ``n_threads`` threads scores blocks of ``rows`` queries against
    ``columns`` gallery rows at a time. ``rows`` is ``batch_size``, or for
    ``"auto"`` at most ``AUTO_BATCH_ROWS``, in a number of blocks that the
    threads share evenly; a tile holds about ``TILE_ENTRIES`` entries. With
    ``"auto"``, the threads' tiles together also fit in ``working_memory``.
    """
    if batch_size == "auto":
        n_blocks = -(-n_queries // AUTO_BATCH_ROWS)
        n_blocks = -(-n_blocks // n_threads) * n_threads
        rows = -(-n_queries // n_blocks)
    else:
        rows = min(n_queries, int(batch_size))
    columns = min(n_gallery, max(keep, TILE_ENTRIES // rows))
    # Tiles of equal width (no narrow last tile with its fixed costs).
    columns = max(min(keep, n_gallery), -(-n_gallery // -(-n_gallery // columns)))
    if batch_size == "auto":
        budget = max(keep, working_memory_bytes() // (n_threads * itemsize))
        if rows * columns > budget:
            columns = min(columns, max(keep, budget // rows))
            rows = max(1, min(rows, budget // columns))
    return rows, columns


class RunningTopK:
    """The ``keep`` highest scores of each query over successive tiles.

    The one result heap of every search engine, modelled on faiss's
    ``ResultHeap`` (``faiss/python/extra_wrappers.py``): a per-query top-k
    that each tile of scores is merged into. A tile holds one row per gallery
    item and one column per query (``gallery_tile @ queries.T``), so that
    each gallery item's scores are compared with every query's lowest held
    score in one vectorised pass; the compiled kernel is
    :func:`skcrossmodal._heap.push_tile`.

    The kept values are exact. Among entries equal to the cut-off, the first
    pushed is kept; :func:`settle_ties` rescores the queries where the tie
    order matters.

    Parameters
    ----------
    n_queries : int
        Number of queries.
    keep : int
        Number of scores kept per query.
    dtype : data-type
        Dtype of the scores.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._similarity import RunningTopK, sort_candidates
    >>> top = RunningTopK(1, 2, np.float64)
    >>> top.push(np.array([[0.1], [0.9], [0.3]]), offset=0)
    >>> top.push(np.array([[0.5], [0.2]]), offset=3)
    >>> sort_candidates(*top.result())
    (array([[0.9, 0.5]]), array([[1, 3]]))
    """

    def __init__(self, n_queries, keep, dtype):
        # Imported here: loading numba takes about a second, which importing
        # skcrossmodal should not cost.
        from skcrossmodal._heap import push_tile

        self.keep = keep
        self._push_tile = push_tile
        self._scores = np.full((n_queries, keep), -np.inf, dtype=dtype)
        self._indices = np.full((n_queries, keep), -1, dtype=np.int64)
        self._floors = None  # set from the first tile
        self._mark = np.zeros(-(-n_queries // 8) * 8, dtype=np.uint8)

    def push(self, T, offset):
        """Merge the tile ``T`` of shape ``(n_tile_rows, n_queries)``: the
        scores of gallery rows ``offset:offset + n_tile_rows``."""
        n_queries = self._scores.shape[0]
        if T.ndim != 2 or T.shape[1] != n_queries or T.dtype != self._scores.dtype:
            raise ValueError(
                f"A tile must be of shape (n_tile_rows, {n_queries}) and dtype "
                f"{self._scores.dtype.name}, got {T.shape} of {T.dtype.name}."
            )
        if self._floors is None:
            self._floors = self._floors_from(T)
        self._push_tile(
            np.ascontiguousarray(T),
            offset,
            self._scores,
            self._indices,
            self._floors,
            self._mark,
        )

    def _floors_from(self, T):
        """Per query, a score below its ``keep``-th best: below the ``keep``-th
        highest of the maxima of ``4 keep`` groups of the tile's rows, which
        are ``keep`` of its entries. Only entries above it are offered to the
        heap, sparing most of the insertions that the first rows would make
        into a heap still empty."""
        n_tile_rows, n_queries = T.shape
        n_groups = min(n_tile_rows, 4 * self.keep)
        if n_groups < self.keep:
            return np.full(n_queries, -np.inf, dtype=T.dtype)
        size = n_tile_rows // n_groups
        maxima = T[: n_groups * size].reshape(n_groups, size, n_queries).max(axis=1)
        kth = np.partition(maxima, n_groups - self.keep, axis=0)[n_groups - self.keep]
        return np.nextafter(kth, -np.inf)

    def result(self):
        """``(scores, indices)`` of shape ``(n_queries, keep)``: the kept entries
        and their gallery rows, unordered within a query."""
        return self._scores, self._indices


def sort_candidates(scores, indices):
    """Sort each row best first, equal scores by lower gallery row.

    This is the tie order of every search. A missing result (index -1, as an
    approximate index returns) comes after every found one.
    """
    order = np.lexsort(
        (np.where(indices < 0, np.iinfo(np.int64).max, indices), -scores), axis=-1
    )
    return (
        np.take_along_axis(scores, order, axis=1),
        np.take_along_axis(indices, order, axis=1),
    )


def merge_top_k(parts, k):
    """Merge per-shard top-k results into the top-k of the whole gallery.

    The merge is associative (any grouping of the shards gives the same
    result), so it can run as a tree reduction over shards.

    Parameters
    ----------
    parts : list of tuple
        ``(scores, rows, *payload)`` per shard: ``(n_queries, k_i)`` arrays of
        the scores and *global* gallery rows of one shard's results for the
        same queries, as :meth:`Engine.search` returns them; a payload (e.g.
        the gallery ids) is reordered along with the rows.
    k : int
        Number of results kept per query.

    Returns
    -------
    merged : tuple
        ``(scores, rows, *payload)`` of shape ``(n_queries, min(k, sum of
        k_i))``, in the order of :func:`sort_candidates`: best first, equal
        scores by lower gallery row, missing results last. When each part
        holds its shard's exact top-k, this is a search of the whole gallery.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._similarity import merge_top_k
    >>> merge_top_k([(np.array([[0.9, 0.5]]), np.array([[7, 2]])),
    ...              (np.array([[0.5, 0.1]]), np.array([[1, 4]]))], 2)
    (array([[0.9, 0.5]]), array([[7, 1]]))
    """
    columns = [
        np.concatenate([np.asarray(part[j]) for part in parts], axis=1)
        for j in range(len(parts[0]))
    ]
    columns[1] = columns[1].astype(np.int64, copy=False)
    scores, rows = columns[0], columns[1]
    order = np.lexsort(
        (np.where(rows < 0, np.iinfo(np.int64).max, rows), -scores), axis=-1
    )[:, :k]
    return tuple(np.take_along_axis(column, order, axis=1) for column in columns)


def settle_ties(scores, indices, k, rescore):
    """Sorted top-``k`` from ``k + 1`` unordered candidates per query.

    ``k + 1`` candidates show whether a tie crosses the cut-off; only the
    queries where one does are rescored in full by ``rescore(rows)``, so the
    result never depends on how an engine orders equal scores.
    """
    scores, indices = sort_candidates(scores, indices)
    if scores.shape[1] > k:
        tied = np.flatnonzero(scores[:, k] == scores[:, k - 1])
        if tied.size:
            scores[tied, :k], indices[tied, :k] = rescore(tied)
    return scores[:, :k], indices[:, :k]


def rescore_top_k(Q, G, k, similarity, q_sq=None, g_sq=None):
    """Top-k of a few prepared queries by scoring the whole gallery, ties to the
    lower row."""
    n_gallery = G.shape[0]
    rows = max(1, TILE_ENTRIES // n_gallery)
    scores = np.empty((Q.shape[0], k), dtype=G.dtype)
    indices = np.empty((Q.shape[0], k), dtype=np.int64)
    for start, _, S in prepared_blocks(Q, G, similarity, rows, q_sq, g_sq):
        kth = np.partition(S, n_gallery - k, axis=1)[:, n_gallery - k]
        for r, (row, threshold) in enumerate(zip(S, kth, strict=True)):
            above = np.flatnonzero(row > threshold)
            tied = np.flatnonzero(row == threshold)[: k - above.size]
            chosen = np.concatenate([above, tied])
            order = np.lexsort((chosen, -row[chosen]))
            indices[start + r] = chosen[order]
            scores[start + r] = row[chosen[order]]
    return scores, indices
