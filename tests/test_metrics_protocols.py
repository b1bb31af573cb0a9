"""Published evaluation protocols: 5 captions per image, mAP@k variants, MAP@R.

Each reference below is written out from the definition its paper (or its
published evaluation code) gives, one query at a time.
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import warnings

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.exceptions import UndefinedMetricWarning

from skcrossmodal.metrics import (
    average_precision_from_scores,
    evaluate_retrieval,
    mean_average_precision,
    mean_rank,
    mean_reciprocal_rank,
    median_rank,
    recall_at_k,
)

# --------------------------------------------------------------------------
# VSE++ (Faghri et al., BMVC 2018): i2t and t2i on 5 captions per image
# --------------------------------------------------------------------------


def vsepp_summary(ranks):
    """R@1/5/10 in percent, medr and meanr from 0-based ranks, as VSE++.

    ``plain_medr`` is the median without VSE++'s rounding down.
    """
    recalls = [100.0 * np.mean(ranks < k) for k in (1, 5, 10)]
    return {
        "R@1": recalls[0],
        "R@5": recalls[1],
        "R@10": recalls[2],
        "medr": np.floor(np.median(ranks)) + 1,
        "plain_medr": np.median(ranks) + 1,
        "meanr": ranks.mean() + 1,
    }


def vsepp_i2t(images, captions):
    """Image annotation: ``images`` holds each image 5 times, rows 5i..5i+4.

    The rank of image i is the best rank of any of its 5 captions among all
    captions, by decreasing inner product.
    """
    n_images = len(images) // 5
    ranks = np.zeros(n_images)
    for index in range(n_images):
        order = np.argsort(images[5 * index] @ captions.T)[::-1]
        ranks[index] = min(
            np.flatnonzero(order == caption)[0]
            for caption in range(5 * index, 5 * index + 5)
        )
    return vsepp_summary(ranks)


def vsepp_t2i(images, captions):
    """Image search: each caption ranks the distinct images (every 5th row)."""
    n_images = len(images) // 5
    distinct = images[::5]
    ranks = np.zeros(5 * n_images)
    for index in range(n_images):
        scores = captions[5 * index : 5 * index + 5] @ distinct.T
        for i in range(5):
            order = np.argsort(scores[i])[::-1]
            ranks[5 * index + i] = np.flatnonzero(order == index)[0]
    return vsepp_summary(ranks)


def five_caption_table(n_images, n_features=8, seed=0):
    """Unit embeddings: each image repeated on its 5 caption rows, captions noisy."""
    rng = np.random.default_rng(seed)
    distinct = rng.standard_normal((n_images, n_features))
    images = np.repeat(distinct, 5, axis=0)
    noise = rng.uniform(0.3, 2.0, size=(5 * n_images, 1))
    captions = images + noise * rng.standard_normal(images.shape)
    images /= np.linalg.norm(images, axis=1, keepdims=True)
    captions /= np.linalg.norm(captions, axis=1, keepdims=True)
    return images, captions, np.repeat(np.arange(n_images), 5)


def assert_matches_vsepp(ours, prefix, reference, medr="plain_medr"):
    for key in ("R@1", "R@5", "R@10"):
        assert ours[f"{prefix}_{key}"] == reference[key], key
    assert ours[f"{prefix}_meanr"] == pytest.approx(reference["meanr"], rel=1e-12)
    assert ours[f"{prefix}_medr"] == reference[medr]


def test_five_captions_per_image_match_vsepp():
    # 40 images and 200 captions: even numbers of queries both ways.
    images, captions, image_id = five_caption_table(40)
    ours = evaluate_retrieval(images, captions, image_id, image_id, unique="query")
    i2t, t2i = vsepp_i2t(images, captions), vsepp_t2i(images, captions)
    assert 0 < i2t["R@1"] < 100 and 0 < t2i["R@1"] < 100
    assert_matches_vsepp(ours, "q2t", i2t)
    assert_matches_vsepp(ours, "t2q", t2i)
    # VSE++ rounds the median down; ours is numpy's median.
    assert np.floor(ours["q2t_medr"]) == i2t["medr"]
    assert np.floor(ours["t2q_medr"]) == t2i["medr"]
    assert ours["rsum"] == pytest.approx(
        sum(r[k] for r in (i2t, t2i) for k in ("R@1", "R@5", "R@10")), rel=1e-12
    )
    # Each direction is also the metric functions with unique=.
    assert recall_at_k(captions, images, image_id, image_id, k=5, unique="target") == (
        t2i["R@5"] / 100
    )
    assert (
        median_rank(images, captions, image_id, image_id, unique="query")
        == (i2t["plain_medr"])
    )
    assert mean_rank(captions, images, image_id, image_id, unique="target") == (
        pytest.approx(t2i["meanr"], rel=1e-12)
    )


def test_gallery_of_repeated_images_without_unique_is_not_the_protocol():
    # Issue #11: without unique, each image is in the gallery five times and
    # instance-level relevance makes 4 of the copies non-relevant ties.
    images, captions, image_id = five_caption_table(40)
    assert recall_at_k(captions, images, k=1) == 0.0
    assert recall_at_k(captions, images, image_id, image_id, k=1, unique="target") > 0.4


def planted_text_to_image_ranks():
    """6 images (one-hot) and 30 captions whose image ranks are planted.

    Caption j scores image m by ``captions[j, m]`` (inner product with a
    one-hot image). Known answers: 8 captions rank their image 1st, 7 2nd,
    5 3rd, 4 4th, 3 5th and 3 6th; the 15th and 16th smallest ranks are 2 and 3.
    """
    rng = np.random.default_rng(1)
    planted = rng.permutation(np.repeat([1, 2, 3, 4, 5, 6], [8, 7, 5, 4, 3, 3]))
    images = np.repeat(np.eye(6), 5, axis=0)
    captions = np.empty((30, 6))
    for j, rank in enumerate(planted):
        others = list(rng.permutation([m for m in range(6) if m != j // 5]))
        order = others[: rank - 1] + [j // 5] + others[rank - 1 :]
        # Distinct values across captions, so that no ranking has ties.
        captions[j, order] = np.linspace(1.0, 0.5, 6) + 1e-3 * j
    return images, captions, np.repeat(np.arange(6), 5), planted


def test_planted_ranks_and_the_median_of_an_even_number_of_queries():
    images, captions, image_id, planted = planted_text_to_image_ranks()
    ours = evaluate_retrieval(
        images, captions, image_id, image_id, unique="query", similarity="dot"
    )
    assert ours["t2q_R@1"] == pytest.approx(100 * 8 / 30, rel=1e-15)
    assert ours["t2q_R@5"] == pytest.approx(100 * 27 / 30, rel=1e-15)
    assert ours["t2q_R@10"] == 100.0
    assert ours["t2q_meanr"] == pytest.approx(86 / 30, rel=1e-15)
    # 30 queries, middle ranks 2 and 3: numpy's median 2.5; VSE++ reports
    # floor(median(0-based ranks)) + 1 = floor(2.5 - 1) + 1 = 2.
    assert ours["t2q_medr"] == 2.5
    t2i = vsepp_t2i(images, captions)
    assert t2i["medr"] == 2.0
    assert_matches_vsepp(ours, "t2q", t2i)
    assert_matches_vsepp(ours, "q2t", vsepp_i2t(images, captions))


def test_coco_five_fold_1k_protocol_matches_vsepp_per_fold():
    # 50 images in 5 folds of 10 images (50 rows): the layout of VSE++'s
    # fold5 evaluation, which slices rows 5000 * i : 5000 * (i + 1) of COCO.
    images, captions, image_id = five_caption_table(50, seed=2)
    ours = evaluate_retrieval(
        images, captions, image_id, image_id, unique="query", n_folds=5
    )
    folds = [slice(50 * i, 50 * (i + 1)) for i in range(5)]
    i2t = [vsepp_i2t(images[rows], captions[rows]) for rows in folds]
    t2i = [vsepp_t2i(images[rows], captions[rows]) for rows in folds]
    for prefix, per_fold in (("q2t", i2t), ("t2q", t2i)):
        for key in ("R@1", "R@5", "R@10", "plain_medr", "meanr"):
            name = f"{prefix}_{'medr' if key == 'plain_medr' else key}"
            assert ours[name] == pytest.approx(
                np.mean([fold[key] for fold in per_fold]), rel=1e-12
            ), name
    rsum = np.mean(
        [
            sum(fold[k] for fold in (a, b) for k in ("R@1", "R@5", "R@10"))
            for a, b in zip(i2t, t2i, strict=True)
        ]
    )
    assert ours["rsum"] == pytest.approx(rsum, rel=1e-12)
    # The folds differ from the whole set, and keep all captions of an image
    # together whatever the row order.
    assert (
        ours["q2t_R@1"]
        > evaluate_retrieval(images, captions, image_id, image_id, unique="query")[
            "q2t_R@1"
        ]
    )
    rng = np.random.default_rng(0)
    shuffled = np.concatenate(
        [rng.permutation(np.arange(50 * i, 50 * i + 50)) for i in range(5)]
    )
    again = evaluate_retrieval(
        images[shuffled],
        captions[shuffled],
        image_id[shuffled],
        image_id[shuffled],
        unique="query",
        n_folds=5,
    )
    assert again == pytest.approx(ours, rel=1e-12)


def test_folds_without_unique_split_rows():
    rng = np.random.default_rng(0)
    queries, targets = rng.standard_normal((20, 3)), rng.standard_normal((20, 3))
    ours = evaluate_retrieval(queries, targets, n_folds=4, k=[1, 2])
    expected = [
        evaluate_retrieval(
            queries[5 * i : 5 * i + 5], targets[5 * i : 5 * i + 5], k=[1, 2]
        )
        for i in range(4)
    ]
    for key, value in ours.items():
        assert value == pytest.approx(
            np.mean([fold[key] for fold in expected]), rel=1e-12
        )


def test_evaluate_retrieval_instance_level_matches_the_functions():
    rng = np.random.default_rng(0)
    queries, targets = rng.standard_normal((30, 4)), rng.standard_normal((30, 4))
    ours = evaluate_retrieval(queries, targets, k=[1, 3])
    assert list(ours) == [
        "q2t_R@1",
        "q2t_R@3",
        "q2t_medr",
        "q2t_meanr",
        "t2q_R@1",
        "t2q_R@3",
        "t2q_medr",
        "t2q_meanr",
        "rsum",
    ]
    np.testing.assert_array_equal(
        [ours["q2t_R@1"], ours["q2t_R@3"]],
        100 * recall_at_k(queries, targets, k=[1, 3]),
    )
    assert ours["t2q_medr"] == median_rank(targets, queries)
    assert ours["t2q_meanr"] == mean_rank(targets, queries)
    assert evaluate_retrieval(queries, targets, k=3)["rsum"] == (
        ours["q2t_R@3"] + ours["t2q_R@3"]
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"unique": "query", "query_labels": None, "target_labels": None},
            "unique='query' keeps one query per distinct label, which needs query_labels",
        ),
        (
            {
                "unique": "target",
                "query_labels": np.eye(2)[[0, 1, 0, 1]],
                "target_labels": np.eye(2)[[0, 1, 0, 1]],
            },
            "needs 1-D labels",
        ),
        ({"n_folds": 5}, "n_folds=5 folds need at least 5 rows; got 4"),
        (
            {"n_folds": 3, "unique": "query"},
            r"at least 3 distinct labels \(query items\); got 2",
        ),
        (
            {"n_folds": 2, "target_labels": [1, 0, 1, 0]},
            "n_folds splits the rows of one table",
        ),
        ({"k": [1, 0]}, "k must be a positive integer"),
        ({"unique": "images"}, "'unique' parameter"),
    ],
)
def test_evaluate_retrieval_errors(kwargs, message):
    arguments = {
        "query_embeddings": np.eye(4),
        "target_embeddings": np.eye(4),
        "query_labels": [0, 1, 0, 1],
        "target_labels": [0, 1, 0, 1],
    }
    if kwargs.get("n_folds") == 5:
        arguments.update(query_labels=None, target_labels=None)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        evaluate_retrieval(**arguments)


# --------------------------------------------------------------------------
# mAP@k: normalize="retrieved" (DSCMR), k="R" (MAP@R, Musgrave et al. 2020)
# --------------------------------------------------------------------------


def dscmr_map(queries, targets, query_labels, target_labels, k):
    """DSCMR's fx_calc_map_label (Zhen et al., CVPR 2019), one query at a time:
    precisions at relevant ranks in the top k, divided by how many relevant
    targets the top k holds (0 if none)."""
    order = cdist(queries, targets, "cosine").argsort(axis=1)
    result = []
    for i in range(len(queries)):
        precision_sum, retrieved = 0.0, 0
        for j in range(k):
            if query_labels[i] == target_labels[order[i, j]]:
                retrieved += 1
                precision_sum += retrieved / (j + 1)
        result.append(precision_sum / retrieved if retrieved else 0.0)
    return np.mean(result)


def map_at_r(queries, targets, query_labels, target_labels):
    """MAP@R (Musgrave, Belongie and Lim, ECCV 2020, eq. 1): with R the
    number of relevant targets, (1 / R) * sum_{i <= R} P(i) * rel(i)."""
    order = cdist(queries, targets, "cosine").argsort(axis=1)
    result = []
    for i in range(len(queries)):
        relevant = query_labels[i] == target_labels[order[i]]
        n_relevant = relevant.sum()
        precision = np.cumsum(relevant) / np.arange(1, len(targets) + 1)
        result.append(np.sum((precision * relevant)[:n_relevant]) / n_relevant)
    return np.mean(result)


@pytest.fixture
def labelled():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((5, 6))
    query_labels = rng.integers(5, size=40)
    target_labels = rng.integers(5, size=150)
    queries = centres[query_labels] + 1.5 * rng.standard_normal((40, 6))
    targets = centres[target_labels] + 1.5 * rng.standard_normal((150, 6))
    return queries, targets, query_labels, target_labels


@pytest.mark.parametrize("k", [1, 5, 17, 150])
def test_map_normalized_by_retrieved_matches_dscmr(labelled, k):
    expected = dscmr_map(*labelled, k)
    ours = mean_average_precision(*labelled, k=k, normalize="retrieved")
    assert ours == pytest.approx(expected, rel=1e-12)
    if 1 < k < 150:
        # The two divisors differ when the top k (k > 1) misses relevant targets.
        assert ours > mean_average_precision(*labelled, k=k)
    queries, targets, query_labels, target_labels = labelled
    scores = 1.0 - cdist(queries, targets, "cosine")
    relevance = query_labels[:, None] == target_labels[None, :]
    assert average_precision_from_scores(
        relevance, scores, k=k, normalize="retrieved"
    ) == pytest.approx(expected, rel=1e-12)


def test_map_at_r_matches_musgrave(labelled):
    expected = map_at_r(*labelled)
    assert mean_average_precision(*labelled, k="R") == pytest.approx(
        expected, rel=1e-12
    )
    queries, targets, query_labels, target_labels = labelled
    scores = 1.0 - cdist(queries, targets, "cosine")
    relevance = query_labels[:, None] == target_labels[None, :]
    assert average_precision_from_scores(relevance, scores, k="R") == pytest.approx(
        expected, rel=1e-12
    )


def test_map_at_r_on_float32_and_multilabel():
    rng = np.random.default_rng(0)
    queries, targets = rng.standard_normal((30, 4)), rng.standard_normal((80, 4))
    query_labels = rng.random((30, 6)) < 0.3
    query_labels[:, 0] = True
    target_labels = (rng.random((80, 6)) < 0.3).astype(int)
    target_labels[0, 0] = 1
    relevance = (query_labels.astype(int) @ target_labels.T) > 0
    order = cdist(queries, targets, "cosine").argsort(axis=1)
    expected = []
    for i in range(30):
        ranked = relevance[i, order[i]]
        n_relevant = ranked.sum()
        precision = np.cumsum(ranked) / np.arange(1, 81)
        expected.append(np.sum((precision * ranked)[:n_relevant]) / n_relevant)
    assert mean_average_precision(
        queries, targets, query_labels, target_labels, k="R"
    ) == (pytest.approx(np.mean(expected), rel=1e-12))
    assert mean_average_precision(
        queries.astype(np.float32),
        targets.astype(np.float32),
        query_labels,
        target_labels,
        k="R",
    ) == pytest.approx(np.mean(expected), rel=1e-5, abs=1e-6)


def test_map_variants_at_instance_level():
    rng = np.random.default_rng(0)
    queries = rng.standard_normal((30, 4))
    targets = queries + rng.standard_normal((30, 4))
    scores = 1.0 - cdist(queries, targets, "cosine")
    ranks = np.array([1 + np.sum(row > row[i]) for i, row in enumerate(scores)])
    # One relevant target: MAP@R is R@1; AP@k is 1 / rank within the top k
    # for both divisors.
    assert mean_average_precision(queries, targets, k="R") == np.mean(ranks == 1)
    for normalize in ("relevant", "retrieved"):
        assert mean_average_precision(queries, targets, k=3, normalize=normalize) == (
            pytest.approx(np.mean(np.where(ranks <= 3, 1 / ranks, 0)), rel=1e-12)
        )


def test_retrieved_normalization_does_not_combine_with_interpolation(labelled):
    with pytest.raises(ValueError, match="does not combine with normalize='retrieved'"):
        mean_average_precision(
            *labelled, k=5, normalize="retrieved", interpolation="11point"
        )
    with pytest.raises(ValueError, match="'normalize' parameter"):
        mean_average_precision(*labelled, normalize="all")
    with pytest.raises(ValueError, match="'k' parameter"):
        average_precision_from_scores(np.eye(2), np.eye(2), k="r")


# --------------------------------------------------------------------------
# Queries without relevant target: miss, skip or error
# --------------------------------------------------------------------------


RANK_FUNCTIONS = [
    (mean_average_precision, {}),
    (mean_average_precision, {"k": "R"}),
    (recall_at_k, {"k": [1, 5]}),
    (mean_reciprocal_rank, {}),
    (median_rank, {}),
    (mean_rank, {}),
]


@pytest.mark.parametrize("function, kwargs", RANK_FUNCTIONS)
def test_no_relevant_skip_leaves_the_queries_out(labelled, function, kwargs):
    queries, targets, query_labels, target_labels = labelled
    query_labels = query_labels.copy()
    query_labels[[3, 8]] = 99
    kept = ~np.isin(np.arange(40), [3, 8])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        skipped = function(
            queries, targets, query_labels, target_labels, no_relevant="skip", **kwargs
        )
    expected = function(
        queries[kept], targets, query_labels[kept], target_labels, **kwargs
    )
    np.testing.assert_array_equal(skipped, expected)
    message = r"2 queries have no relevant target \(first: query 3\)"
    with pytest.raises(ValueError, match=message):
        function(
            queries, targets, query_labels, target_labels, no_relevant="error", **kwargs
        )
    with pytest.warns(UndefinedMetricWarning, match="2 queries have no relevant"):
        missed = function(queries, targets, query_labels, target_labels, **kwargs)
    # Missed queries count as failures (two more infinite ranks may leave a
    # median unchanged).
    if function is median_rank:
        assert missed >= expected
    else:
        assert np.all(missed != expected)
    with pytest.raises(ValueError, match="nothing left to average"):
        function(
            queries,
            targets,
            np.full(40, 99),
            target_labels,
            no_relevant="skip",
            **kwargs,
        )


def test_no_relevant_in_evaluate_retrieval_and_from_scores(labelled):
    queries, targets, query_labels, target_labels = labelled
    query_labels = query_labels.copy()
    query_labels[5] = 99
    message = r"1 queries have no relevant target \(first: query 5\)"
    with pytest.raises(ValueError, match=message):
        evaluate_retrieval(
            queries, targets, query_labels, target_labels, no_relevant="error"
        )
    skipped = evaluate_retrieval(
        queries, targets, query_labels, target_labels, no_relevant="skip"
    )
    assert skipped["q2t_meanr"] == mean_rank(
        np.delete(queries, 5, axis=0),
        targets,
        np.delete(query_labels, 5),
        target_labels,
    )
    # From scores: one AP per query, NaN for the skipped ones.
    scores = 1.0 - cdist(queries, targets, "cosine")
    relevance = query_labels[:, None] == target_labels[None, :]
    per_query = average_precision_from_scores(
        relevance, scores, average=False, no_relevant="skip"
    )
    assert np.isnan(per_query[5]) and np.isfinite(np.delete(per_query, 5)).all()
    assert average_precision_from_scores(relevance, scores, no_relevant="skip") == (
        pytest.approx(np.mean(np.delete(per_query, 5)), rel=1e-15)
    )


def test_messages_name_the_caller_rows_after_unique():
    # Query rows 0-1 are image 0, rows 2-3 image 1 (no caption): the message
    # names row 2, not the second distinct image.
    images = np.repeat(np.eye(2), 2, axis=0)
    with pytest.raises(ValueError, match=r"first: query 2\)"):
        recall_at_k(
            images, np.eye(2), [0, 0, 1, 1], [0, 0], unique="query", no_relevant="error"
        )
