"""Tests for the closed-form CCA mapper."""

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import linalg
from sklearn.base import clone
from sklearn.cross_decomposition import CCA as SklearnCCA
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import cross_val_score

import skcrossmodal
from skcrossmodal import make_frame
from skcrossmodal.mapping import CCA
from skcrossmodal.mapping._linalg import cca_from_covariances as _cca_from_covariances

DATA = Path(skcrossmodal.__file__).parent / "datasets" / "data"

# Jendoubi & Strimmer (2019), R package whitening, inst/doc/nutrimouse.R:
# scca(X = gene, Y = lipid, scale = TRUE) with lambda.cor = 0.1599767.
NUTRIMOUSE_LAMBDA = 0.1599767
NUTRIMOUSE_CORRELATIONS = np.abs(
    [
        -0.9605275617, -0.9476499457, -0.9264858941, 0.8660390307, -0.8591510518,
        -0.8057844616, -0.7314092050, -0.7192164996, -0.6702938353, -0.6416074974,
        -0.4937654758, 0.4686423030, 0.3895309296, -0.3588989722, -0.3049187235,
        -0.2546627651, -0.2261556012, 0.1596697930, -0.1179019917, -0.1013979520,
        0.0009561428,
    ]
)  # fmt: skip


def make_paired(n_samples=300, n_features=(6, 5), n_shared=3, noise=1.0, seed=0):
    """Two blocks sharing ``n_shared`` latent factors of distinct strengths."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_samples, n_shared)) * np.linspace(
        2.0, 0.7, n_shared
    )
    blocks = {}
    for name, p in zip(("text", "image"), n_features, strict=True):
        loadings = rng.standard_normal((n_shared, p))
        blocks[name] = latent @ loadings + noise * rng.standard_normal((n_samples, p))
    return blocks


@pytest.fixture
def paired():
    return make_paired()


@pytest.fixture
def nutrimouse():
    data = np.load(DATA / "nutrimouse.npz")
    return make_frame(gene=data["gene"], lipid=data["lipid"])


def reference_cca(Xa, Xb):
    """Canonical correlations and directions from scipy's generalized eigh.

    ``[[0, Sab], [Sba, 0]] v = rho [[Saa, 0], [0, Sbb]] v``: the largest
    eigenvalues are the canonical correlations.
    """
    pa = Xa.shape[1]
    S = np.cov(np.hstack([Xa, Xb]), rowvar=False)
    A = np.zeros_like(S)
    A[:pa, pa:] = S[:pa, pa:]
    A[pa:, :pa] = S[pa:, :pa]
    B = linalg.block_diag(S[:pa, :pa], S[pa:, pa:])
    eigenvalues, eigenvectors = linalg.eigh(A, B)
    order = np.argsort(eigenvalues)[::-1]
    return eigenvalues[order], eigenvectors[:pa, order], eigenvectors[pa:, order]


def assert_columns_equal_up_to_sign(actual, expected, **tolerance):
    signs = np.sign(np.sum(actual * expected, axis=0))
    np.testing.assert_allclose(actual * signs, expected, **tolerance)


def standardise_columns(Z):
    Z = Z - Z.mean(axis=0)
    return Z / np.linalg.norm(Z, axis=0)


def test_matches_scipy_generalized_eigenproblem(paired):
    k = 4
    cca = CCA(n_components=k).fit(make_frame(**paired))
    correlations, weights_text, weights_image = reference_cca(
        paired["text"], paired["image"]
    )
    np.testing.assert_allclose(
        cca.canonical_correlations_, correlations[:k], rtol=1e-10
    )

    Z = cca.transform(make_frame(**paired)).to_numpy()
    for block, weights, embedding in (
        (paired["text"], weights_text, Z[:, :k]),
        (paired["image"], weights_image, Z[:, k:]),
    ):
        expected = standardise_columns((block - block.mean(axis=0)) @ weights[:, :k])
        assert_columns_equal_up_to_sign(
            standardise_columns(embedding), expected, atol=1e-9
        )


def test_variates_are_unit_variance_uncorrelated_and_paired(paired):
    cca = CCA(n_components=3).fit(make_frame(**paired))
    Z = cca.transform(make_frame(**paired)).to_numpy()
    text, image = Z[:, :3], Z[:, 3:]
    np.testing.assert_allclose(np.cov(text, rowvar=False), np.eye(3), atol=1e-10)
    np.testing.assert_allclose(np.cov(image, rowvar=False), np.eye(3), atol=1e-10)
    np.testing.assert_allclose(
        np.cov(text, image, rowvar=False)[:3, 3:],
        np.diag(cca.canonical_correlations_),
        atol=1e-10,
    )
    assert np.all(np.diff(cca.canonical_correlations_) <= 0)


def test_cca_from_covariances_is_reusable():
    rng = np.random.default_rng(0)
    blocks = make_paired(n_features=(4, 3))
    S = np.cov(np.hstack([blocks["text"], blocks["image"]]), rowvar=False)
    solution = _cca_from_covariances(S[:4, :4], S[4:, 4:], S[:4, 4:])
    expected, _, _ = reference_cca(blocks["text"], blocks["image"])
    assert (solution.rank_a, solution.rank_b) == (4, 3)
    np.testing.assert_allclose(solution.correlations, expected[:3], rtol=1e-10)
    np.testing.assert_allclose(
        solution.weights_a.T @ S[:4, 4:] @ solution.weights_b,
        np.diag(solution.correlations),
        atol=1e-12,
    )
    # Any PSD joint matrix is accepted, e.g. a random one.
    M = rng.standard_normal((7, 7))
    solution = _cca_from_covariances(
        *(lambda K: (K[:4, :4], K[4:, 4:], K[:4, 4:]))(M @ M.T)
    )
    assert np.all((solution.correlations >= 0) & (solution.correlations <= 1))


def test_close_to_sklearn_cca(paired):
    cca = CCA(n_components=3).fit(make_frame(**paired))
    theirs = SklearnCCA(n_components=3, max_iter=2000, tol=1e-12).fit(
        paired["text"], paired["image"]
    )
    text, image = theirs.transform(paired["text"], paired["image"])
    theirs_correlations = [np.corrcoef(text[:, k], image[:, k])[0, 1] for k in range(3)]
    np.testing.assert_allclose(
        cca.canonical_correlations_, theirs_correlations, atol=1e-4
    )


@pytest.mark.parametrize("reg", [NUTRIMOUSE_LAMBDA, "auto"])
def test_reproduces_jendoubi_strimmer_nutrimouse(nutrimouse, reg):
    cca = CCA(n_components=21, reg=reg, scale=True).fit(nutrimouse)
    np.testing.assert_allclose(cca.reg_, NUTRIMOUSE_LAMBDA, atol=1e-6)
    np.testing.assert_allclose(
        cca.canonical_correlations_, NUTRIMOUSE_CORRELATIONS, atol=1e-6
    )


def test_auto_shrinkage_matches_corpcor_formula(paired):
    """reg_ against a direct transcription of corpcor's estimate.lambda."""
    X = make_frame(**paired)
    data = np.hstack(list(paired.values()))
    n = data.shape[0]
    xs = (data - data.mean(axis=0)) / data.std(axis=0, ddof=1)
    E2R = (xs.T @ xs / n) ** 2
    ER2 = (xs**2).T @ (xs**2) / n
    sE2R = E2R.sum() - np.trace(E2R)
    sER2 = ER2.sum() - np.trace(ER2)
    expected = np.clip((sER2 - sE2R) / sE2R / (n - 1), 0, 1)
    for scale in (False, True):
        assert CCA(reg="auto", scale=scale).fit(X).reg_ == pytest.approx(
            expected, rel=1e-10
        )


def test_numeric_reg_shrinks_joint_covariance(paired):
    """reg shrinks every off-diagonal entry of S by (1 - reg)."""
    reg = 0.3
    data = np.hstack(list(paired.values()))
    S = np.cov(data, rowvar=False)
    shrunk = (1 - reg) * S + reg * np.diag(np.diag(S))
    expected = _cca_from_covariances(shrunk[:6, :6], shrunk[6:, 6:], shrunk[:6, 6:])
    cca = CCA(n_components=5, reg=reg).fit(make_frame(**paired))
    assert cca.reg_ == reg
    np.testing.assert_allclose(
        cca.canonical_correlations_, expected.correlations, rtol=1e-12
    )


@pytest.mark.parametrize("reg", [0.0, 0.3, "auto"])
def test_scale_changes_weights_not_variates(paired, reg):
    """CCA and its diagonal shrinkage are invariant to per-feature scaling."""
    X = make_frame(**paired)
    plain = CCA(n_components=3, reg=reg).fit(X)
    scaled = CCA(n_components=3, reg=reg, scale=True).fit(X)
    np.testing.assert_allclose(scaled.scale_["text"], paired["text"].std(0, ddof=1))
    np.testing.assert_allclose(
        scaled.canonical_correlations_, plain.canonical_correlations_, rtol=1e-10
    )
    assert_columns_equal_up_to_sign(
        scaled.transform(X).to_numpy(), plain.transform(X).to_numpy(), atol=1e-8
    )


@pytest.mark.parametrize(
    "params",
    [{}, {"reg": 0.2, "scale": True}, {"reg": "auto"}, {"reg": "auto", "scale": True}],
)
def test_partial_fit_equals_fit(params):
    blocks = make_paired(n_samples=400)
    # A large offset: naive sums of raw moments would lose digits here.
    blocks = {name: block + 1e4 for name, block in blocks.items()}
    X = make_frame(**blocks)
    full = CCA(n_components=3, **params).fit(X)
    chunked = CCA(n_components=3, **params)
    for start, stop in [(0, 50), (50, 51), (51, 230), (230, 400)]:
        chunked.partial_fit(X.iloc[start:stop])
    assert chunked.n_samples_seen_ == 400
    np.testing.assert_allclose(chunked.reg_, full.reg_, rtol=1e-10)
    np.testing.assert_allclose(
        chunked.canonical_correlations_, full.canonical_correlations_, rtol=1e-10
    )
    for modality in ("text", "image"):
        np.testing.assert_allclose(
            chunked.mean_[modality], full.mean_[modality], rtol=1e-12
        )
        np.testing.assert_allclose(
            chunked.scale_[modality], full.scale_[modality], rtol=1e-10
        )
        np.testing.assert_allclose(
            chunked.weights_[modality], full.weights_[modality], rtol=1e-8, atol=1e-10
        )
    np.testing.assert_allclose(
        chunked.transform(X).to_numpy(), full.transform(X).to_numpy(), atol=1e-8
    )


def test_partial_fit_continues_after_fit(paired):
    X = make_frame(**paired)
    continued = CCA(n_components=2).fit(X.iloc[:100]).partial_fit(X.iloc[100:])
    full = CCA(n_components=2).fit(X)
    np.testing.assert_allclose(
        continued.canonical_correlations_, full.canonical_correlations_, rtol=1e-10
    )


def test_partial_fit_errors_leave_estimator_unchanged(paired):
    X = make_frame(**paired)
    cca = CCA(n_components=3)
    # Too few rows for the rank: accumulated, not solved, not an error.
    cca.partial_fit(X.iloc[:1]).partial_fit(X.iloc[1:3])
    assert cca.n_samples_seen_ == 3 and not hasattr(cca, "weights_")
    with pytest.raises(NotFittedError, match=r"seen 3 rows.*'text' \(2\)"):
        cca.transform(X)
    cca = CCA(n_components=3)
    cca.partial_fit(X.iloc[:50])
    before = cca.canonical_correlations_.copy()
    with pytest.raises(ValueError, match="lacks"):
        cca.partial_fit(X[[c for c in X.columns if c.startswith("text")]])
    cca.set_params(reg="auto")
    with pytest.raises(ValueError, match="cannot switch reg"):
        cca.partial_fit(X.iloc[50:])
    assert cca.n_samples_seen_ == 50
    np.testing.assert_array_equal(cca.canonical_correlations_, before)


def test_absent_modality_transform(paired):
    X = make_frame(**paired)
    cca = CCA(n_components=2).fit(X)
    full = cca.transform(X)
    text_only = cca.transform(X[[c for c in X.columns if c.startswith("text__")]])
    assert list(text_only.columns) == ["text__cca0", "text__cca1"]
    pd.testing.assert_frame_equal(text_only, full[["text__cca0", "text__cca1"]])
    image_only = cca.transform(make_frame(image=paired["image"][:7]))
    np.testing.assert_allclose(image_only.to_numpy(), full.iloc[:7, 2:].to_numpy())


def test_shared_space_contract(paired):
    X = make_frame(**paired)
    X.index = pd.RangeIndex(10, 10 + len(X))
    cca = CCA(n_components=3).fit(X)
    Z = cca.transform(X)
    expected_names = [f"{m}__cca{k}" for m in ("text", "image") for k in range(3)]
    assert list(Z.columns) == expected_names
    assert list(cca.get_feature_names_out()) == expected_names
    assert Z.index.equals(X.index)
    assert cca.n_components_ == 3
    assert cca.modalities_ == ["text", "image"]
    assert cca.n_features_in_ == 11
    assert {m: w.shape for m, w in cca.weights_.items()} == {
        "text": (6, 3),
        "image": (5, 3),
    }
    assert (
        list(cca.set_output(transform="pandas").fit_transform(X).columns)
        == expected_names
    )


def test_modalities_selects_two_of_three_blocks(paired):
    rng = np.random.default_rng(0)
    X = make_frame(audio=rng.standard_normal((300, 2)), **paired)
    with pytest.raises(ValueError, match="Choose two with modalities"):
        CCA().fit(X)
    cca = CCA(modalities=("image", "text")).fit(X)
    assert cca.modalities_ == ["image", "text"]
    reference = CCA().fit(make_frame(**paired))
    np.testing.assert_allclose(
        cca.canonical_correlations_, reference.canonical_correlations_, rtol=1e-10
    )
    # The unused block is ignored at transform time, as at fit.
    assert list(cca.transform(X).columns) == [
        "image__cca0", "image__cca1", "text__cca0", "text__cca1"
    ]  # fmt: skip
    with pytest.raises(ValueError, match="two distinct modality names"):
        CCA(modalities=("text", "text")).fit(X)
    with pytest.raises(ValueError, match=r"needs modalities \['video'\]"):
        CCA(modalities=("text", "video")).fit(X)


def test_score_is_mean_canonical_correlation(paired):
    X = make_frame(**paired)
    cca = CCA(n_components=3).fit(X)
    assert isinstance(cca.score(X), float)
    assert cca.score(X) == pytest.approx(cca.canonical_correlations_.mean(), rel=1e-10)
    held_out = make_frame(**make_paired(seed=1))
    Z = cca.transform(held_out).to_numpy()
    expected = np.mean([np.corrcoef(Z[:, k], Z[:, 3 + k])[0, 1] for k in range(3)])
    assert cca.score(held_out) == pytest.approx(expected, rel=1e-10)
    scores = cross_val_score(CCA(n_components=2), X, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.5)


def test_clone_pickle_idempotent_and_subset_invariant(paired):
    X = make_frame(**paired)
    cca = CCA(n_components=2, reg=0.1, scale=True, modalities=["text", "image"])
    assert clone(cca).get_params() == cca.get_params()
    cca.fit(X)
    restored = pickle.loads(pickle.dumps(cca))
    pd.testing.assert_frame_equal(restored.transform(X), cca.transform(X))
    refit = clone(cca).fit(X).fit(X)
    pd.testing.assert_frame_equal(refit.transform(X), cca.transform(X))
    subset = X.iloc[5:40]
    np.testing.assert_allclose(
        cca.transform(subset).to_numpy(), cca.transform(X).to_numpy()[5:40], atol=1e-12
    )
    assert "CCA(" in repr(cca)


def test_singular_covariance_with_reg_zero_gives_finite_model():
    """Topic proportions sum to one: their covariance has a null direction."""
    rng = np.random.default_rng(0)
    topics = rng.dirichlet(np.ones(5), size=200)
    image = topics[:, :3] @ rng.standard_normal((3, 4)) + 0.5 * rng.standard_normal(
        (200, 4)
    )
    X = make_frame(text=topics, image=image)
    cca = CCA(n_components=4).fit(X)
    assert np.all(np.isfinite(cca.canonical_correlations_))
    assert np.all(np.isfinite(cca.transform(X).to_numpy()))
    # Dropping the redundant topic gives the same canonical correlations.
    reduced = CCA(n_components=4).fit(make_frame(text=topics[:, :4], image=image))
    np.testing.assert_allclose(
        cca.canonical_correlations_, reduced.canonical_correlations_, rtol=1e-8
    )
    with pytest.raises(ValueError, match=r"at most 4 components.*'text' \(4\)"):
        CCA(n_components=5).fit(
            make_frame(
                text=topics,
                image=image @ np.ones((4, 6)) + rng.standard_normal((200, 6)),
            )
        )


@pytest.mark.parametrize("params", [{}, {"reg": "auto", "scale": True}])
def test_constant_feature_is_a_null_direction(paired, params):
    with_constant = dict(
        paired, text=np.hstack([paired["text"], np.full((300, 1), 0.1)])
    )
    cca = CCA(n_components=5, **params).fit(make_frame(**with_constant))
    reference = CCA(n_components=5, **params).fit(make_frame(**paired))
    assert cca.reg_ == pytest.approx(reference.reg_, rel=1e-12)
    np.testing.assert_allclose(
        cca.canonical_correlations_, reference.canonical_correlations_, rtol=1e-10
    )
    np.testing.assert_allclose(cca.weights_["text"][-1], 0.0)
    with pytest.raises(ValueError, match=r"'text' \(6\) and 'image' \(5\)"):
        CCA(n_components=6, **params).fit(make_frame(**with_constant))


def test_wikipedia_retrieval_near_published_map():
    """Rasiwasia et al. (2010) Table 4: CCA mAP 0.249 (image query), 0.196 (text)."""
    data = np.load(DATA / "wikipedia.npz")
    X_train = make_frame(text=data["text_train"], image=data["image_train"])
    X_test = make_frame(text=data["text_test"], image=data["image_test"])
    labels = data["label_test"]
    cca = CCA(n_components=9).fit(X_train)
    Z = cca.transform(X_test).to_numpy()
    text, image = (
        b / np.linalg.norm(b, axis=1, keepdims=True) for b in (Z[:, :9], Z[:, 9:])
    )

    def mean_average_precision(queries, gallery):
        order = np.argsort(-(queries @ gallery.T), axis=1)
        relevant = labels[order] == labels[:, None]
        hits = np.cumsum(relevant, axis=1)
        precision = hits / np.arange(1, len(labels) + 1)
        return np.mean((precision * relevant).sum(axis=1) / hits[:, -1])

    assert mean_average_precision(image, text) == pytest.approx(0.249, abs=0.01)
    assert mean_average_precision(text, image) == pytest.approx(0.196, abs=0.01)


@pytest.mark.parametrize(
    "make_X, error, match",
    [
        (lambda b: np.hstack(list(b.values())), ValueError, "make_frame"),
        (lambda b: make_frame(text=b["text"]), ValueError, "at least 2 modality"),
        (lambda b: make_frame(text=b["text"][:1], image=b["image"][:1]), ValueError,
         "at least 2 samples"),
        (lambda b: make_frame(**b).astype({"image__1": str}), TypeError, "image__1"),
    ],
)  # fmt: skip
def test_fit_input_errors(paired, make_X, error, match):
    with pytest.raises(error, match=match):
        CCA().fit(make_X(paired))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_values_are_named(paired, bad):
    paired["image"][7, 2] = bad
    with pytest.raises(ValueError, match=r"row 7, column 'image__2'"):
        CCA().fit(make_frame(**paired))


def test_mismatched_lengths_and_unknown_modality(paired):
    with pytest.raises(ValueError, match="299 rows"):
        make_frame(text=paired["text"], image=paired["image"][:-1])
    cca = CCA().fit(make_frame(**paired))
    with pytest.raises(ValueError, match=r"\['audio'\]"):
        cca.transform(make_frame(text=paired["text"], audio=paired["image"]))
    with pytest.raises(ValueError, match="make_frame"):
        cca.transform(paired["text"])
    with pytest.raises(ValueError, match="fitted with"):
        cca.transform(make_frame(text=paired["text"][:, :3]))


def test_too_many_components(paired):
    with pytest.raises(ValueError, match=r"at most 5 components.*n_components=6"):
        CCA(n_components=6).fit(make_frame(**paired))
    # Ten rows: centred data of rank 9 limits both blocks.
    small = make_frame(**make_paired(n_samples=10, n_features=(20, 15)))
    with pytest.raises(ValueError, match=r"'text' \(9\) and 'image' \(9\)"):
        CCA(n_components=10).fit(small)
    assert CCA(n_components=9).fit(small).canonical_correlations_.shape == (9,)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_components": 0}, "n_components"),
        ({"reg": 1.0}, "reg"),
        ({"reg": "ledoit"}, "reg"),
        ({"scale": "yes"}, "scale"),
        ({"modalities": "text"}, "modalities"),
    ],
)
def test_invalid_parameters(paired, params, match):
    with pytest.raises(ValueError, match=match):
        CCA(**params).fit(make_frame(**paired))
