"""CCA and MCCA at the numerical edges (issue #10, point 4).

Every reference here is computed independently of the code under test:
scipy's generalised symmetric eigensolver, principal angles between column
spaces and corpcor's shrinkage formula, written out in the tests.
"""

import numpy as np
import pytest
from scipy import linalg
from sklearn.exceptions import NotFittedError

from skcrossmodal import make_frame
from skcrossmodal.mapping import CCA, MCCA


def standardise_columns(Z):
    Z = Z - Z.mean(axis=0)
    return Z / np.linalg.norm(Z, axis=0)


def assert_columns_equal_up_to_sign(actual, expected, **tolerance):
    actual, expected = standardise_columns(actual), standardise_columns(expected)
    signs = np.sign(np.sum(actual * expected, axis=0))
    np.testing.assert_allclose(actual * signs, expected, **tolerance)


def corpcor_lambda(data):
    """Schafer-Strimmer intensity before clipping, transcribed from corpcor."""
    n = data.shape[0]
    xs = (data - data.mean(axis=0)) / data.std(axis=0, ddof=1)
    E2R = (xs.T @ xs / n) ** 2
    ER2 = (xs**2).T @ (xs**2) / n
    sE2R = E2R.sum() - np.trace(E2R)
    sER2 = ER2.sum() - np.trace(ER2)
    return (sER2 - sE2R) / sE2R / (n - 1)


def generalised_eigh_cca(Caa, Cbb, Cab):
    """``[[0, Cab], [Cba, 0]] v = rho [[Caa, 0], [0, Cbb]] v`` by scipy's eigh."""
    p = len(Caa)
    A = np.zeros((p + len(Cbb),) * 2)
    A[:p, p:] = Cab
    A[p:, :p] = Cab.T
    eigenvalues, eigenvectors = linalg.eigh(A, linalg.block_diag(Caa, Cbb))
    order = np.argsort(eigenvalues)[::-1]
    return eigenvalues[order], eigenvectors[:p, order], eigenvectors[p:, order]


# --- CCA(reg="auto") when the Schafer-Strimmer intensity clips to 1 --------


@pytest.mark.parametrize("scale", [False, True])
def test_auto_shrinkage_clipped_to_one_has_a_defined_result(scale):
    """The case of the issue: 20 rows, 2 + 2 independent features, seed 1."""
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((20, 2)), rng.standard_normal((20, 2))
    X = make_frame(a=A, b=B)
    assert corpcor_lambda(np.hstack([A, B])) >= 1.0
    with pytest.warns(UserWarning, match="no detectable cross-correlation"):
        cca = CCA(n_components=2, reg="auto", scale=scale).fit(X)
    assert cca.reg_ == 1.0
    np.testing.assert_array_equal(cca.canonical_correlations_, [0.0, 0.0])
    # The shrunk covariance is diag(S): the k-th direction of each modality is
    # its k-th feature scaled to unit variance.
    Z = cca.transform(X).to_numpy()
    for block, variates in ((A, Z[:, :2]), (B, Z[:, 2:])):
        expected = (block - block.mean(axis=0)) / block.std(axis=0, ddof=1)
        np.testing.assert_allclose(variates, expected, rtol=1e-12, atol=1e-14)
    # partial_fit reaches the same model.
    with pytest.warns(UserWarning, match="no detectable cross-correlation"):
        chunked = CCA(n_components=2, reg="auto", scale=scale)
        chunked.partial_fit(X.iloc[:10]).partial_fit(X.iloc[10:])
    np.testing.assert_allclose(chunked.transform(X).to_numpy(), Z, atol=1e-12)


def test_auto_shrinkage_clipped_to_one_skips_constant_features():
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((20, 2)), rng.standard_normal((20, 2))
    A = np.hstack([np.full((20, 1), 3.0), A])
    with pytest.warns(UserWarning, match="no detectable cross-correlation"):
        cca = CCA(n_components=2, reg="auto").fit(make_frame(a=A, b=B))
    np.testing.assert_allclose(
        cca.weights_["a"], [[0.0, 0.0], *np.diag(1 / A[:, 1:].std(0, ddof=1))]
    )
    with pytest.raises(ValueError, match=r"at most 2 components.*'a' \(2\)"):
        CCA(n_components=3, reg="auto").fit(make_frame(a=A, b=np.hstack([B, B])))


# --- CCA with more features than rows: the Gram (dual) solver ---------------


def wide_pair(n_samples=40, n_features=(150, 120), noise=0.0, seed=0):
    """Blocks with more features than rows; of rank 8 and 6 without noise."""
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal((n_samples, 3))
    factors_a = np.hstack([shared, rng.standard_normal((n_samples, 5))])
    factors_b = np.hstack(
        [shared + 0.5 * rng.standard_normal((n_samples, 3)),
         rng.standard_normal((n_samples, 3))]
    )  # fmt: skip
    blocks = []
    for factors, p in zip((factors_a, factors_b), n_features, strict=True):
        block = factors @ rng.standard_normal((factors.shape[1], p))
        block += noise * rng.standard_normal((n_samples, p))
        blocks.append(block * np.logspace(-1, 1, p) + 5.0)
    return blocks


def principal_angle_cca(A, B):
    """CCA with reg=0 of rank-deficient blocks: principal angles of their spans."""
    Qa = linalg.orth(A - A.mean(axis=0))
    Qb = linalg.orth(B - B.mean(axis=0))
    P, cosines, Qt = linalg.svd(Qa.T @ Qb)
    return cosines, Qa @ P, Qb @ Qt.T


@pytest.mark.parametrize("scale", [False, True])
def test_gram_solver_reg_zero_matches_principal_angles(scale):
    A, B = wide_pair()
    X = make_frame(a=A, b=B)
    k = 5
    cosines, variates_a, variates_b = principal_angle_cca(A, B)
    cca = CCA(n_components=k, scale=scale).fit(X)
    assert cca.solver_ == "gram"
    np.testing.assert_allclose(cca.canonical_correlations_, cosines[:k], rtol=1e-10)
    Z = cca.transform(X).to_numpy()
    assert_columns_equal_up_to_sign(Z[:, :k], variates_a[:, :k], atol=1e-9)
    assert_columns_equal_up_to_sign(Z[:, k:], variates_b[:, :k], atol=1e-9)
    covariance = CCA(n_components=k, scale=scale, solver="covariance").fit(X)
    assert covariance.solver_ == "covariance"
    np.testing.assert_allclose(
        cca.canonical_correlations_, covariance.canonical_correlations_, rtol=1e-10
    )
    assert_columns_equal_up_to_sign(Z, covariance.transform(X).to_numpy(), atol=1e-8)
    with pytest.raises(
        ValueError, match=r"at most 6 components.*'a' \(8\) and 'b' \(6\)"
    ):
        CCA(n_components=7, scale=scale).fit(X)


@pytest.mark.parametrize("scale", [False, True])
@pytest.mark.parametrize("reg", [0.2, "auto"])
def test_gram_solver_with_shrinkage_matches_generalised_eigh(reg, scale):
    A, B = wide_pair(noise=1.0)
    X = make_frame(a=A, b=B)
    k = 10
    cca = CCA(n_components=k, reg=reg, scale=scale).fit(X)
    assert cca.solver_ == "gram"
    data = np.hstack([A, B])
    expected_reg = 0.2 if reg == 0.2 else corpcor_lambda(data)
    assert cca.reg_ == pytest.approx(expected_reg, rel=1e-10)
    S = np.cov(data, rowvar=False)
    shrunk = (1 - cca.reg_) * S + cca.reg_ * np.diag(np.diag(S))
    p = A.shape[1]
    correlations, wa, wb = generalised_eigh_cca(
        shrunk[:p, :p], shrunk[p:, p:], shrunk[:p, p:]
    )
    np.testing.assert_allclose(cca.canonical_correlations_, correlations[:k], rtol=1e-9)
    Z = cca.transform(X).to_numpy()
    centred = data - data.mean(axis=0)
    assert_columns_equal_up_to_sign(Z[:, :k], centred[:, :p] @ wa[:, :k], atol=1e-8)
    assert_columns_equal_up_to_sign(Z[:, k:], centred[:, p:] @ wb[:, :k], atol=1e-8)
    covariance = CCA(n_components=k, reg=reg, scale=scale, solver="covariance").fit(X)
    assert cca.reg_ == pytest.approx(covariance.reg_, rel=1e-10)
    np.testing.assert_allclose(
        cca.canonical_correlations_, covariance.canonical_correlations_, rtol=1e-10
    )
    np.testing.assert_allclose(
        Z, covariance.transform(X).to_numpy(), rtol=1e-8, atol=1e-8
    )


def test_gram_solver_keeps_statistics_for_partial_fit():
    A, B = wide_pair(n_samples=60, noise=1.0)
    X = make_frame(a=A, b=B)
    for reg in (0.2, "auto"):
        continued = CCA(n_components=4, reg=reg).fit(X.iloc[:40])
        assert continued.solver_ == "gram"
        continued.partial_fit(X.iloc[40:])
        assert continued.solver_ == "covariance"
        full = CCA(n_components=4, reg=reg, solver="covariance").fit(X)
        assert continued.reg_ == pytest.approx(full.reg_, rel=1e-10)
        np.testing.assert_allclose(
            continued.canonical_correlations_, full.canonical_correlations_, rtol=1e-10
        )


def test_gram_solver_with_more_components_than_rows_uses_the_covariance():
    A, B = wide_pair(n_samples=20, n_features=(40, 30), noise=1.0)
    X = make_frame(a=A, b=B)
    cca = CCA(n_components=25, reg=0.1).fit(X)
    assert cca.solver_ == "covariance"
    np.testing.assert_allclose(cca.canonical_correlations_[19:], 0.0, atol=1e-10)
    with pytest.raises(ValueError, match=r"at most 19 components.*solver='gram'"):
        CCA(n_components=25, reg=0.1, solver="gram").fit(X)


def test_constant_feature_with_gram_solver():
    A, B = wide_pair(noise=1.0)
    A[:, 7] = 0.1
    cca = CCA(n_components=5, reg=0.3).fit(make_frame(a=A, b=B))
    assert cca.solver_ == "gram"
    np.testing.assert_array_equal(cca.weights_["a"][7], 0.0)
    reference = CCA(n_components=5, reg=0.3, solver="covariance").fit(
        make_frame(a=A, b=B)
    )
    np.testing.assert_allclose(
        cca.canonical_correlations_, reference.canonical_correlations_, rtol=1e-10
    )


# --- CCA.partial_fit on batches that alone lack rank -------------------------


def test_partial_fit_streams_batches_that_alone_lack_rank():
    rng = np.random.default_rng(0)
    latent = rng.standard_normal((100, 3))
    X = make_frame(
        text=latent @ rng.standard_normal((3, 20)) + rng.standard_normal((100, 20)),
        image=latent @ rng.standard_normal((3, 10)) + rng.standard_normal((100, 10)),
    )
    streamed = CCA(n_components=10)
    streamed.partial_fit(X.iloc[:10])
    assert streamed.n_samples_seen_ == 10
    with pytest.raises(
        NotFittedError, match=r"seen 10 rows.*'text' \(9\) and 'image' \(9\).*10"
    ):
        streamed.transform(X)
    with pytest.raises(NotFittedError, match="seen 10 rows"):
        streamed.score(X)
    for start in range(10, 100, 10):
        streamed.partial_fit(X.iloc[start : start + 10])
    full = CCA(n_components=10).fit(X)
    assert streamed.n_samples_seen_ == 100
    np.testing.assert_allclose(
        streamed.canonical_correlations_, full.canonical_correlations_, rtol=1e-10
    )
    np.testing.assert_allclose(
        streamed.transform(X).to_numpy(), full.transform(X).to_numpy(), atol=1e-10
    )


def test_partial_fit_one_row_then_more():
    rng = np.random.default_rng(0)
    X = make_frame(
        text=rng.standard_normal((30, 3)), image=rng.standard_normal((30, 2))
    )
    cca = CCA(n_components=2).partial_fit(X.iloc[:1])
    with pytest.raises(NotFittedError, match="seen 1 rows"):
        cca.transform(X)
    cca.partial_fit(X.iloc[1:])
    np.testing.assert_allclose(
        cca.canonical_correlations_,
        CCA(n_components=2).fit(X).canonical_correlations_,
        rtol=1e-10,
    )


def test_mcca_treats_a_near_constant_column_as_constant():
    rng = np.random.default_rng(0)
    views = {m: rng.standard_normal((50, 3)) for m in ("a", "b", "c")}
    near_constant = np.full((50, 1), 0.1)
    near_constant[::2] = np.nextafter(0.1, 1.0)
    wider = dict(views, a=np.hstack([views["a"], near_constant]))
    mcca = MCCA(n_components=2).fit(make_frame(**wider))
    reference = MCCA(n_components=2).fit(make_frame(**views))
    np.testing.assert_allclose(mcca.eigenvalues_, reference.eigenvalues_, rtol=1e-10)
    np.testing.assert_array_equal(mcca.weights_["a"][-1], 0.0)


# --- Clear errors instead of LAPACK's --------------------------------------


@pytest.mark.parametrize("estimator", [CCA(), MCCA()], ids=repr)
def test_values_whose_squares_overflow_are_named(estimator):
    rng = np.random.default_rng(0)
    X = make_frame(image=1e300 * rng.standard_normal((30, 5)),
                   text=rng.standard_normal((30, 4)))  # fmt: skip
    with pytest.raises(ValueError, match=r"modality 'image'.*e\+300.*overflow"):
        estimator.fit(X)
    finite = make_frame(
        image=rng.standard_normal((30, 5)), text=rng.standard_normal((30, 4))
    )
    if isinstance(estimator, CCA):
        streamed = CCA(n_components=2).partial_fit(finite)
        with pytest.raises(ValueError, match=r"modality 'image'.*overflow"):
            streamed.partial_fit(X)
        assert streamed.n_samples_seen_ == 30
