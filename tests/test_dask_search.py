"""CrossModalRetriever with a gallery sharded on a real two-process Dask cluster.

Every result is compared with the in-memory retriever fitted on the same rows
(ids, tie order) and with a float64 brute force ranking of the paper
definition (best score first, equal scores by lower gallery row).
"""

import inspect
import itertools
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

from _search_reference import brute_force
from _tolerance import FLOAT32

from skcrossmodal import make_frame
from skcrossmodal._sharded import ShardedGallery, add_sharded
from skcrossmodal._similarity import merge_top_k
from skcrossmodal.retrieval import CrossModalRetriever

SIMILARITIES = ["cosine", "dot", "euclidean"]
# The retriever's similarity parameter ("metric" before the glossary rename).
_SIMILARITY = (
    "similarity"
    if "similarity" in inspect.signature(CrossModalRetriever).parameters
    else "metric"
)


def _retriever(similarity="cosine", **params):
    return CrossModalRetriever(
        query="text", target="image", **{_SIMILARITY: similarity}, **params
    )


def _uneven(frame, sizes):
    """A Dask DataFrame whose partitions have the given sizes (0 allowed)."""
    edges = np.cumsum([0, *sizes])
    assert edges[-1] == len(frame)
    parts = [frame.iloc[start:stop] for start, stop in itertools.pairwise(edges)]
    return dd.from_delayed([dask.delayed(p) for p in parts], meta=frame.iloc[:0])


def _data(n_gallery=103, n_queries=17, d=6, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    G = rng.normal(size=(n_gallery, d)).astype(dtype)
    Q = rng.normal(size=(n_queries, d)).astype(dtype)
    return G, Q


SIZES = [40, 0, 7, 50, 0, 6]  # unequal partitions, two without rows


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_sharded_search_equals_in_memory(dask_client, similarity, dtype):
    G, Q = _data(dtype=dtype)
    gallery = make_frame(image=G)
    queries = make_frame(text=Q)
    sharded = _retriever(similarity, n_neighbors=5).fit(_uneven(gallery, SIZES))
    assert isinstance(sharded.gallery_, ShardedGallery)
    assert sharded.gallery_.shape == (103, 6)
    assert sharded.gallery_.dtype == dtype
    scores, rows = sharded.search(queries)
    expected_scores, expected_rows = (
        _retriever(similarity, n_neighbors=5).fit(gallery).search(queries)
    )
    np.testing.assert_array_equal(rows, expected_rows)
    assert scores.dtype == expected_scores.dtype == dtype
    assert rows.dtype == expected_rows.dtype
    reference_scores, reference_rows = brute_force(Q, G, similarity, 5)
    tolerance = FLOAT32 if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    np.testing.assert_allclose(scores, reference_scores, **tolerance)
    if dtype == np.float64:
        np.testing.assert_array_equal(rows, reference_rows)


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_ties_across_shards_resolve_by_global_row(dask_client, similarity):
    # Small integers: every score is exact in float64, so ties are true ties.
    rng = np.random.default_rng(1)
    base = rng.integers(-3, 4, size=(5, 4)).astype(np.float64)
    G = base[rng.integers(0, 5, size=60)]  # each row repeated in many shards
    Q = rng.integers(-3, 4, size=(9, 4)).astype(np.float64)
    Q[0] = 0.0  # a zero query: every cosine and dot score ties at 0
    gallery = make_frame(image=G)
    queries = make_frame(text=Q)
    ddf = _uneven(gallery, [11, 0, 13, 25, 11])
    for k in (1, 7, 30):
        scores, rows = _retriever(similarity).fit(ddf).search(queries, n_neighbors=k)
        expected = _retriever(similarity).fit(gallery).search(queries, n_neighbors=k)
        np.testing.assert_array_equal(rows, expected[1])
        np.testing.assert_array_equal(scores, expected[0])
        reference_scores, reference_rows = brute_force(Q, G, similarity, k)
        np.testing.assert_array_equal(rows, reference_rows)
        np.testing.assert_allclose(scores, reference_scores, rtol=1e-12, atol=1e-12)


def test_k_larger_than_a_shard_and_than_the_gallery(dask_client):
    G, Q = _data(n_gallery=23)
    gallery = make_frame(image=G)
    queries = make_frame(text=Q)
    sharded = _retriever(n_neighbors=100).fit(_uneven(gallery, [3, 0, 12, 8]))
    in_memory = _retriever(n_neighbors=100).fit(gallery)
    for k in (5, 10, 23, 100):  # 5 and 10 exceed two shards, 100 the gallery
        scores, rows = sharded.search(queries, n_neighbors=k)
        expected_scores, expected_rows = in_memory.search(queries, n_neighbors=k)
        assert rows.shape == (len(Q), min(k, 23))
        np.testing.assert_array_equal(rows, expected_rows)
        np.testing.assert_allclose(scores, expected_scores, rtol=1e-12, atol=1e-12)
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match="n_neighbors must be a positive integer"):
            sharded.search(queries, n_neighbors=bad)


def test_ids_on_the_client_and_on_the_workers(dask_client):
    G, Q = _data()
    labels = np.array([f"item-{i}" for i in range(len(G))])
    gallery = make_frame(image=G, index=pd.Index(labels[::-1].copy()))
    queries = make_frame(text=Q)
    ddf = _uneven(gallery, SIZES)
    expected = _retriever().fit(gallery, ids=labels).search(queries)
    _, ids = _retriever().fit(ddf, ids=labels).search(queries)
    np.testing.assert_array_equal(ids, expected[1])
    assert ids.dtype == expected[1].dtype
    # Index labels as ids: a Dask Index stays with its partitions.
    expected = _retriever().fit(gallery, ids=gallery.index).search(queries)
    _, ids = _retriever().fit(ddf, ids=ddf.index).search(queries)
    np.testing.assert_array_equal(ids, expected[1])
    assert ids.dtype == expected[1].dtype
    with pytest.raises(ValueError, match=r"one entry per gallery row \(103\)"):
        _retriever().fit(ddf, ids=labels[:-1])
    with pytest.raises(ValueError, match="partitioned like X"):
        _retriever().fit(ddf, ids=dd.from_pandas(pd.Series(labels), npartitions=2))


@pytest.mark.parametrize("sharded_gallery", [True, False])
def test_dask_queries_give_lazy_arrays_per_query_partition(
    dask_client, sharded_gallery
):
    G, Q = _data(n_queries=31)
    gallery = make_frame(image=G)
    queries = make_frame(text=Q)
    labels = np.array([f"g{i}" for i in range(len(G))])
    source = _uneven(gallery, SIZES) if sharded_gallery else gallery
    retriever = _retriever(n_neighbors=4).fit(source, ids=labels)
    scores, ids = retriever.search(_uneven(queries, [10, 0, 21]))
    assert isinstance(scores, da.Array) and isinstance(ids, da.Array)
    assert scores.numblocks == (3, 1)
    scores, ids = dask.compute(scores, ids)
    expected_scores, expected_ids = (
        _retriever(n_neighbors=4).fit(gallery, ids=labels).search(queries)
    )
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-12, atol=1e-12)


def test_partial_fit_appends_shards(dask_client):
    G, Q = _data()
    gallery = make_frame(image=G)
    queries = make_frame(text=Q)
    retriever = _retriever(n_neighbors=6).fit(_uneven(gallery.iloc[:50], [20, 30]))
    retriever.partial_fit(_uneven(gallery.iloc[50:90], [0, 40]))
    retriever.partial_fit(gallery.iloc[90:])  # pandas: one more shard
    assert len(retriever.gallery_.shards) == 5
    expected = _retriever(n_neighbors=6).fit(gallery).search(queries)
    np.testing.assert_array_equal(retriever.search(queries)[1], expected[1])
    with pytest.raises(
        ValueError, match="has dtype float32 but the gallery has float64"
    ):
        retriever.partial_fit(gallery.astype(np.float32))
    assert len(retriever.gallery_.shards) == 5  # unchanged by the failed call
    with pytest.raises(ValueError, match="fitted in memory"):
        _retriever().fit(gallery).partial_fit(_uneven(gallery, SIZES))


def test_pickling_a_sharded_retriever_is_refused(dask_client):
    G, _ = _data()
    retriever = _retriever().fit(_uneven(make_frame(image=G), SIZES))
    with pytest.raises(TypeError, match=r"Cannot pickle .*\(103 rows in 6 shards\)"):
        pickle.dumps(retriever)
    # An unfitted clone (what model selection sends to workers) pickles.
    pickle.loads(pickle.dumps(_retriever()))


def test_errors_from_workers_name_the_partition(dask_client):
    G, Q = _data()
    G[95, 2] = np.nan  # row 95 is in partition 3 (rows 47..96)
    gallery = make_frame(image=G)
    fitted = _retriever().fit(_uneven(make_frame(image=_data()[0]), SIZES))
    before = fitted.gallery_
    with pytest.raises(
        ValueError,
        match=r"In partition 3 \(rows with index labels 47..96\): Modality 'image' "
        r"has a non-finite value \(nan\) in row 48",
    ):
        fitted.fit(_uneven(gallery, SIZES))
    assert fitted.gallery_ is before  # a failed fit keeps the previous state
    with pytest.raises(
        ValueError, match=r"In partition [01] .*target block 'image' is not in X"
    ):
        _retriever().fit(dd.from_pandas(make_frame(sound=G), npartitions=2))
    with pytest.raises(ValueError, match="The gallery is empty"):
        _retriever().fit(_uneven(gallery.iloc[:0], [0, 0]))
    bad_queries = make_frame(text=Q)
    bad_queries.iloc[12, 0] = np.inf
    scores, _ = fitted.search(_uneven(bad_queries, [10, 7]))
    with pytest.raises(
        ValueError, match=r"In partition 1 \(rows with index labels 10..16\).*row 2"
    ):
        scores.compute()
    with pytest.raises(ValueError, match="has 2 features but the gallery"):
        fitted.search(make_frame(text=Q[:, :2]))
    with pytest.raises(ValueError, match="query block 'text' is not in X"):
        fitted.search(make_frame(image=Q))


def test_merge_top_k_is_the_sorted_union():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 4, size=(8, 30)).astype(float)  # many ties
    rows = np.broadcast_to(np.arange(30), scores.shape)
    reference = np.lexsort((rows, -scores), axis=-1)[:, :10]
    shards = []
    for start, stop in [(0, 4), (4, 20), (20, 30)]:
        part_scores, part_rows = scores[:, start:stop], rows[:, start:stop]
        order = np.lexsort((part_rows, -part_scores), axis=-1)[:, :10]
        shards.append(
            (
                np.take_along_axis(part_scores, order, axis=1),
                np.take_along_axis(part_rows, order, axis=1),
            )
        )
    _, merged_rows = merge_top_k(shards[::-1], 10)
    np.testing.assert_array_equal(merged_rows, reference)
    pairwise = merge_top_k([merge_top_k(shards[:2], 10), shards[2]], 10)
    np.testing.assert_array_equal(pairwise[1], reference)


def test_dask_is_imported_only_for_dask_input(monkeypatch):
    code = (
        "import sys, numpy as np\n"
        "from skcrossmodal import make_frame\n"
        "from skcrossmodal.retrieval import CrossModalRetriever\n"
        "r = CrossModalRetriever(query='t', target='t').fit(make_frame(t=np.eye(3)))\n"
        "r.search(make_frame(t=np.eye(3)))\n"
        "assert 'dask' not in sys.modules, 'dask was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    monkeypatch.setitem(sys.modules, "dask", None)
    with pytest.raises(ImportError, match=r"pip install 'skcrossmodal\[dask\]'"):
        add_sharded(_retriever(), None, None)


def test_query_block_is_validated_once_not_again_per_shard(monkeypatch):
    # The queries are checked once (on the client, or once per query
    # partition); each shard searches the checked array through its engine.
    # The synchronous scheduler runs the shards in this process, where the
    # check can be counted.
    import skcrossmodal._frame as frame_module

    G, Q = _data()
    gallery, queries = make_frame(image=G), make_frame(text=Q)
    expected = _retriever(n_neighbors=5).fit(gallery).search(queries)
    with dask.config.set(scheduler="synchronous"):
        sharded = _retriever(n_neighbors=5).fit(_uneven(gallery, SIZES))
        calls = []
        original = frame_module.check_finite
        monkeypatch.setattr(
            frame_module,
            "check_finite",
            lambda block, *args: (calls.append(block.shape), original(block, *args))[1],
        )
        scores, rows = sharded.search(queries)
        assert calls == [Q.shape]
        calls.clear()
        lazy = sharded.search(_uneven(queries, [10, 0, 7]))
        dask_scores, dask_rows = dask.compute(*lazy)
        assert sorted(calls) == [(0, 6), (7, 6), (10, 6)]
    np.testing.assert_array_equal(rows, expected[1])
    np.testing.assert_array_equal(scores, expected[0])
    np.testing.assert_array_equal(dask_rows, expected[1])
    np.testing.assert_array_equal(dask_scores, expected[0])
