"""Tests of ModalityUnion's content-keyed feature cache (skcrossmodal._cache)."""

import os
import re
from collections import Counter

import joblib
import numpy as np
import pandas as pd
import pytest
from _tolerance import FLOAT32
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline

from skcrossmodal import _cache
from skcrossmodal.compose import ModalityUnion, make_modality_union

# What the counting extractors did, in this process (GridSearchCV n_jobs=1).
TRANSFORMED = Counter()
FITS = []


def _counted_images(X):
    """The images of ``X`` as float arrays, each one counted in TRANSFORMED."""
    for image in X:
        image = np.asarray(image, dtype=np.float64)
        TRANSFORMED[image.tobytes()] += 1
        yield image


class ImageStats(TransformerMixin, BaseEstimator):
    """A row-wise deterministic extractor of 2-D array cells that counts its rows."""

    def __init__(self, gain=1.0, random_state=0):
        self.gain = gain
        self.random_state = random_state

    def fit(self, X, y=None):
        FITS.append(len(X))
        # a data-dependent fitted state: the mean pixel of the training column
        self.mean_ = float(np.mean([np.mean(image) for image in X]))
        return self

    def transform(self, X):
        rows = [
            [image.mean() - self.mean_, image.std(), image.max()]
            for image in _counted_images(X)
        ]
        return self.gain * np.asarray(rows)


def _images(n=60, n_distinct=None, seed=0):
    rng = np.random.default_rng(seed)
    n_distinct = n if n_distinct is None else n_distinct
    pool = [rng.integers(0, 256, (4, 5)).astype(np.uint8) for _ in range(n_distinct)]
    column = np.empty(n, dtype=object)
    for i in range(n):
        column[i] = pool[i % n_distinct].copy()  # equal content, other objects
    y = np.asarray([int(image.mean() > 127.5) for image in column])
    return pd.DataFrame({"image": column, "w": rng.normal(size=n)}), y


@pytest.fixture(autouse=True)
def _reset_counts():
    TRANSFORMED.clear()
    FITS.clear()
    _cache._STORES.clear()
    _cache._FITS.clear()


def _search(memory, **params):
    union = ModalityUnion(
        [("image", ImageStats(), "image"), ("w", "passthrough", ["w"])],
        memory=memory,
    )
    pipeline = Pipeline([("union", union), ("clf", LogisticRegression())])
    grid = {"clf__C": [0.1, 1.0, 10.0, 100.0], **params}
    return GridSearchCV(pipeline, grid, cv=KFold(3, shuffle=True, random_state=0))


def test_grid_search_extracts_each_distinct_row_once(tmp_path):
    X, y = _images(n=60, n_distinct=45)
    plain = _search(None).fit(X, y)
    calls_without_cache = sum(TRANSFORMED.values())
    TRANSFORMED.clear()
    FITS.clear()
    cached = _search(tmp_path).fit(X, y)
    # 12 fits + 12 test folds + the refit, every row of each: 4 x 3 x 60 + 60
    assert calls_without_cache == 4 * 3 * 60 + 60
    # with the cache: each distinct row once per fitted state (3 folds + refit)
    distinct = {np.asarray(image, dtype=np.float64).tobytes() for image in X["image"]}
    assert set(TRANSFORMED) == distinct
    assert sum(TRANSFORMED.values()) <= 4 * len(distinct)
    # the 4 candidates of a fold share its fit: 3 fold fits + the refit
    assert len(FITS) == 4
    for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
        assert_array_equal(cached.cv_results_[key], plain.cv_results_[key])
    assert cached.best_params_ == plain.best_params_
    assert_array_equal(cached.predict(X), plain.predict(X))
    # a second search reads everything from the disk cache
    TRANSFORMED.clear()
    _cache._STORES.clear()
    _cache._FITS.clear()
    again = _search(str(tmp_path)).fit(X, y)
    assert sum(TRANSFORMED.values()) == 0
    assert_array_equal(
        again.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"]
    )
    assert (tmp_path / "skcrossmodal" / "features").is_dir()


def test_features_are_keyed_by_the_fitted_state(tmp_path):
    """A refit that learns another state never reads the features of the first."""
    X, _ = _images(n=20)
    other, _ = _images(n=20, seed=1)
    first = make_modality_union(memory=tmp_path, image=(ImageStats(), "image"))
    second = make_modality_union(memory=tmp_path, image=(ImageStats(), "image"))
    first.fit(X)
    second.fit(other)  # another mean_: another store
    reference = ImageStats().fit(other["image"]).transform(X["image"])
    assert_allclose(second.transform(X).to_numpy(), reference)
    assert (
        first.named_transformers_.image.mean_ != second.named_transformers_.image.mean_
    )
    # a parameter that changes the output changes the key too
    louder = make_modality_union(
        memory=tmp_path, image=(ImageStats(gain=2.0), "image")
    ).fit(X)
    assert_allclose(
        louder.transform(X).to_numpy(),
        ImageStats(gain=2.0).fit(X["image"]).transform(X["image"]),
    )


def test_duplicate_rows_are_computed_once_and_output_keeps_row_order(tmp_path):
    X, _ = _images(n=30, n_distinct=7)
    union = make_modality_union(memory=tmp_path, image=(ImageStats(), "image"))
    out = union.fit_transform(X)
    assert sum(TRANSFORMED.values()) == 7
    # a shuffled subset comes back in its own order, from the cache
    order = np.random.default_rng(0).permutation(30)[:12]
    subset = union.transform(X.iloc[order]).to_numpy()
    assert sum(TRANSFORMED.values()) == 7
    reference = ImageStats().fit(X["image"]).transform(X["image"])
    assert_array_equal(out.to_numpy(), reference)
    assert_array_equal(subset, reference[order])


def test_random_state_none_fits_are_not_cached(tmp_path):
    X, _ = _images(n=10)
    for _ in range(2):
        make_modality_union(
            memory=tmp_path, image=(ImageStats(random_state=None), "image")
        ).fit(X)
    assert len(FITS) == 2
    for _ in range(2):
        make_modality_union(memory=tmp_path, image=(ImageStats(), "image")).fit(X)
    assert len(FITS) == 3


class PathLength(TransformerMixin, BaseEstimator):
    """Reads each .npy file of a path column; counts the files read."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        rows = []
        for path in X:
            TRANSFORMED[os.fspath(path)] += 1
            rows.append([np.load(path).sum()])
        return np.asarray(rows, dtype=np.float64)


def test_path_cells_are_keyed_by_file_mtime_and_size(tmp_path):
    paths = []
    for k in range(3):
        path = tmp_path / f"x{k}.npy"
        np.save(path, np.full(3, k, dtype=np.int64))
        paths.append(str(path))
    X = pd.DataFrame({"file": paths})
    union = make_modality_union(memory=tmp_path / "cache", x=(PathLength(), "file"))
    assert_array_equal(union.fit_transform(X).to_numpy().ravel(), [0, 3, 6])
    assert_array_equal(union.transform(X).to_numpy().ravel(), [0, 3, 6])
    assert sum(TRANSFORMED.values()) == 3
    # the same path with another content (another size and time) is read again
    np.save(paths[1], np.full(5, 7, dtype=np.int64))
    os.utime(paths[1], ns=(10**18, 10**18))
    assert_array_equal(union.transform(X).to_numpy().ravel(), [0, 35, 6])
    assert TRANSFORMED[paths[1]] == 2 and sum(TRANSFORMED.values()) == 4


def test_row_keys_hash_content():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    keys = _cache.row_keys([a, a.copy(), a.astype(np.int64), a.T, "a", ("a",), 1, 1.0])
    assert keys[0] == keys[1]
    assert (
        len(set(keys)) == len(keys) - 1
    )  # dtype, shape, str, tuple, int, float differ
    numeric = np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0]])
    keys = _cache.row_keys(numeric)
    assert keys[0] == keys[1] != keys[2]
    frame = pd.DataFrame({"a": [1, 1, 1], "b": ["x", "x", "y"]})
    keys = _cache.row_keys(frame)
    assert keys[0] == keys[1] != keys[2]


def test_sparse_features_are_cached_and_stay_sparse(tmp_path):
    X = pd.DataFrame({"caption": ["a red car", "a blue sky", "red sky", "a red car"]})
    union = make_modality_union(memory=tmp_path, text=(CountVectorizer(), "caption"))
    out = union.fit_transform(X)
    reference = CountVectorizer().fit(X["caption"]).transform(X["caption"]).toarray()
    assert all(isinstance(t, pd.SparseDtype) for t in out.dtypes)
    assert_array_equal(out.sparse.to_dense().to_numpy(), reference)
    assert_array_equal(
        union.transform(X.iloc[[3, 1]]).sparse.to_dense().to_numpy(), reference[[3, 1]]
    )


def test_memory_accepts_joblib_memory_and_none_caches_nothing(tmp_path):
    X, _ = _images(n=10)
    union = make_modality_union(
        memory=joblib.Memory(tmp_path, verbose=0), image=(ImageStats(), "image")
    )
    union.fit(X).transform(X)
    assert sum(TRANSFORMED.values()) == 10
    assert (tmp_path / "skcrossmodal").is_dir()
    TRANSFORMED.clear()
    union = make_modality_union(
        memory=joblib.Memory(None), image=(ImageStats(), "image")
    )
    union.fit(X).transform(X)
    assert sum(TRANSFORMED.values()) == 20
    assert _cache.cache_location(None) is None


def test_cache_set_after_fit_is_used_at_transform(tmp_path):
    X, _ = _images(n=10)
    union = make_modality_union(image=(ImageStats(), "image")).fit(X)
    union.set_params(memory=tmp_path)
    first = union.transform(X)
    TRANSFORMED.clear()
    assert_array_equal(union.transform(X).to_numpy(), first.to_numpy())
    assert sum(TRANSFORMED.values()) == 0


def test_verbose_reports_rows_computed(tmp_path, capsys):
    X, _ = _images(n=10, n_distinct=4)
    union = make_modality_union(
        memory=tmp_path,
        verbose=1,
        image=(ImageStats(), "image"),
        w=("passthrough", ["w"]),
    )
    union.fit(X)
    lines = capsys.readouterr().err.strip().splitlines()
    assert re.fullmatch(
        r"\[ModalityUnion\] fit 1/2: modality 'image', ImageStats, 4 of 10 rows "
        r"computed \(\d+\.\d s\)",
        lines[0],
    )
    assert re.fullmatch(
        r"\[ModalityUnion\] fit 2/2: modality 'w', FunctionTransformer \(\d+\.\d s\)",
        lines[1],
    )
    union.transform(X)
    assert "0 of 10 rows computed" in capsys.readouterr().err


def test_parallel_search_with_cache_gives_the_same_scores(tmp_path):
    X, y = _images(n=45)
    plain = _search(None).fit(X, y)
    cached = _search(tmp_path)
    cached.set_params(n_jobs=2).fit(X, y)
    assert_array_equal(
        cached.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"]
    )


class FailsOn(ImageStats):
    """ImageStats whose transform raises on an image of maximum ``bad``."""

    def __init__(self, gain=1.0, random_state=0, bad=-1):
        super().__init__(gain=gain, random_state=random_state)
        self.bad = bad

    def transform(self, X):
        if any(np.max(image) == self.bad for image in X):
            raise RuntimeError("corrupt image")
        return super().transform(X)


def test_failed_cached_fit_keeps_the_previous_state_and_no_partial_store(tmp_path):
    X, _ = _images(n=12)
    union = make_modality_union(memory=tmp_path, image=(FailsOn(), "image")).fit(X)
    before = union.transform(X)
    bad = int(np.max(X["image"].iloc[3]))
    union.set_params(image__bad=bad)
    with pytest.raises(RuntimeError, match="corrupt image"):
        union.fit(X)
    assert union.named_transformers_.image.bad == -1  # the previous fit, intact
    pd.testing.assert_frame_equal(union.transform(X), before)
    assert not list((tmp_path / "skcrossmodal").rglob("*.tmp"))


class FromFile(TransformerMixin, BaseEstimator):
    """Multiplies each row by the number stored in ``path``, read at fit.

    Its fit learns nothing from the data, so the cache keys its fits by the
    parameters (and the file's identity) only.
    """

    _fit_learns_from_data = False

    def __init__(self, path=None, offset=0.0):
        self.path = path
        self.offset = offset

    def fit(self, X, y=None):
        FITS.append(len(X))
        self.scale_ = float(np.load(self.path))
        return self

    def transform(self, X):
        rows = [
            [self.scale_ * image.mean() + self.offset, image.max()]
            for image in _counted_images(X)
        ]
        return np.asarray(rows)


def _from_file_reference(X, scale, offset=0.0):
    """FromFile's features computed directly with numpy."""
    return np.asarray(
        [
            [scale * np.mean(image.astype(np.float64)) + offset, np.max(image)]
            for image in X["image"]
        ]
    )


def _scale_file(tmp_path, scale):
    path = tmp_path / "scale.npy"
    np.save(path, np.float64(scale))
    return path


def _file_search(memory, path, scoring=None):
    union = ModalityUnion([("image", FromFile(path), "image")], memory=memory)
    pipeline = Pipeline([("union", union), ("clf", LogisticRegression())])
    return GridSearchCV(
        pipeline,
        {"clf__C": [0.1, 1.0, 10.0, 100.0]},
        cv=KFold(3, shuffle=True, random_state=0),
        scoring=scoring,
        refit="accuracy" if scoring else True,
    )


def test_fit_that_learns_nothing_is_shared_by_folds_candidates_and_scorers(tmp_path):
    X, y = _images(n=60, n_distinct=45)
    path = _scale_file(tmp_path, 2.0)
    scoring = ["accuracy", "neg_log_loss"]
    plain = _file_search(None, path, scoring).fit(X, y)
    TRANSFORMED.clear()
    FITS.clear()
    cached = _file_search(tmp_path / "cache", path, scoring).fit(X, y)
    # one fit for the 3 folds, 4 candidates and the refit
    assert len(FITS) == 1
    # every distinct row extracted exactly once, by fits and both scorers
    distinct = {np.asarray(image, dtype=np.float64).tobytes() for image in X["image"]}
    assert set(TRANSFORMED) == distinct
    assert all(count == 1 for count in TRANSFORMED.values())
    for key in ("mean_test_accuracy", "mean_test_neg_log_loss", "split1_test_accuracy"):
        assert_array_equal(cached.cv_results_[key], plain.cv_results_[key])
    assert cached.best_params_ == plain.best_params_
    assert_allclose(
        cached.best_estimator_[0].transform(X).to_numpy(),
        _from_file_reference(X, 2.0),
    )
    # such a fit is rebuilt rather than read back: never written
    assert not (tmp_path / "cache" / "skcrossmodal" / "fits").exists()


def test_replaced_parameter_file_is_a_new_fit_and_new_features(tmp_path):
    X, _ = _images(n=12)
    path = _scale_file(tmp_path, 2.0)
    memory = tmp_path / "cache"
    first = make_modality_union(memory=memory, image=(FromFile(path), "image"))
    assert_allclose(first.fit_transform(X).to_numpy(), _from_file_reference(X, 2.0))
    # the same path, another content: neither the fit nor the rows are reused,
    # in this process or in a new one (no in-memory state)
    np.save(path, np.float64(-3.0))
    os.utime(path, ns=(10**18, 10**18))
    for clear in (False, True):
        if clear:
            _cache._STORES.clear()
            _cache._FITS.clear()
        second = make_modality_union(memory=memory, image=(FromFile(path), "image"))
        assert_allclose(
            second.fit_transform(X).to_numpy(), _from_file_reference(X, -3.0)
        )
        assert second.named_transformers_.image.scale_ == -3.0
    # the new process fits again (such fits are not written) and reads the
    # rows the first fit with the new file stored
    assert len(FITS) == 3
    assert sum(TRANSFORMED.values()) == 2 * 12
    # the first union still has its own fit, and its features
    assert_allclose(first.transform(X).to_numpy(), _from_file_reference(X, 2.0))


def test_changed_parameter_of_a_fit_that_learns_nothing_is_a_new_fit(tmp_path):
    X, _ = _images(n=12)
    path = _scale_file(tmp_path, 2.0)
    outputs = []
    for offset in (0.0, 5.0, 0.0):
        union = make_modality_union(
            memory=tmp_path, image=(FromFile(path, offset=offset), "image")
        )
        outputs.append(union.fit_transform(X).to_numpy())
        assert_allclose(outputs[-1], _from_file_reference(X, 2.0, offset))
    assert len(FITS) == 2  # the third is the first's fit, from the cache
    assert sum(TRANSFORMED.values()) == 2 * 12


def test_fit_that_learns_nothing_is_keyed_by_the_input_columns(tmp_path):
    """The fit key holds the input's column names and dtypes, not its rows."""
    X, _ = _images(n=12)
    path = _scale_file(tmp_path, 2.0)
    make_modality_union(memory=tmp_path, image=(FromFile(path), "image")).fit(X)
    other = X.rename(columns={"image": "picture"})
    union = make_modality_union(memory=tmp_path, image=(FromFile(path), "picture"))
    union.fit(other.iloc[:5])
    assert len(FITS) == 2
    assert_allclose(union.transform(other).to_numpy(), _from_file_reference(X, 2.0))


def test_row_changed_in_place_is_extracted_again(tmp_path):
    X, _ = _images(n=10)
    path = _scale_file(tmp_path, 2.0)
    union = make_modality_union(memory=tmp_path, image=(FromFile(path), "image"))
    union.fit(X)
    assert sum(TRANSFORMED.values()) == 10
    X["image"].iloc[4][0, 0] += 1  # the same object, another content
    assert_allclose(union.transform(X).to_numpy(), _from_file_reference(X, 2.0))
    assert sum(TRANSFORMED.values()) == 11


def test_failed_fit_that_learns_nothing_caches_no_fit(tmp_path):
    X, _ = _images(n=10)
    path = _scale_file(tmp_path, 2.0)
    union = make_modality_union(memory=tmp_path, image=(FromFile(path), "image"))
    before = union.fit_transform(X)
    union.set_params(image__path=tmp_path / "missing.npy")
    with pytest.raises(FileNotFoundError):
        union.fit(X)
    assert union.named_transformers_.image.path == path  # the previous fit, intact
    pd.testing.assert_frame_equal(union.transform(X), before)
    assert not list((tmp_path / "skcrossmodal").rglob("*.tmp"))
    # the failed fit left nothing a later fit could read
    _cache._FITS.clear()
    union.set_params(image__path=path)
    FITS.clear()
    pd.testing.assert_frame_equal(union.fit_transform(X), before)
    assert len(FITS) == 1


def test_parallel_search_shares_the_features_of_a_fit_that_learns_nothing(
    tmp_path,
):
    X, y = _images(n=45)
    path = _scale_file(tmp_path, 2.0)
    plain = _file_search(None, path).fit(X, y)
    memory = tmp_path / "cache"
    cached = _file_search(memory, path).set_params(n_jobs=2).fit(X, y)
    assert_array_equal(
        cached.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"]
    )
    # the loky workers and this process fitted apart and found one key: the
    # features of all of them are in one store, which a new search reads
    stores = list((memory / "skcrossmodal" / "features").iterdir())
    assert len(stores) == 1
    _cache._STORES.clear()
    _cache._FITS.clear()
    TRANSFORMED.clear()
    again = _file_search(memory, path).fit(X, y)
    assert sum(TRANSFORMED.values()) == 0
    assert_array_equal(
        again.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"]
    )


def test_store_is_read_from_disk_only_when_a_row_is_missing(tmp_path, monkeypatch):
    X, _ = _images(n=10)
    union = make_modality_union(memory=tmp_path, image=(ImageStats(), "image"))
    union.fit(X)
    reads = Counter()
    refresh = _cache._Store.refresh

    def counting_refresh(store):
        reads["refresh"] += 1
        refresh(store)

    monkeypatch.setattr(_cache._Store, "refresh", counting_refresh)
    union.transform(X.iloc[:6])
    assert reads["refresh"] == 0
    # rows written by another process (simulated: a forgotten in-memory store)
    # are found in the folder when missing here
    other, _ = _images(n=4, seed=2)
    union.transform(other)
    _cache._STORES.clear()
    TRANSFORMED.clear()
    union.transform(other)
    assert reads["refresh"] == 2
    assert sum(TRANSFORMED.values()) == 0


def _cnn_images(n, seed=0):
    rng = np.random.default_rng(seed)
    column = np.empty(n, dtype=object)
    for i in range(n):
        column[i] = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    return pd.DataFrame({"image": column})


def _save_squeezenet(torch, torchvision, path, seed):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = torchvision.models.get_model("squeezenet1_1")
    torch.save(model.state_dict(), path)


@pytest.mark.filterwarnings("ignore:CNNFeatureExtractor\\(checkpoint=None\\)")
def test_cnn_network_is_built_once_per_search(tmp_path, monkeypatch):
    pytest.importorskip("torchvision")
    from skcrossmodal.feature_extraction import CNNFeatureExtractor
    from skcrossmodal.feature_extraction import image as image_module

    built = []
    new_network = image_module._new_network

    def counting_new_network(*args, **kwargs):
        built.append(kwargs.get("random_state"))
        return new_network(*args, **kwargs)

    monkeypatch.setattr(image_module, "_new_network", counting_new_network)
    X = _cnn_images(18)
    y = np.arange(18) % 2
    cnn = CNNFeatureExtractor(arch="squeezenet1_1", layer="features.3", random_state=0)
    union = make_modality_union(memory=tmp_path, image=(cnn, "image"))
    pipeline = Pipeline([("union", union), ("clf", LogisticRegression())])
    search = GridSearchCV(
        pipeline, {"clf__C": [0.1, 1.0]}, cv=KFold(3, shuffle=True, random_state=0)
    ).fit(X, y)
    assert built == [0]  # one fit for 3 folds x 2 candidates and the refit
    features = search.best_estimator_[0].transform(X).to_numpy()
    # computed in other batches than a direct fit_transform: float32 kernels
    assert_allclose(features, clone(cnn).fit_transform(X["image"]), **FLOAT32)
    # another seed is another network, and other features
    other = make_modality_union(
        memory=tmp_path, image=(clone(cnn).set_params(random_state=1), "image")
    )
    assert built == [0, 0]
    other_features = other.fit_transform(X).to_numpy()
    assert built == [0, 0, 1]
    assert not np.allclose(other_features, features)


def test_cnn_weights_file_replaced_at_the_same_path_is_loaded_again(tmp_path):
    torch = pytest.importorskip("torch")
    torchvision = pytest.importorskip("torchvision")
    from skcrossmodal.feature_extraction import CNNFeatureExtractor

    path = tmp_path / "weights.pt"
    _save_squeezenet(torch, torchvision, path, seed=0)
    X = _cnn_images(6)

    def cached_features():
        cnn = CNNFeatureExtractor(arch="squeezenet1_1", checkpoint=path)
        union = make_modality_union(memory=tmp_path / "cache", image=(cnn, "image"))
        return union.fit_transform(X).to_numpy()

    def direct_features():
        cnn = CNNFeatureExtractor(arch="squeezenet1_1", checkpoint=path)
        return cnn.fit_transform(X["image"])

    first = cached_features()
    assert_allclose(first, direct_features(), **FLOAT32)
    _save_squeezenet(torch, torchvision, path, seed=1)
    os.utime(path, ns=(10**18, 10**18))
    for clear in (False, True):  # this process, and a new one
        if clear:
            _cache._STORES.clear()
            _cache._FITS.clear()
        second = cached_features()
        assert_allclose(second, direct_features(), **FLOAT32)
        assert not np.allclose(second, first)


def test_row_keys_of_views_and_layouts_hash_the_values():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 4))
    column = np.empty(4, dtype=object)
    column[:] = [a, a.T, np.ascontiguousarray(a.T), a[:, ::2]]
    keys = _cache.row_keys(column)
    assert keys[1] == keys[2]  # a strided view and its contiguous copy
    assert len({keys[0], keys[1], keys[3]}) == 3
    # a Series, a one-column DataFrame and a list of the cells agree
    assert_array_equal(_cache.row_keys(pd.Series(column)), keys)
    assert_array_equal(_cache.row_keys(pd.DataFrame({"x": column})), keys)
    assert_array_equal(_cache.row_keys(list(column)), keys)
    # rows of a numeric array: a row equals the same values as a cell
    rows = _cache.row_keys(np.asfortranarray(a))
    assert_array_equal(rows, _cache.row_keys([row.copy() for row in a]))
    # another value in one element is another key
    b = a.copy()
    b[1, 2] = np.nextafter(b[1, 2], np.inf)
    changed = _cache.row_keys(b)
    assert changed[1] != rows[1]
    assert_array_equal(changed[[0, 2]], rows[[0, 2]])


def _cnn_state_key(seed):
    import warnings

    from skcrossmodal.feature_extraction import CNNFeatureExtractor

    X = _cnn_images(2)["image"]
    cnn = CNNFeatureExtractor(arch="squeezenet1_1", random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return _cache.fitted_state_key(cnn.fit(X), X)


def _cnn_state_keys():
    return [_cnn_state_key(seed) for seed in (0, 1)]


def test_cnn_fitted_in_other_processes_has_the_same_store_key():
    """A CNN fit is not written: workers fit it again and must find one store."""
    pytest.importorskip("torchvision")
    from joblib.externals.loky import get_reusable_executor

    worker = get_reusable_executor(max_workers=1).submit(_cnn_state_keys).result()
    assert worker[0] == _cnn_state_key(0)
    assert worker[1] != worker[0]
