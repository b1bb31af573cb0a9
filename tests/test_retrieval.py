import pickle

import numpy as np
import pytest
from _search_reference import brute_force, needs_backend
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import average_precision_score
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

import skcrossmodal._similarity as similarity_module
from skcrossmodal import make_frame
from skcrossmodal.mapping import CCA
from skcrossmodal.metrics import make_retrieval_scorer
from skcrossmodal.retrieval import CrossModalRetriever

METRICS = ["cosine", "dot", "euclidean"]
EXACT_BACKENDS = ["numpy", "torch", "faiss"]


def _retriever(**params):
    return CrossModalRetriever(
        params.pop("query", "text"), params.pop("target", "image"), **params
    )


@pytest.fixture
def embeddings():
    rng = np.random.default_rng(0)
    return rng.standard_normal((23, 6)), rng.standard_normal((157, 6))


@pytest.fixture
def tied_embeddings():
    """Small-integer vectors with four +-1 entries: every score is exact in
    float32 and float64 (cosine included: the norms are 2), and the gallery
    repeats a few rows, so ties straddle every top-k cut-off."""
    rng = np.random.default_rng(0)

    def vectors(n):
        V = np.zeros((n, 8))
        for row in V:
            row[rng.choice(8, size=4, replace=False)] = rng.choice([-1.0, 1.0], size=4)
        return V

    distinct = vectors(6)
    return vectors(9), distinct[rng.integers(0, 6, size=60)]


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("batch_size", ["auto", 1, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_brute_force(embeddings, backend, metric, batch_size, dtype):
    needs_backend(backend)
    Q, G = embeddings
    Q, G = Q.astype(dtype), G.astype(dtype)
    retriever = _retriever(
        n_neighbors=7, similarity=metric, backend=backend, batch_size=batch_size
    ).fit(make_frame(image=G))
    scores, indices = retriever.search(make_frame(text=Q))
    expected_scores, expected_indices = brute_force(Q, G, metric, 7)
    np.testing.assert_array_equal(indices, expected_indices)
    exact64 = dtype == np.float64 and backend != "faiss"
    np.testing.assert_allclose(
        scores, expected_scores, rtol=1e-12 if exact64 else 1e-5, atol=1e-5
    )
    assert retriever.gallery_.dtype == dtype


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("tile_entries", [similarity_module.TILE_ENTRIES, 40])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ties_are_broken_by_lower_gallery_row(
    tied_embeddings, backend, metric, tile_entries, dtype, monkeypatch
):
    needs_backend(backend)
    # A tile of 40 entries splits the gallery into many shards, exercising the merge.
    monkeypatch.setattr(similarity_module, "TILE_ENTRIES", tile_entries)
    Q, G = (a.astype(dtype) for a in tied_embeddings)
    for k in (1, 4, 10, 59):
        retriever = _retriever(
            n_neighbors=k, similarity=metric, backend=backend, batch_size=3
        ).fit(make_frame(image=G))
        scores, indices = retriever.search(make_frame(text=Q))
        expected_scores, expected_indices = brute_force(Q, G, metric, k)
        np.testing.assert_array_equal(indices, expected_indices)
        np.testing.assert_array_equal(scores, expected_scores)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [17, 8, 5])
def test_small_tiles_match_brute_force(metric, dtype, batch_size, monkeypatch):
    # Tiles of a few rows put many merges into one search; query blocks of 17
    # and 5 leave the heap kernel's last 8-query word part-filled; repeated
    # gallery rows put ties across tiles.
    monkeypatch.setattr(similarity_module, "TILE_ENTRIES", 17 * 6)
    rng = np.random.default_rng(1)
    Q = rng.integers(-2, 3, size=(17, 5)).astype(dtype)
    G = rng.integers(-2, 3, size=(30, 5)).astype(dtype)[rng.integers(0, 30, size=403)]
    for k in (1, 4, 10):
        retriever = _retriever(
            n_neighbors=k, similarity=metric, backend="numpy", batch_size=batch_size
        )
        scores, indices = retriever.fit(make_frame(image=G)).search(make_frame(text=Q))
        expected_scores, expected_indices = brute_force(Q, G, metric, k)
        np.testing.assert_array_equal(indices, expected_indices)
        np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-5)


def test_running_top_k_keeps_the_highest_values():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n_rows = int(rng.integers(1, 20))
        widths = rng.integers(1, 700, size=rng.integers(1, 5))
        keep = int(rng.integers(1, min(widths[0], 12) + 1))
        tiles = [np.round(rng.standard_normal((n_rows, w)), 1) for w in widths]  # ties
        if rng.random() < 0.3:  # ascending scores: every tile beats the last
            tiles = [tile + 10 * i for i, tile in enumerate(tiles)]
        top = similarity_module.RunningTopK(n_rows, keep, np.float64)
        offset = 0
        for tile in tiles:
            top.push(np.ascontiguousarray(tile.T), offset)
            offset += tile.shape[1]
        S = np.hstack(tiles)
        scores, indices = top.result()
        assert all(len(set(row)) == keep for row in indices)
        np.testing.assert_array_equal(np.take_along_axis(S, indices, axis=1), scores)
        np.testing.assert_array_equal(
            np.sort(scores, axis=1), np.sort(S, axis=1)[:, S.shape[1] - keep :]
        )


def test_running_top_k_keeps_the_first_pushed_of_equal_scores():
    top = similarity_module.RunningTopK(9, 3, np.float32)
    tile = np.ones((4, 9), dtype=np.float32)
    top.push(tile, 0)
    top.push(tile, 4)
    scores, indices = top.result()
    np.testing.assert_array_equal(np.sort(indices, axis=1), np.tile([0, 1, 2], (9, 1)))
    np.testing.assert_array_equal(scores, 1.0)


def test_running_top_k_refuses_a_tile_of_another_shape_or_dtype():
    top = similarity_module.RunningTopK(3, 2, np.float32)
    with pytest.raises(ValueError, match=r"shape \(n_tile_rows, 3\) and dtype float32"):
        top.push(np.zeros((4, 2), dtype=np.float32), 0)
    with pytest.raises(ValueError, match="got \\(4, 3\\) of float64"):
        top.push(np.zeros((4, 3)), 0)


def test_tie_rule_on_a_hand_made_example():
    G = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    retriever = _retriever(n_neighbors=3, similarity="cosine").fit(make_frame(image=G))
    scores, indices = retriever.search(make_frame(text=np.array([[3.0, 0.0]])))
    np.testing.assert_array_equal(indices, [[1, 2, 3]])
    np.testing.assert_array_equal(scores, [[1.0, 1.0, 1.0]])


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_gallery_smaller_than_k_returns_all(embeddings, backend):
    needs_backend(backend)
    Q, G = embeddings
    retriever = _retriever(n_neighbors=50, backend=backend).fit(make_frame(image=G[:4]))
    scores, indices = retriever.search(make_frame(text=Q))
    assert indices.shape == (Q.shape[0], 4)
    expected_scores, expected_indices = brute_force(Q, G[:4], "cosine", 4)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_single_query_and_search_n_neighbors(embeddings, backend):
    needs_backend(backend)
    Q, G = embeddings
    retriever = _retriever(backend=backend, similarity="dot").fit(make_frame(image=G))
    scores, indices = retriever.search(make_frame(text=Q[:1]), n_neighbors=3)
    assert scores.shape == indices.shape == (1, 3)
    np.testing.assert_array_equal(indices, brute_force(Q[:1], G, "dot", 3)[1])


def test_numpy_threads_give_the_same_result(embeddings):
    Q, G = embeddings
    results = [
        _retriever(backend="numpy", batch_size=2, n_jobs=n_jobs)
        .fit(make_frame(image=G))
        .search(make_frame(text=Q))
        for n_jobs in (1, 2)
    ]
    np.testing.assert_array_equal(results[0][1], results[1][1])
    np.testing.assert_array_equal(results[0][0], results[1][0])


def test_auto_backend_is_numpy_and_loads_no_torch(embeddings):
    import subprocess
    import sys

    Q, G = embeddings
    assert _retriever().fit(make_frame(image=G)).backend_ == "numpy"
    code = (
        "import sys, numpy as np\n"
        "from skcrossmodal import make_frame\n"
        "from skcrossmodal.retrieval import CrossModalRetriever\n"
        "r = CrossModalRetriever(query='t', target='i').fit(make_frame(i=np.eye(3)))\n"
        "r.search(make_frame(t=np.eye(3)))\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ids_are_returned_instead_of_rows(embeddings):
    Q, G = embeddings
    ids = np.array([f"img{i}" for i in range(G.shape[0])])
    retriever = _retriever(n_neighbors=5).fit(make_frame(image=G), ids=ids)
    _, found = retriever.search(make_frame(text=Q))
    np.testing.assert_array_equal(found, ids[brute_force(Q, G, "cosine", 5)[1]])


@pytest.mark.parametrize("backend", EXACT_BACKENDS)
def test_partial_fit_equals_fit_on_everything(embeddings, backend):
    needs_backend(backend)
    Q, G = embeddings
    ids = np.arange(G.shape[0]) * 10
    full = _retriever(backend=backend).fit(make_frame(image=G), ids=ids)
    grown = _retriever(backend=backend)
    for part in np.array_split(np.arange(G.shape[0]), 3):
        grown.partial_fit(make_frame(image=G[part]), ids=ids[part])
    np.testing.assert_array_equal(grown.gallery_, full.gallery_)
    np.testing.assert_array_equal(
        grown.search(make_frame(text=Q))[1], full.search(make_frame(text=Q))[1]
    )


def test_partial_fit_checks_ids_and_width(embeddings):
    _, G = embeddings
    with_ids = _retriever().fit(make_frame(image=G), ids=np.arange(G.shape[0]))
    with pytest.raises(ValueError, match="pass ids for the new rows"):
        with_ids.partial_fit(make_frame(image=G))
    without_ids = _retriever().fit(make_frame(image=G))
    with pytest.raises(ValueError, match="fitted without ids"):
        without_ids.partial_fit(make_frame(image=G), ids=np.arange(G.shape[0]))
    with pytest.raises(ValueError, match="has 5 features but the gallery has 6"):
        without_ids.partial_fit(make_frame(image=G[:, :5]))
    with pytest.raises(ValueError, match="one entry per gallery row"):
        _retriever().fit(make_frame(image=G), ids=np.arange(3))


@pytest.mark.parametrize(
    "params",
    [
        {"backend": "numpy"},
        {"backend": "torch"},
        {"backend": "faiss"},
        {
            "backend": "faiss",
            "index": "ivf",
            "nlist": 4,
            "nprobe": 2,
            "random_state": 0,
        },
    ],
    ids=["numpy", "torch", "faiss-flat", "faiss-ivf"],
)
def test_pickle_round_trip_keeps_the_gallery(embeddings, params):
    needs_backend(params["backend"])
    Q, G = embeddings
    G = G.astype(np.float32)
    retriever = _retriever(**params).fit(make_frame(image=G), ids=np.arange(G.shape[0]))
    blob = pickle.dumps(retriever)
    loaded = pickle.loads(blob)
    for got, expected in zip(
        loaded.search(make_frame(text=Q)),
        retriever.search(make_frame(text=Q)),
        strict=True,
    ):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(loaded.gallery_, retriever.gallery_)
    # The pickle is the gallery and its ids plus a small overhead (an IVF index
    # serialises another copy of the vectors and its centroids).
    copies = 2 if params.get("index") == "ivf" else 1
    payload = copies * G.nbytes + retriever.ids_.nbytes
    assert payload <= len(blob) <= payload + 4096
    # The loaded retriever keeps growing.
    loaded.partial_fit(make_frame(image=G[:2]), ids=[-1, -2])
    assert loaded.search(make_frame(text=G[:1]), n_neighbors=1)[1][0, 0] in (0, -1)


def test_ivf_with_every_list_probed_is_exact(embeddings):
    pytest.importorskip("faiss")
    Q, G = embeddings
    for metric in METRICS:
        ivf = _retriever(
            backend="faiss",
            index="ivf",
            nlist=8,
            nprobe=8,
            similarity=metric,
            random_state=0,
        ).fit(make_frame(image=G))
        scores, indices = ivf.search(make_frame(text=Q))
        np.testing.assert_array_equal(indices, brute_force(Q, G, metric, 10)[1])
        # Fewer probed lists: approximate, but every slot is a real item or -1.
        ivf.set_params(nprobe=1)
        _, indices = ivf.search(make_frame(text=Q))
        assert ((indices >= -1) & (indices < G.shape[0])).all()


def test_ivf_is_seeded(embeddings):
    pytest.importorskip("faiss")
    Q, G = embeddings
    results = [
        _retriever(backend="faiss", index="ivf", nlist=8, nprobe=1, random_state=3)
        .fit(make_frame(image=G))
        .search(make_frame(text=Q))[1]
        for _ in range(2)
    ]
    np.testing.assert_array_equal(*results)


@pytest.fixture
def paired():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 10)
    centres = rng.standard_normal((4, 5)) * 2
    text = centres[labels] + rng.standard_normal((40, 5))
    image = (centres[labels] + rng.standard_normal((40, 5))) @ rng.standard_normal(
        (5, 7)
    )
    return text, image, labels


def test_text_query_through_a_pipeline(paired):
    text, image, _ = paired
    X = make_frame(text=text, image=image)
    pipeline = make_pipeline(CCA(n_components=3), _retriever(n_neighbors=4)).fit(X)
    scores, indices = pipeline[-1].search(
        pipeline[0].transform(make_frame(text=text[:5]))
    )
    shared = CCA(n_components=3).fit(X).transform(X)
    shared_text = shared.filter(like="text__").to_numpy()[:5]
    shared_image = shared.filter(like="image__").to_numpy()
    expected_scores, expected_indices = brute_force(
        shared_text, shared_image, "cosine", 4
    )
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-10)
    # predict: the ranked ids of raw queries, through the whole pipeline.
    np.testing.assert_array_equal(
        pipeline.predict(make_frame(text=text[:5])), expected_indices
    )


def test_predict_returns_the_ranked_ids(embeddings):
    Q, G = embeddings
    ids = np.array([f"img{i}" for i in range(G.shape[0])])
    retriever = _retriever(n_neighbors=4).fit(make_frame(image=G), ids=ids)
    predicted = retriever.predict(make_frame(text=Q))
    assert predicted.shape == (Q.shape[0], 4)
    np.testing.assert_array_equal(predicted, ids[brute_force(Q, G, "cosine", 4)[1]])


def test_score_without_labels_is_instance_level_map(paired):
    text, image, _ = paired
    Z = make_frame(text=text, image=image @ np.linalg.pinv(image) @ text)
    retriever = _retriever(similarity="dot").fit(Z)
    S = text @ Z.filter(like="image__").to_numpy().T
    # Average precision with one relevant item is the reciprocal of its rank.
    ranks = (S > np.diag(S)[:, None]).sum(axis=1) + 1
    assert retriever.score(Z) == pytest.approx(np.mean(1.0 / ranks))


def test_score_with_labels_is_category_map(paired):
    text, image, labels = paired
    cca = CCA(n_components=3).fit(make_frame(text=text, image=image))
    Z = cca.transform(make_frame(text=text, image=image))
    retriever = _retriever().fit(Z)
    T = Z.filter(like="text__").to_numpy()
    G = Z.filter(like="image__").to_numpy()
    T = T / np.linalg.norm(T, axis=1, keepdims=True)
    G = G / np.linalg.norm(G, axis=1, keepdims=True)
    S = T @ G.T
    expected = np.mean(
        [average_precision_score(labels == labels[i], S[i]) for i in range(len(T))]
    )
    assert retriever.score(Z, labels) == pytest.approx(expected)
    # The same number through a pipeline with the fitted space.
    through = make_pipeline(FrozenEstimator(cca), _retriever()).fit(
        make_frame(text=text, image=image)
    )
    assert through.score(make_frame(text=text, image=image), labels) == pytest.approx(
        expected
    )


def test_grid_search_with_the_retriever_as_final_step(paired):
    text, image, labels = paired
    X = make_frame(text=text, image=image)
    pipeline = Pipeline([("cca", CCA()), ("retriever", _retriever())])
    cv = KFold(n_splits=3, shuffle=True, random_state=0)
    search = GridSearchCV(pipeline, {"cca__n_components": [1, 3]}, cv=cv).fit(X, labels)
    for i, n_components in enumerate([1, 3]):
        manual = []
        for train, test in cv.split(X):
            cca = CCA(n_components=n_components).fit(X.iloc[train])
            manual.append(
                _retriever()
                .fit(cca.transform(X.iloc[train]))
                .score(cca.transform(X.iloc[test]), labels[test])
            )
        assert search.cv_results_["mean_test_score"][i] == pytest.approx(
            np.mean(manual)
        )
    assert search.best_params_ == {"cca__n_components": 3}


def test_errors_name_the_problem(embeddings):
    Q, G = embeddings
    retriever = _retriever().fit(make_frame(image=G))
    with pytest.raises(ValueError, match="query set is empty"):
        retriever.search(make_frame(text=Q[:0]))
    with pytest.raises(ValueError, match="has 5 features but the gallery .* has 6"):
        retriever.search(make_frame(text=Q[:, :5]))
    missing = r"query block 'text' is not in X; it has blocks \['audio'\]"
    with pytest.raises(ValueError, match=missing):
        retriever.search(make_frame(audio=Q))
    with pytest.raises(ValueError, match="target block 'image' is not in X"):
        _retriever().fit(make_frame(text=G))
    with pytest.raises(ValueError, match="n_neighbors must be a positive integer"):
        retriever.search(make_frame(text=Q), n_neighbors=0)
    with pytest.raises(InvalidParameterError, match="n_neighbors"):
        _retriever(n_neighbors=0).fit(make_frame(image=G))
    with pytest.raises(ValueError, match="bare array has no modality names"):
        _retriever().fit(G)
    with pytest.raises(ValueError, match="gallery is empty"):
        _retriever().fit(make_frame(image=G[:0]))
    bad = G.copy()
    bad[17, 2] = np.nan
    with pytest.raises(
        ValueError, match=r"non-finite value \(nan\) in row 17, column 'image__2'"
    ):
        _retriever().fit(make_frame(image=bad))
    bad_query = Q.copy()
    bad_query[3, 0] = np.inf
    with pytest.raises(ValueError, match="row 3, column 'text__0'"):
        retriever.search(make_frame(text=bad_query))
    with pytest.raises(TypeError, match="needs numeric features.*holds text"):
        _retriever().fit(make_frame(image=np.array([["a"], ["b"]], dtype=object)))
    with pytest.raises(ValueError, match="index='ivf' needs backend='faiss'"):
        _retriever(index="ivf").fit(make_frame(image=G))


def test_ivf_needs_enough_items(embeddings):
    pytest.importorskip("faiss")
    _, G = embeddings
    with pytest.raises(ValueError, match="nlist=500 needs at least 500 gallery items"):
        _retriever(backend="faiss", index="ivf", nlist=500).fit(make_frame(image=G))


def _instance_map(query, gallery):
    """Instance-level mAP by cosine: AP with one relevant item is 1 / its rank."""
    query = query / np.linalg.norm(query, axis=1, keepdims=True)
    gallery = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    S = query @ gallery.T
    ranks = (S > np.diag(S)[:, None]).sum(axis=1) + 1
    return np.mean(1.0 / ranks)


def test_pipeline_in_cross_val_score_and_grid_search(paired):
    from sklearn.model_selection import cross_val_score

    text, image, _ = paired
    X = make_frame(text=text, image=image)
    cv = KFold(n_splits=4, shuffle=True, random_state=0)
    manual = []
    for train, test in cv.split(X):
        fold = CCA(n_components=3).fit(X.iloc[train]).transform(X.iloc[test])
        manual.append(
            _instance_map(
                fold.filter(like="text__").to_numpy(),
                fold.filter(like="image__").to_numpy(),
            )
        )
    pipeline = make_pipeline(CCA(n_components=3), _retriever())
    scores = cross_val_score(pipeline, X, cv=cv, error_score="raise")
    np.testing.assert_allclose(scores, manual, rtol=1e-12)
    # A retrieval scorer on the pipeline ending in the retriever: the same mAP.
    scorer = make_retrieval_scorer("map", query="text", target="image")
    scores = cross_val_score(pipeline, X, cv=cv, scoring=scorer, error_score="raise")
    np.testing.assert_allclose(scores, manual, rtol=1e-12)
    search = GridSearchCV(
        pipeline,
        {"crossmodalretriever__similarity": ["cosine", "dot"]},
        cv=cv,
        scoring={
            "map": scorer,
            "r1": make_retrieval_scorer("recall", query="text", target="image", k=1),
        },
        refit="map",
        error_score="raise",
    ).fit(X)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_map"][0], np.mean(manual), rtol=1e-12
    )
    # The refitted pipeline predicts ranked gallery rows for raw queries.
    predicted = search.predict(make_frame(text=text[:3]))
    assert predicted.shape == (3, 10)
    # A fixed, already fitted space: FrozenEstimator keeps it through cloning.
    cca = CCA(n_components=3).fit(X)
    frozen = make_pipeline(FrozenEstimator(cca), _retriever())
    shared = cca.transform(X)
    expected = [
        _instance_map(
            shared.filter(like="text__").to_numpy()[test],
            shared.filter(like="image__").to_numpy()[test],
        )
        for _, test in cv.split(X)
    ]
    np.testing.assert_allclose(cross_val_score(frozen, X, cv=cv), expected, rtol=1e-12)


def test_gallery_is_a_private_copy(embeddings):
    _, G = embeddings
    frame = make_frame(image=G.copy())
    retriever = _retriever(similarity="dot").fit(frame)
    frame.iloc[0, 0] = 100.0
    np.testing.assert_array_equal(retriever.gallery_, G)


def test_clone_refit_and_params_on_frames(embeddings):
    Q, G = embeddings
    retriever = _retriever(n_neighbors=3, similarity="dot", backend="numpy")
    first = retriever.fit(make_frame(image=G)).search(make_frame(text=Q))
    second = retriever.fit(make_frame(image=G)).search(make_frame(text=Q))
    cloned = clone(retriever)
    assert not hasattr(cloned, "gallery_")
    assert cloned.get_params() == retriever.get_params()
    third = cloned.fit(make_frame(image=G)).search(make_frame(text=Q))
    for a, b, c in zip(first, second, third, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    # Row order of the queries does not matter, nor searching a subset.
    order = np.random.default_rng(0).permutation(Q.shape[0])
    permuted = retriever.search(make_frame(text=Q[order]))
    np.testing.assert_array_equal(permuted[1], first[1][order])
    subset = retriever.search(make_frame(text=Q[:4]))
    np.testing.assert_array_equal(subset[1], first[1][:4])
