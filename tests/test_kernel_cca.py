"""Tests for the kernel CCA mapper (exact and Nyström)."""

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy import linalg
from sklearn.base import clone
from sklearn.metrics.pairwise import chi2_kernel, pairwise_kernels, rbf_kernel
from sklearn.model_selection import cross_val_score

from skcrossmodal import make_frame
from skcrossmodal.mapping import CCA, KernelCCA


def make_paired(n_samples=120, n_features=(5, 4), seed=0):
    """Two blocks sharing a nonlinear latent structure."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_samples, 2))
    text = np.hstack([latent, latent**2]) @ rng.standard_normal((4, n_features[0]))
    image = np.tanh(latent) @ rng.standard_normal((2, n_features[1]))
    return {
        "text": text + 0.3 * rng.standard_normal(text.shape),
        "image": image + 0.3 * rng.standard_normal(image.shape),
    }


@pytest.fixture
def paired():
    return make_paired()


def standardise_columns(Z):
    Z = Z - Z.mean(axis=0)
    return Z / np.linalg.norm(Z, axis=0)


def assert_columns_equal_up_to_sign(actual, expected, **tolerance):
    actual, expected = standardise_columns(actual), standardise_columns(expected)
    signs = np.sign(np.sum(actual * expected, axis=0))
    np.testing.assert_allclose(actual * signs, expected, **tolerance)


def reference_kernel_cca(K_a, K_b, reg):
    """Primal ridge CCA on explicit kernel-PCA features, by scipy's generalized eigh.

    The centred kernel ``K = U diag(lam) U'`` gives training coordinates
    ``U sqrt(lam)`` whose inner products are ``K``; there the joint covariance
    is shrunk toward the identity and ``[[0, Cab], [Cba, 0]] v = rho B v`` is
    solved directly.
    """
    features = []
    for K in (K_a, K_b):
        n = len(K)
        H = np.eye(n) - 1.0 / n
        lam, U = linalg.eigh(H @ K @ H)
        keep = lam > lam.max() * 1e-12
        features.append(U[:, keep] * np.sqrt(lam[keep]))
    F = np.hstack(features)
    p = features[0].shape[1]
    C = (1 - reg) * F.T @ F / (len(F) - 1) + reg * np.eye(F.shape[1])
    A = np.zeros_like(C)
    A[:p, p:] = C[:p, p:]
    A[p:, :p] = C[p:, :p]
    B = linalg.block_diag(C[:p, :p], C[p:, p:])
    eigenvalues, eigenvectors = linalg.eigh(A, B)
    order = np.argsort(eigenvalues)[::-1]
    variates_a = features[0] @ eigenvectors[:p, order]
    variates_b = features[1] @ eigenvectors[p:, order]
    return eigenvalues[order], variates_a, variates_b


@pytest.mark.parametrize("reg", [0.0, 0.2])
def test_linear_kernel_equals_cca(paired, reg):
    """On standardised features, CCA(scale=True) shrinks the same joint matrix."""
    standardised = {
        m: (b - b.mean(axis=0)) / b.std(axis=0, ddof=1) for m, b in paired.items()
    }
    k = 4
    cca = CCA(n_components=k, reg=reg, scale=True).fit(make_frame(**paired))
    kcca = KernelCCA(n_components=k, kernel="linear", reg=reg).fit(
        make_frame(**standardised)
    )
    np.testing.assert_allclose(
        kcca.canonical_correlations_, cca.canonical_correlations_, rtol=1e-9
    )
    expected = cca.transform(make_frame(**paired)).to_numpy()
    actual = kcca.transform(make_frame(**standardised)).to_numpy()
    signs = np.sign(np.sum(actual * expected, axis=0))
    np.testing.assert_allclose(actual * signs, expected, atol=1e-9)
    # The linear Nyström map of all training rows is exact too.
    nystroem = KernelCCA(
        n_components=k, kernel="linear", reg=reg, n_landmarks=120, random_state=0
    ).fit(make_frame(**standardised))
    np.testing.assert_allclose(
        nystroem.canonical_correlations_, cca.canonical_correlations_, rtol=1e-7
    )


@pytest.mark.parametrize(
    "kernel, params, transform_input, kernel_function",
    [
        ("rbf", {"gamma": 0.3}, None, lambda X, Y: rbf_kernel(X, Y, gamma=0.3)),
        ("chi2", {"gamma": 0.5}, np.abs, lambda X, Y: chi2_kernel(X, Y, gamma=0.5)),
        ("poly", {"degree": 2, "coef0": 1.0}, None,
         lambda X, Y: pairwise_kernels(X, Y, metric="poly", degree=2, coef0=1.0,
                                       gamma=1 / X.shape[1])),
    ],
)  # fmt: skip
def test_exact_matches_primal_reference(
    paired, kernel, params, transform_input, kernel_function
):
    if transform_input is not None:
        paired = {m: transform_input(b) for m, b in paired.items()}
    reg, k = 0.05, 3
    kcca = KernelCCA(n_components=k, kernel=kernel, reg=reg, **params).fit(
        make_frame(**paired)
    )
    blocks = list(paired.values())
    correlations, variates_a, variates_b = reference_kernel_cca(
        kernel_function(blocks[0], blocks[0]),
        kernel_function(blocks[1], blocks[1]),
        reg,
    )
    np.testing.assert_allclose(
        kcca.canonical_correlations_, correlations[:k], rtol=1e-6
    )
    Z = kcca.transform(make_frame(**paired)).to_numpy()
    assert_columns_equal_up_to_sign(Z[:, :k], variates_a[:, :k], atol=1e-5)
    assert_columns_equal_up_to_sign(Z[:, k:], variates_b[:, :k], atol=1e-5)


def test_nystroem_with_every_row_is_exact(paired):
    X = make_frame(**paired)
    exact = KernelCCA(n_components=3, reg=0.05).fit(X)
    full = KernelCCA(n_components=3, reg=0.05, n_landmarks=120, random_state=0).fit(X)
    np.testing.assert_allclose(
        full.canonical_correlations_, exact.canonical_correlations_, rtol=1e-6
    )
    assert_columns_equal_up_to_sign(
        full.transform(X).to_numpy(), exact.transform(X).to_numpy(), atol=1e-5
    )
    # Fewer landmarks approximate the exact model.
    approximate = KernelCCA(
        n_components=3, reg=0.05, n_landmarks=60, random_state=0
    ).fit(X)
    np.testing.assert_allclose(
        approximate.canonical_correlations_, exact.canonical_correlations_, atol=0.05
    )


def test_matches_cca_zoo_kcca(paired):
    """cca-zoo's shrinkage is our reg: the same directions."""
    pytest.importorskip("cca_zoo")
    from cca_zoo.nonparametric import KCCA

    reg, k = 0.1, 2
    kcca = KernelCCA(n_components=k, kernel="rbf", gamma=0.2, reg=reg).fit(
        make_frame(**paired)
    )
    views = list(paired.values())
    theirs = KCCA(n_components=k, kernel="rbf", gamma=0.2, shrinkage=reg).fit(views)
    Z = kcca.transform(make_frame(**paired)).to_numpy()
    for ours, their in zip((Z[:, :k], Z[:, k:]), theirs.transform(views), strict=True):
        assert_columns_equal_up_to_sign(ours, their, atol=1e-6)


def test_kernel_beats_linear_cca_on_nonlinear_relation():
    rng = np.random.default_rng(0)
    angle = rng.uniform(0, 2 * np.pi, size=(300, 1))
    X = make_frame(
        text=np.hstack([np.cos(angle), np.sin(angle)])
        + 0.05 * rng.normal(size=(300, 2)),
        image=angle + 0.05 * rng.normal(size=(300, 1)),
    )
    held_out = X.sample(frac=1.0, random_state=0)
    train, test = held_out.iloc[:200], held_out.iloc[200:]
    linear = CCA(n_components=1).fit(train).score(test)
    kernel = KernelCCA(n_components=1, gamma=1.0, reg=0.01).fit(train).score(test)
    assert kernel > 0.95 > linear


def test_callable_and_per_modality_kernels(paired):
    small = {m: b[:40] for m, b in paired.items()}
    X = make_frame(**small)

    def rbf(x, y):
        return np.exp(-0.3 * np.sum((x - y) ** 2))

    named = KernelCCA(n_components=2, gamma=0.3, reg=0.1).fit(X)
    called = KernelCCA(n_components=2, kernel=rbf, reg=0.1).fit(X)
    np.testing.assert_allclose(
        called.canonical_correlations_, named.canonical_correlations_, rtol=1e-10
    )
    assert called.gamma_ == {"text": None, "image": None}

    mixed = KernelCCA(
        n_components=2,
        kernel={"text": "linear", "image": "rbf"},
        gamma={"text": 1.0, "image": 0.3},
        reg=0.1,
    ).fit(X)
    assert mixed.gamma_ == {"text": None, "image": 0.3}
    blocks = list(small.values())
    correlations, _, _ = reference_kernel_cca(
        blocks[0] @ blocks[0].T, rbf_kernel(blocks[1], gamma=0.3), 0.1
    )
    np.testing.assert_allclose(
        mixed.canonical_correlations_, correlations[:2], rtol=1e-6
    )
    with pytest.raises(
        ValueError, match="no entry for modality 'image'|without an entry"
    ):
        KernelCCA(kernel={"text": "rbf"}).fit(X)


def test_default_gamma(paired):
    X = make_frame(**paired)
    assert KernelCCA().fit(X).gamma_ == {"text": 1 / 5, "image": 1 / 4}
    positive = make_frame(**{m: np.abs(b) for m, b in paired.items()})
    assert KernelCCA(kernel="chi2").fit(positive).gamma_ == {"text": 1.0, "image": 1.0}


def test_nystroem_determinism(paired):
    X = make_frame(**paired)
    first = KernelCCA(n_landmarks=30, random_state=3).fit(X)
    again = KernelCCA(n_landmarks=30, random_state=3).fit(X)
    other = KernelCCA(n_landmarks=30, random_state=4).fit(X)
    np.testing.assert_array_equal(first.landmark_indices_, again.landmark_indices_)
    pd.testing.assert_frame_equal(first.transform(X), again.transform(X))
    assert not np.array_equal(first.landmark_indices_, other.landmark_indices_)
    # Both modalities share the landmark rows.
    for modality, block in paired.items():
        np.testing.assert_array_equal(
            first.nystroem_[modality].components_,
            block[first.landmark_indices_][
                first.nystroem_[modality].component_indices_
            ],
        )


@pytest.mark.parametrize("n_landmarks", [None, 50])
def test_shared_space_contract_and_absent_modality(paired, n_landmarks):
    X = make_frame(**paired)
    X.index = pd.RangeIndex(5, 5 + len(X))
    kcca = KernelCCA(n_components=3, n_landmarks=n_landmarks, random_state=0).fit(X)
    Z = kcca.transform(X)
    names = [f"{m}__kernelcca{k}" for m in ("text", "image") for k in range(3)]
    assert list(Z.columns) == names
    assert list(kcca.get_feature_names_out()) == names
    assert Z.index.equals(X.index)
    text_only = kcca.transform(X[[c for c in X.columns if c.startswith("text__")]])
    pd.testing.assert_frame_equal(text_only, Z[names[:3]])
    image_only = kcca.transform(make_frame(image=paired["image"][:7]))
    np.testing.assert_allclose(image_only.to_numpy(), Z.iloc[:7, 3:].to_numpy())
    # Variates have unit variance under the regularised covariance: at most 1.
    assert np.all(Z.var(axis=0, ddof=1) <= 1.0 / (1.0 - kcca.reg) + 1e-8)


def test_exact_transform_in_batches_matches(paired, monkeypatch):
    from skcrossmodal.mapping import _kernel_cca

    X = make_frame(**paired)
    kcca = KernelCCA(n_components=2).fit(X)
    whole = kcca.transform(X)
    monkeypatch.setattr(_kernel_cca, "_MAX_KERNEL_ENTRIES", 7 * 120)
    np.testing.assert_allclose(
        kcca.transform(X).to_numpy(), whole.to_numpy(), atol=1e-12
    )


def test_score_is_mean_correlation(paired):
    X = make_frame(**paired)
    kcca = KernelCCA(n_components=2, reg=0.1).fit(X)
    Z = kcca.transform(X).to_numpy()
    correlations = [np.corrcoef(Z[:, k], Z[:, 2 + k])[0, 1] for k in range(2)]
    expected = np.mean(correlations)
    assert isinstance(kcca.score(X), float)
    assert kcca.score(X) == pytest.approx(expected, rel=1e-10)
    assert np.all(kcca.canonical_correlations_ <= np.array(correlations) + 1e-12)
    scores = cross_val_score(KernelCCA(n_components=1, reg=0.1), X, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.5)


@pytest.mark.parametrize("n_landmarks", [None, 40])
def test_clone_pickle_idempotent_subset_invariant(paired, n_landmarks):
    X = make_frame(**paired)
    kcca = KernelCCA(n_components=2, n_landmarks=n_landmarks, random_state=0)
    assert clone(kcca).get_params() == kcca.get_params()
    kcca.fit(X)
    restored = pickle.loads(pickle.dumps(kcca))
    pd.testing.assert_frame_equal(restored.transform(X), kcca.transform(X))
    refit = clone(kcca).fit(X).fit(X)
    pd.testing.assert_frame_equal(refit.transform(X), kcca.transform(X))
    np.testing.assert_allclose(
        kcca.transform(X.iloc[3:30]).to_numpy(),
        kcca.transform(X).to_numpy()[3:30],
        atol=1e-12,
    )


def test_refit_switching_solver_drops_stale_attributes(paired):
    X = make_frame(**paired)
    kcca = KernelCCA(n_landmarks=30, random_state=0).fit(X)
    kcca.set_params(n_landmarks=None).fit(X)
    assert not hasattr(kcca, "nystroem_") and hasattr(kcca, "dual_coef_")
    kcca.set_params(n_landmarks=30).fit(X)
    assert not hasattr(kcca, "dual_coef_") and hasattr(kcca, "nystroem_")


def test_errors(paired):
    X = make_frame(**paired)
    with pytest.raises(ValueError, match="n_landmarks=121 exceeds the 120"):
        KernelCCA(n_landmarks=121).fit(X)
    with pytest.raises(ValueError, match="make_frame"):
        KernelCCA().fit(X.to_numpy())
    with pytest.raises(ValueError, match="at least 2 modality"):
        KernelCCA().fit(make_frame(text=paired["text"]))
    with pytest.raises(ValueError, match="at least 2 samples"):
        KernelCCA().fit(X.iloc[:1])
    with pytest.raises(ValueError, match=r"at most 4 components.*n_components=5"):
        KernelCCA(n_components=5, kernel="linear").fit(X)
    with pytest.raises(ValueError, match="Choose two with modalities"):
        KernelCCA().fit(make_frame(audio=paired["text"], **paired))
    kcca = KernelCCA().fit(X)
    with pytest.raises(ValueError, match=r"\['audio'\]"):
        kcca.transform(make_frame(text=paired["text"], audio=paired["image"]))
    with pytest.raises(ValueError, match="lacks"):
        kcca.score(make_frame(text=paired["text"]))


def test_chi2_needs_non_negative_features(paired):
    positive = {m: np.abs(b) for m, b in paired.items()}
    kcca = KernelCCA(kernel="chi2").fit(make_frame(**positive))
    positive["image"][4, 2] = -0.5
    with pytest.raises(ValueError, match=r"non-negative.*row 4, column 'image__2'"):
        KernelCCA(kernel="chi2").fit(make_frame(**positive))
    with pytest.raises(ValueError, match=r"non-negative.*row 4, column 'image__2'"):
        kcca.transform(make_frame(**positive))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_components": 0}, "n_components"),
        ({"kernel": "sigmoid"}, "kernel"),
        ({"gamma": 0.0}, "gamma"),
        ({"reg": 1.0}, "reg"),
        ({"n_landmarks": 0}, "n_landmarks"),
        ({"modalities": ("text", "text")}, "modalities"),
        ({"kernel": {"text": "sigmoid", "image": "rbf"}}, "kernel for modality 'text'"),
    ],
)
def test_invalid_parameters(paired, params, match):
    with pytest.raises(ValueError, match=match):
        KernelCCA(**params).fit(make_frame(**paired))
