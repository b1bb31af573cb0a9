"""Tests for the multi-set CCA and PLS mappers."""

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import linalg
from sklearn.base import clone
from sklearn.cross_decomposition import PLSSVD
from sklearn.model_selection import cross_val_score

import skcrossmodal
from skcrossmodal import make_frame
from skcrossmodal.mapping import CCA, MCCA, PLS

DATA = Path(skcrossmodal.__file__).parent / "datasets" / "data"


def make_views(n_samples=200, n_features=(6, 5, 4), n_shared=3, seed=0):
    """Blocks sharing ``n_shared`` latent factors of distinct strengths."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_samples, n_shared)) * np.linspace(
        2.0, 0.7, n_shared
    )
    names = ("text", "image", "audio")
    return {
        name: latent @ rng.standard_normal((n_shared, p))
        + rng.standard_normal((n_samples, p))
        for name, p in zip(names, n_features, strict=True)
    }


@pytest.fixture
def views():
    return make_views()


@pytest.fixture
def pair(views):
    return {m: views[m] for m in ("text", "image")}


def assert_columns_equal_up_to_sign(actual, expected, **tolerance):
    signs = np.sign(np.sum(actual * expected, axis=0))
    np.testing.assert_allclose(actual * signs, expected, **tolerance)


# --- MCCA -----------------------------------------------------------------


@pytest.mark.parametrize("reg", [0.0, 0.3])
def test_mcca_of_two_modalities_is_cca(pair, reg):
    X = make_frame(**pair)
    mcca = MCCA(n_components=4, reg=reg).fit(X)
    cca = CCA(n_components=4, reg=reg).fit(X)
    np.testing.assert_allclose(
        mcca.canonical_correlations_, cca.canonical_correlations_, rtol=1e-10
    )
    np.testing.assert_allclose(mcca.eigenvalues_, 1 + cca.canonical_correlations_)
    for modality in pair:
        assert_columns_equal_up_to_sign(
            mcca.weights_[modality], cca.weights_[modality], rtol=1e-8, atol=1e-12
        )
    assert_columns_equal_up_to_sign(
        mcca.transform(X).to_numpy(), cca.transform(X).to_numpy(), atol=1e-10
    )


def test_mcca_of_two_mfeat_views_is_cca():
    data = np.load(DATA / "mfeat.npz")
    X = make_frame(fou=data["fou"].astype(float), kar=data["kar"].astype(float))
    mcca = MCCA(n_components=5).fit(X)
    cca = CCA(n_components=5).fit(X)
    np.testing.assert_allclose(
        mcca.canonical_correlations_, cca.canonical_correlations_, rtol=1e-8
    )
    assert_columns_equal_up_to_sign(
        mcca.transform(X).to_numpy(), cca.transform(X).to_numpy(), atol=1e-7
    )


def test_mcca_solves_generalized_eigenproblem(views):
    """C v = lambda D v with scipy's generalized eigh, D the block diagonal."""
    X = make_frame(**views)
    k = 3
    mcca = MCCA(n_components=k).fit(X)
    joint = np.hstack(list(views.values()))
    C = np.cov(joint, rowvar=False)
    edges = np.cumsum([0] + [b.shape[1] for b in views.values()])
    spans = [slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    D = linalg.block_diag(*(C[s, s] for s in spans))
    eigenvalues, eigenvectors = linalg.eigh(C, D)
    order = np.argsort(eigenvalues)[::-1][:k]
    np.testing.assert_allclose(mcca.eigenvalues_, eigenvalues[order], rtol=1e-10)
    pair_correlations = []
    for m, span in zip(views, spans, strict=True):
        direction = eigenvectors[span][:, order]
        # MCCA rescales each modality's part to unit variance.
        direction = direction / np.sqrt(
            np.diag(direction.T @ C[span, span] @ direction)
        )
        assert_columns_equal_up_to_sign(mcca.weights_[m], direction, rtol=1e-7)
    weights = list(mcca.weights_.values())
    for i in range(3):
        for j in range(i + 1, 3):
            pair_correlations.append(
                np.diag(weights[i].T @ C[spans[i], spans[j]] @ weights[j])
            )
    np.testing.assert_allclose(
        mcca.canonical_correlations_, np.mean(pair_correlations, axis=0), rtol=1e-10
    )
    # The eigenvalue sums the squared multiple correlations of the common
    # variate (the normalised sum of whitened variates) with each modality.
    assert np.all((mcca.eigenvalues_ > 1) & (mcca.eigenvalues_ <= 3))


def test_mcca_matches_cca_zoo(views):
    pytest.importorskip("cca_zoo")
    from cca_zoo.linear import MCCA as ZooMCCA

    X = make_frame(**views)
    ours = MCCA(n_components=2, reg=0.1).fit(X).transform(X).to_numpy()
    # cca-zoo shrinks toward the identity: the same as ours on standardised data.
    standardised = [(b - b.mean(0)) / b.std(0, ddof=1) for b in views.values()]
    theirs = ZooMCCA(n_components=2, shrinkage=0.1).fit(standardised)
    ours_on_standardised = (
        MCCA(n_components=2, reg=0.1)
        .fit(make_frame(**dict(zip(views, standardised, strict=True))))
        .transform(make_frame(**dict(zip(views, standardised, strict=True))))
        .to_numpy()
    )
    for m, their in enumerate(theirs.transform(standardised)):
        mine = ours_on_standardised[:, 2 * m : 2 * m + 2]
        correlation = np.abs(
            [np.corrcoef(mine[:, k], their[:, k])[0, 1] for k in range(2)]
        )
        np.testing.assert_allclose(correlation, 1.0, atol=1e-8)
    # Shrinking toward the diagonal is scale-equivariant.
    np.testing.assert_allclose(np.abs(ours), np.abs(ours_on_standardised), atol=1e-8)


def test_mcca_variates_have_unit_variance(views):
    X = make_frame(**views)
    mcca = MCCA(n_components=3).fit(X)
    Z = mcca.transform(X).to_numpy()
    np.testing.assert_allclose(Z.var(axis=0, ddof=1), 1.0, rtol=1e-10)
    assert mcca.score(X) == pytest.approx(
        mcca.canonical_correlations_.mean(), rel=1e-10
    )


def test_mcca_shared_space_contract_and_absent_modalities(views):
    X = make_frame(**views)
    X.index = pd.RangeIndex(3, 3 + len(X))
    mcca = MCCA(n_components=2).fit(X)
    Z = mcca.transform(X)
    names = [f"{m}__mcca{k}" for m in views for k in range(2)]
    assert list(Z.columns) == names
    assert list(mcca.get_feature_names_out()) == names
    assert Z.index.equals(X.index)
    assert mcca.modalities_ == ["text", "image", "audio"]
    audio_only = mcca.transform(X[[c for c in X.columns if c.startswith("audio__")]])
    pd.testing.assert_frame_equal(audio_only, Z[names[4:]])
    two = mcca.transform(make_frame(text=views["text"], audio=views["audio"]))
    assert list(two.columns) == names[:2] + names[4:]
    with pytest.raises(ValueError, match="lacks"):
        mcca.score(make_frame(text=views["text"], audio=views["audio"]))


def test_mcca_modalities_selects_blocks(views):
    X = make_frame(**views)
    mcca = MCCA(modalities=["audio", "text"]).fit(X)
    assert mcca.modalities_ == ["audio", "text"]
    reference = CCA(modalities=("audio", "text")).fit(X)
    np.testing.assert_allclose(
        mcca.canonical_correlations_, reference.canonical_correlations_, rtol=1e-10
    )
    assert list(mcca.transform(X).columns) == [
        "audio__mcca0", "audio__mcca1", "text__mcca0", "text__mcca1"
    ]  # fmt: skip


def test_mcca_clone_pickle_idempotent_subset_invariant(views):
    X = make_frame(**views)
    mcca = MCCA(n_components=2, reg=0.1)
    assert clone(mcca).get_params() == mcca.get_params()
    mcca.fit(X)
    pd.testing.assert_frame_equal(
        pickle.loads(pickle.dumps(mcca)).transform(X), mcca.transform(X)
    )
    pd.testing.assert_frame_equal(
        clone(mcca).fit(X).fit(X).transform(X), mcca.transform(X)
    )
    np.testing.assert_allclose(
        mcca.transform(X.iloc[5:40]).to_numpy(),
        mcca.transform(X).to_numpy()[5:40],
        atol=1e-12,
    )
    scores = cross_val_score(MCCA(n_components=2), X, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.5)


def test_mcca_errors(views):
    X = make_frame(**views)
    with pytest.raises(ValueError, match=r"at most 4 components.*'audio' \(4\)"):
        MCCA(n_components=5).fit(X)
    with pytest.raises(ValueError, match="make_frame"):
        MCCA().fit(X.to_numpy())
    with pytest.raises(ValueError, match="at least 2 modality"):
        MCCA().fit(make_frame(text=views["text"]))
    with pytest.raises(ValueError, match="at least 2 samples"):
        MCCA().fit(X.iloc[:1])
    with pytest.raises(ValueError, match="at least two distinct"):
        MCCA(modalities=["text"]).fit(X)
    with pytest.raises(ValueError, match=r"needs modalities \['video'\]"):
        MCCA(modalities=["text", "video"]).fit(X)
    mcca = MCCA().fit(X)
    with pytest.raises(ValueError, match=r"\['video'\]"):
        mcca.transform(make_frame(text=views["text"], video=views["audio"]))
    with pytest.raises(ValueError, match="reg"):
        MCCA(reg=1.0).fit(X)


def test_mcca_constant_feature_is_a_null_direction(views):
    with_constant = dict(
        views, audio=np.hstack([views["audio"], np.full((200, 1), 0.1)])
    )
    mcca = MCCA(n_components=3).fit(make_frame(**with_constant))
    reference = MCCA(n_components=3).fit(make_frame(**views))
    np.testing.assert_allclose(
        mcca.canonical_correlations_, reference.canonical_correlations_, rtol=1e-10
    )
    np.testing.assert_allclose(mcca.weights_["audio"][-1], 0.0)


# --- PLS ------------------------------------------------------------------


@pytest.mark.parametrize("scale", [False, True])
def test_pls_matches_sklearn_plssvd(pair, scale):
    X = make_frame(**pair)
    pls = PLS(n_components=3, scale=scale).fit(X)
    theirs = PLSSVD(n_components=3, scale=scale).fit(pair["text"], pair["image"])
    assert_columns_equal_up_to_sign(pls.weights_["text"], theirs.x_weights_, atol=1e-12)
    assert_columns_equal_up_to_sign(
        pls.weights_["image"], theirs.y_weights_, atol=1e-12
    )
    scores_text, scores_image = theirs.transform(pair["text"], pair["image"])
    Z = pls.transform(X).to_numpy()
    assert_columns_equal_up_to_sign(Z[:, :3], scores_text, atol=1e-10)
    assert_columns_equal_up_to_sign(Z[:, 3:], scores_image, atol=1e-10)
    np.testing.assert_allclose(
        pls.covariances_, np.diag(np.cov(Z[:, :3], Z[:, 3:], rowvar=False)[:3, 3:])
    )


def test_pls_score_and_contract(pair):
    X = make_frame(**pair)
    pls = PLS(n_components=2).fit(X)
    Z = pls.transform(X)
    assert list(Z.columns) == [f"{m}__pls{k}" for m in pair for k in range(2)]
    expected = np.mean(
        [np.corrcoef(Z.iloc[:, k], Z.iloc[:, 2 + k])[0, 1] for k in range(2)]
    )
    assert isinstance(pls.score(X), float)
    assert pls.score(X) == pytest.approx(expected, rel=1e-10)
    image_only = pls.transform(make_frame(image=pair["image"][:5]))
    np.testing.assert_allclose(image_only.to_numpy(), Z.iloc[:5, 2:].to_numpy())
    np.testing.assert_allclose(
        pls.weights_["text"].T @ pls.weights_["text"], np.eye(2), atol=1e-12
    )


def test_pls_clone_pickle_idempotent(pair):
    X = make_frame(**pair)
    pls = PLS(n_components=2, scale=True).fit(X)
    pd.testing.assert_frame_equal(
        pickle.loads(pickle.dumps(pls)).transform(X), pls.transform(X)
    )
    pd.testing.assert_frame_equal(
        clone(pls).fit(X).fit(X).transform(X), pls.transform(X)
    )


def test_pls_errors(pair, views):
    X = make_frame(**pair)
    with pytest.raises(ValueError, match=r"at most 5 components"):
        PLS(n_components=6).fit(X)
    with pytest.raises(ValueError, match=r"at most 3 components.*n_samples=3"):
        PLS(n_components=4).fit(X.iloc[:3])
    with pytest.raises(ValueError, match="at least 2 samples"):
        PLS().fit(X.iloc[:1])
    with pytest.raises(ValueError, match="Choose two with modalities"):
        PLS().fit(make_frame(**views))
    with pytest.raises(ValueError, match="make_frame"):
        PLS().fit(X.to_numpy())
    pls = PLS().fit(X)
    with pytest.raises(ValueError, match=r"\['audio'\]"):
        pls.transform(make_frame(audio=views["audio"]))
