"""KernelCCA at the numerical edges (issue #10, points 3 and 4).

The references are independent of the code under test: the primal ridge CCA
by scipy's generalised symmetric eigensolver and scipy's pairwise distances,
written out in the tests.
"""

from pathlib import Path

import numpy as np
import pytest
from scipy import linalg
from scipy.spatial.distance import pdist

import skcrossmodal
from skcrossmodal import make_frame
from skcrossmodal.mapping import KernelCCA

DATA = Path(skcrossmodal.__file__).parent / "datasets" / "data"


def standardise_columns(Z):
    Z = Z - Z.mean(axis=0)
    return Z / np.linalg.norm(Z, axis=0)


def assert_columns_equal_up_to_sign(actual, expected, **tolerance):
    actual, expected = standardise_columns(actual), standardise_columns(expected)
    signs = np.sign(np.sum(actual * expected, axis=0))
    np.testing.assert_allclose(actual * signs, expected, **tolerance)


def generalised_eigh_cca(Caa, Cbb, Cab):
    """``[[0, Cab], [Cba, 0]] v = rho [[Caa, 0], [0, Cbb]] v`` by scipy's eigh."""
    p = len(Caa)
    A = np.zeros((p + len(Cbb),) * 2)
    A[:p, p:] = Cab
    A[p:, :p] = Cab.T
    eigenvalues, eigenvectors = linalg.eigh(A, linalg.block_diag(Caa, Cbb))
    order = np.argsort(eigenvalues)[::-1]
    return eigenvalues[order], eigenvectors[:p, order], eigenvectors[p:, order]


# --- Exact KernelCCA on a badly conditioned kernel -------------------------


def primal_ridge_cca(A, B, reg):
    """KernelCCA's objective with a linear kernel, in the primal."""
    Ac, Bc = A - A.mean(axis=0), B - B.mean(axis=0)
    n = len(A)
    Caa = (1 - reg) * Ac.T @ Ac / (n - 1) + reg * np.eye(A.shape[1])
    Cbb = (1 - reg) * Bc.T @ Bc / (n - 1) + reg * np.eye(B.shape[1])
    Cab = (1 - reg) * Ac.T @ Bc / (n - 1)
    correlations, wa, wb = generalised_eigh_cca(Caa, Cbb, Cab)
    return correlations, Ac @ wa, Bc @ wb


def badly_scaled_pair(n_samples=150, seed=0):
    """Two blocks sharing two factors, their columns in units 10^-1.5 .. 10^1.5."""
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_samples, 2))
    A = latent @ rng.standard_normal((2, 4)) + 0.5 * rng.standard_normal((n_samples, 4))
    B = latent @ rng.standard_normal((2, 3)) + 0.5 * rng.standard_normal((n_samples, 3))
    return A * np.logspace(-1.5, 1.5, 4), B * np.logspace(1.5, -1.5, 3)


@pytest.mark.parametrize("reg", [0.0, 1e-3, 0.1])
def test_exact_linear_kernel_cca_matches_primal_on_badly_scaled_features(reg):
    A, B = badly_scaled_pair()
    X = make_frame(a=A, b=B)
    k = 3
    correlations, variates_a, variates_b = primal_ridge_cca(A, B, reg)
    exact = KernelCCA(n_components=k, kernel="linear", reg=reg).fit(X)
    # eigh resolves the kernel's smallest eigenvalues (1e-6 of the largest
    # here) to about eps / 1e-6: agreement to ~1e-10, where the old K^2
    # whitening dropped them (a spread of 1e-12) and lost components.
    np.testing.assert_allclose(
        exact.canonical_correlations_, correlations[:k], rtol=1e-8, atol=1e-11
    )
    Z = exact.transform(X).to_numpy()
    assert_columns_equal_up_to_sign(Z[:, :k], variates_a[:, :k], atol=1e-8)
    assert_columns_equal_up_to_sign(Z[:, k:], variates_b[:, :k], atol=1e-8)
    # The Nystroem map of every training row is the same model, up to the
    # clipping of the landmark kernel's null singular values (at 1e-12):
    # Nystroem scales its null directions by 1e6, so their rounding noise,
    # which depends on the LAPACK build, moves the weak third correlation
    # (0.03) by a few 1e-6 without reg.
    nystroem = KernelCCA(
        n_components=k, kernel="linear", reg=reg, n_landmarks=len(X), random_state=0
    ).fit(X)
    np.testing.assert_allclose(
        nystroem.canonical_correlations_, correlations[:k], rtol=1e-4, atol=5e-5
    )
    assert_columns_equal_up_to_sign(nystroem.transform(X).to_numpy(), Z, atol=1e-4)


def test_exact_linear_kernel_cca_on_mfeat_kar_mor():
    """mor's features span four orders of magnitude of standard deviation.

    On these 300 rows the centred linear kernel of mor has eigenvalues
    spread 3e9 (its smallest direction is 3.2e-10 of the largest, above the
    1e-10 rank tolerance): the old K^2 whitening (spread 1e19) kept 2 of
    mor's 6 directions. eigh resolves the smallest to about eps * 3e9, so
    the primal solution is matched to 1e-7 here (6e-9 measured), not 1e-10.
    """
    data = np.load(DATA / "mfeat.npz")
    rows = np.random.default_rng(2).choice(len(data["kar"]), 300, replace=False)
    kar, mor = data["kar"][rows], data["mor"][rows]
    k = 6
    correlations, _, variates_mor = primal_ridge_cca(kar, mor, 0.0)
    kcca = KernelCCA(n_components=k, kernel="linear", reg=0.0).fit(
        make_frame(kar=kar, mor=mor)
    )
    np.testing.assert_allclose(
        kcca.canonical_correlations_, correlations[:k], rtol=1e-7
    )
    Z = kcca.transform(make_frame(mor=mor)).to_numpy()
    assert_columns_equal_up_to_sign(Z, variates_mor[:, :k], atol=1e-7)


# --- Kernel widths from the data's scale -------------------------------------


def test_gamma_scale_is_the_inverse_median_distance():
    rng = np.random.default_rng(0)
    A = 40.0 * rng.standard_normal((60, 5))
    B = np.abs(rng.standard_normal((60, 4)))
    X = make_frame(a=A, b=B)

    def chi2_distances(Y):
        numerator = (Y[:, None] - Y[None]) ** 2
        denominator = Y[:, None] + Y[None]
        d = np.divide(numerator, denominator, out=np.zeros_like(numerator),
                      where=denominator > 0).sum(axis=2)  # fmt: skip
        return d[np.triu_indices(len(Y), 1)]

    expected = {
        "rbf": lambda Y: 1 / np.median(pdist(Y, "sqeuclidean")),
        "laplacian": lambda Y: 1 / np.median(pdist(Y, "cityblock")),
        "chi2": lambda Y: 1 / np.median(chi2_distances(Y)),
        "poly": lambda Y: 1 / np.median(np.sum(Y * Y, axis=1)),
    }
    for kernel, gamma in expected.items():
        blocks = {"a": np.abs(A), "b": B} if kernel == "chi2" else {"a": A, "b": B}
        kcca = KernelCCA(kernel=kernel, gamma="scale").fit(make_frame(**blocks))
        for modality, block in blocks.items():
            assert kcca.gamma_[modality] == pytest.approx(gamma(block), rel=1e-12)
    mixed = KernelCCA(gamma={"a": "scale", "b": 0.3}).fit(X)
    assert mixed.gamma_ == {"a": pytest.approx(expected["rbf"](A), rel=1e-12), "b": 0.3}


def test_gamma_scale_makes_the_rbf_model_unit_free():
    rng = np.random.default_rng(0)
    angle = rng.uniform(0, 2 * np.pi, size=(120, 1))
    circle = np.hstack([np.cos(angle), np.sin(angle)])
    blocks = {"circle": circle, "angle": angle + 0.01 * rng.standard_normal((120, 1))}
    rescaled = {"circle": 1e3 * circle, "angle": 1e-3 * blocks["angle"]}
    scale = KernelCCA(n_components=2, gamma="scale", reg=0.01)
    first = scale.fit(make_frame(**blocks)).canonical_correlations_
    second = scale.fit(make_frame(**rescaled)).canonical_correlations_
    np.testing.assert_allclose(second, first, rtol=1e-8)
    assert first[0] > 0.9
    # The default 1 / n_features is blind to the units: here it collapses.
    default = KernelCCA(n_components=2, reg=0.01).fit(make_frame(**rescaled))
    assert default.canonical_correlations_[0] < 0.5


def test_gamma_scale_subsamples_large_blocks(monkeypatch):
    from skcrossmodal.mapping import _kernel_cca

    rng = np.random.default_rng(0)
    X = make_frame(a=rng.standard_normal((300, 3)), b=rng.standard_normal((300, 2)))
    full = KernelCCA(gamma="scale", n_landmarks=20, random_state=0).fit(X).gamma_
    monkeypatch.setattr(_kernel_cca, "_GAMMA_SCALE_MAX_ROWS", 100)
    first = KernelCCA(gamma="scale", n_landmarks=20, random_state=0).fit(X).gamma_
    again = KernelCCA(gamma="scale", n_landmarks=20, random_state=0).fit(X).gamma_
    other = KernelCCA(gamma="scale", n_landmarks=20, random_state=1).fit(X).gamma_
    assert first == again != other
    for modality in ("a", "b"):
        assert first[modality] == pytest.approx(full[modality], rel=0.2)


def test_gamma_errors():
    rng = np.random.default_rng(0)
    block = rng.standard_normal((20, 2))
    duplicated = np.repeat(block[:1], 20, axis=0)
    with pytest.raises(ValueError, match=r"gamma='scale'.*modality 'b'.*median"):
        KernelCCA(gamma="scale").fit(make_frame(a=block, b=duplicated))
    with pytest.raises(ValueError, match=r"gamma for modality 'a'.*-1"):
        KernelCCA(gamma={"a": -1, "b": 1.0}).fit(make_frame(a=block, b=block))


# --- Clear errors instead of LAPACK's --------------------------------------


@pytest.mark.parametrize(
    "estimator",
    [
        KernelCCA(kernel="linear"),
        KernelCCA(),
        KernelCCA(n_landmarks=10, random_state=0),
    ],
    ids=repr,
)
def test_values_whose_squares_overflow_are_named(estimator):
    rng = np.random.default_rng(0)
    X = make_frame(image=1e300 * rng.standard_normal((30, 5)),
                   text=rng.standard_normal((30, 4)))  # fmt: skip
    with pytest.raises(ValueError, match=r"modality 'image'.*e\+300.*overflow"):
        estimator.fit(X)


def test_kernel_cca_transform_overflow_is_named():
    rng = np.random.default_rng(0)
    X = make_frame(
        image=rng.standard_normal((30, 5)), text=rng.standard_normal((30, 4))
    )
    kcca = KernelCCA().fit(X)
    with pytest.raises(ValueError, match=r"modality 'image'.*overflow"):
        kcca.transform(make_frame(image=1e300 * rng.standard_normal((3, 5))))


# --- Fitted state owns its arrays ------------------------------------------


@pytest.mark.parametrize("kernel", ["rbf", "chi2"])
def test_exact_kernel_cca_keeps_no_view_of_the_training_frame(kernel):
    rng = np.random.default_rng(0)
    X = make_frame(a=np.abs(rng.standard_normal((40, 3))),
                   b=np.abs(rng.standard_normal((40, 2))))  # fmt: skip
    test = make_frame(a=np.abs(rng.standard_normal((5, 3))),
                      b=np.abs(rng.standard_normal((5, 2))))  # fmt: skip
    kcca = KernelCCA(n_components=2, kernel=kernel).fit(X)
    before = kcca.transform(test).to_numpy()
    X.iloc[:, 0] = 7.0
    X.loc[3, "b__1"] = 100.0
    np.testing.assert_array_equal(kcca.transform(test).to_numpy(), before)
