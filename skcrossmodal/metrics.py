"""Retrieval metrics, protocols and scorers, in the style of :mod:`sklearn.metrics`.

Queries of one modality rank the targets of another by similarity. A target is
*relevant* to a query when it has the same label (category-level relevance, the
protocol of the Wikipedia benchmark) or, without labels, when it sits in the
same row (instance-level relevance: row ``i`` of the queries was paired with
row ``i`` of the targets). ``docs/evaluation.md`` describes the protocols
(including the 5-captions-per-image one of COCO and Flickr30k) and which
published evaluation code each option matches.

The tie rule, shared by every function here:

* Targets are ranked by decreasing similarity; ranks are 1-based.
* The *rank of a query's hit* (its first relevant target), from which
  recall@k, the reciprocal rank and the median and mean rank are computed, is
  one plus the number of **non-relevant** targets that score at least as high
  as its best relevant target: the worst case over the ways of breaking ties.
  Constant scores cannot game it, and relevant targets tied with each other do
  not push each other down.
* Average precision is that of :func:`sklearn.metrics.average_precision_score`:
  tied scores form one threshold, so every relevant target of a tie group
  takes the precision at the end of the group. With one relevant target the
  two rules give the same rank; a query whose relevant targets all tie at the
  top has AP 1 and hit rank 1.
* At a cut-off ``k`` (R@k, AP@k), a target tied across the cut-off counts
  against the query: the hit must have rank at most ``k``; a relevant target
  adds to AP@k only if its whole tie group lies within the top ``k``.

Queries without any relevant target are handled by ``no_relevant``:
``"miss"`` (the default) counts them as failures (average precision,
reciprocal rank and recall 0, rank infinite) with an
:class:`~sklearn.exceptions.UndefinedMetricWarning` saying how many there
were; ``"skip"`` leaves them out of the mean (or median), as some published
code does; ``"error"`` refuses them.

Scores are computed by :func:`skcrossmodal._similarity.iter_similarity_blocks`
in blocks of queries (``batch_size``), in the floating dtype of the embeddings
(float32 embeddings give float32 scores), so that memory is bounded by one
block and never holds the full ``n_queries x n_targets`` matrix. Scores that
are not finite (embeddings too large for their dtype) raise a ``ValueError``.
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import sys
import warnings
from functools import partial
from numbers import Integral, Number

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import UndefinedMetricWarning

# scikit-learn's private scorer protocol: used only by _RetrievalScorer (see there).
from sklearn.metrics._scorer import _BaseScorer, _cached_call
from sklearn.pipeline import Pipeline
from sklearn.utils import check_array, column_or_1d
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_params,
)

from ._frame import split_modalities
from ._similarity import SIMILARITIES, iter_similarity_blocks

__all__ = [
    "average_precision_from_scores",
    "evaluate_retrieval",
    "make_retrieval_scorer",
    "mean_average_precision",
    "mean_rank",
    "mean_reciprocal_rank",
    "median_rank",
    "recall_at_k",
]

# Rows of a score block are ranked in chunks of about this many entries, small
# enough for the chunk and its integer keys to stay in the CPU cache.
_CHUNK_ENTRIES = 2**18

_NO_RELEVANT = StrOptions({"miss", "skip", "error"})
_BATCH_SIZE = [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")]

_EMBEDDING_PARAMS = {
    "query_embeddings": ["array-like"],
    "target_embeddings": ["array-like"],
    "query_labels": ["array-like", None],
    "target_labels": ["array-like", None],
    "similarity": [StrOptions(set(SIMILARITIES))],
    "unique": [StrOptions({"query", "target"}), None],
    "no_relevant": [_NO_RELEVANT],
    "batch_size": _BATCH_SIZE,
}

_AP_PARAMS = {
    "k": [Interval(Integral, 1, None, closed="left"), StrOptions({"R"}), None],
    "normalize": [StrOptions({"relevant", "retrieved"})],
    "interpolation": [StrOptions({"11point"}), None],
}


# --------------------------------------------------------------------------
# Input validation and relevance
# --------------------------------------------------------------------------


def _check_embeddings(query_embeddings, target_embeddings):
    queries = check_array(
        query_embeddings, dtype=[np.float64, np.float32], input_name="query_embeddings"
    )
    targets = check_array(
        target_embeddings,
        dtype=[np.float64, np.float32],
        input_name="target_embeddings",
    )
    if queries.shape[1] != targets.shape[1]:
        raise ValueError(
            f"query_embeddings have {queries.shape[1]} features but target_embeddings "
            f"have {targets.shape[1]}; both must live in the same space."
        )
    dtype = np.result_type(queries.dtype, targets.dtype)
    return queries.astype(dtype, copy=False), targets.astype(dtype, copy=False)


def _check_labels(labels, name, n_rows):
    """Labels as an array: 1-D classes or a 2-D indicator matrix, numbers as numbers.

    Missing labels (None, NaN, ``pd.NA``) are refused; an object array of
    numbers becomes a numeric array, so that ``np.array([1, 2], dtype=object)``
    matches integer labels.
    """
    labels = np.asarray(labels)
    if labels.ndim not in (1, 2) or labels.shape[0] != n_rows:
        raise ValueError(
            f"{name} must have one entry per row of the embeddings ({n_rows}), "
            f"got shape {labels.shape}."
        )
    if labels.dtype.kind in "fcOmM":  # the kinds that can hold a missing value
        missing = pd.isna(labels)
        if missing.any():
            where = tuple(np.argwhere(missing)[0])
            raise ValueError(
                f"{name} has no label in row {where[0]} (got {labels[where]!r}): "
                "None and NaN are not labels. Drop the row or give it a class."
            )
    if labels.dtype == object:
        flat = labels.ravel()
        is_number = np.fromiter((isinstance(v, Number) for v in flat), bool, flat.size)
        if is_number.all():
            labels = np.array(labels.tolist())
        elif is_number.any():
            other = int(np.argmax(is_number != is_number[0]))
            row = np.unravel_index(other, labels.shape)[0]
            raise TypeError(
                f"{name} mixes numbers and other values (row 0: {flat[0]!r}, row "
                f"{row}: {flat[other]!r}); a number never equals a string."
            )
    return labels


def _check_label_pair(query_labels, target_labels, n_queries, n_targets):
    """Both label arrays checked, or (None, None) for instance-level relevance."""
    if (query_labels is None) != (target_labels is None):
        given = "query_labels" if target_labels is None else "target_labels"
        raise ValueError(
            f"Only {given} was given. Pass both query_labels and target_labels "
            "for category-level relevance, or neither for instance-level "
            "relevance (query i matches target i)."
        )
    if query_labels is None:
        return None, None
    query_labels = _check_labels(query_labels, "query_labels", n_queries)
    target_labels = _check_labels(target_labels, "target_labels", n_targets)
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
    return query_labels, target_labels


class _Relevance:
    """Which targets are relevant to which queries, one block of queries at a time.

    ``instance`` is True for instance-level relevance (query ``i`` matches
    target ``i``); otherwise :meth:`block` returns a boolean matrix. The
    labels are those of :func:`_check_label_pair`.
    """

    def __init__(self, query_labels, target_labels, n_queries, n_targets):
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


class _Problem:
    """One retrieval problem: queries, targets, their relevance.

    ``query_rows`` maps each query to its row in the caller's input, for
    messages (queries are dropped by ``unique="query"`` and by folds).
    """

    def __init__(
        self,
        queries,
        targets,
        query_labels,
        target_labels,
        unique=None,
        query_rows=None,
    ):
        if query_rows is None:
            query_rows = np.arange(len(queries))
        if unique is not None:
            _check_unique(unique, query_labels)
            if unique == "query":
                keep = _first_of_each(query_labels)
                queries, query_labels = queries[keep], query_labels[keep]
                query_rows = query_rows[keep]
            else:
                keep = _first_of_each(target_labels)
                targets, target_labels = targets[keep], target_labels[keep]
        self.queries = queries
        self.targets = targets
        self.query_rows = query_rows
        self.relevance = _Relevance(
            query_labels, target_labels, len(queries), len(targets)
        )


def _first_of_each(labels):
    """Rows holding the first occurrence of each distinct label, in row order."""
    _, first = np.unique(labels, return_index=True)
    return np.sort(first)


def _problem(query_embeddings, target_embeddings, query_labels, target_labels, unique):
    queries, targets = _check_embeddings(query_embeddings, target_embeddings)
    query_labels, target_labels = _check_label_pair(
        query_labels, target_labels, len(queries), len(targets)
    )
    return _Problem(queries, targets, query_labels, target_labels, unique)


def _finite_score_range(scores, first_row, query_rows=None):
    """``(min, max)`` of a chunk of scores; a ValueError names the first query
    whose scores are not finite (min and max propagate NaN)."""
    low, high = float(scores.min()), float(scores.max())
    if np.isfinite(low) and np.isfinite(high):
        return low, high
    row, column = np.argwhere(~np.isfinite(scores))[0]
    query = first_row + row if query_rows is None else query_rows[first_row + row]
    hint = (
        "the embeddings' values are too large for the similarity in their dtype: "
        "rescale them or use float64"
        if query_rows is not None
        else "pass finite scores"
    )
    raise ValueError(
        f"The similarity scores contain NaN or infinity ({scores[row, column]} for "
        f"query {query}, target {column}): {hint}."
    )


def _iter_score_chunks(problem, similarity, batch_size):
    """Yield ``(start, stop, scores, relevant, score_range)`` for cache-sized
    chunks of queries.

    ``relevant`` is None for instance-level relevance; ``score_range`` is the
    ``(min, max)`` of the (finite) chunk.
    """
    n_targets = problem.targets.shape[0]
    chunk_rows = max(1, _CHUNK_ENTRIES // n_targets)
    for block_start, block_stop, scores in iter_similarity_blocks(
        problem.queries, problem.targets, similarity, batch_size
    ):
        for start in range(block_start, block_stop, chunk_rows):
            stop = min(start + chunk_rows, block_stop)
            chunk = scores[start - block_start : stop - block_start]
            score_range = _finite_score_range(chunk, start, problem.query_rows)
            relevance = problem.relevance
            relevant = None if relevance.instance else relevance.block(start, stop)
            yield start, stop, chunk, relevant, score_range


def _stacklevel():
    """``stacklevel`` of the first frame outside this module and ``validate_params``."""
    inside = (__file__, validate_params.__code__.co_filename)
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename in inside:
        frame, level = frame.f_back, level + 1
    return level


def _kept(values, missing, no_relevant, what, query_rows=None):
    """The per-query ``values`` that enter the mean, per ``no_relevant``.

    ``missing`` flags the queries without relevant target; ``what`` says how
    ``"miss"`` counts them (their value is already that failure value).
    """
    n_missing = int(np.count_nonzero(missing))
    if not n_missing:
        return values
    first = int(np.flatnonzero(missing)[0])
    if query_rows is not None:
        first = int(query_rows[first])
    summary = f"{n_missing} queries have no relevant target (first: query {first})"
    if no_relevant == "error":
        raise ValueError(
            f"{summary}. Pass no_relevant='miss' to count them as {what}, or "
            "no_relevant='skip' to leave them out."
        )
    if no_relevant == "skip":
        if n_missing == len(missing):
            raise ValueError(
                f"No query has a relevant target ({summary}): with "
                "no_relevant='skip' there is nothing left to average."
            )
        return values[~missing]
    warnings.warn(
        f"{summary}; they count as {what}.",
        UndefinedMetricWarning,
        stacklevel=_stacklevel(),
    )
    return values


# --------------------------------------------------------------------------
# Ranking kernels on one chunk of scores
# --------------------------------------------------------------------------


def _descending_keys(scores, relevant, out=None, score_range=None):
    """Integer keys whose ascending sort ranks each row by decreasing score.

    The bits of ``-score`` are mapped to an integer of the same width that
    orders like it, shifted left by one, and the relevance flag fills the freed
    lowest bit: among tied scores irrelevant targets (flag 0) come first, so a
    relevant target is ranked after every target tied with it. Ranking then
    costs one integer sort, with no argsort and no gather.

    ``scores`` are finite (see :func:`_finite_score_range`), ``score_range``
    their ``(min, max)`` if known. The keys are written into ``out`` (a
    C-contiguous float array shaped like ``scores``), by default over
    ``scores`` itself.
    """
    if out is None:
        out = scores
    if score_range is None:
        score_range = float(scores.min()), float(scores.max())
    exponent = 0
    largest = max(-score_range[0], score_range[1])
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


def _average_precisions(n_rows, ranked, k, normalize, interpolation):
    """Average precision of each row (0 without relevant target).

    ``ranked`` is ``(first, n_relevant, hits, ranks)`` of
    :func:`_ranked_relevant`; ``k`` is None, an int or ``"R"`` (each row's
    cut-off is its number of relevant targets).
    """
    first, n_relevant, hits, ranks = ranked
    precision = hits / ranks
    if k is not None:
        cutoff = np.repeat(n_relevant, n_relevant) if k == "R" else k
        retrieved = ranks <= cutoff
        precision[~retrieved] = 0.0
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
        interpolated = best_below[
            np.arange(n_rows)[:, None], np.minimum(start, width - 1)
        ]
        return np.where(n_relevant > 0, interpolated.mean(axis=1), 0.0)
    total = np.zeros(n_rows)
    found = n_relevant > 0
    if precision.size:
        total[found] = np.add.reduceat(precision, first[found])
    if k is None or (k == "R" and normalize == "relevant"):
        normaliser = n_relevant
    elif normalize == "relevant":
        normaliser = np.minimum(n_relevant, k)
    else:
        normaliser = np.zeros(n_rows, dtype=np.intp)
        if precision.size:
            normaliser[found] = np.add.reduceat(retrieved.astype(np.intp), first[found])
    return np.divide(total, normaliser, out=np.zeros(n_rows), where=normaliser > 0)


def _compact_keys(scores, relevant, score_range):
    """32-bit keys of float64 scores, from a 30-bit fixed-point grid of each chunk.

    A 32-bit sort is much faster than a 64-bit one. The grid keeps the order of
    distinct grid values exactly (every rounding step is monotone); targets
    sharing a grid value with a relevant target are ambiguous, and their rows
    are ranked again from the float64 scores. Returns None when the grid is
    useless (constant scores, or a range that overflows or underflows).
    ``score_range`` is the ``(min, max)`` of ``scores``.
    """
    low, high = score_range
    scale = (2**30 - 2) / (high - low) if high > low else np.inf
    if not np.isfinite(scale) or scale == 0:
        return None
    grid = np.subtract(high, scores, order="C")
    grid *= scale
    keys = grid.astype(np.int32)
    keys <<= 1
    keys |= relevant
    return keys


def _chunk_average_precisions(
    scores, relevant, k, normalize, interpolation, overwrite, score_range
):
    """Average precision and number of relevant targets of each row of a chunk.

    ``scores`` (finite, of range ``score_range``) is overwritten if ``overwrite``.
    """
    n_rows = scores.shape[0]
    options = (k, normalize, interpolation)
    if scores.dtype == np.float64:
        keys = _compact_keys(scores, relevant, score_range)
        if keys is not None:
            *ranked, ambiguous = _ranked_relevant(keys, report_ambiguous=True)
            average = _average_precisions(n_rows, ranked, *options)
            if ambiguous.size:
                exact = np.ascontiguousarray(scores[ambiguous])
                exact = _descending_keys(exact, relevant[ambiguous])
                exact_ranked = _ranked_relevant(exact)
                average[ambiguous] = _average_precisions(
                    ambiguous.size, exact_ranked, *options
                )
            return average, ranked[1]
    out = None if overwrite else np.empty(scores.shape, scores.dtype)
    ranked = _ranked_relevant(
        _descending_keys(scores, relevant, out=out, score_range=score_range)
    )
    return _average_precisions(n_rows, ranked, *options), ranked[1]


def _hit_ranks(scores, relevant, start):
    """Rank of each row's hit: 1 + non-relevant targets scoring at least as high.

    The best relevant target is the hit; its rank is the worst case over tie
    breaks (see the module documentation). Rows without relevant target get
    an infinite rank.
    """
    if relevant is None:
        # The only relevant target of row i is target start + i; the count
        # includes it once.
        rows = np.arange(scores.shape[0])
        best = scores[rows, start + rows]
        return np.count_nonzero(scores >= best[:, None], axis=1).astype(np.float64)
    best = np.where(relevant, scores, -np.inf).max(axis=1)
    above = scores >= best[:, None]
    # For booleans, a > b is a & ~b: the non-relevant targets at or above the hit.
    np.greater(above, relevant, out=above)
    ranks = 1.0 + np.count_nonzero(above, axis=1)
    # Scores are finite, so only rows without relevant target have best -inf.
    ranks[np.isneginf(best)] = np.inf
    return ranks


def _problem_hit_ranks(problem, similarity, batch_size):
    ranks = np.empty(len(problem.queries))
    for start, stop, scores, relevant, _ in _iter_score_chunks(
        problem, similarity, batch_size
    ):
        ranks[start:stop] = _hit_ranks(scores, relevant, start)
    return ranks


def _check_ap_options(normalize, interpolation):
    if interpolation is not None and normalize == "retrieved":
        raise ValueError(
            "interpolation='11point' interpolates over recall levels of all the "
            "relevant targets; it does not combine with normalize='retrieved'."
        )


# --------------------------------------------------------------------------
# Public metrics
# --------------------------------------------------------------------------


@validate_params(
    {
        "relevance": ["array-like"],
        "scores": ["array-like"],
        **_AP_PARAMS,
        "no_relevant": [_NO_RELEVANT],
        "average": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def average_precision_from_scores(
    relevance,
    scores,
    *,
    k=None,
    normalize="relevant",
    interpolation=None,
    no_relevant="miss",
    average=True,
):
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
        Similarity of each target to each query; higher ranks first. Must be
        finite.
    k : int or "R", default=None
        If given, AP@k: only the top ``k`` ranks count. ``"R"`` gives each
        query the cut-off R, its own number of relevant targets: with
        ``normalize="relevant"`` this is MAP@R (Musgrave et al., ECCV 2020).
        None ranks every target.
    normalize : {"relevant", "retrieved"}, default="relevant"
        Divisor of a query's sum of precisions at the cut-off: ``"relevant"``,
        ``min(k, n_relevant)``, so that a perfect ranking scores 1;
        ``"retrieved"``, the number of relevant targets within the top ``k``
        (AP 0 if there are none), as DSCMR's ``fx_calc_map_label`` and the
        top-k mAP of the hashing literature. Both are the full AP when ``k``
        is None.
    interpolation : {None, "11point"}, default=None
        ``"11point"`` gives the 11-point interpolated AP: the mean over the
        recall levels 0, 0.1, ..., 1 of the best precision at a recall at least
        that level (the metric of Sharma et al., CVPR 2012). Not with
        ``normalize="retrieved"``.
    no_relevant : {"miss", "skip", "error"}, default="miss"
        A query without relevant target: ``"miss"`` scores it 0 (with a
        warning), ``"skip"`` leaves it out of the mean (its AP is NaN when
        ``average=False``), ``"error"`` raises a ValueError.
    average : bool, default=True
        Return the mean over queries; if False, one AP per query.

    Returns
    -------
    average_precision : float or ndarray of shape (n_queries,)
        The mean AP, or the AP of each query.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.metrics import average_precision_from_scores
    >>> relevance = np.array([[1, 0, 1], [0, 1, 0]])
    >>> scores = np.array([[0.9, 0.8, 0.1], [0.2, 0.7, 0.5]])
    >>> average_precision_from_scores(relevance, scores, average=False)
    array([0.8333..., 1.        ])
    >>> average_precision_from_scores(relevance, scores, k=2, average=False)
    array([0.5, 1. ])
    >>> average_precision_from_scores(relevance, scores, k=2, normalize="retrieved")
    1.0
    """
    _check_ap_options(normalize, interpolation)
    scores = check_array(
        scores,
        dtype=[np.float64, np.float32],
        input_name="scores",
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
        chunk = scores[start:stop]
        precisions[start:stop], n_relevant = _chunk_average_precisions(
            chunk,
            relevance[start:stop],
            k,
            normalize,
            interpolation,
            overwrite=False,
            score_range=_finite_score_range(chunk, start),
        )
        missing[start:stop] = n_relevant == 0
    kept = _kept(precisions, missing, no_relevant, "average precision 0")
    if average:
        return float(kept.mean())
    if no_relevant == "skip":
        precisions[missing] = np.nan
    return precisions


@validate_params(
    {**_EMBEDDING_PARAMS, **_AP_PARAMS},
    prefer_skip_nested_validation=True,
)
def mean_average_precision(
    query_embeddings,
    target_embeddings,
    query_labels=None,
    target_labels=None,
    *,
    similarity="cosine",
    k=None,
    normalize="relevant",
    interpolation=None,
    unique=None,
    no_relevant="miss",
    batch_size="auto",
):
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
        None and NaN are refused; numbers in an object array are numbers.
    target_labels : array-like of shape (n_targets,) or (n_targets, n_labels), default=None
        Class (or indicator row) of each target. Give both label arrays or
        neither.
    similarity : {"cosine", "dot", "euclidean"}, default="cosine"
        How queries and targets compare, for ranking (euclidean ranks by increasing distance).
    k : int or "R", default=None
        If given, mAP@k: only the top ``k`` ranks count. ``"R"``: each
        query's cut-off is its own number of relevant targets R, which with
        ``normalize="relevant"`` is MAP@R (Musgrave et al., ECCV 2020). None
        ranks every target (mAP@all).
    normalize : {"relevant", "retrieved"}, default="relevant"
        Divisor of a query's sum of precisions at the cut-off ``k``:
        ``"relevant"`` divides by ``min(k, n_relevant)``, so that a perfect
        ranking scores 1; ``"retrieved"`` by the number of relevant targets
        retrieved in the top ``k`` (AP 0 if there are none), as DSCMR's
        ``fx_calc_map_label`` and the top-k mAP of the hashing literature.
        Both are the full AP when ``k`` is None. See ``docs/evaluation.md``.
    interpolation : {None, "11point"}, default=None
        ``"11point"``: 11-point interpolated AP, the mean over recall levels
        0, 0.1, ..., 1 of the best precision at a recall at least that level
        (Sharma et al., CVPR 2012, Table 3). Not with ``normalize="retrieved"``.
    unique : {"query", "target"}, default=None
        Keep only the first row of each distinct label on that side, e.g. the
        images of a table with one row per (image, caption) pair (see
        :func:`evaluate_retrieval`). Needs 1-D labels.
    no_relevant : {"miss", "skip", "error"}, default="miss"
        A query without relevant target: ``"miss"`` counts it as AP 0 (with a
        warning), ``"skip"`` leaves it out of the mean, ``"error"`` raises a
        ValueError.
    batch_size : int or "auto", default="auto"
        Queries scored per block; it never changes the result. ``"auto"``
        fits a block of scores in scikit-learn's ``working_memory``.

    Returns
    -------
    score : float
        mAP in [0, 1]. Ties are ranked as in
        :func:`sklearn.metrics.average_precision_score`.

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
    >>> mean_average_precision(images, texts, [0, 1, 1], [0, 1, 1], k="R")  # MAP@R
    0.75
    """
    _check_ap_options(normalize, interpolation)
    problem = _problem(
        query_embeddings, target_embeddings, query_labels, target_labels, unique
    )
    n_queries = len(problem.queries)
    precisions = np.empty(n_queries)
    missing = np.zeros(n_queries, dtype=bool)
    for start, stop, scores, relevant, score_range in _iter_score_chunks(
        problem, similarity, batch_size
    ):
        if relevant is None:
            # One relevant target: AP is the reciprocal of its rank.
            ranks = _hit_ranks(scores, None, start)
            cutoff = np.inf if k is None else 1 if k == "R" else k
            precisions[start:stop] = np.where(ranks <= cutoff, 1.0 / ranks, 0.0)
        else:
            precisions[start:stop], n_relevant = _chunk_average_precisions(
                scores,
                relevant,
                k,
                normalize,
                interpolation,
                overwrite=True,
                score_range=score_range,
            )
            missing[start:stop] = n_relevant == 0
    kept = _kept(
        precisions, missing, no_relevant, "average precision 0", problem.query_rows
    )
    return float(kept.mean())


def _check_cutoffs(k):
    cutoffs = np.asarray(k)
    if (
        cutoffs.dtype.kind not in "iu"
        or cutoffs.ndim > 1
        or cutoffs.size == 0
        or (cutoffs < 1).any()
    ):
        raise ValueError(f"k must be a positive integer or a list of them, got {k!r}.")
    return cutoffs


def _hit_ranks_kept(problem, similarity, no_relevant, batch_size, what):
    """The hit rank of each query kept by ``no_relevant`` (``what`` a miss counts as)."""
    ranks = _problem_hit_ranks(problem, similarity, batch_size)
    return _kept(ranks, np.isinf(ranks), no_relevant, what, problem.query_rows)


def _rank_summary(statistic, problem, similarity, no_relevant, batch_size):
    """``statistic`` of the kept hit ranks: MedR for numpy.median, MeanR for numpy.mean."""
    ranks = _hit_ranks_kept(problem, similarity, no_relevant, batch_size, "rank inf")
    return float(statistic(ranks))


@validate_params(
    {
        **_EMBEDDING_PARAMS,
        "k": [Interval(Integral, 1, None, closed="left"), "array-like"],
    },
    prefer_skip_nested_validation=True,
)
def recall_at_k(
    query_embeddings,
    target_embeddings,
    query_labels=None,
    target_labels=None,
    *,
    k=1,
    similarity="cosine",
    unique=None,
    no_relevant="miss",
    batch_size="auto",
):
    """Recall@k (R@k): fraction of queries with a relevant target in their top k.

    This is the R@K of cross-modal retrieval benchmarks (e.g. Flickr30k,
    MS-COCO): with instance-level relevance (one relevant target per query) it
    is the usual recall; with labels, a query counts as recalled when at least
    one target of its category is ranked within the top ``k``. For the
    5-captions-per-image protocol, see :func:`evaluate_retrieval`.

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
        Cut-off rank(s). The hit's rank is one plus the number of non-relevant
        targets scoring at least as high (see the module documentation).
    similarity : {"cosine", "dot", "euclidean"}, default="cosine"
        How queries and targets compare, for ranking.
    unique : {"query", "target"}, default=None
        Keep only the first row of each distinct label on that side (see
        :func:`mean_average_precision`).
    no_relevant : {"miss", "skip", "error"}, default="miss"
        A query without relevant target: ``"miss"`` counts it as not recalled
        (with a warning), ``"skip"`` leaves it out, ``"error"`` raises.
    batch_size : int or "auto", default="auto"
        Queries scored per block; it never changes the result. ``"auto"``
        fits a block of scores in scikit-learn's ``working_memory``.

    Returns
    -------
    recall : float or ndarray of float
        A fraction in [0, 1]; one value per ``k`` when ``k`` is array-like.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.metrics import recall_at_k
    >>> images = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.2]])
    >>> texts = np.array([[0.9, 0.1], [0.1, 0.9], [0.2, 1.0]])
    >>> recall_at_k(images, texts, k=[1, 2])
    array([0.6666..., 1.        ])
    """
    cutoffs = _check_cutoffs(k)
    problem = _problem(
        query_embeddings, target_embeddings, query_labels, target_labels, unique
    )
    ranks = _hit_ranks_kept(
        problem, similarity, no_relevant, batch_size, "not recalled"
    )
    recall = (ranks[:, None] <= np.atleast_1d(cutoffs)[None, :]).mean(axis=0)
    return float(recall[0]) if cutoffs.ndim == 0 else recall


@validate_params(_EMBEDDING_PARAMS, prefer_skip_nested_validation=True)
def median_rank(
    query_embeddings,
    target_embeddings,
    query_labels=None,
    target_labels=None,
    *,
    similarity="cosine",
    unique=None,
    no_relevant="miss",
    batch_size="auto",
):
    """Median over queries of the rank of the hit, the first relevant target (MedR).

    Lower is better; 1 is perfect. The hit's rank is one plus the number of
    non-relevant targets scoring at least as high (see the module
    documentation). For an even number of queries the median is the mean of
    the two middle ranks, as :func:`numpy.median` (VSE++'s evaluation code
    rounds it down; see ``docs/evaluation.md``).

    Parameters
    ----------
    query_embeddings : array-like of shape (n_queries, n_components)
        Queries in the shared space.
    target_embeddings : array-like of shape (n_targets, n_components)
        Targets in the same space.
    query_labels, target_labels : array-like, default=None
        Labels for category-level relevance, as in
        :func:`mean_average_precision`; None for instance-level relevance.
    similarity : {"cosine", "dot", "euclidean"}, default="cosine"
        How queries and targets compare, for ranking.
    unique : {"query", "target"}, default=None
        Keep only the first row of each distinct label on that side (see
        :func:`mean_average_precision`).
    no_relevant : {"miss", "skip", "error"}, default="miss"
        A query without relevant target: ``"miss"`` gives it rank infinity
        (with a warning), ``"skip"`` leaves it out, ``"error"`` raises.
    batch_size : int or "auto", default="auto"
        Queries scored per block; it never changes the result. ``"auto"``
        fits a block of scores in scikit-learn's ``working_memory``.

    Returns
    -------
    rank : float
        The median rank.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.metrics import median_rank
    >>> images = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.2]])
    >>> texts = np.array([[0.9, 0.1], [0.1, 0.9], [0.2, 1.0]])
    >>> median_rank(images, texts)
    1.0
    """
    problem = _problem(
        query_embeddings, target_embeddings, query_labels, target_labels, unique
    )
    return _rank_summary(np.median, problem, similarity, no_relevant, batch_size)


@validate_params(_EMBEDDING_PARAMS, prefer_skip_nested_validation=True)
def mean_rank(
    query_embeddings,
    target_embeddings,
    query_labels=None,
    target_labels=None,
    *,
    similarity="cosine",
    unique=None,
    no_relevant="miss",
    batch_size="auto",
):
    """Mean over queries of the rank of the hit, the first relevant target (MeanR).

    Lower is better; 1 is perfect. The hit's rank is one plus the number of
    non-relevant targets scoring at least as high (see the module
    documentation); this is the ``meanr`` of VSE++'s evaluation code.

    Parameters
    ----------
    query_embeddings : array-like of shape (n_queries, n_components)
        Queries in the shared space.
    target_embeddings : array-like of shape (n_targets, n_components)
        Targets in the same space.
    query_labels, target_labels : array-like, default=None
        Labels for category-level relevance, as in
        :func:`mean_average_precision`; None for instance-level relevance.
    similarity : {"cosine", "dot", "euclidean"}, default="cosine"
        How queries and targets compare, for ranking.
    unique : {"query", "target"}, default=None
        Keep only the first row of each distinct label on that side (see
        :func:`mean_average_precision`).
    no_relevant : {"miss", "skip", "error"}, default="miss"
        A query without relevant target: ``"miss"`` gives it rank infinity
        (with a warning), ``"skip"`` leaves it out, ``"error"`` raises.
    batch_size : int or "auto", default="auto"
        Queries scored per block; it never changes the result. ``"auto"``
        fits a block of scores in scikit-learn's ``working_memory``.

    Returns
    -------
    rank : float
        The mean rank.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.metrics import mean_rank
    >>> images = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.2]])
    >>> texts = np.array([[0.9, 0.1], [0.1, 0.9], [0.2, 1.0]])
    >>> mean_rank(images, texts)
    1.3333...
    """
    problem = _problem(
        query_embeddings, target_embeddings, query_labels, target_labels, unique
    )
    return _rank_summary(np.mean, problem, similarity, no_relevant, batch_size)


@validate_params(_EMBEDDING_PARAMS, prefer_skip_nested_validation=True)
def mean_reciprocal_rank(
    query_embeddings,
    target_embeddings,
    query_labels=None,
    target_labels=None,
    *,
    similarity="cosine",
    unique=None,
    no_relevant="miss",
    batch_size="auto",
):
    """Mean over queries of 1 / rank of the hit, the first relevant target (MRR).

    Parameters
    ----------
    query_embeddings : array-like of shape (n_queries, n_components)
        Queries in the shared space.
    target_embeddings : array-like of shape (n_targets, n_components)
        Targets in the same space.
    query_labels, target_labels : array-like, default=None
        Labels for category-level relevance, as in
        :func:`mean_average_precision`; None for instance-level relevance.
    similarity : {"cosine", "dot", "euclidean"}, default="cosine"
        How queries and targets compare, for ranking.
    unique : {"query", "target"}, default=None
        Keep only the first row of each distinct label on that side (see
        :func:`mean_average_precision`).
    no_relevant : {"miss", "skip", "error"}, default="miss"
        A query without relevant target: ``"miss"`` counts it as reciprocal
        rank 0 (with a warning), ``"skip"`` leaves it out, ``"error"`` raises.
    batch_size : int or "auto", default="auto"
        Queries scored per block; it never changes the result. ``"auto"``
        fits a block of scores in scikit-learn's ``working_memory``.

    Returns
    -------
    score : float
        In [0, 1]; 1 is perfect.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal.metrics import mean_reciprocal_rank
    >>> images = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.2]])
    >>> texts = np.array([[0.9, 0.1], [0.1, 0.9], [0.2, 1.0]])
    >>> mean_reciprocal_rank(images, texts)
    0.8333...
    """
    problem = _problem(
        query_embeddings, target_embeddings, query_labels, target_labels, unique
    )
    ranks = _hit_ranks_kept(
        problem, similarity, no_relevant, batch_size, "reciprocal rank 0"
    )
    return float(np.mean(1.0 / ranks))


def _fold_rows(n_queries, n_targets, query_labels, target_labels, unique, n_folds):
    """Rows of each of ``n_folds`` disjoint folds of one table.

    With ``unique``, the folds split the distinct labels (in order of first
    appearance) into contiguous groups, each fold holding all rows of its
    labels; otherwise they split the rows into contiguous groups.
    """
    if n_queries != n_targets or (
        query_labels is not None and not np.array_equal(query_labels, target_labels)
    ):
        raise ValueError(
            "n_folds splits the rows of one table: query row i and target row i "
            "must be one sample, with the same label; got "
            f"{n_queries} queries and {n_targets} targets"
            + ("" if query_labels is None else " (or different labels)")
            + "."
        )
    if unique is None:
        item_of_row = np.arange(n_queries)
        n_items, what = n_queries, "rows"
    else:
        _check_unique(unique, query_labels)
        _, first, inverse = np.unique(
            query_labels, return_index=True, return_inverse=True
        )
        position = np.empty(len(first), dtype=np.intp)
        position[np.argsort(first)] = np.arange(len(first))
        item_of_row = position[inverse.reshape(-1)]
        n_items, what = len(first), f"distinct labels ({unique} items)"
    if n_items < n_folds:
        raise ValueError(
            f"n_folds={n_folds} folds need at least {n_folds} {what}; got {n_items}."
        )
    sizes = [len(part) for part in np.array_split(np.arange(n_items), n_folds)]
    fold_of_row = np.repeat(np.arange(n_folds), sizes)[item_of_row]
    return [np.flatnonzero(fold_of_row == fold) for fold in range(n_folds)]


def _check_unique(unique, query_labels):
    if query_labels is None:
        raise ValueError(
            f"unique={unique!r} keeps one {unique} per distinct label, which "
            "needs query_labels and target_labels (e.g. the image id of each row)."
        )
    if query_labels.ndim != 1:
        raise ValueError(
            f"unique={unique!r} needs 1-D labels (one id per row), not a "
            "multilabel indicator matrix."
        )


@validate_params(
    {
        **_EMBEDDING_PARAMS,
        "k": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "n_folds": [Interval(Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def evaluate_retrieval(
    query_embeddings,
    target_embeddings,
    query_labels=None,
    target_labels=None,
    *,
    unique=None,
    k=(1, 5, 10),
    n_folds=None,
    similarity="cosine",
    no_relevant="miss",
    batch_size="auto",
):
    """Retrieval in both directions, as the tables of image-text retrieval papers.

    Query rows retrieve target rows (``q2t``) and target rows retrieve query
    rows (``t2q``); each direction reports R@k in percent for each ``k``, the
    median and the mean rank of the hit (:func:`median_rank`,
    :func:`mean_rank`), and ``rsum`` adds up every R@k of both directions, as
    in VSE++ (Faghri et al., BMVC 2018) and the papers that reuse its
    evaluation code.

    **5 captions per image** (COCO, Flickr30k): pass one row per (image,
    caption) pair, each image's embedding repeated on its caption rows, the
    image id as both label arrays, and ``unique`` naming the image side.
    Text->image queries are then all captions against the distinct images;
    image->text queries are the distinct images against all captions, an
    image's hit rank being the best rank of any of its captions.

    Parameters
    ----------
    query_embeddings : array-like of shape (n_queries, n_components)
        One side, e.g. the images, in the shared space.
    target_embeddings : array-like of shape (n_targets, n_components)
        The other side, e.g. the captions.
    query_labels, target_labels : array-like, default=None
        Labels for category-level relevance (e.g. the image id of each row),
        as in :func:`mean_average_precision`; None for instance-level
        relevance (row ``i`` matches row ``i``).
    unique : {"query", "target"}, default=None
        The side reduced to its first row per distinct label, in both
        directions (the images of the 5-captions protocol).
    k : int or array-like of int, default=(1, 5, 10)
        Cut-offs of the recalls.
    n_folds : int, default=None
        Split the table into this many disjoint folds and report the mean of
        every value over the folds: ``n_folds=5`` on COCO's 5,000 test images
        is the "1K test" protocol (five folds of 1,000 images and their
        captions). With ``unique`` the folds split the distinct labels in
        order of first appearance, each fold holding all rows of its labels;
        without, they split the rows in order. Needs the rows of one table
        (as many queries as targets, the same labels).
    similarity : {"cosine", "dot", "euclidean"}, default="cosine"
        How queries and targets compare, for ranking.
    no_relevant : {"miss", "skip", "error"}, default="miss"
        A query without relevant target: ``"miss"`` counts it as not recalled
        with rank infinity (with a warning), ``"skip"`` leaves it out,
        ``"error"`` raises.
    batch_size : int or "auto", default="auto"
        Queries scored per block; it never changes the result. ``"auto"``
        fits a block of scores in scikit-learn's ``working_memory``.

    Returns
    -------
    results : dict of str to float
        ``"q2t_R@1"``, ``"q2t_R@5"``, ... (percent), ``"q2t_medr"``,
        ``"q2t_meanr"``, the same for ``"t2q_"``, and ``"rsum"`` (percent,
        at most ``200 * len(k)``).

    See Also
    --------
    make_retrieval_scorer : ``"rsum"`` and the other values as scorers.

    Examples
    --------
    Two images with two captions each; rows are (image, caption) pairs.

    >>> import numpy as np
    >>> from skcrossmodal.metrics import evaluate_retrieval
    >>> images = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> captions = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.3, 0.7]])
    >>> image_id = [0, 0, 1, 1]
    >>> results = evaluate_retrieval(images, captions, image_id, image_id,
    ...                              unique="query", k=[1])
    >>> results
    {'q2t_R@1': 100.0, 'q2t_medr': 1.0, 'q2t_meanr': 1.0,
     't2q_R@1': 75.0, 't2q_medr': 1.0, 't2q_meanr': 1.25, 'rsum': 175.0}
    """
    cutoffs = np.atleast_1d(_check_cutoffs(k))
    queries, targets = _check_embeddings(query_embeddings, target_embeddings)
    query_labels, target_labels = _check_label_pair(
        query_labels, target_labels, len(queries), len(targets)
    )
    if unique is not None:
        _check_unique(unique, query_labels)
    if n_folds is None:
        folds = [None]
    else:
        folds = _fold_rows(
            len(queries), len(targets), query_labels, target_labels, unique, n_folds
        )
    reverse_unique = {"query": "target", "target": "query", None: None}[unique]
    per_fold = []
    for rows in folds:
        q, t, q_labels, t_labels = queries, targets, query_labels, target_labels
        if rows is not None:
            q, t = q[rows], t[rows]
            if query_labels is not None:
                q_labels, t_labels = q_labels[rows], t_labels[rows]
        results = {}
        for prefix, problem in (
            ("q2t", _Problem(q, t, q_labels, t_labels, unique, rows)),
            ("t2q", _Problem(t, q, t_labels, q_labels, reverse_unique, rows)),
        ):
            ranks = _problem_hit_ranks(problem, similarity, batch_size)
            ranks = _kept(
                ranks,
                np.isinf(ranks),
                no_relevant,
                "not recalled, rank inf",
                problem.query_rows,
            )
            for cutoff in cutoffs:
                results[f"{prefix}_R@{cutoff}"] = 100.0 * float(
                    np.mean(ranks <= cutoff)
                )
            results[f"{prefix}_medr"] = float(np.median(ranks))
            results[f"{prefix}_meanr"] = float(np.mean(ranks))
        results["rsum"] = sum(value for key, value in results.items() if "_R@" in key)
        per_fold.append(results)
    return {
        key: float(np.mean([fold[key] for fold in per_fold])) for key in per_fold[0]
    }


# --------------------------------------------------------------------------
# Scorers
# --------------------------------------------------------------------------

_SCORERS = {
    "map": (mean_average_precision, 1),
    "recall": (recall_at_k, 1),
    "mrr": (mean_reciprocal_rank, 1),
    "neg_median_rank": (median_rank, -1),
    "neg_mean_rank": (mean_rank, -1),
    "rsum": (evaluate_retrieval, 1),
}


class _SharedSpaceEmbedding(BaseEstimator):
    """The chain of fitted transforms that maps a scorer's ``X`` to the shared space."""

    def __init__(self, transformers=()):
        self.transformers = transformers

    def transform(self, X):
        for transformer in self.transformers:
            X = transformer.transform(X)
        return X


def _retriever_embedding(estimator):
    """Fitted transformers that embed X for a retriever, or a pipeline ending in one.

    None if ``estimator`` is neither. A :class:`~skcrossmodal.retrieval.CrossModalRetriever`
    has no ``transform``: its ``X`` is embedded by the pipeline steps before it.
    """
    from .retrieval import CrossModalRetriever

    if isinstance(estimator, CrossModalRetriever):
        return []
    if not isinstance(estimator, Pipeline):
        return None
    *before, (_, last) = estimator.steps
    inner = _retriever_embedding(last)
    if inner is None:
        return None
    return [
        step
        for _, step in before
        if not (step is None or (isinstance(step, str) and step == "passthrough"))
    ] + inner


def _shared_space_embedding(estimator, scorer):
    """What embeds ``X`` for ``scorer``: the estimator, or the steps before a retriever."""
    transformers = _retriever_embedding(estimator)
    if transformers is not None:
        return _SharedSpaceEmbedding(transformers)
    if hasattr(estimator, "transform"):
        return _SharedSpaceEmbedding([estimator])
    raise TypeError(
        f"{scorer!r} needs an estimator whose transform returns a modality table in "
        "a shared space (a skcrossmodal mapper, or a Pipeline ending in one), or a "
        "CrossModalRetriever (or a Pipeline ending in one); got "
        f"{type(estimator).__name__}, which has no transform."
    )


class _RetrievalScorer(_BaseScorer):
    """Callable ``scorer(estimator, X, y=None)``; see :func:`make_retrieval_scorer`.

    A subclass of scikit-learn's private ``_BaseScorer`` for one reason: the
    ``_MultimetricScorer`` of ``cross_validate`` and ``GridSearchCV`` (with a
    dict of scorers) then calls :meth:`_score` with a ``method_caller`` that
    caches responses by method name for one fold, so that every retrieval
    scorer of the dict shares one embedding of ``X`` instead of re-running the
    pipeline. The cache is only built when several scorers declare the same
    ``_response_method``; ``"fit"`` is one that every estimator has (a
    Pipeline ending in a retriever has no ``transform``). The protocol
    (``_score(method_caller, estimator, X, y_true, **kwargs)``,
    ``_cached_call(cache, estimator, response_method, X)``) is that of
    scikit-learn 1.4 to 1.9.
    """

    def __init__(
        self,
        metric,
        query,
        target,
        similarity,
        options,
        symmetric,
        unique,
        no_relevant,
        batch_size,
    ):
        function, sign = _SCORERS[metric]
        super().__init__(function, sign, options, response_method="fit")
        self.metric = metric
        self.query = query
        self.target = target
        self.similarity = similarity
        self.options = options
        self.symmetric = symmetric
        self.unique = unique
        self.no_relevant = no_relevant
        self.batch_size = batch_size

    def __call__(self, estimator, X, y=None, **kwargs):
        """Score a fitted estimator on X (and optional labels y).

        Parameters
        ----------
        estimator : fitted estimator
            A mapper or a pipeline ending in one, whose ``transform`` returns
            a modality table with the query and target blocks; or a
            :class:`~skcrossmodal.retrieval.CrossModalRetriever` or a pipeline
            ending in one, whose steps before it produce that table.
        X : pandas.DataFrame
            Input of the embedding.
        y : array-like of shape (n_samples,), default=None
            Labels for category-level relevance, or the ids that ``unique``
            reduces to one row each; None for instance-level relevance (row i
            of the query block matches row i of the target block).
        **kwargs : dict
            Refused: retrieval scorers take no metadata.

        Returns
        -------
        score : float
            Greater is better.
        """
        return self._score(partial(_cached_call, None), estimator, X, y, **kwargs)

    def _score(self, method_caller, estimator, X, y_true=None, **kwargs):
        if kwargs:
            raise TypeError(f"{self!r} takes no metadata, got {sorted(kwargs)}.")
        embedded = method_caller(
            _shared_space_embedding(estimator, self), "transform", X
        )
        try:
            blocks = split_modalities(embedded)
        except ValueError as exc:
            raise ValueError(
                f"{self!r} needs the embedding of X to be a modality table (a "
                "DataFrame with '<modality>__<feature>' columns), got "
                f"{type(embedded).__name__}. End the pipeline with a skcrossmodal "
                "mapper, or put one before the retriever."
            ) from exc
        missing = [m for m in (self.query, self.target) if m not in blocks]
        if missing:
            raise ValueError(
                f"{self!r} needs modality blocks {missing}, but the transformed X "
                f"has blocks {list(blocks)}."
            )
        if self.unique is not None and y_true is None:
            raise ValueError(
                f"{self!r} needs y: unique={self.unique!r} keeps one row per distinct "
                f"y, so y must give each row's {self.unique} id (e.g. the image id "
                "of each (image, caption) row)."
            )
        labels = None if y_true is None else np.asarray(y_true)
        common = {
            "similarity": self.similarity,
            "no_relevant": self.no_relevant,
            "batch_size": self.batch_size,
        }
        if self.metric == "rsum":
            side = {self.query: "query", self.target: "target", None: None}
            return evaluate_retrieval(
                blocks[self.query],
                blocks[self.target],
                labels,
                labels,
                unique=side[self.unique],
                **common,
            )["rsum"]
        directions = [(self.query, self.target)]
        if self.symmetric:
            directions.append((self.target, self.query))
        values = [
            self._score_func(
                blocks[source],
                blocks[destination],
                labels,
                labels,
                unique={source: "query", destination: "target", None: None}[
                    self.unique
                ],
                **common,
                **self.options,
            )
            for source, destination in directions
        ]
        return self._sign * float(np.mean(values))

    def __repr__(self):
        defaults = {
            "similarity": "cosine",
            "normalize": "relevant",
            "unique": None,
            "no_relevant": "miss",
            "symmetric": False,
        }
        shown = [
            ("similarity", self.similarity),
            *self.options.items(),
            ("unique", self.unique),
            ("no_relevant", self.no_relevant),
            ("symmetric", self.symmetric),
        ]
        options = "".join(
            f", {name}={value!r}"
            for name, value in shown
            if value is not None and defaults.get(name, None) != value
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
        "similarity": [StrOptions(set(SIMILARITIES))],
        **_AP_PARAMS,
        "unique": [str, None],
        "no_relevant": [_NO_RELEVANT],
        "symmetric": ["boolean"],
        "batch_size": _BATCH_SIZE,
    },
    prefer_skip_nested_validation=True,
)
def make_retrieval_scorer(
    metric="map",
    *,
    query,
    target,
    similarity="cosine",
    k=None,
    normalize="relevant",
    interpolation=None,
    unique=None,
    no_relevant="miss",
    symmetric=False,
    batch_size="auto",
):
    """Make a retrieval scorer for ``scoring=`` in GridSearchCV and cross_validate.

    The scorer is called as ``scorer(estimator, X, y=None)``: it embeds X with
    the fitted estimator, takes the ``query`` and ``target`` blocks of the
    resulting modality table, and scores retrieval of targets by queries
    within X. With ``y`` the relevance is category-level (same ``y``);
    without, instance-level (same row).

    The estimator is a mapper or a pipeline ending in one (X is embedded by
    its ``transform``), or a :class:`~skcrossmodal.retrieval.CrossModalRetriever`
    or a pipeline ending in one (X is embedded by the steps before it; the
    retriever's gallery is not used). Several retrieval scorers given together as a dict to
    ``cross_validate`` or ``GridSearchCV`` embed X once per fold between them.

    Parameters
    ----------
    metric : {"map", "recall", "mrr", "neg_median_rank", "neg_mean_rank", "rsum"}, \
            default="map"
        :func:`mean_average_precision`, :func:`recall_at_k`,
        :func:`mean_reciprocal_rank`, the negated :func:`median_rank` or
        :func:`mean_rank` (so that greater is better, like scikit-learn's
        ``neg_*`` scorers), or ``"rsum"``: the sum of R@1, R@5 and R@10 of both
        directions, in percent (:func:`evaluate_retrieval`).
    query : str
        Modality of the queries, e.g. ``"image"``.
    target : str
        Modality of the targets, e.g. ``"text"``.
    similarity : {"cosine", "dot", "euclidean"}, default="cosine"
        Passed to the metric function (also when scoring a retriever, whose
        own ``similarity`` is not used).
    k : int or "R", default=None
        Cut-off for ``"map"`` (mAP@k; ``"R"`` for MAP@R) and, required, for
        ``"recall"``.
    normalize : {"relevant", "retrieved"}, default="relevant"
        For ``"map"`` only: the divisor of mAP@k (see
        :func:`mean_average_precision`).
    interpolation : {None, "11point"}, default=None
        For ``"map"`` only: 11-point interpolated mAP.
    unique : str, default=None
        ``query`` or ``target``: that modality is reduced to one row per
        distinct ``y`` (keeping the first), e.g. ``unique="image"`` on a table
        with one row per (image, caption) pair and ``y`` the image id. Needs
        ``y``.
    no_relevant : {"miss", "skip", "error"}, default="miss"
        Queries without relevant target (see :func:`mean_average_precision`).
    symmetric : bool, default=False
        Also score ``target -> query`` retrieval and return the mean of both
        directions. Not with ``"rsum"``, which always covers both.
    batch_size : int or "auto", default="auto"
        Queries scored per block; it never changes the result. ``"auto"``
        fits a block of scores in scikit-learn's ``working_memory``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None) -> float``, greater is better.

    Examples
    --------
    >>> from skcrossmodal.metrics import make_retrieval_scorer
    >>> make_retrieval_scorer("map", query="image", target="text")
    make_retrieval_scorer('map', query='image', target='text')
    >>> make_retrieval_scorer("rsum", query="text", target="image", unique="image")
    make_retrieval_scorer('rsum', query='text', target='image', unique='image')
    """
    if query == target:
        raise ValueError(
            f"query and target must be different modalities, got {query!r}."
        )
    if unique is not None and unique not in (query, target):
        raise ValueError(
            f"unique must name the query or the target modality ({query!r} or "
            f"{target!r}), got {unique!r}."
        )
    if metric != "map":
        for name, value, default in (
            ("normalize", normalize, "relevant"),
            ("interpolation", interpolation, None),
        ):
            if value != default:
                raise ValueError(
                    f"{name} only applies to metric='map', not {metric!r}."
                )
    options = {}
    if metric == "map":
        _check_ap_options(normalize, interpolation)
        options = {"k": k, "normalize": normalize, "interpolation": interpolation}
    elif metric == "recall":
        if k is None or k == "R":
            raise ValueError("metric='recall' needs an integer cut-off k, e.g. k=10.")
        options = {"k": k}
    elif k is not None:
        raise ValueError(f"k does not apply to metric={metric!r}.")
    if metric == "rsum" and symmetric:
        raise ValueError("metric='rsum' already sums both directions; drop symmetric.")
    return _RetrievalScorer(
        metric,
        query,
        target,
        similarity,
        options,
        symmetric,
        unique,
        no_relevant,
        batch_size,
    )
