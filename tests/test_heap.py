"""The compiled heap kernel of the running top-k, against a full sort."""

import subprocess
import sys

import numpy as np
import pytest

from skcrossmodal._heap import _compile, push_tile


def _top_by_sort(S, keep):
    """Per query (column of S), the ``keep`` highest scores, ascending."""
    return np.sort(S, axis=0)[S.shape[0] - keep :].T


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_push_tile_keeps_the_highest_scores_of_every_query(dtype):
    rng = np.random.default_rng(0)
    for _ in range(100):
        n_queries = int(rng.integers(1, 40))  # part-filled and several mark words
        keep = int(rng.integers(1, 16))
        n_rows = int(rng.integers(keep, 300))
        S = np.round(rng.standard_normal((n_rows, n_queries)), 1).astype(dtype)
        scores = np.full((n_queries, keep), -np.inf, dtype=dtype)
        indices = np.full((n_queries, keep), -1, dtype=np.int64)
        floors = np.full(n_queries, -np.inf, dtype=dtype)
        mark = np.zeros(-(-n_queries // 8) * 8, dtype=np.uint8)
        cuts = np.sort(rng.integers(0, n_rows, size=3))
        for start, stop in zip([0, *cuts], [*cuts, n_rows], strict=True):
            push_tile(S[start:stop], start, scores, indices, floors, mark)
        np.testing.assert_array_equal(np.sort(scores, axis=1), _top_by_sort(S, keep))
        np.testing.assert_array_equal(np.take_along_axis(S.T, indices, axis=1), scores)
        assert all(len(set(row)) == keep for row in indices)


def test_push_tile_offers_only_entries_above_the_floors():
    rng = np.random.default_rng(1)
    S = rng.standard_normal((200, 13))
    keep = 5
    kth = np.sort(S, axis=0)[-keep]
    scores = np.full((13, keep), -np.inf)
    indices = np.full((13, keep), -1, dtype=np.int64)
    mark = np.zeros(16, dtype=np.uint8)
    # Floors just below each query's 5th best keep the exact top 5; a floor at
    # the 5th best itself shuts that entry out (the heap keeps a free slot).
    floors = np.nextafter(kth, -np.inf)
    floors[0] = kth[0]
    push_tile(S, 0, scores, indices, floors, mark)
    expected = _top_by_sort(S, keep)
    np.testing.assert_array_equal(np.sort(scores[1:], axis=1), expected[1:])
    np.testing.assert_array_equal(np.sort(scores[0])[1:], expected[0, 1:])
    assert scores[0].min() == -np.inf and (indices[0] == -1).sum() == 1


def test_compile_works_where_numba_has_no_cache_location():
    # A function defined by exec has no source file, so numba cannot cache it
    # and refuses cache=True; _compile then compiles it without the cache.
    namespace = {}
    exec("def twice(x):\n    return 2 * x\n", namespace)
    assert _compile(namespace["twice"])(21) == 42


def test_numba_is_loaded_by_the_first_search_not_by_importing_skcrossmodal():
    code = (
        "import sys, numpy as np\n"
        "import skcrossmodal, skcrossmodal.retrieval, skcrossmodal.mapping\n"
        "from skcrossmodal import make_frame\n"
        "assert 'numba' not in sys.modules, 'numba was imported'\n"
        "r = skcrossmodal.retrieval.CrossModalRetriever('text', 'image', n_neighbors=1)\n"
        "r.fit(make_frame(image=np.eye(3)))\n"
        "assert r.predict(make_frame(text=np.eye(3)[::-1])).ravel().tolist() == [2, 1, 0]\n"
        "assert 'numba' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
