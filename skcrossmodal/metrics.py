"""Retrieval metrics and scorers, in the style of :mod:`sklearn.metrics`.

Queries of one modality rank the targets of another by similarity. A target is
*relevant* to a query when it has the same label (category-level relevance, the
protocol of the Wikipedia benchmark) or, without labels, when it sits in the
same row (instance-level relevance: row ``i`` of the queries was paired with
row ``i`` of the targets).

Ranking conventions, shared by every function here:

* Targets are ranked by decreasing similarity. Tied targets share the *last*
  rank of their group: the rank of a target is the number of targets whose
  score is at least as high. This is deterministic, does not depend on the
  order of the targets, cannot be gamed by constant scores, and is the
  convention of :func:`sklearn.metrics.average_precision_score`, which treats
  tied scores as one threshold.
* Ranks are 1-based.
* A query without any relevant target is counted as a failure, never dropped:
  its average precision, reciprocal rank and recall are 0 and its rank is
  infinite. An :class:`~sklearn.exceptions.UndefinedMetricWarning` says how
  many such queries there were.

Scores are computed by :func:`skcrossmodal._similarity.iter_similarity_blocks`
in blocks of queries (``batch_size``), in the floating dtype of the embeddings
(float32 embeddings give float32 scores), so that memory is bounded by one
block and never holds the full ``n_queries x n_targets`` matrix.
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import sys
import warnings
from numbers import Integral

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils import check_array, column_or_1d
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_params,
)

from ._frame import split_modalities
from ._similarity import SIMILARITY_METRICS, iter_similarity_blocks

__all__ = [
    "average_precision_from_scores",
    "make_retrieval_scorer",
    "mean_average_precision",
    "mean_reciprocal_rank",
    "median_rank",
    "recall_at_k",
]

# Rows of a score block are ranked in chunks of about this many entries, small
# enough for the chunk and its integer keys to stay in the CPU cache.
_CHUNK_ENTRIES = 2**18

_EMBEDDING_PARAMS = {
    "query_embeddings": ["array-like"],
    "target_embeddings": ["array-like"],
    "query_labels": ["array-like", None],
    "target_labels": ["array-like", None],
    "metric": [StrOptions(set(SIMILARITY_METRICS))],
    "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
}


# --------------------------------------------------------------------------
# Input validation and relevance
# --------------------------------------------------------------------------


def _check_embeddings(query_embeddings, target_embeddings):
    queries = check_array(
        query_embeddings, dtype=[np.float64, np.float32], input_name="query_embeddings"
    )
    targets = check_array(
        target_embeddings, dtype=[np.float64, np.float32], input_name="target_embeddings"
    )
    if queries.shape[1] != targets.shape[1]:
        raise ValueError(
            f"query_embeddings have {queries.shape[1]} features but target_embeddings "
            f"have {targets.shape[1]}; both must live in the same space."
        )
    dtype = np.result_type(queries.dtype, targets.dtype)
    return queries.astype(dtype, copy=False), targets.astype(dtype, copy=False)


class _Relevance:
    """Which targets are relevant to which queries, one block of queries at a time.

    ``instance`` is True for instance-level relevance (query ``i`` matches
    target ``i``); otherwise :meth:`block` returns a boolean matrix.
    """

    def __init__(self, query_labels, target_labels, n_queries, n_targets):
        if (query_labels is None) != (target_labels is None):
            given = "query_labels" if target_labels is None else "target_labels"
            raise ValueError(
                f"Only {given} was given. Pass both query_labels and target_labels "
                "for category-level relevance, or neither for instance-level "
                "relevance (query i matches target i)."
            )
        self.instance = query_labels is None
        if self.instance:
            if n_queries != n_targets:
                raise ValueError(
                    "Without labels, relevance is instance-level (query i matches "
                    f"target i), which needs as many queries as targets; got "
                    f"{n_queries} queries and {n_targets} targets. Pass query_labels "
                    "and target_labels for category-level relevance."
                )
            return
        query_labels = np.asarray(query_labels)
        target_labels = np.asarray(target_labels)
        for name, labels, n in (
            ("query_labels", query_labels, n_queries),
            ("target_labels", target_labels, n_targets),
        ):
            if labels.ndim not in (1, 2) or labels.shape[0] != n:
                raise ValueError(
                    f"{name} must have one entry per row of the embeddings ({n}), "
                    f"got shape {labels.shape}."
                )
        if query_labels.ndim != target_labels.ndim:
            raise ValueError(
                "query_labels and target_labels must both be 1-D (one class per "
                "item) or both 2-D (a multilabel indicator matrix); got "
                f"{query_labels.ndim}-D and {target_labels.ndim}-D."
            )
        numeric = [labels.dtype.kind in "biuf" for labels in (query_labels, target_labels)]
        if numeric[0] != numeric[1]:
            raise TypeError(
                f"query_labels ({query_labels.dtype}) and target_labels "
                f"({target_labels.dtype}) must be both numeric or both not: a number "
                "never equals a string."
            )
        self.multilabel = query_labels.ndim == 2
        if self.multilabel:
            query_labels = check_array(query_labels, input_name="query_labels")
            target_labels = check_array(target_labels, input_name="target_labels")
            if query_labels.shape[1] != target_labels.shape[1]:
                raise ValueError(
                    f"query_labels have {query_labels.shape[1]} label columns but "
                    f"target_labels have {target_labels.shape[1]}."
                )
            for name, labels in (
                ("query_labels", query_labels),
                ("target_labels", target_labels),
            ):
                if not np.isin(labels, (0, 1)).all():
                    raise ValueError(
                        f"2-D {name} must be a 0/1 multilabel indicator matrix."
                    )
            # Counts of shared labels are exact in float32 below 2**24 labels.
            self.query_codes = query_labels.astype(np.float32)
            self.target_codes = np.ascontiguousarray(target_labels.T, dtype=np.float32)
        else:
            query_labels = column_or_1d(query_labels)
            target_labels = column_or_1d(target_labels)
            classes, codes = np.unique(
                np.concatenate([query_labels, target_labels]), return_inverse=True
            )
            code_dtype = np.int8 if len(classes) < 128 else np.intp
            codes = codes.astype(code_dtype)
            self.query_codes = codes[:n_queries]
            self.target_codes = codes[n_queries:]

    def block(self, start, stop):
        """Boolean relevance of targets (columns) to queries ``start:stop``."""
        if self.multilabel:
            return (self.query_codes[start:stop] @ self.target_codes) > 0
        return self.query_codes[start:stop, None] == self.target_codes[None, :]


def _iter_score_chunks(query_embeddings, target_embeddings, relevance, metric, batch_size):
    """Yield ``(start, stop, scores, relevant)`` for cache-sized chunks of queries.

    ``relevant`` is None for instance-level relevance.
    """
    n_targets = target_embeddings.shape[0]
    chunk_rows = max(1, _CHUNK_ENTRIES // n_targets)
    for block_start, block_stop, scores in iter_similarity_blocks(
        query_embeddings, target_embeddings, metric, batch_size
    ):
        for start in range(block_start, block_stop, chunk_rows):
            stop = min(start + chunk_rows, block_stop)
            relevant = None if relevance.instance else relevance.block(start, stop)
            yield start, stop, scores[start - block_start : stop - block_start], relevant


def _warn_no_relevant(missing, what):
    missing = np.flatnonzero(missing)
    if missing.size:
        warnings.warn(
            f"{missing.size} queries have no relevant target (first: query "
            f"{missing[0]}); they count as {what}.",
            UndefinedMetricWarning,
            stacklevel=4,
        )


# --------------------------------------------------------------------------
# Ranking kernels on one chunk of scores
# --------------------------------------------------------------------------


def _descending_keys(scores, relevant, check_range, out=None):
    """Integer keys whose ascending sort ranks each row by decreasing score.

    The bits of ``-score`` are mapped to an integer of the same width that
    orders like it, shifted left by one, and the relevance flag fills the freed
    lowest bit: among tied scores irrelevant targets (flag 0) come first, so a
    relevant target is ranked after every target tied with it. Ranking then
    costs one integer sort, with no argsort and no gather.

    The keys are written into ``out`` (a C-contiguous float array shaped like
    ``scores``), by default over ``scores`` itself.
    """
    if out is None:
        out = scores
    exponent = 0
    if check_range:
        largest = max(-float(scores.min()), float(scores.max()))
        if not np.isfinite(largest):
            raise ValueError(
                "The similarity scores contain NaN or infinity (with embeddings, "
                "their values are too large for their dtype: rescale them or use "
                "float64)."
            )
        if largest >= 2.0:
            exponent = int(np.frexp(largest)[1])
    # 0 - s negates exactly and turns -0.0 into +0.0, so that zeros tie.
    np.subtract(0.0, scores, out=out)
    if exponent:
        # Scaling by a power of two is exact and keeps the order; below 2 the
        # top bit of the integer keys is free for the shift.
        np.ldexp(out, -exponent, out=out)
    keys = out.view(np.int32 if out.dtype == np.float32 else np.int64)
    sign = keys >> (8 * keys.itemsize - 1)
    # Flipping the magnitude bits of negative numbers makes the integers order
    # like the floats; the shift drops the (then redundant) sign bit.
    keys ^= sign
    keys <<= 1
    keys |= relevant
    return keys


def _ranked_relevant(keys, report_ambiguous=False):
    """Sort the keys of :func:`_descending_keys`; locate the relevant targets.

    Returns
    -------
    first : ndarray of int of shape (n_rows,)
        Index in ``hits``/``ranks`` of each row's first relevant target.
    n_relevant : ndarray of int of shape (n_rows,)
        Number of relevant targets of each row.
    hits : ndarray of int
        For each relevant target, row by row in ranking order: the number of
        relevant targets ranked at or above it.
    ranks : ndarray of int
        Its rank: the number of targets scoring at least as high.
    ambiguous : ndarray of int
        Only if ``report_ambiguous``: the rows in which a relevant target has
        the same key (up to the flag) as the target ranked just above it.
    """
    keys.sort(axis=1)
    n_rows, n_targets = keys.shape
    if sys.byteorder == "little":
        # The lowest byte of each key, holding the flag; 0/1 bytes read as bool.
        flags = (keys.view(np.uint8)[:, :: keys.itemsize] & 1).view(bool)
    else:  # pragma: no cover
        flags = (keys & 1).astype(bool)
    flat = np.flatnonzero(flags)
    bounds = np.searchsorted(flat, np.arange(n_rows + 1) * n_targets)
    first, n_relevant = bounds[:-1], np.diff(bounds)
    hits = np.arange(1, flat.size + 1) - np.repeat(first, n_relevant)
    ranks = flat + 1 - np.repeat(np.arange(n_rows) * n_targets, n_relevant)
    if report_ambiguous:
        keys_flat = keys.reshape(-1)
        below = np.flatnonzero(ranks > 1)
        same = (keys_flat[flat[below]] >> 1) == (keys_flat[flat[below] - 1] >> 1)
        ambiguous = np.unique(np.searchsorted(first, below[same], side="right") - 1)
    # Relevant targets tied with each other all take the rank and hit count of
    # the last one of their group (irrelevant ties are already ranked above).
    # Tied relevant targets are adjacent in the sorted keys of one row.
    adjacent = np.flatnonzero(flat[1:] == flat[:-1] + 1)
    if adjacent.size:
        keys = keys.reshape(-1)
        at = flat[adjacent]
        tied = np.zeros(flat.size, dtype=bool)
        tied[adjacent] = (keys[at] == keys[at + 1]) & ((at + 1) % n_targets != 0)
        if tied.any():
            order = np.arange(flat.size)
            last = np.where(tied, flat.size, order)[::-1]
            last = np.minimum.accumulate(last)[::-1]
            hits, ranks = hits[last], ranks[last]
    if report_ambiguous:
        return first, n_relevant, hits, ranks, ambiguous
    return first, n_relevant, hits, ranks


def _average_precisions(n_rows, ranked, k, interpolation):
    """Average precision of each row (0 without relevant target).

    ``ranked`` is ``(first, n_relevant, hits, ranks)`` of
    :func:`_ranked_relevant`.
    """
    first, n_relevant, hits, ranks = ranked
    precision = hits / ranks
    if k is not None:
        precision[ranks > k] = 0.0
    if interpolation == "11point":
        width = max(1, int(n_relevant.max(initial=0)))
        rows = np.repeat(np.arange(n_rows), n_relevant)
        table = np.zeros((n_rows, width))
        table[rows, np.arange(rows.size) - first[rows]] = precision
        # Interpolated precision at recall r: the best precision at recall >= r,
        # i.e. over this relevant target and every one ranked below it.
        best_below = np.maximum.accumulate(table[:, ::-1], axis=1)[:, ::-1]
        levels = np.arange(11)
        # Smallest number of hits with hits / n_relevant >= level / 10, minus 1.
        start = np.maximum((levels * n_relevant[:, None] + 9) // 10 - 1, 0)
        interpolated = best_below[np.arange(n_rows)[:, None], np.minimum(start, width - 1)]
        return np.where(n_relevant > 0, interpolated.mean(axis=1), 0.0)
    total = np.zeros(n_rows)
    found = n_relevant > 0
    if precision.size:
        total[found] = np.add.reduceat(precision, first[found])
    normaliser = n_relevant if k is None else np.minimum(n_relevant, k)
    return np.divide(total, normaliser, out=np.zeros(n_rows), where=found)


def _compact_keys(scores, relevant):
    """32-bit keys of float64 scores, from a 30-bit fixed-point grid of each chunk.

    A 32-bit sort is much faster than a 64-bit one. The grid keeps the order of
    distinct grid values exactly (every rounding step is monotone); targets
    sharing a grid value with a relevant target are ambiguous, and their rows
    are ranked again from the float64 scores. Returns None when the grid is
    useless (constant scores, or a range that overflows or underflows).
    """
    low, high = float(scores.min()), float(scores.max())
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(
            "The similarity scores contain NaN or infinity (with embeddings, their "
            "values are too large for their dtype: rescale them or use float64)."
        )
    scale = (2**30 - 2) / (high - low) if high > low else np.inf
    if not np.isfinite(scale) or scale == 0:
        return None
    grid = np.subtract(high, scores, order="C")
    grid *= scale
    keys = grid.astype(np.int32)
    keys <<= 1
    keys |= relevant
    return keys


def _chunk_average_precisions(scores, relevant, k, interpolation, check_range, overwrite):
    """Average precision and number of relevant targets of each row of a chunk.

    ``scores`` is overwritten if ``overwrite``.
    """
    n_rows = scores.shape[0]
    if scores.dtype == np.float64:
        keys = _compact_keys(scores, relevant)
        if keys is not None:
            *ranked, ambiguous = _ranked_relevant(keys, report_ambiguous=True)
            average = _average_precisions(n_rows, ranked, k, interpolation)
            if ambiguous.size:
                exact = np.ascontiguousarray(scores[ambiguous])
                exact = _descending_keys(exact, relevant[ambiguous], True)
                exact_ranked = _ranked_relevant(exact)
                average[ambiguous] = _average_precisions(
                    ambiguous.size, exact_ranked, k, interpolation
                )
            return average, ranked[1]
    out = None if overwrite else np.empty(scores.shape, scores.dtype)
    ranked = _ranked_relevant(_descending_keys(scores, relevant, check_range, out=out))
    return _average_precisions(n_rows, ranked, k, interpolation), ranked[1]


def _first_relevant_ranks(scores, relevant, start):
    """Rank of the best-ranked relevant target of each row (inf if none)."""
    if relevant is None:
        rows = np.arange(scores.shape[0])
        best = scores[rows, start + rows]
    else:
        best = np.where(relevant, scores, -np.inf).max(axis=1)
    ranks = np.count_nonzero(scores >= best[:, None], axis=1).astype(np.float64)
    if relevant is not None:
        ranks[np.isneginf(best)] = np.inf
    return ranks


def _per_query_ranks(query_embeddings, target_embeddings, query_labels, target_labels,
                     metric, batch_size):
    queries, targets = _check_embeddings(query_embeddings, target_embeddings)
    relevance = _Relevance(query_labels, target_labels, len(queries), len(targets))
    ranks = np.empty(len(queries))
    for start, stop, scores, relevant in _iter_score_chunks(
        queries, targets, relevance, metric, batch_size
    ):
        ranks[start:stop] = _first_relevant_ranks(scores, relevant, start)
    return ranks


# --------------------------------------------------------------------------
# Public metrics
# --------------------------------------------------------------------------


@validate_params(
    {
        "relevance": ["array-like"],
        "scores": ["array-like"],
        "k": [Interval(Integral, 1, None, closed="left"), None],
        "interpolation": [StrOptions({"11point"}), None],
        "average": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def average_precision_from_scores(relevance, scores, *, k=None, interpolation=None,
                                  average=True):
    """Average precision of each query from a relevance and a score matrix.

    Row ``i`` ranks the targets (columns) by decreasing ``scores[i]``; the AP
    of the row is the mean, over its relevant targets, of the precision at
    their rank. Ties follow :func:`sklearn.metrics.average_precision_score`
    (see the module documentation).

    Parameters
    ----------
    relevance : array-like of shape (n_queries, n_targets)
        True (or 1) where the target is relevant to the query.
    scores : array-like of shape (n_queries, n_targets)
        Similarity of each target to each query; higher ranks first.
    k : int, default=None
        If given, AP@k: only the top ``k`` ranks count, and the sum of the
        precisions at relevant ranks is divided by ``min(k, n_relevant)`` so
        that a perfect ranking scores 1.
    interpolation : {None, "11point"}, default=None
        ``"11point"`` gives the 11-point interpolated AP: the mean over the
        recall levels 0, 0.1, ..., 1 of the best precision at a recall at least
        that level (the metric of Sharma et al., CVPR 2012).
    average : bool, default=True
        Return the mean over queries; if False, one AP per query.

    Returns
    -------
    average_precision : float or ndarray of shape (n_queries,)
        A query without relevant target scores 0, with a warning.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.metrics import average_precision_from_scores
    >>> relevance = np.array([[1, 0, 1], [0, 1, 0]])
    >>> scores = np.array([[0.9, 0.8, 0.1], [0.2, 0.7, 0.5]])
    >>> average_precision_from_scores(relevance, scores, average=False)
    array([0.8333..., 1.        ])
    """
    # Non-finite scores are caught while ranking, without a separate pass.
    scores = check_array(
        scores, dtype=[np.float64, np.float32], input_name="scores",
        ensure_all_finite=False,
    )
    relevance = check_array(relevance, dtype=None, input_name="relevance")
    if relevance.shape != scores.shape:
        raise ValueError(
            f"relevance has shape {relevance.shape} but scores has shape "
            f"{scores.shape}; both must be (n_queries, n_targets)."
        )
    if relevance.dtype != bool:
        if not np.isin(relevance, (0, 1)).all():
            raise ValueError("relevance must be boolean or hold only 0 and 1.")
        relevance = relevance.astype(bool)
    n_queries, n_targets = scores.shape
    chunk_rows = max(1, _CHUNK_ENTRIES // n_targets)
    precisions = np.empty(n_queries)
    missing = np.empty(n_queries, dtype=bool)
    for start in range(0, n_queries, chunk_rows):
        stop = min(start + chunk_rows, n_queries)
        precisions[start:stop], n_relevant = _chunk_average_precisions(
            scores[start:stop], relevance[start:stop], k, interpolation,
            check_range=True, overwrite=False,
        )
        missing[start:stop] = n_relevant == 0
    _warn_no_relevant(missing, "average precision 0")
    return float(precisions.mean()) if average else precisions


@validate_params(
    {
        **_EMBEDDING_PARAMS,
        "k": [Interval(Integral, 1, None, closed="left"), None],
        "interpolation": [StrOptions({"11point"}), None],
    },
    prefer_skip_nested_validation=True,
)
def mean_average_precision(query_embeddings, target_embeddings, query_labels=None,
                           target_labels=None, *, metric="cosine", k=None,
                           interpolation=None, batch_size="auto"):
    """Mean average precision (mAP) of cross-modal retrieval.

    Each query ranks every target by decreasing similarity; its average
    precision (AP) is the mean, over the relevant targets, of the precision at
    their rank; mAP is the mean AP over queries. Relevance is category-level
    (same label) when labels are given, instance-level (query ``i`` matches
    target ``i``) otherwise.

    Parameters
    ----------
    query_embeddings : array-like of shape (n_queries, n_components)
        Queries in the shared space.
    target_embeddings : array-like of shape (n_targets, n_components)
        Targets (the gallery) in the same space.
    query_labels : array-like of shape (n_queries,) or (n_queries, n_labels), default=None
        Class of each query, or a 0/1 multilabel indicator matrix (a target is
        then relevant when it shares at least one label with the query).
    target_labels : array-like of shape (n_targets,) or (n_targets, n_labels), default=None
        Class (or indicator row) of each target. Give both label arrays or
        neither.
    metric : {"cosine", "dot", "euclidean"}, default="cosine"
        Similarity used for ranking (euclidean ranks by increasing distance).
    k : int, default=None
        If given, mAP@k: only the top ``k`` ranks count and each query's sum of
        precisions is divided by ``min(k, n_relevant)``. None ranks every
        target (mAP@all).
    interpolation : {None, "11point"}, default=None
        ``"11point"``: 11-point interpolated AP, the mean over recall levels
        0, 0.1, ..., 1 of the best precision at a recall at least that level
        (Sharma et al., CVPR 2012, Table 3).
    batch_size : int or "auto", default="auto"
        Queries scored per block; ``"auto"`` bounds a block at 2**23 scores
        (64 MiB of float64).

    Returns
    -------
    score : float
        mAP in [0, 1]. Ties are ranked pessimistically as in
        :func:`sklearn.metrics.average_precision_score`; a query without
        relevant target counts as AP 0, with a warning.

    See Also
    --------
    average_precision_from_scores : The same metric from a score matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.metrics import mean_average_precision
    >>> images = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.2]])
    >>> texts = np.array([[0.9, 0.1], [0.1, 0.9], [0.2, 1.0]])
    >>> mean_average_precision(images, texts, [0, 1, 1], [0, 1, 1])
    0.8611...
    >>> mean_average_precision(images, texts)  # instance-level: query i <-> target i
    0.8333...
    """
    queries, targets = _check_embeddings(query_embeddings, target_embeddings)
    relevance = _Relevance(query_labels, target_labels, len(queries), len(targets))
    precisions = np.empty(len(queries))
    missing = np.zeros(len(queries), dtype=bool)
    for start, stop, scores, relevant in _iter_score_chunks(
        queries, targets, relevance, metric, batch_size
    ):
        if relevant is None:
            # One relevant target: AP is the reciprocal of its rank.
            ranks = _first_relevant_ranks(scores, None, start)
            precisions[start:stop] = np.where(
                ranks <= (np.inf if k is None else k), 1.0 / ranks, 0.0
            )
        else:
            # Cosine scores of normalised rows lie in [-1, 1]: no range check.
            precisions[start:stop], n_relevant = _chunk_average_precisions(
                scores, relevant, k, interpolation,
                check_range=metric != "cosine", overwrite=True,
            )
            missing[start:stop] = n_relevant == 0
    _warn_no_relevant(missing, "average precision 0")
    return float(precisions.mean())


@validate_params(
    {
        **_EMBEDDING_PARAMS,
        "k": [Interval(Integral, 1, None, closed="left"), "array-like"],
    },
    prefer_skip_nested_validation=True,
)
def recall_at_k(query_embeddings, target_embeddings, query_labels=None,
                target_labels=None, *, k=1, metric="cosine", batch_size="auto"):
    """Recall@k (R@k): fraction of queries with a relevant target in their top k.

    This is the R@K of cross-modal retrieval benchmarks (e.g. Flickr30k,
    MS-COCO): with instance-level relevance (one relevant target per query) it
    is the usual recall; with labels, a query counts as recalled when at least
    one target of its category is ranked within the top ``k``.

    Parameters
    ----------
    query_embeddings : array-like of shape (n_queries, n_components)
        Queries in the shared space.
    target_embeddings : array-like of shape (n_targets, n_components)
        Targets in the same space.
    query_labels, target_labels : array-like, default=None
        Labels for category-level relevance, as in
        :func:`mean_average_precision`; None for instance-level relevance.
    k : int or array-like of int, default=1
        Cut-off rank(s). Ties at the cut-off count against the query.
    metric : {"cosine", "dot", "euclidean"}, default="cosine"
        Similarity used for ranking.
    batch_size : int or "auto", default="auto"
        Queries scored per block.

    Returns
    -------
    recall : float or ndarray of float
        One value per ``k`` when ``k`` is array-like.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.metrics import recall_at_k
    >>> images = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.2]])
    >>> texts = np.array([[0.9, 0.1], [0.1, 0.9], [0.2, 1.0]])
    >>> recall_at_k(images, texts, k=[1, 2])
    array([0.6666..., 1.        ])
    """
    cutoffs = np.asarray(k)
    if cutoffs.dtype.kind not in "iu" or cutoffs.ndim > 1 or (cutoffs < 1).any():
        raise ValueError(f"k must be a positive integer or a list of them, got {k!r}.")
    ranks = _per_query_ranks(query_embeddings, target_embeddings, query_labels,
                             target_labels, metric, batch_size)
    _warn_no_relevant(np.isinf(ranks), "not recalled")
    recall = (ranks[:, None] <= np.atleast_1d(cutoffs)[None, :]).mean(axis=0)
    return float(recall[0]) if cutoffs.ndim == 0 else recall


@validate_params(_EMBEDDING_PARAMS, prefer_skip_nested_validation=True)
def median_rank(query_embeddings, target_embeddings, query_labels=None,
                target_labels=None, *, metric="cosine", batch_size="auto"):
    """Median over queries of the rank of the first relevant target (MedR).

    Lower is better; 1 is perfect. Ranks are 1-based and a tied target takes
    the last rank of its tie group.

    Parameters
    ----------
    query_embeddings : array-like of shape (n_queries, n_components)
        Queries in the shared space.
    target_embeddings : array-like of shape (n_targets, n_components)
        Targets in the same space.
    query_labels, target_labels : array-like, default=None
        Labels for category-level relevance, as in
        :func:`mean_average_precision`; None for instance-level relevance.
    metric : {"cosine", "dot", "euclidean"}, default="cosine"
        Similarity used for ranking.
    batch_size : int or "auto", default="auto"
        Queries scored per block.

    Returns
    -------
    rank : float
        Infinite ranks of queries without relevant target take part in the
        median.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.metrics import median_rank
    >>> images = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.2]])
    >>> texts = np.array([[0.9, 0.1], [0.1, 0.9], [0.2, 1.0]])
    >>> median_rank(images, texts)
    1.0
    """
    ranks = _per_query_ranks(query_embeddings, target_embeddings, query_labels,
                             target_labels, metric, batch_size)
    _warn_no_relevant(np.isinf(ranks), "rank inf")
    return float(np.median(ranks))


@validate_params(_EMBEDDING_PARAMS, prefer_skip_nested_validation=True)
def mean_reciprocal_rank(query_embeddings, target_embeddings, query_labels=None,
                         target_labels=None, *, metric="cosine", batch_size="auto"):
    """Mean over queries of 1 / rank of the first relevant target (MRR).

    Parameters
    ----------
    query_embeddings : array-like of shape (n_queries, n_components)
        Queries in the shared space.
    target_embeddings : array-like of shape (n_targets, n_components)
        Targets in the same space.
    query_labels, target_labels : array-like, default=None
        Labels for category-level relevance, as in
        :func:`mean_average_precision`; None for instance-level relevance.
    metric : {"cosine", "dot", "euclidean"}, default="cosine"
        Similarity used for ranking.
    batch_size : int or "auto", default="auto"
        Queries scored per block.

    Returns
    -------
    score : float
        In (0, 1]; a query without relevant target contributes 0.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.metrics import mean_reciprocal_rank
    >>> images = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.2]])
    >>> texts = np.array([[0.9, 0.1], [0.1, 0.9], [0.2, 1.0]])
    >>> mean_reciprocal_rank(images, texts)
    0.8333...
    """
    ranks = _per_query_ranks(query_embeddings, target_embeddings, query_labels,
                             target_labels, metric, batch_size)
    _warn_no_relevant(np.isinf(ranks), "reciprocal rank 0")
    return float(np.mean(1.0 / ranks))


# --------------------------------------------------------------------------
# Scorers
# --------------------------------------------------------------------------

_SCORERS = {
    "map": (mean_average_precision, 1),
    "recall": (recall_at_k, 1),
    "mrr": (mean_reciprocal_rank, 1),
    "neg_median_rank": (median_rank, -1),
}


class _RetrievalScorer:
    """Callable ``scorer(estimator, X, y=None)``; see :func:`make_retrieval_scorer`."""

    def __init__(self, metric, query, target, similarity, kwargs, symmetric, batch_size):
        self.metric = metric
        self.query = query
        self.target = target
        self.similarity = similarity
        self.kwargs = kwargs
        self.symmetric = symmetric
        self.batch_size = batch_size

    def __call__(self, estimator, X, y=None):
        """Score a fitted estimator on X (and optional categories y).

        Parameters
        ----------
        estimator : fitted estimator
            A mapper, or a pipeline ending in one, whose ``transform`` returns
            a modality table with the query and target blocks.
        X : pandas.DataFrame
            Input of ``estimator.transform``.
        y : array-like of shape (n_samples,), default=None
            Categories for category-level relevance; None for instance-level
            relevance (row i of the query block matches row i of the target
            block).

        Returns
        -------
        score : float
            Greater is better.
        """
        embedded = estimator.transform(X)
        try:
            blocks = split_modalities(embedded)
        except ValueError as exc:
            raise ValueError(
                f"{self!r} needs estimator.transform(X) to return a modality table "
                f"(a DataFrame with '<modality>__<feature>' columns), got "
                f"{type(embedded).__name__}. End the pipeline with a skcrossmodal "
                "mapper."
            ) from exc
        missing = [m for m in (self.query, self.target) if m not in blocks]
        if missing:
            raise ValueError(
                f"{self!r} needs modality blocks {missing}, but the transformed X "
                f"has blocks {list(blocks)}."
            )
        function, sign = _SCORERS[self.metric]
        labels = None if y is None else np.asarray(y)
        directions = [(self.query, self.target)]
        if self.symmetric:
            directions.append((self.target, self.query))
        values = [
            function(
                blocks[source], blocks[destination], labels, labels,
                metric=self.similarity, batch_size=self.batch_size, **self.kwargs,
            )
            for source, destination in directions
        ]
        return sign * float(np.mean(values))

    def __repr__(self):
        options = "".join(
            f", {name}={value!r}"
            for name, value in [
                ("similarity", self.similarity),
                *self.kwargs.items(),
                ("symmetric", self.symmetric),
            ]
            if value is not None
            and not (name == "similarity" and value == "cosine")
            and not (name == "symmetric" and not value)
        )
        return (
            f"make_retrieval_scorer({self.metric!r}, query={self.query!r}, "
            f"target={self.target!r}{options})"
        )


@validate_params(
    {
        "metric": [StrOptions(set(_SCORERS))],
        "query": [str],
        "target": [str],
        "similarity": [StrOptions(set(SIMILARITY_METRICS))],
        "k": [Interval(Integral, 1, None, closed="left"), None],
        "interpolation": [StrOptions({"11point"}), None],
        "symmetric": ["boolean"],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def make_retrieval_scorer(metric="map", *, query, target, similarity="cosine", k=None,
                          interpolation=None, symmetric=False, batch_size="auto"):
    """Make a retrieval scorer for ``scoring=`` in GridSearchCV and cross_val_score.

    The scorer is called as ``scorer(estimator, X, y=None)``: it transforms X
    with the fitted estimator (a mapper, or a pipeline ending in one), takes
    the ``query`` and ``target`` blocks of the resulting modality table, and
    scores retrieval of targets by queries within X. With ``y`` the relevance
    is category-level (same ``y``); without, instance-level (same row).

    Parameters
    ----------
    metric : {"map", "recall", "mrr", "neg_median_rank"}, default="map"
        :func:`mean_average_precision`, :func:`recall_at_k`,
        :func:`mean_reciprocal_rank`, or the negated :func:`median_rank` (so
        that greater is better, like scikit-learn's ``neg_*`` scorers).
    query : str
        Modality of the queries, e.g. ``"image"``.
    target : str
        Modality of the targets, e.g. ``"text"``.
    similarity : {"cosine", "dot", "euclidean"}, default="cosine"
        Passed as ``metric`` to the metric function.
    k : int, default=None
        Cut-off for ``"map"`` (mAP@k) and, required, for ``"recall"``.
    interpolation : {None, "11point"}, default=None
        For ``"map"`` only: 11-point interpolated mAP.
    symmetric : bool, default=False
        Also score ``target -> query`` retrieval and return the mean of both
        directions.
    batch_size : int or "auto", default="auto"
        Queries scored per block.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None) -> float``, greater is better.

    Examples
    --------
    >>> from skcrossmodal.metrics import make_retrieval_scorer
    >>> make_retrieval_scorer("map", query="image", target="text")
    make_retrieval_scorer('map', query='image', target='text')
    """
    if query == target:
        raise ValueError(f"query and target must be different modalities, got {query!r}.")
    kwargs = {}
    if metric == "map":
        kwargs = {"k": k, "interpolation": interpolation}
    elif metric == "recall":
        if k is None:
            raise ValueError("metric='recall' needs a cut-off k, e.g. k=10.")
        kwargs = {"k": k}
    if metric != "map" and interpolation is not None:
        raise ValueError(f"interpolation only applies to metric='map', not {metric!r}.")
    if metric not in ("map", "recall") and k is not None:
        raise ValueError(f"k does not apply to metric={metric!r}.")
    return _RetrievalScorer(metric, query, target, similarity, kwargs, symmetric, batch_size)
