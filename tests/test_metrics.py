"""Tests for skcrossmodal.metrics against independent references."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import itertools
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist
from sklearn.base import BaseEstimator
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import average_precision_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import skcrossmodal
import skcrossmodal.metrics as metrics_module
from skcrossmodal import make_frame, split_modalities
from skcrossmodal._frame import validate_blocks
from skcrossmodal.compose import make_modality_union
from skcrossmodal.mapping._base import SharedSpaceMixin
from skcrossmodal.metrics import (
    average_precision_from_scores,
    evaluate_retrieval,
    make_retrieval_scorer,
    mean_average_precision,
    mean_rank,
    mean_reciprocal_rank,
    median_rank,
    recall_at_k,
)
from skcrossmodal.retrieval import CrossModalRetriever

WIKIPEDIA = Path(skcrossmodal.__file__).parent / "datasets" / "data" / "wikipedia.npz"


# --------------------------------------------------------------------------
# Independent references: plain loops, one query at a time
# --------------------------------------------------------------------------


def reference_scores(queries, targets, metric):
    if metric == "cosine":
        return 1.0 - cdist(queries, targets, "cosine")
    if metric == "dot":
        return queries @ targets.T
    return -cdist(queries, targets, "sqeuclidean")


def reference_relevance(query_labels, target_labels, n_queries):
    if query_labels is None:
        return np.eye(n_queries, dtype=bool)
    return np.asarray(query_labels)[:, None] == np.asarray(target_labels)[None, :]


def loop_ranking(scores_row):
    """Targets by decreasing score; no ties in the data of these loops."""
    return np.argsort(-scores_row, kind="stable")


def loop_average_precision_at_k(relevant_row, scores_row, k):
    ranked = relevant_row[loop_ranking(scores_row)]
    total, hits = 0.0, 0
    for rank, is_relevant in enumerate(ranked[:k], start=1):
        if is_relevant:
            hits += 1
            total += hits / rank
    return total / min(k, relevant_row.sum())


def loop_eleven_point(relevant_row, scores_row, k=None):
    """Pascal VOC 2007 style 11-point interpolated AP over every rank."""
    ranked = relevant_row[loop_ranking(scores_row)]
    if k is not None:
        ranked = ranked[:k]
    hits = np.cumsum(ranked)
    precision = hits / np.arange(1, len(ranked) + 1)
    recall = hits / relevant_row.sum()
    values = []
    for level in np.linspace(0, 1, 11):
        reached = recall >= level - 1e-12
        values.append(precision[reached].max() if reached.any() else 0.0)
    return np.mean(values)


def loop_first_relevant_rank(relevant_row, scores_row):
    ranked = relevant_row[loop_ranking(scores_row)]
    return np.flatnonzero(ranked)[0] + 1


@pytest.fixture
def embeddings():
    rng = np.random.default_rng(0)
    n_queries, n_targets, n_classes = 40, 150, 5
    centres = rng.standard_normal((n_classes, 6))
    query_labels = rng.integers(n_classes, size=n_queries)
    target_labels = rng.integers(n_classes, size=n_targets)
    queries = centres[query_labels] + rng.standard_normal((n_queries, 6))
    targets = centres[target_labels] + rng.standard_normal((n_targets, 6))
    return queries, targets, query_labels, target_labels


@pytest.fixture
def paired():
    rng = np.random.default_rng(0)
    latent = rng.standard_normal((60, 5))
    queries = latent + 0.8 * rng.standard_normal((60, 5))
    targets = latent + 0.8 * rng.standard_normal((60, 5))
    return queries, targets


# --------------------------------------------------------------------------
# mean_average_precision against scikit-learn, per query
# --------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_map_category_level_matches_sklearn(embeddings, metric, dtype):
    queries, targets, query_labels, target_labels = embeddings
    if metric == "dot":
        # Scores far above 2 exercise the exact power-of-two rescaling.
        queries, targets = 1e3 * queries, 1e2 * targets
    queries, targets = queries.astype(dtype), targets.astype(dtype)
    scores = reference_scores(
        queries.astype(np.float64), targets.astype(np.float64), metric
    )
    relevance = reference_relevance(query_labels, target_labels, len(queries))
    expected = np.mean(
        [average_precision_score(relevance[i], scores[i]) for i in range(len(queries))]
    )
    result = mean_average_precision(
        queries, targets, query_labels, target_labels, similarity=metric
    )
    # float32 scores are rounded differently from the float64 reference.
    assert result == pytest.approx(expected, abs=1e-12 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
def test_map_instance_level_matches_sklearn(paired, metric):
    queries, targets = paired
    scores = reference_scores(queries, targets, metric)
    expected = np.mean(
        [average_precision_score(np.arange(60) == i, scores[i]) for i in range(60)]
    )
    assert mean_average_precision(queries, targets, similarity=metric) == pytest.approx(
        expected, abs=1e-12
    )


def test_map_string_labels(embeddings):
    queries, targets, query_labels, target_labels = embeddings
    names = np.array(["art", "biology", "history", "music", "sport"])
    assert mean_average_precision(
        queries, targets, names[query_labels], list(names[target_labels])
    ) == mean_average_precision(queries, targets, query_labels, target_labels)


def test_map_multilabel_matches_sklearn():
    rng = np.random.default_rng(0)
    queries, targets = rng.standard_normal((30, 4)), rng.standard_normal((80, 4))
    query_labels = rng.random((30, 6)) < 0.3
    query_labels[:, 0] = True  # every query has a relevant target
    target_labels = (rng.random((80, 6)) < 0.3).astype(int)
    target_labels[0, 0] = 1
    relevance = (query_labels.astype(int) @ target_labels.T) > 0
    scores = reference_scores(queries, targets, "cosine")
    expected = np.mean(
        [average_precision_score(relevance[i], scores[i]) for i in range(30)]
    )
    result = mean_average_precision(queries, targets, query_labels, target_labels)
    assert result == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("k", [1, 5, 17, 1000])
def test_map_at_k_matches_loop(embeddings, k):
    queries, targets, query_labels, target_labels = embeddings
    scores = reference_scores(queries, targets, "cosine")
    relevance = reference_relevance(query_labels, target_labels, len(queries))
    expected = np.mean(
        [
            loop_average_precision_at_k(relevance[i], scores[i], k)
            for i in range(len(queries))
        ]
    )
    result = mean_average_precision(queries, targets, query_labels, target_labels, k=k)
    assert result == pytest.approx(expected, abs=1e-12)


def test_map_at_k_covering_all_targets_is_full_map(embeddings):
    queries, targets, query_labels, target_labels = embeddings
    full = mean_average_precision(queries, targets, query_labels, target_labels)
    at_all = mean_average_precision(
        queries, targets, query_labels, target_labels, k=len(targets)
    )
    assert at_all == pytest.approx(full, abs=1e-15)


@pytest.mark.parametrize("k", [None, 20])
def test_eleven_point_interpolation_matches_loop(embeddings, k):
    queries, targets, query_labels, target_labels = embeddings
    scores = reference_scores(queries, targets, "cosine")
    relevance = reference_relevance(query_labels, target_labels, len(queries))
    expected = np.mean(
        [loop_eleven_point(relevance[i], scores[i], k) for i in range(len(queries))]
    )
    result = mean_average_precision(
        queries, targets, query_labels, target_labels, k=k, interpolation="11point"
    )
    assert result == pytest.approx(expected, abs=1e-12)


def test_eleven_point_instance_level(paired):
    queries, targets = paired
    scores = reference_scores(queries, targets, "cosine")
    expected = np.mean(
        [loop_eleven_point(np.arange(60) == i, scores[i]) for i in range(60)]
    )
    result = mean_average_precision(queries, targets, interpolation="11point")
    assert result == pytest.approx(expected, abs=1e-12)


def test_perfect_and_reversed_rankings():
    labels = np.repeat([0, 1], 5)
    embeddings = np.eye(2)[labels]
    assert mean_average_precision(embeddings, embeddings, labels, labels) == 1.0
    assert (
        mean_average_precision(
            embeddings, embeddings, labels, labels, interpolation="11point"
        )
        == 1.0
    )
    # Each query ranks the other class first; its 5 relevant targets are tied
    # at ranks 6..10 and all take rank 10: AP = 5 / 10.
    assert mean_average_precision(embeddings, embeddings, labels, 1 - labels) == 0.5
    # Without ties: AP = mean of i / (5 + i), i = 1..5.
    targets = embeddings + np.linspace(0, 0.01, 10)[:, None] * [[1, -1]]
    expected = np.mean(np.arange(1, 6) / np.arange(6, 11))
    assert mean_average_precision(embeddings, targets, labels, 1 - labels) == (
        pytest.approx(expected, abs=1e-15)
    )


# --------------------------------------------------------------------------
# Ties, blocks and the low-level function
# --------------------------------------------------------------------------


def test_average_precision_from_scores_with_ties_matches_sklearn():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 6, size=(50, 40)).astype(float)
    scores[:, :3] = -0.0  # -0.0 and 0.0 are tied, as sklearn sees them
    scores[:, 3:6] = 0.0
    relevance = rng.random((50, 40)) < 0.3
    relevance[:, 0] = True
    expected = [average_precision_score(relevance[i], scores[i]) for i in range(50)]
    result = average_precision_from_scores(relevance, scores, average=False)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-14)
    assert average_precision_from_scores(relevance, scores) == pytest.approx(
        np.mean(expected), abs=1e-14
    )
    # The result does not depend on the order of the targets.
    permutation = rng.permutation(40)
    np.testing.assert_allclose(
        average_precision_from_scores(
            relevance[:, permutation], scores[:, permutation], average=False
        ),
        result,
        rtol=0,
        atol=1e-14,
    )


@pytest.mark.parametrize("scale", [1.0, 1e300, 1e-300])
def test_near_ties_finer_than_a_float32_are_ranked_exactly(scale):
    # Pairs of scores 1e-13 apart (distinct in float64, not in float32) and, with
    # scale 1e300 or 1e-300, a score range whose grid step overflows or
    # underflows: all need the exact 64-bit path.
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((30, 60))
    scores[:, 1::2] = scores[:, ::2] + 1e-13 * rng.choice([-1, 1], size=(30, 30))
    scores *= scale
    relevance = rng.random((30, 60)) < 0.3
    relevance[:, 0] = True
    expected = [average_precision_score(relevance[i], scores[i]) for i in range(30)]
    np.testing.assert_allclose(
        average_precision_from_scores(relevance, scores, average=False),
        expected,
        rtol=0,
        atol=1e-14,
    )


def test_ties_are_ranked_pessimistically():
    relevant = np.array([[True, False, False, False]])
    constant = np.zeros((1, 4))
    # Four tied targets: the relevant one takes rank 4.
    assert average_precision_from_scores(relevant, constant) == 0.25
    same = np.ones((4, 2))
    # Instance-level, all scores tied: each query's one relevant target is
    # ranked after the 3 non-relevant ones, rank 1 + 3 = 4.
    assert median_rank(same, same) == 4.0
    assert mean_rank(same, same) == 4.0
    assert mean_reciprocal_rank(same, same) == 0.25
    assert recall_at_k(same, same, k=3) == 0.0
    assert recall_at_k(same, same, k=4) == 1.0
    assert mean_average_precision(same, same) == 0.25
    # Category-level, all scores tied, two relevant and two non-relevant
    # targets: the hit comes after the 2 non-relevant ones, rank 1 + 2 = 3
    # (the old rule, the last rank of the tie group, said 4); AP keeps
    # scikit-learn's one threshold, precision 2 / 4.
    labels = ([0], [0, 0, 1, 1])
    one, four = np.ones((1, 2)), np.ones((4, 2))
    assert median_rank(one, four, *labels) == 3.0
    assert mean_reciprocal_rank(one, four, *labels) == pytest.approx(1 / 3, abs=1e-15)
    np.testing.assert_array_equal(recall_at_k(one, four, *labels, k=[2, 3]), [0.0, 1.0])
    assert mean_average_precision(one, four, *labels) == 0.5


def test_relevant_targets_tied_at_the_top_are_a_hit_at_rank_one():
    # The example of issue #11: two relevant targets tied at the top. Old rule:
    # R@1 = 0, MRR = 0.5, MedR = 2 while mAP = 1.
    query = np.array([[1.0, 0.0]])
    targets = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])  # cosine 1, 1, 0
    labels = ([0], [0, 0, 1])
    assert mean_average_precision(query, targets, *labels) == 1.0
    assert recall_at_k(query, targets, *labels, k=1) == 1.0
    assert mean_reciprocal_rank(query, targets, *labels) == 1.0
    assert median_rank(query, targets, *labels) == 1.0
    assert mean_rank(query, targets, *labels) == 1.0


def worst_case_hit_rank(scores_row, relevant_row):
    """Largest position of the first relevant target over every ordering of
    the targets by non-increasing score (ties broken in every possible way)."""
    worst = 0
    for order in itertools.permutations(range(len(scores_row))):
        if np.all(np.diff(scores_row[list(order)]) <= 0):
            first = next(p for p, t in enumerate(order, start=1) if relevant_row[t])
            worst = max(worst, first)
    return worst


@pytest.mark.parametrize("labelled", [True, False])
def test_hit_rank_is_the_worst_case_over_tie_breaks(labelled):
    # Integer dot products of small integer vectors: many ties, exact in float.
    rng = np.random.default_rng(3)
    queries = np.column_stack([np.ones(6), rng.integers(-1, 2, size=6)])
    targets = rng.integers(-1, 2, size=(6, 2)).astype(float)
    if labelled:
        query_labels = rng.integers(3, size=6)
        target_labels = np.array([0, 1, 2, 0, 1, 2])
        relevance = query_labels[:, None] == target_labels[None, :]
    else:
        query_labels = target_labels = None
        relevance = np.eye(6, dtype=bool)
    scores = queries @ targets.T
    ranks = np.array([worst_case_hit_rank(scores[i], relevance[i]) for i in range(6)])
    assert len(np.unique(scores)) < scores.size / 3  # the data do tie
    args = (queries, targets, query_labels, target_labels)
    assert median_rank(*args, similarity="dot") == np.median(ranks)
    assert mean_rank(*args, similarity="dot") == pytest.approx(
        np.mean(ranks), abs=1e-15
    )
    assert mean_reciprocal_rank(*args, similarity="dot") == pytest.approx(
        np.mean(1 / ranks), abs=1e-15
    )
    np.testing.assert_array_equal(
        recall_at_k(*args, k=list(range(1, 7)), similarity="dot"),
        [np.mean(ranks <= k) for k in range(1, 7)],
    )


def test_float32_scores_keep_float32_ties():
    rng = np.random.default_rng(0)
    scores = rng.integers(-3, 4, size=(20, 30)).astype(np.float32) / 3
    relevance = rng.random((20, 30)) < 0.4
    relevance[:, 0] = True
    expected = [average_precision_score(relevance[i], scores[i]) for i in range(20)]
    np.testing.assert_allclose(
        average_precision_from_scores(relevance, scores, average=False),
        expected,
        atol=1e-14,
    )


def test_average_precision_from_scores_does_not_modify_input():
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((5, 9)) * 10
    relevance = rng.random((5, 9)) < 0.5
    relevance[:, 0] = True
    before = scores.copy()
    average_precision_from_scores(relevance, scores)
    np.testing.assert_array_equal(scores, before)


@pytest.mark.parametrize(
    "function, kwargs",
    [
        (mean_average_precision, {}),
        (mean_average_precision, {"k": 10}),
        (mean_average_precision, {"interpolation": "11point"}),
        (recall_at_k, {"k": [1, 5, 10]}),
        (median_rank, {}),
        (mean_reciprocal_rank, {}),
    ],
)
@pytest.mark.parametrize("labelled", [True, False])
def test_results_do_not_depend_on_block_sizes(
    embeddings, monkeypatch, function, kwargs, labelled
):
    queries, targets, query_labels, target_labels = embeddings
    if not labelled:
        targets, query_labels, target_labels = queries[::-1] + 0.5, None, None
    args = (queries, targets, query_labels, target_labels)
    auto = function(*args, **kwargs)
    for batch_size in (1, 7):
        np.testing.assert_array_equal(
            function(*args, batch_size=batch_size, **kwargs), auto
        )
    # Cache-sized chunks inside a block: a single row per chunk as well.
    monkeypatch.setattr(metrics_module, "_CHUNK_ENTRIES", 1)
    np.testing.assert_array_equal(function(*args, batch_size=13, **kwargs), auto)


def test_blocks_are_bounded_by_batch_size(embeddings, monkeypatch):
    queries, targets, query_labels, target_labels = embeddings
    shapes = []
    original = metrics_module.iter_similarity_blocks

    def recording(*args, **kwargs):
        for start, stop, scores in original(*args, **kwargs):
            shapes.append(scores.shape)
            yield start, stop, scores

    monkeypatch.setattr(metrics_module, "iter_similarity_blocks", recording)
    mean_average_precision(queries, targets, query_labels, target_labels, batch_size=7)
    assert max(rows for rows, _ in shapes) == 7
    assert sum(rows for rows, _ in shapes) == len(queries)


# --------------------------------------------------------------------------
# Rank-based metrics against brute-force loops
# --------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["cosine", "dot", "euclidean"])
@pytest.mark.parametrize("labelled", [True, False])
def test_rank_metrics_match_loops(embeddings, metric, labelled):
    queries, targets, query_labels, target_labels = embeddings
    if not labelled:
        targets = queries + 0.7 * np.random.default_rng(1).standard_normal(
            queries.shape
        )
        query_labels = target_labels = None
    scores = reference_scores(queries, targets, metric)
    relevance = reference_relevance(query_labels, target_labels, len(queries))
    ranks = np.array(
        [loop_first_relevant_rank(relevance[i], scores[i]) for i in range(len(queries))]
    )
    args = (queries, targets, query_labels, target_labels)
    assert median_rank(*args, similarity=metric) == np.median(ranks)
    assert mean_reciprocal_rank(*args, similarity=metric) == pytest.approx(
        np.mean(1 / ranks), abs=1e-15
    )
    for k in (1, 2, 5):
        assert recall_at_k(*args, k=k, similarity=metric) == np.mean(ranks <= k)
    np.testing.assert_array_equal(
        recall_at_k(*args, k=[1, 2, 5], similarity=metric),
        [np.mean(ranks <= k) for k in (1, 2, 5)],
    )


def test_euclidean_ranks_by_distance():
    queries = np.array([[0.0, 0.0]])
    targets = np.array([[3.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    labels_q, labels_t = [1], [0, 1, 0]
    assert (
        median_rank(queries, targets, labels_q, labels_t, similarity="euclidean") == 1
    )
    # Cosine cannot rank the zero query; dot ranks the largest inner product.
    assert (
        median_rank(
            np.array([[1.0, 0.0]]), targets, labels_q, labels_t, similarity="dot"
        )
        == 2
    )


# --------------------------------------------------------------------------
# Queries without relevant targets, and input errors
# --------------------------------------------------------------------------


def test_query_without_relevant_target_counts_as_failure(embeddings):
    queries, targets, query_labels, target_labels = embeddings
    query_labels = query_labels.copy()
    query_labels[[3, 8]] = 99
    kept = np.ones(len(queries), dtype=bool)
    kept[[3, 8]] = False
    args = (queries, targets, query_labels, target_labels)
    with pytest.warns(
        UndefinedMetricWarning, match="2 queries have no relevant.*query 3"
    ):
        result = mean_average_precision(*args)
    others = mean_average_precision(
        queries[kept], targets, query_labels[kept], target_labels
    )
    assert result == pytest.approx(others * kept.sum() / len(queries), abs=1e-15)
    with pytest.warns(UndefinedMetricWarning):
        assert mean_reciprocal_rank(*args) == pytest.approx(
            mean_reciprocal_rank(
                queries[kept], targets, query_labels[kept], target_labels
            )
            * kept.sum()
            / len(queries)
        )
    with pytest.warns(UndefinedMetricWarning):
        assert recall_at_k(*args, k=len(targets)) == kept.mean()
    with pytest.warns(UndefinedMetricWarning, match="rank inf"):
        assert (
            median_rank(queries[:3], targets, np.full(3, 99), target_labels) == np.inf
        )
    relevance = np.zeros((2, 3), dtype=bool)
    with pytest.warns(UndefinedMetricWarning):
        assert average_precision_from_scores(relevance, np.ones((2, 3))) == 0.0


def test_no_warning_when_every_query_has_a_relevant_target(embeddings):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mean_average_precision(*embeddings)
        median_rank(*embeddings)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"target_embeddings": np.ones((5, 3))},
            "have 2 features but target_embeddings have 3",
        ),
        ({"query_labels": [0, 1, 0]}, "query_labels must have one entry per row"),
        ({"target_labels": np.zeros((6, 2))}, "both be 1-D .* or both 2-D"),
        ({"target_labels": None}, "Only query_labels was given"),
        ({"query_labels": None}, "Only target_labels was given"),
        ({"k": 0}, "'k' parameter of mean_average_precision must be"),
        ({"similarity": "manhattan"}, "'similarity' parameter"),
        ({"interpolation": "linear"}, "'interpolation' parameter"),
        ({"batch_size": 0}, "'batch_size' parameter"),
        ({"query_embeddings": np.full((4, 2), np.nan)}, "query_embeddings"),
        ({"target_embeddings": np.ones((0, 2))}, "0 sample"),
    ],
)
def test_input_errors(kwargs, message):
    arguments = {
        "query_embeddings": np.ones((4, 2)),
        "target_embeddings": np.ones((6, 2)),
        "query_labels": [0, 1, 0, 1],
        "target_labels": [0, 1, 0, 1, 1, 0],
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        mean_average_precision(**arguments)


def test_labels_of_different_kinds_are_rejected():
    with pytest.raises(TypeError, match="both numeric or both not"):
        mean_average_precision(np.eye(2), np.eye(2), ["0", "1"], [0, 1])
    with pytest.raises(TypeError, match=r"target_labels mixes numbers .*row 1: 'a'"):
        mean_average_precision(
            np.eye(2), np.eye(2), [0, 1], np.array([1, "a"], dtype=object)
        )


def test_object_integer_labels_are_numbers(embeddings):
    queries, targets, query_labels, target_labels = embeddings
    expected = mean_average_precision(queries, targets, query_labels, target_labels)
    as_objects = np.array(query_labels.tolist(), dtype=object)
    assert (
        mean_average_precision(queries, targets, as_objects, target_labels) == expected
    )
    as_series = pd.Series(target_labels, dtype=object)
    assert median_rank(queries, targets, query_labels, as_series) == median_rank(
        queries, targets, query_labels, target_labels
    )


@pytest.mark.parametrize(
    "query_labels, target_labels, message",
    [
        (
            np.array([0, 1, None, 1], dtype=object),
            [0, 1, 0, 1, 1, 0],
            r"query_labels has no label in row 2 \(got None\)",
        ),
        (
            [0, 1, 0, 1],
            [0.0, 1.0, 0.0, 1.0, 1.0, np.nan],
            r"target_labels has no label in row 5 \(got (np.float64\()?nan",
        ),
        (
            pd.array([0, pd.NA, 0, 1], dtype="Int64"),
            [0, 1, 0, 1, 1, 0],
            r"query_labels has no label in row 1",
        ),
        (
            ["a", "b", None, "a"],
            ["a", "b", "a", "b", "b", "a"],
            r"query_labels has no label in row 2",
        ),
    ],
)
def test_missing_labels_are_refused(query_labels, target_labels, message):
    args = (np.ones((4, 2)), np.ones((6, 2)), query_labels, target_labels)
    for function in (mean_average_precision, median_rank, recall_at_k):
        with pytest.raises(ValueError, match=message):
            function(*args)


def test_warning_points_at_the_caller():
    with pytest.warns(UndefinedMetricWarning) as record:
        mean_average_precision(np.eye(2), np.eye(2), [0, 1], [2, 3])
    assert record[0].filename == __file__


def test_instance_level_needs_as_many_queries_as_targets():
    with pytest.raises(ValueError, match="4 queries and 6 targets"):
        median_rank(np.ones((4, 2)), np.ones((6, 2)))


@pytest.mark.parametrize("k", [0, [1, 0], 1.5, [[1]]])
def test_recall_at_k_rejects_bad_cutoffs(k):
    with pytest.raises(ValueError, match="k"):
        recall_at_k(np.eye(3), np.eye(3), k=k)


def test_multilabel_errors():
    with pytest.raises(ValueError, match="3 label columns but target_labels have 2"):
        mean_average_precision(np.eye(2), np.eye(2), np.ones((2, 3)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="0/1 multilabel indicator"):
        mean_average_precision(
            np.eye(2), np.eye(2), np.full((2, 2), 2), np.ones((2, 2))
        )


def test_average_precision_from_scores_errors():
    with pytest.raises(ValueError, match=r"relevance has shape \(2, 3\) but scores"):
        average_precision_from_scores(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="only 0 and 1"):
        average_precision_from_scores(np.full((2, 2), 3), np.ones((2, 2)))
    for bad in (np.inf, -np.inf, np.nan):
        with pytest.raises(ValueError, match="scores contain NaN or infinity"):
            average_precision_from_scores(np.ones((1, 2)), np.array([[bad, 0.0]]))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_overflowing_similarity_is_reported():
    huge = np.full((2, 2), 1e30, dtype=np.float32)
    with pytest.raises(ValueError, match="NaN or infinity"):
        mean_average_precision(huge, huge, [0, 1], [0, 1], similarity="dot")


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("labelled", [True, False])
@pytest.mark.parametrize(
    "function, kwargs",
    [
        (mean_average_precision, {}),
        (mean_average_precision, {"k": 2}),
        (recall_at_k, {"k": 1}),
        (mean_reciprocal_rank, {}),
        (median_rank, {}),
        (mean_rank, {}),
        (evaluate_retrieval, {}),
    ],
)
def test_non_finite_scores_are_refused_by_every_metric(function, kwargs, labelled):
    # Issue #10: huge euclidean embeddings gave mAP = inf, MRR = inf and
    # median rank 0. Squared norms of 1e200 overflow float64.
    rng = np.random.default_rng(0)
    huge = 1e200 * rng.standard_normal((4, 3))
    labels = ([0, 1, 0, 1], [0, 1, 0, 1]) if labelled else ()
    with pytest.raises(
        ValueError, match=r"NaN or infinity \(.* for query 0, target 0\)"
    ):
        function(huge, huge, *labels, similarity="euclidean", **kwargs)
    finite = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match="NaN or infinity .* for query 0"):
        function(
            finite.astype(np.float32) * 1e30,
            finite.astype(np.float32) * 1e30,
            *labels,
            similarity="dot",
            **kwargs,
        )


# --------------------------------------------------------------------------
# Published chance level on the Wikipedia benchmark
# --------------------------------------------------------------------------


def expected_random_average_precision(n_relevant, n_targets):
    """Expected AP of a uniformly random ranking (closed form)."""
    harmonic = np.sum(1.0 / np.arange(1, n_targets + 1))
    return (
        (n_relevant - 1) / (n_targets - 1) * (n_targets - harmonic) + harmonic
    ) / n_targets


def test_random_ranking_on_wikipedia_matches_published_chance():
    labels = np.load(WIKIPEDIA)["label_test"]
    n = len(labels)
    counts = np.bincount(labels)
    expected = np.sum(counts / n * expected_random_average_precision(counts, n))
    # Rasiwasia et al. (ACM MM 2010), Table 4: random ranking, 0.118.
    assert expected == pytest.approx(0.118, abs=5e-4)
    rng = np.random.default_rng(0)
    observed = [
        mean_average_precision(
            rng.standard_normal((n, 10)), rng.standard_normal((n, 10)), labels, labels
        )
        for _ in range(3)
    ]
    assert np.mean(observed) == pytest.approx(expected, abs=0.006)


# --------------------------------------------------------------------------
# Scorers inside scikit-learn's own model selection
# --------------------------------------------------------------------------


class LeastSquaresMapper(SharedSpaceMixin, BaseEstimator):
    """Test mapper: image -> text space by rank-limited least squares."""

    def __init__(self, rank=None):
        self.rank = rank

    def fit(self, X, y=None):
        blocks = validate_blocks(self, X, reset=True, required=["text", "image"])
        coef, *_ = np.linalg.lstsq(blocks["image"], blocks["text"], rcond=None)
        if self.rank is not None:
            u, s, vt = np.linalg.svd(coef, full_matrices=False)
            coef = (u[:, : self.rank] * s[: self.rank]) @ vt[: self.rank]
        self.coef_ = coef
        self.n_components_ = blocks["text"].shape[1]
        return self

    def _embed(self, blocks):
        return {
            modality: block if modality == "text" else block @ self.coef_
            for modality, block in blocks.items()
        }


@pytest.fixture
def planted():
    rng = np.random.default_rng(0)
    n, n_classes = 150, 5
    y = rng.integers(n_classes, size=n)
    latent = np.eye(n_classes)[y] + 0.3 * rng.standard_normal((n, n_classes))
    text = latent @ rng.standard_normal((n_classes, 6)) + 0.2 * rng.standard_normal(
        (n, 6)
    )
    image = latent @ rng.standard_normal((n_classes, 8)) + 0.2 * rng.standard_normal(
        (n, 8)
    )
    return make_frame(text=text, image=image), y


def test_scorer_equals_direct_computation(planted):
    X, y = planted
    mapper = LeastSquaresMapper().fit(X)
    blocks = split_modalities(mapper.transform(X))
    image, text = blocks["image"], blocks["text"]
    cases = [
        (
            make_retrieval_scorer("map", query="image", target="text"),
            mean_average_precision(image, text, y, y),
        ),
        (
            make_retrieval_scorer(
                "map", query="image", target="text", k=5, interpolation="11point"
            ),
            mean_average_precision(image, text, y, y, k=5, interpolation="11point"),
        ),
        (
            make_retrieval_scorer(
                "recall", query="text", target="image", k=3, similarity="euclidean"
            ),
            recall_at_k(text, image, y, y, k=3, similarity="euclidean"),
        ),
        (
            make_retrieval_scorer("mrr", query="image", target="text"),
            mean_reciprocal_rank(image, text, y, y),
        ),
        (
            make_retrieval_scorer("neg_median_rank", query="image", target="text"),
            -median_rank(image, text, y, y),
        ),
        (
            make_retrieval_scorer("map", query="image", target="text", symmetric=True),
            (
                mean_average_precision(image, text, y, y)
                + mean_average_precision(text, image, y, y)
            )
            / 2,
        ),
    ]
    for scorer, expected in cases:
        assert scorer(mapper, X, y) == expected
    # Without y, relevance is instance-level.
    scorer = make_retrieval_scorer("map", query="image", target="text")
    assert scorer(mapper, X) == mean_average_precision(image, text)


def test_scorer_in_grid_search_and_cross_val_score(planted):
    X, y = planted
    scorer = make_retrieval_scorer("map", query="image", target="text")
    search = GridSearchCV(
        LeastSquaresMapper(), {"rank": [1, 5]}, scoring=scorer, cv=KFold(3)
    ).fit(X, y)
    assert search.best_params_ == {"rank": 5}
    ranks = search.cv_results_["mean_test_score"]
    assert ranks[1] > ranks[0]
    # The scores are those of a manual loop over the same folds.
    manual = []
    for train, test in KFold(3).split(X):
        mapper = LeastSquaresMapper(rank=5).fit(X.iloc[train])
        blocks = split_modalities(mapper.transform(X.iloc[test]))
        manual.append(
            mean_average_precision(blocks["image"], blocks["text"], y[test], y[test])
        )
    assert search.best_score_ == pytest.approx(np.mean(manual), abs=1e-15)

    pipeline = make_pipeline(
        StandardScaler().set_output(transform="pandas"), LeastSquaresMapper()
    )
    scores = cross_val_score(pipeline, X, y, scoring=scorer, cv=KFold(3))
    chance = np.mean(np.bincount(y) / len(y))
    assert scores.shape == (3,) and (scores > 2 * chance).all()
    # What n_jobs > 1 does to the scorer: a pickle round trip.
    restored = pickle.loads(pickle.dumps(scorer))
    np.testing.assert_array_equal(
        cross_val_score(pipeline, X, y, scoring=restored, cv=KFold(3)), scores
    )


def test_scorer_repr_and_pickle():
    scorer = make_retrieval_scorer(
        "recall", query="image", target="text", k=10, similarity="dot", symmetric=True
    )
    assert repr(scorer) == (
        "make_retrieval_scorer('recall', query='image', target='text', "
        "similarity='dot', k=10, symmetric=True)"
    )
    assert repr(pickle.loads(pickle.dumps(scorer))) == repr(scorer)


def test_scorer_errors(planted):
    X, y = planted
    mapper = LeastSquaresMapper().fit(X)
    with pytest.raises(
        ValueError, match=r"needs modality blocks \['audio'\].*\['text', 'image'\]"
    ):
        make_retrieval_scorer(query="audio", target="text")(mapper, X, y)
    with pytest.raises(ValueError, match="modality table"):
        make_retrieval_scorer(query="image", target="text")(
            StandardScaler().fit(X), X, y
        )
    with pytest.raises(ValueError, match="needs an integer cut-off k"):
        make_retrieval_scorer("recall", query="image", target="text")
    with pytest.raises(ValueError, match="does not apply"):
        make_retrieval_scorer("mrr", query="image", target="text", k=3)
    with pytest.raises(ValueError, match="interpolation only applies"):
        make_retrieval_scorer(
            "mrr", query="image", target="text", interpolation="11point"
        )
    with pytest.raises(ValueError, match="different modalities"):
        make_retrieval_scorer(query="text", target="text")
    with pytest.raises(ValueError, match="'metric' parameter"):
        make_retrieval_scorer("ndcg", query="image", target="text")
    with pytest.raises(TypeError):
        make_retrieval_scorer("map", "image", "text")


def test_cca_on_wikipedia_with_grid_search():
    from skcrossmodal.mapping import CCA

    data = np.load(WIKIPEDIA)
    X_train = make_frame(text=data["text_train"], image=data["image_train"])
    X_test = make_frame(text=data["text_test"], image=data["image_test"])
    y_train, y_test = data["label_train"], data["label_test"]
    scorer = make_retrieval_scorer("map", query="image", target="text", symmetric=True)
    search = GridSearchCV(
        make_pipeline(CCA(reg=1e-4)),
        {"cca__n_components": [1, 9]},
        scoring=scorer,
        cv=KFold(3, shuffle=True, random_state=0),
    ).fit(X_train, y_train)
    assert search.best_params_ == {"cca__n_components": 9}
    blocks = split_modalities(search.transform(X_test))
    image_to_text = mean_average_precision(
        blocks["image"], blocks["text"], y_test, y_test
    )
    text_to_image = mean_average_precision(
        blocks["text"], blocks["image"], y_test, y_test
    )
    # Rasiwasia et al. (ACM MM 2010), Table 4, CCA: 0.249 and 0.196.
    assert image_to_text == pytest.approx(0.249, abs=0.015)
    assert text_to_image == pytest.approx(0.196, abs=0.015)
    assert search.score(X_test, y_test) == pytest.approx(
        (image_to_text + text_to_image) / 2, abs=1e-15
    )
    assert isinstance(search.transform(X_test), pd.DataFrame)


# --------------------------------------------------------------------------
# Scorers: new metrics and options, the 5-captions protocol
# --------------------------------------------------------------------------


def five_caption_frame(n_images=30, seed=0):
    """One row per (image, caption): each image block repeated on its 5 rows."""
    rng = np.random.default_rng(seed)
    images = np.repeat(rng.standard_normal((n_images, 6)), 5, axis=0)
    captions = images + rng.uniform(0.3, 1.5, (5 * n_images, 1)) * rng.standard_normal(
        images.shape
    )
    return make_frame(text=captions, image=images), np.repeat(np.arange(n_images), 5)


class IdentityMapper(SharedSpaceMixin, BaseEstimator):
    """Test mapper: both blocks already live in one space."""

    def fit(self, X, y=None):
        blocks = validate_blocks(self, X, reset=True, required=["text", "image"])
        self.n_components_ = blocks["text"].shape[1]
        return self

    def _embed(self, blocks):
        return dict(blocks)


def test_scorers_of_the_five_caption_protocol():
    X, image_id = five_caption_frame()
    mapper = IdentityMapper().fit(X)
    blocks = split_modalities(X)
    text, image = blocks["text"], blocks["image"]
    table = evaluate_retrieval(image, text, image_id, image_id, unique="query")
    cases = [
        (
            make_retrieval_scorer(
                "recall", query="text", target="image", k=1, unique="image"
            ),
            table["t2q_R@1"] / 100,
        ),
        (
            make_retrieval_scorer(
                "recall", query="image", target="text", k=5, unique="image"
            ),
            table["q2t_R@5"] / 100,
        ),
        (
            make_retrieval_scorer(
                "neg_median_rank", query="text", target="image", unique="image"
            ),
            -table["t2q_medr"],
        ),
        (
            make_retrieval_scorer(
                "neg_mean_rank",
                query="image",
                target="text",
                unique="image",
                symmetric=True,
            ),
            -(table["q2t_meanr"] + table["t2q_meanr"]) / 2,
        ),
        (
            make_retrieval_scorer("rsum", query="image", target="text", unique="image"),
            table["rsum"],
        ),
        (
            make_retrieval_scorer("rsum", query="text", target="image", unique="image"),
            table["rsum"],
        ),
    ]
    for scorer, expected in cases:
        assert scorer(mapper, X, image_id) == pytest.approx(expected, rel=1e-15), scorer
    # Issue #11: without unique the gallery holds every image five times.
    plain = make_retrieval_scorer("recall", k=1, query="text", target="image")
    assert plain(mapper, X) == 0.0 < cases[0][0](mapper, X, image_id)
    with pytest.raises(
        ValueError,
        match=r"needs y: unique='image' keeps one row per "
        r"distinct y, so y must give each row's image id",
    ):
        cases[0][0](mapper, X)


def test_scorer_map_options_equal_direct_computation(planted):
    X, y = planted
    mapper = LeastSquaresMapper().fit(X)
    blocks = split_modalities(mapper.transform(X))
    image, text = blocks["image"], blocks["text"]
    for kwargs in ({"k": 10, "normalize": "retrieved"}, {"k": "R"}):
        scorer = make_retrieval_scorer("map", query="image", target="text", **kwargs)
        assert scorer(mapper, X, y) == mean_average_precision(
            image, text, y, y, **kwargs
        )
    y_missing = y.copy()
    y_missing[y == 0] = 99  # images of class 99 have a text of class 99 too
    text_only = np.where(y == 4)[0]
    y_missing[text_only[:3]] = 100
    scorer = make_retrieval_scorer(
        "mrr", query="image", target="text", no_relevant="skip"
    )
    assert scorer(mapper, X, y_missing) == mean_reciprocal_rank(
        image, text, y_missing, y_missing, no_relevant="skip"
    )


def test_rsum_scorer_in_grid_search_and_cross_validate():
    X, image_id = five_caption_frame(n_images=36)
    rsum = make_retrieval_scorer("rsum", query="text", target="image", unique="image")
    scoring = {
        "rsum": rsum,
        "t2i_R@1": make_retrieval_scorer(
            "recall", query="text", target="image", k=1, unique="image"
        ),
        "medr": make_retrieval_scorer(
            "neg_median_rank", query="image", target="text", unique="image"
        ),
    }
    search = GridSearchCV(
        LeastSquaresMapper(),
        {"rank": [1, 6]},
        scoring=scoring,
        refit="rsum",
        cv=KFold(3),
    ).fit(X, image_id)
    assert search.best_params_ == {"rank": 6}
    # Each fold's rsum is evaluate_retrieval's on the fold, with no folds split.
    manual = []
    for train, test in KFold(3).split(X):
        mapper = LeastSquaresMapper(rank=6).fit(X.iloc[train])
        blocks = split_modalities(mapper.transform(X.iloc[test]))
        manual.append(
            evaluate_retrieval(
                blocks["text"],
                blocks["image"],
                image_id[test],
                image_id[test],
                unique="target",
            )["rsum"]
        )
    assert search.best_score_ == pytest.approx(np.mean(manual), rel=1e-12)
    results = cross_validate(
        LeastSquaresMapper(rank=6), X, image_id, scoring=scoring, cv=KFold(3)
    )
    np.testing.assert_allclose(results["test_rsum"], manual, rtol=1e-12)


def test_scorer_option_errors():
    with pytest.raises(ValueError, match="unique must name the query or the target"):
        make_retrieval_scorer(
            "recall", query="text", target="image", k=1, unique="audio"
        )
    with pytest.raises(ValueError, match="already sums both directions"):
        make_retrieval_scorer("rsum", query="text", target="image", symmetric=True)
    with pytest.raises(ValueError, match="k does not apply to metric='rsum'"):
        make_retrieval_scorer("rsum", query="text", target="image", k=5)
    with pytest.raises(ValueError, match="normalize only applies to metric='map'"):
        make_retrieval_scorer(
            "mrr", query="text", target="image", normalize="retrieved"
        )
    with pytest.raises(ValueError, match="needs an integer cut-off k"):
        make_retrieval_scorer("recall", query="text", target="image", k="R")
    with pytest.raises(ValueError, match="does not combine with normalize='retrieved'"):
        make_retrieval_scorer(
            query="text",
            target="image",
            k=5,
            normalize="retrieved",
            interpolation="11point",
        )
    scorer = make_retrieval_scorer(
        "map",
        query="image",
        target="text",
        k="R",
        normalize="retrieved",
        unique="image",
        no_relevant="skip",
    )
    assert repr(scorer) == (
        "make_retrieval_scorer('map', query='image', target='text', k='R', "
        "normalize='retrieved', unique='image', no_relevant='skip')"
    )
    X, y = five_caption_frame()
    with pytest.raises(TypeError, match=r"takes no metadata, got \['sample_weight'\]"):
        scorer(IdentityMapper().fit(X), X, y, sample_weight=np.ones(len(y)))


# --------------------------------------------------------------------------
# Scorers on pipelines ending in a retriever (issue #11, point 4)
# --------------------------------------------------------------------------


def raw_table(planted):
    """The planted blocks as raw columns, for a ModalityUnion."""
    X, y = planted
    blocks = split_modalities(X)
    columns = {f"t{j}": blocks["text"][:, j] for j in range(blocks["text"].shape[1])}
    columns.update(
        {f"i{j}": blocks["image"][:, j] for j in range(blocks["image"].shape[1])}
    )
    raw = pd.DataFrame(columns)
    union = make_modality_union(
        text=(StandardScaler(), [c for c in raw if c.startswith("t")]),
        image=(StandardScaler(), [c for c in raw if c.startswith("i")]),
    )
    return raw, y, union


def test_scorer_on_a_pipeline_ending_in_a_retriever(planted):
    from skcrossmodal.mapping import CCA

    raw, y, union = raw_table(planted)
    pipeline = make_pipeline(
        union, CCA(n_components=3), CrossModalRetriever(query="image", target="text")
    ).fit(raw)
    shared = split_modalities(pipeline[:-1].transform(raw))
    scorer = make_retrieval_scorer("map", query="image", target="text")
    assert scorer(pipeline, raw, y) == mean_average_precision(
        shared["image"], shared["text"], y, y
    )
    # The pipeline is the whole system: raw queries in, ranked gallery rows out,
    # those of a brute-force cosine ranking of the shared space.
    image = shared["image"] / np.linalg.norm(shared["image"], axis=1, keepdims=True)
    text = shared["text"] / np.linalg.norm(shared["text"], axis=1, keepdims=True)
    S = image[:7] @ text.T
    expected = np.lexsort(
        (np.broadcast_to(np.arange(S.shape[1]), S.shape), -S), axis=-1
    )[:, :10]
    np.testing.assert_array_equal(pipeline.predict(raw.iloc[:7]), expected)
    # cross_val_score gives numbers (it gave [nan nan nan] with a warning).
    scores = cross_val_score(
        make_pipeline(
            union,
            CCA(n_components=3),
            CrossModalRetriever(query="image", target="text"),
        ),
        raw,
        y,
        scoring=scorer,
        cv=KFold(3),
        error_score="raise",
    )
    manual = []
    for train, test in KFold(3).split(raw):
        fitted = make_pipeline(union, CCA(n_components=3)).fit(raw.iloc[train])
        blocks = split_modalities(fitted.transform(raw.iloc[test]))
        manual.append(
            mean_average_precision(blocks["image"], blocks["text"], y[test], y[test])
        )
    np.testing.assert_allclose(scores, manual, rtol=1e-12)
    assert (scores > 0.5).all()


def test_scorer_on_a_retriever_after_fitted_steps(planted):
    X, y = planted
    mapper = LeastSquaresMapper().fit(X)
    blocks = split_modalities(mapper.transform(X))
    expected = recall_at_k(blocks["image"], blocks["text"], y, y, k=5)
    scorer = make_retrieval_scorer("recall", query="image", target="text", k=5)
    retriever = CrossModalRetriever("image", "text").fit(mapper.transform(X))
    assert scorer(retriever, mapper.transform(X), y) == expected
    # The steps before the retriever embed X; also in a nested pipeline.
    pipeline = make_pipeline(
        FunctionTransformer(lambda frame: frame, validate=False),
        FrozenEstimator(mapper),
        CrossModalRetriever("image", "text"),
    ).fit(X)
    assert scorer(pipeline, X, y) == expected
    nested = make_pipeline("passthrough", make_pipeline(pipeline)).fit(X)
    assert scorer(nested, X, y) == expected


class NoTransform(BaseEstimator):
    def fit(self, X, y=None):
        return self

    def predict(self, X):
        return np.zeros(len(X))


def test_scorer_that_cannot_apply_raises_a_clear_error(planted):
    X, y = planted
    scorer = make_retrieval_scorer("map", query="image", target="text")
    pipeline = make_pipeline(LeastSquaresMapper(), NoTransform()).fit(X)
    message = (
        r"needs an estimator whose transform returns a modality table .* got "
        r"Pipeline, which has no transform"
    )
    with pytest.raises(TypeError, match=message):
        scorer(pipeline, X, y)
    with pytest.raises(TypeError, match=message):
        cross_val_score(
            pipeline, X, y, scoring=scorer, cv=KFold(3), error_score="raise"
        )
    # With scikit-learn's default error_score=np.nan the NaN comes with the message.
    with pytest.warns(UserWarning, match=r"Scoring failed(.|\n)*" + message):
        cross_val_score(pipeline, X, y, scoring=scorer, cv=KFold(3))


# --------------------------------------------------------------------------
# One embedding per fold for all retrieval scorers (issue #11, point 5)
# --------------------------------------------------------------------------


TRANSFORM_CALLS = []


class CountingMapper(LeastSquaresMapper):
    """LeastSquaresMapper that records each call of transform."""

    def transform(self, X):
        TRANSFORM_CALLS.append(len(X))
        return super().transform(X)


@pytest.fixture
def counted():
    TRANSFORM_CALLS.clear()
    yield TRANSFORM_CALLS
    TRANSFORM_CALLS.clear()


def test_several_retrieval_scorers_embed_once_per_fold(planted, counted):
    X, y = planted
    scoring = {
        "map": make_retrieval_scorer("map", query="image", target="text"),
        "mrr": make_retrieval_scorer("mrr", query="image", target="text"),
        "R@5": make_retrieval_scorer(
            "recall", query="image", target="text", k=5, symmetric=True
        ),
        "medr": make_retrieval_scorer("neg_median_rank", query="text", target="image"),
    }
    pipeline = make_pipeline(
        StandardScaler().set_output(transform="pandas"), CountingMapper()
    )
    results = cross_validate(pipeline, X, y, scoring=scoring, cv=KFold(3))
    assert len(counted) == 3  # one transform per fold, not one per scorer (12)
    # The shared embedding gives each scorer its own value.
    for name, scorer in scoring.items():
        counted.clear()
        alone = cross_val_score(pipeline, X, y, scoring=scorer, cv=KFold(3))
        assert len(counted) == 3
        np.testing.assert_array_equal(results[f"test_{name}"], alone)
    # Also in a grid search, and through a pipeline ending in a retriever.
    counted.clear()
    GridSearchCV(
        pipeline,
        {"countingmapper__rank": [1, 5]},
        scoring=scoring,
        refit=False,
        cv=KFold(3),
    ).fit(X, y)
    assert len(counted) == 6
    counted.clear()
    retrieval = make_pipeline(
        CountingMapper(), CrossModalRetriever(query="image", target="text")
    )
    cross_validate(retrieval, X, y, scoring=scoring, cv=KFold(3))
    # Fitting the pipeline transforms the training rows once per fold.
    assert len(counted) == 6
