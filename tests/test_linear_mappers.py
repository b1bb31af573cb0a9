"""Tests for RidgeMapper and ProcrustesMapper."""

import pickle

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes
from sklearn.base import clone
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.model_selection import GridSearchCV

from skcrossmodal import make_frame
from skcrossmodal.mapping import ProcrustesMapper, RidgeMapper

ALPHAS = np.logspace(-3, 3, 10)


def make_pair(n_samples=80, n_source=6, n_target=4, seed=0):
    rng = np.random.default_rng(seed)
    source = rng.standard_normal((n_samples, n_source))
    target = source[:, :3] @ rng.standard_normal(
        (3, n_target)
    ) + 0.5 * rng.standard_normal((n_samples, n_target))
    return source, target + 2.0


@pytest.mark.parametrize("shape", [(80, 6), (20, 30)], ids=["n>p", "n<p"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_matches_sklearn_ridge(shape, fit_intercept):
    source, target = make_pair(*shape)
    X = make_frame(image=source, text=target)
    mapper = RidgeMapper("image", "text", alpha=2.5, fit_intercept=fit_intercept).fit(X)
    ridge = Ridge(alpha=2.5, fit_intercept=fit_intercept).fit(source, target)
    np.testing.assert_allclose(mapper.coef_, ridge.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(mapper.intercept_, ridge.intercept_, rtol=0, atol=1e-10)
    shared = mapper.transform(X).to_numpy()
    np.testing.assert_allclose(shared[:, :4], ridge.predict(source), atol=1e-10)
    np.testing.assert_array_equal(shared[:, 4:], target)
    assert mapper.score(X) == pytest.approx(ridge.score(source, target), abs=1e-12)


@pytest.mark.parametrize("shape", [(80, 6), (20, 30)], ids=["n>p", "n<p"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_loo_matches_ridgecv(shape, fit_intercept):
    source, target = make_pair(*shape, seed=1)
    X = make_frame(image=source, text=target)
    mapper = RidgeMapper(
        "image", "text", alpha=ALPHAS, fit_intercept=fit_intercept
    ).fit(X)
    ridge = RidgeCV(
        alphas=ALPHAS,
        fit_intercept=fit_intercept,
        alpha_per_target=False,
        store_cv_results=True,
    ).fit(source, target)
    assert mapper.alpha_ == ridge.alpha_
    np.testing.assert_allclose(mapper.coef_, ridge.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(mapper.intercept_, ridge.intercept_, rtol=0, atol=1e-8)
    # RidgeCV's stored squared leave-one-out errors, averaged over rows and targets.
    np.testing.assert_allclose(
        mapper.loo_errors_, ridge.cv_results_.mean(axis=(0, 1)), rtol=1e-8
    )


def test_ridge_loo_is_brute_force_leave_one_out():
    source, target = make_pair(30, 5, 3, seed=2)
    X = make_frame(image=source, text=target)
    alphas = [0.01, 1.0, 100.0]
    mapper = RidgeMapper("image", "text", alpha=alphas).fit(X)
    expected = []
    for alpha in alphas:
        errors = []
        for i in range(len(source)):
            keep = np.arange(len(source)) != i
            model = Ridge(alpha=alpha).fit(source[keep], target[keep])
            errors.append((model.predict(source[i : i + 1]) - target[i]) ** 2)
        expected.append(np.mean(errors))
    np.testing.assert_allclose(mapper.loo_errors_, expected, rtol=1e-10)


@pytest.mark.parametrize("alpha", [2.5, ALPHAS], ids=["scalar", "loo"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_covariance_path_any_column_order_and_float32(alpha, fit_intercept):
    # The covariance path solves from the joint moments of [source, target];
    # the table holds the target first, and float32 blocks are accumulated in
    # float64 (compared with scikit-learn on the same float32 values).
    source, target = make_pair(200, 7, 5, seed=3)
    source, target = source.astype(np.float32), target.astype(np.float32)
    X = make_frame(text=target, image=source)
    mapper = RidgeMapper("image", "text", alpha=alpha, fit_intercept=fit_intercept).fit(
        X
    )
    if np.ndim(alpha):
        reference = RidgeCV(
            alphas=alpha, fit_intercept=fit_intercept, alpha_per_target=False
        )
    else:
        reference = Ridge(alpha=alpha, fit_intercept=fit_intercept)
    reference.fit(source.astype(np.float64), target.astype(np.float64))
    np.testing.assert_allclose(mapper.coef_, reference.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(
        mapper.intercept_, reference.intercept_, rtol=0, atol=1e-10
    )
    shared = mapper.transform(X)
    assert shared.dtypes.unique().tolist() == [np.dtype(np.float32)]


def test_ridge_alpha_zero_is_least_squares():
    source, target = make_pair(50, 4, 3)
    mapper = RidgeMapper("image", "text", alpha=0.0).fit(
        make_frame(image=source, text=target)
    )
    design = np.hstack([source, np.ones((50, 1))])
    solution = np.linalg.lstsq(design, target, rcond=None)[0]
    np.testing.assert_allclose(mapper.coef_, solution[:4].T, atol=1e-10)
    np.testing.assert_allclose(mapper.intercept_, solution[4], atol=1e-10)


@pytest.mark.parametrize(
    "n_source, n_target", [(5, 5), (8, 4), (3, 6)], ids=["equal", "source>", "target>"]
)
def test_procrustes_matches_scipy(n_source, n_target):
    rng = np.random.default_rng(0)
    source = rng.standard_normal((60, n_source)) @ np.diag(np.linspace(3, 1, n_source))
    target = rng.standard_normal((60, n_target)) + source[:, :1]
    X = make_frame(image=source, text=target)
    mapper = ProcrustesMapper("image", "text").fit(X)
    d = min(n_source, n_target)
    assert mapper.n_components_ == d
    reduced = {}
    for name, block in (("image", source), ("text", target)):
        centred = block - block.mean(axis=0)
        if block.shape[1] > d:
            # Documented rule: the wider block is reduced to its first d principal axes.
            _, _, Vt = np.linalg.svd(centred, full_matrices=False)
            projection = mapper.projection_[name]
            assert_same_up_to_sign(projection, Vt[:d].T)
        else:
            projection = np.eye(d)
        reduced[name] = centred @ projection
    rotation, _ = orthogonal_procrustes(reduced["image"], reduced["text"])
    np.testing.assert_allclose(mapper.rotation_, rotation, atol=1e-10)
    np.testing.assert_allclose(
        mapper.rotation_.T @ mapper.rotation_, np.eye(d), atol=1e-12
    )
    shared = mapper.transform(X).to_numpy()
    np.testing.assert_allclose(shared[:, :d], reduced["image"] @ rotation, atol=1e-10)
    np.testing.assert_allclose(shared[:, d:], reduced["text"], atol=1e-10)


def assert_same_up_to_sign(actual, expected):
    signs = np.sign(np.sum(actual * expected, axis=0))
    np.testing.assert_allclose(actual * signs, expected, atol=1e-10)


def test_procrustes_recovers_rotation_and_scale():
    rng = np.random.default_rng(0)
    source = rng.standard_normal((40, 4))
    rotation = np.linalg.qr(rng.standard_normal((4, 4)))[0]
    X = make_frame(image=source, text=3.0 * source @ rotation + 1.0)
    mapper = ProcrustesMapper("image", "text", scaling=True).fit(X)
    np.testing.assert_allclose(mapper.rotation_, rotation, atol=1e-10)
    assert mapper.scale_ == pytest.approx(3.0)
    assert mapper.score(X) == pytest.approx(1.0)


MAPPERS = [
    RidgeMapper("image", "text", alpha=[0.1, 1.0]),
    ProcrustesMapper("image", "text"),
]


@pytest.mark.parametrize("mapper", MAPPERS, ids=lambda m: type(m).__name__)
def test_shared_space_contract_and_partial_rows(mapper):
    source, target = make_pair()
    X = make_frame(image=source, text=target)
    shared = clone(mapper).fit(X)
    out = shared.transform(X)
    k = shared.n_components_
    assert list(out.columns) == list(shared.get_feature_names_out())
    assert out.shape == (80, 2 * k)
    prefix = type(mapper).__name__.lower()
    assert list(out.columns[:2]) == [f"image__{prefix}0", f"image__{prefix}1"]
    image_only = shared.transform(make_frame(image=source))
    np.testing.assert_allclose(image_only.to_numpy(), out.to_numpy()[:, :k])
    text_only = shared.transform(make_frame(text=target))
    np.testing.assert_allclose(text_only.to_numpy(), out.to_numpy()[:, k:])
    assert shared.n_features_in_ == 10 and shared.modalities_ == ["image", "text"]


@pytest.mark.parametrize("mapper", MAPPERS, ids=lambda m: type(m).__name__)
def test_clone_pickle_idempotent_and_subset_invariant(mapper):
    source, target = make_pair()
    X = make_frame(image=source, text=target)
    first = clone(mapper).fit(X)
    expected = first.transform(X).to_numpy()
    np.testing.assert_array_equal(first.fit(X).transform(X).to_numpy(), expected)
    restored = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(restored.transform(X).to_numpy(), expected)
    np.testing.assert_allclose(
        first.transform(X.iloc[10:20]).to_numpy(), expected[10:20]
    )
    reversed_rows = first.transform(X.iloc[::-1]).to_numpy()
    np.testing.assert_allclose(reversed_rows, expected[::-1])


@pytest.mark.parametrize("cls", [RidgeMapper, ProcrustesMapper])
def test_errors(cls):
    source, target = make_pair()
    X = make_frame(image=source, text=target)
    with pytest.raises(ValueError, match="both 'image'"):
        cls("image", "image").fit(X)
    with pytest.raises(ValueError, match=r"needs modalities \['audio'\]"):
        cls("image", "audio").fit(X)
    with pytest.raises(ValueError, match="at least 2 samples"):
        cls("image", "text").fit(X.iloc[:1])
    with pytest.raises(ValueError, match="bare"):
        cls("image", "text").fit(X.to_numpy())
    fitted = cls("image", "text").fit(X)
    with pytest.raises(ValueError, match=r"\['audio'\]"):
        fitted.transform(make_frame(audio=source))
    with pytest.raises(ValueError, match="lacks"):
        fitted.score(make_frame(image=source))
    bad = X.copy()
    bad.iloc[3, 2] = np.nan
    with pytest.raises(ValueError, match="row 3"):
        cls("image", "text").fit(bad)


def test_ridge_alpha_validation():
    X = make_frame(image=make_pair()[0], text=make_pair()[1])
    with pytest.raises(ValueError, match="alpha"):
        RidgeMapper("image", "text", alpha=-1.0).fit(X)
    with pytest.raises(ValueError, match="non-empty"):
        RidgeMapper("image", "text", alpha=[]).fit(X)


def test_grid_search_over_ridge_alpha():
    from skcrossmodal.metrics import make_retrieval_scorer

    source, target = make_pair()
    X = make_frame(image=source, text=target)
    search = GridSearchCV(
        RidgeMapper("image", "text"),
        {"alpha": [0.1, 10.0]},
        scoring=make_retrieval_scorer(query="image", target="text"),
        cv=3,
    ).fit(X)
    assert search.best_params_["alpha"] in (0.1, 10.0)
