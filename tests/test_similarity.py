"""The search engines and the shared top-k machinery of skcrossmodal._similarity."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
from _search_reference import brute_force, needs_backend
from sklearn import config_context
from sklearn.utils import get_tags
from sklearn.utils._chunking import get_chunk_n_rows

import skcrossmodal._engines as engines_module
import skcrossmodal._similarity as similarity_module
from skcrossmodal import make_frame
from skcrossmodal._engines import FaissEngine, NumpyEngine, TorchEngine, make_engine
from skcrossmodal._similarity import (
    block_rows,
    iter_similarity_blocks,
    merge_top_k,
    search_blocks,
)
from skcrossmodal.mapping import KNNMapper
from skcrossmodal.retrieval import CrossModalRetriever

SIMILARITIES = ["cosine", "dot", "euclidean"]
ENGINES = {
    "numpy": lambda s: NumpyEngine(s),
    "torch": lambda s: TorchEngine(s),
    "faiss-flat": lambda s: FaissEngine(s),
    "faiss-ivf": lambda s: FaissEngine(s, index="ivf", nlist=4, random_state=0),
}


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((19, 6)), rng.standard_normal((131, 6))


@pytest.fixture
def tied():
    """Rows with four +-1 entries: every score is exact in any dtype (cosine
    too, the norms are 2), and repeated rows put ties across every cut-off."""
    rng = np.random.default_rng(3)

    def vectors(n):
        V = np.zeros((n, 8))
        for row in V:
            row[rng.choice(8, size=4, replace=False)] = rng.choice([-1.0, 1.0], size=4)
        return V

    return vectors(11), vectors(7)[rng.integers(0, 7, size=90)]


@pytest.mark.parametrize("name", ENGINES)
@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_engine_pickles_and_keeps_answering(data, name, similarity):
    needs_backend(name)
    Q, G = data
    engine = ENGINES[name](similarity).build(G.astype(np.float32))
    loaded = pickle.loads(pickle.dumps(engine))
    for got, expected in zip(loaded.search(Q, 5), engine.search(Q, 5), strict=True):
        np.testing.assert_array_equal(got, expected)
    # A loaded engine grows like the original.
    grown, loaded_grown = engine.add(G[:3]), loaded.add(G[:3])
    for got, expected in zip(
        loaded_grown.search(Q, 5), grown.search(Q, 5), strict=True
    ):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("name", ENGINES)
def test_engine_add_returns_a_new_engine(data, name):
    needs_backend(name)
    Q, G = data
    engine = ENGINES[name]("dot").build(G[:100])
    before = engine.search(Q, 3)
    gallery = engine.gallery
    grown = engine.add(G[100:])
    assert grown is not engine and engine.gallery is gallery
    assert engine.n_gallery == 100 and grown.n_gallery == G.shape[0]
    for got, expected in zip(engine.search(Q, 3), before, strict=True):
        np.testing.assert_array_equal(got, expected)
    if name != "faiss-ivf":
        np.testing.assert_array_equal(
            grown.search(Q, 3)[1], brute_force(Q, G, "dot", 3)[1]
        )


@pytest.mark.parametrize("name", ["numpy", "torch", "faiss-flat"])
@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_exact_engines_match_brute_force_with_ties(tied, name, similarity):
    needs_backend(name)
    Q, G = tied
    for k in (1, 3, 8, 90):
        scores, indices = ENGINES[name](similarity).build(G).search(Q, k, batch_size=4)
        expected_scores, expected_indices = brute_force(Q, G, similarity, k)
        np.testing.assert_array_equal(indices, expected_indices)
        np.testing.assert_allclose(scores, expected_scores, rtol=1e-6)


@pytest.mark.parametrize("similarity", SIMILARITIES)
@pytest.mark.parametrize("n_shards", [1, 2, 5])
def test_merge_top_k_of_shards_equals_the_whole_gallery(tied, similarity, n_shards):
    Q, G = tied
    k = 6
    rng = np.random.default_rng(n_shards)
    cuts = np.sort(
        rng.choice(np.arange(1, G.shape[0]), size=n_shards - 1, replace=False)
    )
    parts = []
    for rows in np.split(np.arange(G.shape[0]), cuts):
        scores, local = NumpyEngine(similarity).build(G[rows]).search(Q, k)
        parts.append((scores, rows[local]))  # global gallery rows
    scores, ids = merge_top_k(parts, k)
    expected_scores, expected_ids = brute_force(Q, G, similarity, k)
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-12)


def test_merge_top_k_puts_missing_results_last():
    scores = np.array([[0.5, -np.inf]])
    merged = merge_top_k(
        [(scores, np.array([[4, -1]])), (np.array([[-np.inf]]), [[2]])], 3
    )
    np.testing.assert_array_equal(merged[1], [[4, 2, -1]])


def test_block_rows_follows_working_memory():
    # The reference: scikit-learn's own rule for pairwise_distances_chunked.
    for working_memory in (1, 3, 64):
        with config_context(working_memory=working_memory):
            for row_bytes in (8, 1000, 123_457):
                assert block_rows(row_bytes) == get_chunk_n_rows(row_bytes)
                assert block_rows(row_bytes, max_rows=5) == get_chunk_n_rows(
                    row_bytes, max_n_rows=5
                )
            assert block_rows(10**9, batch_size=7) == 7
    with (
        config_context(working_memory=1),
        pytest.warns(UserWarning, match="working_memory"),
    ):
        assert block_rows(2**21) == 1


def test_iter_similarity_blocks_is_sized_by_working_memory():
    rng = np.random.default_rng(0)
    Q, G = rng.standard_normal((300, 4)), rng.standard_normal((1000, 4))
    with config_context(working_memory=1):  # 1 MiB: 131 rows of 1000 float64 scores
        blocks = list(iter_similarity_blocks(Q, G, "dot"))
    assert [stop - start for start, stop, _ in blocks] == [131, 131, 38]
    np.testing.assert_allclose(np.vstack([S for *_, S in blocks]), Q @ G.T, rtol=1e-12)


@pytest.mark.parametrize("n_threads", [1, 3])
@pytest.mark.parametrize("working_memory", [0.01, 0.5, 1024])
def test_search_tiles_fit_in_working_memory(n_threads, working_memory):
    with config_context(working_memory=working_memory):
        for n_queries, n_gallery, keep in [
            (5000, 10**6, 11),
            (7, 50, 11),
            (3000, 4000, 2),
        ]:
            rows, columns = search_blocks(
                n_queries, n_gallery, keep, 4, "auto", n_threads
            )
            assert 1 <= rows <= min(n_queries, similarity_module.AUTO_BATCH_ROWS)
            assert min(keep, n_gallery) <= columns <= n_gallery
            assert rows * columns <= similarity_module.TILE_ENTRIES
            fits = n_threads * rows * columns * 4 <= working_memory * 2**20
            assert fits or (rows == 1 and columns == min(keep, n_gallery))


def test_search_is_exact_under_a_tiny_working_memory(data):
    Q, G = data
    retriever = CrossModalRetriever("text", "image", n_neighbors=7)
    with config_context(working_memory=0.001), warnings.catch_warnings():
        warnings.simplefilter("error")
        _, indices = retriever.fit(make_frame(image=G)).search(make_frame(text=Q))
    np.testing.assert_array_equal(indices, brute_force(Q, G, "cosine", 7)[1])


class _RecordingPool(engines_module.ThreadPoolExecutor):
    sizes = []

    def __init__(self, max_workers):
        type(self).sizes.append(max_workers)
        super().__init__(max_workers)


def test_n_jobs_none_means_one_thread_outside_a_joblib_context(data, monkeypatch):
    Q, G = data
    monkeypatch.setattr(engines_module, "ThreadPoolExecutor", _RecordingPool)
    _RecordingPool.sizes = []
    retriever = CrossModalRetriever("text", "image", batch_size=2).fit(
        make_frame(image=G)
    )
    expected = retriever.search(make_frame(text=Q))
    assert _RecordingPool.sizes == []  # one block at a time, no pool
    with joblib.parallel_backend("threading", n_jobs=3):
        got = retriever.search(make_frame(text=Q))
    retriever.set_params(n_jobs=2).search(make_frame(text=Q))
    retriever.set_params(n_jobs=-1).search(make_frame(text=Q))
    assert _RecordingPool.sizes == [3, 2, joblib.cpu_count()]
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    # KNNMapper: the same engine, the same rule.
    _RecordingPool.sizes = []
    X = make_frame(image=G, text=G[:, :2])
    KNNMapper("image", "text", batch_size=5).fit(X).transform(X)
    KNNMapper("image", "text", batch_size=5, n_jobs=2).fit(X).transform(X)
    assert _RecordingPool.sizes == [2]


def test_faiss_threads_follow_n_jobs(data, monkeypatch):
    faiss = pytest.importorskip("faiss")
    Q, G = data
    calls = []
    original = faiss.omp_set_num_threads
    monkeypatch.setattr(
        faiss, "omp_set_num_threads", lambda n: (calls.append(n), original(n))
    )
    previous = faiss.omp_get_max_threads()
    engine = FaissEngine("cosine").build(G)
    engine.search(Q, 3)
    engine.search(Q, 3, n_jobs=2)
    with joblib.parallel_backend("threading", n_jobs=3):
        engine.search(Q, 3)
    assert calls[::2] == [1, 2, 3]  # each search restores the previous setting
    assert set(calls[1::2]) == {previous}


def test_verbose_reports_large_searches(data, capsys):
    Q, G = data
    retriever = CrossModalRetriever("text", "image", batch_size=4, verbose=1)
    retriever.fit(make_frame(image=G)).search(make_frame(text=Q))
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith(
        f"[CrossModalRetriever] fit: gallery of {G.shape[0]} rows"
    )
    assert len(lines) == 1 + 5  # 19 queries in blocks of 4
    for stop, line in zip([4, 8, 12, 16, 19], lines[1:], strict=True):
        assert line.startswith(
            f"[CrossModalRetriever] search {stop}/19 queries: {G.shape[0]} gallery rows ("
        )
        assert line.endswith(" s)")
    CrossModalRetriever("text", "image", batch_size=4).fit(make_frame(image=G)).search(
        make_frame(text=Q)
    )
    assert capsys.readouterr().err == ""


def test_tags():
    assert not get_tags(CrossModalRetriever("text", "image")).target_tags.required
    assert not get_tags(CrossModalRetriever("text", "image")).non_deterministic
    ivf = CrossModalRetriever("text", "image", backend="faiss", index="ivf")
    assert get_tags(ivf).non_deterministic
    assert not get_tags(ivf.set_params(random_state=0)).non_deterministic
    tags = get_tags(KNNMapper("image", "text"))
    assert not tags.target_tags.required
    assert tags.transformer_tags.preserves_dtype == ["float64"]


def test_make_engine():
    assert type(make_engine("numpy", "dot")) is NumpyEngine
    assert type(make_engine("torch")) is TorchEngine
    engine = make_engine("faiss", "euclidean", index="ivf", nlist=3, random_state=0)
    assert (engine.index, engine.nlist, engine.exact) == ("ivf", 3, False)
    with pytest.raises(ValueError, match="similarity must be one of"):
        NumpyEngine("manhattan")
