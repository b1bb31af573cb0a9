"""The shared linear algebra of the mappers, against numpy/scipy closed forms."""

import numpy as np
import pytest
from scipy import linalg
from sklearn.utils.extmath import svd_flip

from skcrossmodal.mapping import _linalg
from skcrossmodal.mapping._linalg import (
    RANK_RTOL,
    cca_from_covariances,
    centred_moments,
    constant_features,
    flip_signs,
    inverse_shifted,
    merge_moments,
    shrink_toward_diagonal,
    top_eigh,
    top_singular_triplets,
    whitening,
)


def _joint(n=400, p=(12, 9), seed=0):
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n, 3))
    blocks = [
        latent @ rng.standard_normal((3, q)) + rng.standard_normal((n, q)) * 2.0 + 5.0
        for q in p
    ]
    return blocks


def _generalised_eigh_cca(Saa, Sbb, Sab, k):
    """Textbook CCA: Sab Sbb^-1 Sba a = rho^2 Saa a (scipy generalised eigh)."""
    rho2, A = linalg.eigh(Sab @ np.linalg.solve(Sbb, Sab.T), Saa)
    A = A[:, ::-1][:, :k]
    B = np.linalg.solve(Sbb, Sab.T @ A)
    B /= np.sqrt(np.einsum("ik,ij,jk->k", B, Sbb, B))
    return np.sqrt(np.clip(rho2[::-1][:k], 0, None)), A, B


@pytest.mark.parametrize("whiten", ["cholesky", "eigh"])
def test_cca_from_covariances_matches_generalised_eigenproblem(whiten, monkeypatch):
    if whiten == "eigh":
        monkeypatch.setattr(_linalg, "_cholesky_of_correlation", lambda S: None)
    A, B = _joint()
    S = np.cov(np.hstack([A, B]), rowvar=False)
    Saa, Sbb, Sab = S[:12, :12], S[12:, 12:], S[:12, 12:]
    solution = cca_from_covariances(Saa, Sbb, Sab, n_components=4)
    rho, wa, wb = _generalised_eigh_cca(Saa, Sbb, Sab, 4)
    assert solution.weights_a.shape == (12, 4) and (
        solution.rank_a,
        solution.rank_b,
    ) == (12, 9)
    np.testing.assert_allclose(solution.correlations, rho, rtol=1e-10)
    signs = np.sign(np.sum(solution.weights_a * wa, axis=0))
    np.testing.assert_allclose(solution.weights_a, wa * signs, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(solution.weights_b, wb * signs, rtol=1e-8, atol=1e-10)


def test_cholesky_and_eigh_whitening_agree_and_singular_falls_back(monkeypatch):
    A, B = _joint()
    # A feature that is an exact sum of two others: rank 11, Cholesky refused.
    A = np.column_stack([A, A[:, 0] + A[:, 1]])
    S = np.cov(np.hstack([A, B]), rowvar=False)
    solution = cca_from_covariances(S[:13, :13], S[13:, 13:], S[:13, 13:])
    assert solution.rank_a == 12
    assert _linalg._cholesky_of_correlation(S[:13, :13]) is None
    assert _linalg._cholesky_of_correlation(S[13:, 13:]) is not None
    monkeypatch.setattr(_linalg, "_cholesky_of_correlation", lambda S: None)
    eigh_only = cca_from_covariances(S[:13, :13], S[13:, 13:], S[:13, 13:])
    np.testing.assert_allclose(
        solution.correlations, eigh_only.correlations, rtol=1e-10
    )
    np.testing.assert_allclose(
        solution.weights_a, eigh_only.weights_a, rtol=1e-7, atol=1e-10
    )
    np.testing.assert_allclose(
        solution.weights_b, eigh_only.weights_b, rtol=1e-7, atol=1e-10
    )


def test_whitening_is_a_generalised_inverse_square_root():
    A, _ = _joint()
    A = np.column_stack([A, A[:, 0] - A[:, 2], np.full(len(A), 3.0)])
    S = np.cov(A, rowvar=False)
    W = whitening(S)
    assert W.shape == (14, 12)
    np.testing.assert_allclose(W.T @ S @ W, np.eye(12), atol=1e-10)
    # W W' is a reflexive generalised inverse of S (Moore-Penrose in the
    # metric of the features' standard deviations).
    G = W @ W.T
    np.testing.assert_allclose(S @ G @ S, S, atol=1e-9)
    np.testing.assert_allclose(G @ S @ G, G, atol=1e-9)


@pytest.mark.parametrize("shape, k", [((300, 200), 5), ((200, 300), 5), ((40, 30), 20)])
def test_top_singular_triplets_match_full_svd(shape, k):
    rng = np.random.default_rng(1)
    M = rng.standard_normal(shape) @ np.diag(np.linspace(3, 0.1, shape[1]))
    U, s, Vt = top_singular_triplets(M, k)
    U_ref, s_ref, Vt_ref = np.linalg.svd(M, full_matrices=False)
    np.testing.assert_allclose(s, s_ref[:k], rtol=1e-12)
    signs = np.sign(np.sum(U * U_ref[:, :k], axis=0))
    np.testing.assert_allclose(U * signs, U_ref[:, :k], atol=1e-9)
    np.testing.assert_allclose(Vt * signs[:, None], Vt_ref[:k], atol=1e-9)


@pytest.mark.parametrize("size, k", [(200, 5), (12, 5)])
def test_top_eigh_matches_full_eigh(size, k):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((size + 10, size))
    S = X.T @ X
    values, vectors = top_eigh(S, k)
    ref_values, ref_vectors = np.linalg.eigh(S)
    np.testing.assert_allclose(values, ref_values[::-1][:k], rtol=1e-12)
    np.testing.assert_allclose(
        np.abs(vectors), np.abs(ref_vectors[:, ::-1][:, :k]), atol=1e-9
    )


def test_flip_signs_is_svd_flips_rule():
    rng = np.random.default_rng(3)
    U, V = rng.standard_normal((6, 3)), rng.standard_normal((4, 3))
    expected_u, expected_vt = svd_flip(U.copy(), V.T.copy(), u_based_decision=True)
    u, v = flip_signs(U, V)
    np.testing.assert_array_equal(u, expected_u)
    np.testing.assert_array_equal(v, expected_vt.T)
    _, other = flip_signs(np.zeros((3, 1)), np.ones((2, 1)))
    np.testing.assert_array_equal(
        other, np.ones((2, 1))
    )  # a zero column keeps its sign


def test_shrinkage_constant_features_and_inverse():
    S = np.array([[4.0, 2.0], [2.0, 9.0]])
    np.testing.assert_array_equal(
        shrink_toward_diagonal(S, 0.25), [[4.0, 1.5], [1.5, 9.0]]
    )
    column = np.full(50, 0.1)
    column[::2] = np.nextafter(0.1, 1.0)
    std, mean = np.array([column.std(ddof=1), 1.0]), np.array([column.mean(), 0.0])
    np.testing.assert_array_equal(constant_features(std, mean, 50), [True, False])
    eigenvalues = np.array([4.0, 1.0, 4.0 * RANK_RTOL / 2])
    np.testing.assert_array_equal(inverse_shifted(eigenvalues, 0.0), [0.25, 1.0, 0.0])
    np.testing.assert_allclose(
        inverse_shifted(eigenvalues, 1.0), 1.0 / (eigenvalues + 1.0)
    )


@pytest.mark.parametrize("fourth", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_chunked_moments_are_the_moments_of_all_rows(monkeypatch, fourth, dtype):
    # Chunks of 7 rows: the running merge is exercised many times.
    blocks = [b.astype(dtype) for b in _joint(n=101, p=(3, 2))]
    monkeypatch.setattr(_linalg, "_CHUNK_BYTES", 7 * 8 * 5)
    moments = centred_moments(blocks, fourth)
    joint = np.hstack(blocks).astype(np.float64)
    u = joint - joint.mean(axis=0)
    assert moments["n"] == 101 and moments["mean"].dtype == np.float64
    np.testing.assert_allclose(moments["mean"], joint.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(moments["m11"], u.T @ u, rtol=1e-12)
    if fourth:
        np.testing.assert_allclose(moments["m21"], (u * u).T @ u, rtol=1e-10, atol=1e-9)
        np.testing.assert_allclose(moments["m22"], (u * u).T @ (u * u), rtol=1e-12)
    whole = merge_moments(
        centred_moments([b[:50] for b in blocks], fourth),
        centred_moments([b[50:] for b in blocks], fourth),
    )
    np.testing.assert_allclose(whole["m11"], u.T @ u, rtol=1e-12)


@pytest.mark.parametrize("solve", ["cca", "top_eigh", "top_singular_triplets"])
def test_scipy_calls_run_scipys_own_blas_on_one_thread(solve, monkeypatch):
    # numpy's and scipy's wheels bundle one OpenBLAS each; the solvers keep
    # scipy's on one thread so that the two pools do not spin against each other.
    import scipy.linalg

    blas = _linalg._scipy_own_blas()
    if blas is None:
        pytest.skip("scipy shares numpy's BLAS here")
    before = [lib["num_threads"] for lib in blas.info()]
    seen = []

    def recording(function):
        def call(*args, **kwargs):
            seen.append([lib["num_threads"] for lib in blas.info()])
            return function(*args, **kwargs)

        return call

    monkeypatch.setattr(scipy.linalg, "eigh", recording(scipy.linalg.eigh))
    monkeypatch.setattr(
        scipy.linalg.lapack, "dpotrf", recording(scipy.linalg.lapack.dpotrf)
    )
    rng = np.random.default_rng(0)
    S = np.cov(rng.standard_normal((200, 40)), rowvar=False)
    if solve == "cca":
        _linalg.cca_from_covariances(S[:20, :20], S[20:, 20:], S[:20, 20:], 2)
    elif solve == "top_eigh":
        _linalg.top_eigh(S, 2)
    else:
        _linalg.top_singular_triplets(S[:20, 20:], 2)
    assert seen and all(threads == [1] * len(before) for threads in seen)
    assert [lib["num_threads"] for lib in blas.info()] == before
