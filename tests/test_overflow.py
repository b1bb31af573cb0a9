"""Huge (and tiny) finite embeddings: right rankings, or a clear error.

Cosine is scale invariant, so rows scaled far beyond ``sqrt(max)`` of their
dtype (norms 1e200 in float64, 1e30 in float32, whose squared norms overflow)
must rank exactly as the same rows scaled down. Dot and euclidean scores of
such rows overflow the dtype; every search refuses them with a ValueError
instead of returning garbage.
"""

import numpy as np
import pytest
from _search_reference import needs_backend
from _tolerance import FLOAT32

from skcrossmodal import make_frame
from skcrossmodal._similarity import unit_rows
from skcrossmodal.mapping import KNNMapper
from skcrossmodal.metrics import mean_average_precision, recall_at_k
from skcrossmodal.retrieval import CrossModalRetriever

BACKENDS = ["numpy", "torch", "faiss"]
# Row scales whose squared norms overflow (huge) or underflow (tiny) the dtype.
HUGE = {np.float64: 1e200, np.float32: 1e30}
TINY = {np.float64: 1e-200, np.float32: 1e-30}
TOLERANCE = {np.float64: {"rtol": 1e-12, "atol": 0}, np.float32: FLOAT32}


@pytest.fixture
def rows():
    """Queries and a gallery with distinct cosine scores (no ties)."""
    rng = np.random.default_rng(0)
    return rng.standard_normal((12, 5)), rng.standard_normal((40, 5))


def _plain_unit_rows(A):
    """The textbook normalisation, right wherever the norm does not overflow."""
    return A / np.linalg.norm(A, axis=1, keepdims=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", ["huge", "tiny", "plain"])
def test_unit_rows_is_scale_invariant(rows, dtype, scale):
    _, G = rows
    factor = {"huge": HUGE, "tiny": TINY, "plain": {np.float64: 1, np.float32: 1}}
    scaled = (np.vstack([G, np.zeros((1, 5))]) * factor[scale][dtype]).astype(dtype)
    expected = np.vstack([_plain_unit_rows(G), np.zeros((1, 5))])  # zero stays zero
    unit = unit_rows(scaled)
    assert unit.dtype == dtype
    np.testing.assert_allclose(unit, expected, **TOLERANCE[dtype])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_retriever_cosine_ranks_huge_rows_like_scaled_down_rows(rows, backend, dtype):
    needs_backend(backend)
    Q, G = rows
    results = []
    for factor in (1.0, HUGE[dtype], TINY[dtype]):
        retriever = CrossModalRetriever(
            query="text", target="image", n_neighbors=5, backend=backend
        ).fit(make_frame(image=(G * factor).astype(dtype)))
        results.append(retriever.search(make_frame(text=(Q * factor).astype(dtype))))
    reference_scores = _plain_unit_rows(Q) @ _plain_unit_rows(G).T
    expected = np.argsort(-reference_scores, axis=1, kind="stable")[:, :5]
    for scores, indices in results:
        np.testing.assert_array_equal(indices, expected)
        np.testing.assert_allclose(
            scores, np.take_along_axis(reference_scores, expected, axis=1), **FLOAT32
        )


def test_retriever_normalises_float64_queries_before_the_float32_gallery(rows):
    # A float64 query of norm 1e200 would be infinite in float32; its
    # direction fits float32 once it is normalised.
    Q, G = rows
    retriever = CrossModalRetriever(query="text", target="image", n_neighbors=5)
    retriever.fit(make_frame(image=G.astype(np.float32)))
    _, huge = retriever.search(make_frame(text=Q * 1e200))
    _, plain = retriever.search(make_frame(text=Q))
    np.testing.assert_array_equal(huge, plain)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_knn_mapper_cosine_ranks_huge_rows_like_scaled_down_rows(rows, dtype):
    _, G = rows
    rng = np.random.default_rng(1)
    target = rng.standard_normal((40, 3))
    queries = rng.standard_normal((9, 5))
    reference = _plain_unit_rows(queries) @ _plain_unit_rows(G).T
    expected = np.argsort(-reference, axis=1, kind="stable")[:, :4]
    for factor in (HUGE[dtype], TINY[dtype]):
        source = (G * factor).astype(dtype)
        mapper = KNNMapper("image", "text", n_neighbors=4).fit(
            make_frame(image=source, text=target)
        )
        indices = mapper.kneighbors(
            (queries * factor).astype(dtype), return_distance=False
        )
        np.testing.assert_array_equal(indices, expected)
        mapped = mapper.transform(make_frame(image=(queries * factor).astype(dtype)))
        np.testing.assert_allclose(
            mapped.to_numpy(), target[expected].mean(axis=1), rtol=1e-12
        )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_metrics_rank_huge_rows_like_scaled_down_rows(rows, dtype):
    Q, G = rows
    Q, G = Q[:10], G[:10]
    labels = np.arange(10) % 3
    reference = _plain_unit_rows(Q) @ _plain_unit_rows(G).T
    # The definitions written out: AP = mean precision at each relevant rank.
    order = np.argsort(-reference, axis=1, kind="stable")
    relevant = labels[order] == labels[:, None]
    precision = np.cumsum(relevant, axis=1) / np.arange(1, 11)
    expected_map = np.mean((precision * relevant).sum(axis=1) / relevant.sum(axis=1))
    expected_recall = np.mean(relevant[:, :3].any(axis=1))
    for factor in (HUGE[dtype], TINY[dtype]):
        q, g = (Q * factor).astype(dtype), (G * factor).astype(dtype)
        assert mean_average_precision(q, g, labels, labels) == pytest.approx(
            expected_map
        )
        assert recall_at_k(q, g, labels, labels, k=3) == pytest.approx(expected_recall)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_euclidean_gallery_whose_squared_norms_overflow_is_refused(
    rows, backend, dtype
):
    # This gallery's euclidean scores were all nan (inf - inf): the numpy and
    # faiss backends then died in numpy with "could not broadcast input array
    # from shape (0,) into shape (3,)" and torch returned nan scores.
    needs_backend(backend)
    _, G = rows
    retriever = CrossModalRetriever(
        query="text",
        target="image",
        n_neighbors=3,
        similarity="euclidean",
        backend=backend,
    )
    message = (
        rf"The gallery \('image'\) is too large for its dtype {np.dtype(dtype).name}: "
        r"the squared norm of its row 0 overflows"
    )
    with pytest.raises(ValueError, match=message):
        retriever.fit(make_frame(image=(G * HUGE[dtype]).astype(dtype)))
    retriever.fit(make_frame(image=G.astype(dtype)))
    with pytest.raises(ValueError, match=r"new 'image' block is too large"):
        retriever.partial_fit(make_frame(image=(G * HUGE[dtype]).astype(dtype)))
    assert retriever.gallery_.shape == G.shape


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("metric", ["dot", "euclidean"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_overflowing_scores_raise_naming_the_blocks(rows, backend, metric, dtype):
    # Dot scores used to come back as inf (ranked arbitrarily) or nan.
    needs_backend(backend)
    Q, G = rows
    huge = HUGE[dtype]
    gallery_scale = huge if metric == "dot" else 1.0
    retriever = CrossModalRetriever(
        query="text", target="image", n_neighbors=3, similarity=metric, backend=backend
    )
    if backend == "faiss" and dtype == np.float64 and metric == "dot":
        message = (
            r"gallery \('image'\) has entries up to .*beyond "
            r"float32.*backend='numpy'"
        )
        with pytest.raises(ValueError, match=message):
            retriever.fit(make_frame(image=G * huge))
        return
    retriever.fit(make_frame(image=(G * gallery_scale).astype(dtype)))
    computed_in = np.dtype(dtype).name
    if backend == "faiss" and dtype == np.float64:
        computed_in = "float32, the dtype the search computes in"
    message = (
        rf"The {metric} scores of the query block 'text' against the gallery "
        rf"\('image'\) overflow {computed_in} \(first at query row 0\).*too large "
        "for their dtype"
    )
    with pytest.raises(ValueError, match=message):
        retriever.search(make_frame(text=(Q * huge).astype(dtype)))
    # The same gallery answers queries whose scores fit.
    _, indices = retriever.search(make_frame(text=(Q / gallery_scale).astype(dtype)))
    S = Q @ G.T if metric == "dot" else -(((Q[:, None] - G[None]) ** 2).sum(axis=2))
    np.testing.assert_array_equal(indices, np.argsort(-S, axis=1, kind="stable")[:, :3])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_bound_beyond_the_dtype_is_no_false_alarm(backend):
    # The largest entries multiply past float32's maximum, but every actual
    # dot product is finite (the huge coordinates never meet): no error, and
    # the exact ranking.
    needs_backend(backend)
    gallery = np.array(
        [[0.0, 1e30], [0.0, -1e30], [1e-30, 0.0], [2e-30, 0.0]], dtype=np.float32
    )
    query = np.array([[1e30, 0.0]], dtype=np.float32)
    retriever = CrossModalRetriever(
        query="text", target="image", n_neighbors=4, similarity="dot", backend=backend
    ).fit(make_frame(image=gallery))
    scores, indices = retriever.search(make_frame(text=query))
    np.testing.assert_array_equal(indices, [[3, 2, 0, 1]])
    np.testing.assert_allclose(scores, [[2.0, 1.0, 0.0, 0.0]], **FLOAT32)


def test_faiss_computes_in_float32_and_says_so(rows):
    # float64 entries that fit float32 but whose products do not.
    pytest.importorskip("faiss")
    Q, G = rows
    retriever = CrossModalRetriever(
        query="text", target="image", similarity="dot", backend="faiss"
    ).fit(make_frame(image=G * 1e20))
    with pytest.raises(
        ValueError, match="overflow float32, the dtype the search computes in"
    ):
        retriever.search(make_frame(text=Q * 1e20))
    # numpy computes them in float64.
    numpy_retriever = CrossModalRetriever(
        query="text", target="image", n_neighbors=3, similarity="dot"
    ).fit(make_frame(image=G * 1e20))
    _, indices = numpy_retriever.search(make_frame(text=Q * 1e20))
    np.testing.assert_array_equal(
        indices, np.argsort(-(Q @ G.T), axis=1, kind="stable")[:, :3]
    )


def test_faiss_partial_fit_refuses_rows_beyond_float32(rows):
    pytest.importorskip("faiss")
    _, G = rows
    retriever = CrossModalRetriever(
        query="text", target="image", similarity="dot", backend="faiss"
    ).fit(make_frame(image=G))
    message = r"new 'image' block has entries up to .*beyond float32"
    with pytest.raises(ValueError, match=message):
        retriever.partial_fit(make_frame(image=G * 1e200))
    assert retriever.gallery_.shape == G.shape
    assert retriever.engine_.faiss_index.ntotal == G.shape[0]


def test_knn_mapper_euclidean_overflow_raises(rows):
    Q, G = rows
    with pytest.raises(ValueError, match="training source block 'image' is too large"):
        KNNMapper("image", "text", similarity="euclidean").fit(
            make_frame(image=G * 1e200, text=np.arange(40.0))
        )
    X = make_frame(image=G, text=np.arange(40.0))
    mapper = KNNMapper("image", "text", n_neighbors=3, similarity="euclidean").fit(X)
    message = (
        "The euclidean scores of the source block 'image' against the training "
        r"source rows overflow float64 \(first at query row 0\)"
    )
    with pytest.raises(ValueError, match=message):
        mapper.transform(make_frame(image=Q * 1e200))
    with pytest.raises(ValueError, match=message):
        mapper.kneighbors(Q * 1e200)
