"""Tests of skcrossmodal.mapping.KNNMapper."""

import pickle

import numpy as np
import pytest
from _mapping_data import make_labelled
from sklearn.base import clone
from sklearn.neighbors import KNeighborsRegressor

from skcrossmodal import make_frame
from skcrossmodal.mapping import KNNMapper


def make_pair(n_samples=60, seed=0):
    rng = np.random.default_rng(seed)
    source = rng.standard_normal((n_samples, 5))
    target = np.tanh(source[:, :3]) + 0.1 * rng.standard_normal((n_samples, 3))
    return source, target


def brute_force_knn(queries, source, target, k, metric, weights):
    """One query at a time: sort all distances, average the k closest targets."""
    out = []
    for q in queries:
        if metric == "cosine":
            distances = 1 - source @ q / (
                np.linalg.norm(source, axis=1) * np.linalg.norm(q)
            )
        else:
            distances = np.linalg.norm(source - q, axis=1)
        nearest = np.argsort(distances)[:k]
        w = np.ones(k) if weights == "uniform" else 1 / distances[nearest]
        out.append(w @ target[nearest] / w.sum())
    return np.array(out)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("batch_size", ["auto", 7])
def test_knn_matches_brute_force_and_sklearn(metric, weights, batch_size):
    source, target = make_pair()
    queries = make_pair(25, seed=1)[0]
    mapper = KNNMapper(
        "image",
        "text",
        n_neighbors=4,
        similarity=metric,
        weights=weights,
        batch_size=batch_size,
    ).fit(make_frame(image=source, text=target))
    mapped = mapper.transform(make_frame(image=queries)).to_numpy()
    expected = brute_force_knn(queries, source, target, 4, metric, weights)
    np.testing.assert_allclose(mapped, expected, atol=1e-12)
    reference = KNeighborsRegressor(
        n_neighbors=4, weights=weights, metric=metric, algorithm="brute"
    ).fit(source, target)
    np.testing.assert_allclose(mapped, reference.predict(queries), atol=1e-12)
    distances, indices = mapper.kneighbors(queries)
    ref_distances, ref_indices = reference.kneighbors(queries)
    np.testing.assert_array_equal(indices, ref_indices)
    np.testing.assert_allclose(distances, ref_distances, atol=1e-7)
    np.testing.assert_array_equal(
        mapper.kneighbors(queries, return_distance=False), indices
    )


def test_knn_distance_weights_exact_match_takes_all_weight():
    source, target = make_pair()
    X = make_frame(image=source, text=target)
    mapper = KNNMapper(
        "image", "text", n_neighbors=3, weights="distance", similarity="euclidean"
    ).fit(X)
    np.testing.assert_allclose(
        mapper.transform(make_frame(image=source)).to_numpy(), target
    )
    reference = KNeighborsRegressor(3, weights="distance").fit(source, target)
    assert mapper.score(X) == pytest.approx(reference.score(source, target))


def test_knn_n_jobs_gives_same_result():
    source, target = make_pair(80)
    X = make_frame(image=source, text=target)
    one = KNNMapper("image", "text", batch_size=9).fit(X).transform(X)
    two = KNNMapper("image", "text", batch_size=9, n_jobs=2).fit(X).transform(X)
    np.testing.assert_array_equal(one.to_numpy(), two.to_numpy())


def test_knn_n_neighbors_equal_to_n_samples():
    source, target = make_pair(5)
    mapper = KNNMapper("image", "text", n_neighbors=5).fit(
        make_frame(image=source, text=target)
    )
    mapped = mapper.transform(make_frame(image=source[:2])).to_numpy()
    np.testing.assert_allclose(mapped, np.tile(target.mean(axis=0), (2, 1)))


def test_knn_errors():
    source, target = make_pair()
    X = make_frame(image=source, text=target)
    with pytest.raises(ValueError, match="both 'image'"):
        KNNMapper("image", "image").fit(X)
    with pytest.raises(ValueError, match=r"needs modalities \['audio'\]"):
        KNNMapper("image", "audio").fit(X)
    with pytest.raises(ValueError, match="at least 5 samples"):
        KNNMapper("image", "text").fit(X.iloc[:4])
    with pytest.raises(ValueError, match="similarity"):
        KNNMapper("image", "text", similarity="manhattan").fit(X)


def test_knn_owns_its_training_rows():
    # validate_blocks returns views of a single-dtype frame; editing the frame
    # after fit used to change the predictions.
    source, target = make_pair()
    X = make_frame(image=source, text=target)
    queries = make_frame(image=source[:7] + 0.05)
    mapper = KNNMapper("image", "text", n_neighbors=3).fit(X)
    expected = (
        KNeighborsRegressor(n_neighbors=3, metric="cosine", algorithm="brute")
        .fit(source, target)
        .predict(source[:7] + 0.05)
    )
    X.iloc[:, :] = 0.0  # in place, through pandas
    np.testing.assert_allclose(
        mapper.transform(queries).to_numpy(), expected, rtol=1e-12
    )
    np.testing.assert_array_equal(mapper.source_fit_, source)
    np.testing.assert_array_equal(mapper.target_fit_, target)
    assert not np.shares_memory(mapper.source_fit_, X.to_numpy())
    assert not np.shares_memory(mapper.target_fit_, X.to_numpy())


def test_knn_kneighbors_validates_its_input_like_transform():
    source, target = make_pair()
    mapper = KNNMapper("image", "text", n_neighbors=3).fit(
        make_frame(image=source, text=target)
    )
    bad = source[:4].copy()
    bad[2, 1] = np.nan
    # The same message as transform (it used to die in numpy broadcasting).
    with pytest.raises(ValueError) as from_transform:
        mapper.transform(make_frame(image=bad))
    assert "row 2, column 'image__1'" in str(from_transform.value)
    with pytest.raises(ValueError) as from_kneighbors:
        mapper.kneighbors(bad)
    assert str(from_kneighbors.value) == str(from_transform.value)
    strings = np.array([["a"] * 5] * 2)
    with pytest.raises(TypeError) as from_transform:
        mapper.transform(make_frame(image=strings))
    with pytest.raises(TypeError) as from_kneighbors:
        mapper.kneighbors(strings)
    assert "needs numeric features, but column 'image__0'" in str(from_kneighbors.value)
    assert str(from_kneighbors.value) == str(from_transform.value)
    message = r"'image' block, of shape \(n_queries, 5\).*got shape \(4, 3\)"
    with pytest.raises(ValueError, match=message):
        mapper.kneighbors(source[:4, :3])
    with pytest.raises(ValueError, match=r"got shape \(5,\)"):
        mapper.kneighbors(source[0])
    with pytest.raises(ValueError, match="at least 1 samples, got 0"):
        mapper.kneighbors(source[:0])
    # A modality table is accepted too, and gives the same neighbours.
    distances, indices = mapper.kneighbors(source[:4])
    from_frame = mapper.kneighbors(make_frame(image=source[:4], text=target[:4]))
    np.testing.assert_array_equal(from_frame[1], indices)
    np.testing.assert_array_equal(from_frame[0], distances)
    with pytest.raises(
        ValueError, match="source block 'image', but X has only \\['text'\\]"
    ):
        mapper.kneighbors(make_frame(text=target[:4]))
    # Integers are numbers: converted like transform converts them.
    np.testing.assert_array_equal(
        mapper.kneighbors(np.round(source[:4] * 10).astype(int))[1],
        mapper.kneighbors(np.round(source[:4] * 10))[1],
    )


def test_clone_pickle_idempotent_and_subset_invariant():
    mapper, needs_y = KNNMapper("image", "text", n_neighbors=3), False
    X, y = make_labelled()
    fit_args = (X, y) if needs_y else (X,)
    first = clone(mapper).fit(*fit_args)
    expected = first.transform(X).to_numpy()
    np.testing.assert_array_equal(
        first.fit(*fit_args).transform(X).to_numpy(), expected
    )
    restored = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(restored.transform(X).to_numpy(), expected)
    np.testing.assert_allclose(
        first.transform(X.iloc[10:20]).to_numpy(), expected[10:20]
    )
    np.testing.assert_allclose(first.transform(X.iloc[::-1]).to_numpy(), expected[::-1])
    assert first.n_features_in_ == 6
