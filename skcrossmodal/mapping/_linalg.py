"""The linear algebra the closed-form mappers share.

One rank tolerance, one rule for constant features, one shrinkage, one
whitening, one sign rule and the two-block CCA solvers built on them, used by
CCA, KernelCCA, MCCA, PLS and RidgeMapper alike.
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import os
from contextlib import nullcontext
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from sklearn import get_config

from .._frame import check_finite
from ._base import check_squares_finite

# A direction of a covariance (of a correlation matrix where features have
# units) whose eigenvalue is at or below this fraction of the largest is null:
# a standard deviation below 1e-5 of the largest, an exact linear dependency
# up to float64 or float32 rounding.
RANK_RTOL = 1e-10

# The Cholesky whitening is used when LAPACK's estimate of the 1-norm
# condition number of the correlation matrix is below this. The estimate is a
# lower bound, rarely off by a factor above 10 (Higham 2002, §15.3), and the
# 2-norm condition number is at most the 1-norm one, so every eigenvalue then
# lies well above RANK_RTOL times the largest: the eigendecomposition would
# keep every direction too, and both whitenings give the same solution.
_CHOLESKY_MAX_CONDITION = 1e-3 / RANK_RTOL


class CCASolution(NamedTuple):
    """Canonical directions of two blocks, see :func:`cca_from_covariances`."""

    weights_a: np.ndarray
    weights_b: np.ndarray
    correlations: np.ndarray
    rank_a: int
    rank_b: int


def constant_features(std, mean, n_samples):
    """Mask of the features that are constant up to the rounding of their mean.

    A constant feature keeps a standard deviation of rounding size when its
    mean is not exactly representable (0.1 gives about 1e-17); a standard
    deviation at most ``n_samples * eps * |mean|`` is treated as exactly zero,
    so that no mapper divides by it or whitens along it.

    Parameters
    ----------
    std : ndarray of shape (n_features,)
        Per-feature standard deviation.
    mean : ndarray of shape (n_features,)
        Per-feature mean.
    n_samples : int
        Number of rows the statistics come from.

    Returns
    -------
    constant : ndarray of bool of shape (n_features,)
    """
    return std <= n_samples * np.finfo(np.float64).eps * np.abs(mean)


def shrink_toward_diagonal(covariance, reg):
    """``(1 - reg) C + reg diag(C)``, a new array whose diagonal is exactly C's."""
    shrunk = covariance * (1.0 - reg)
    np.fill_diagonal(shrunk, np.diag(covariance))
    return shrunk


def flip_signs(first, *others):
    """Make the largest-magnitude entry of each column of ``first`` positive.

    The rule of :func:`sklearn.utils.extmath.svd_flip` with
    ``u_based_decision=True``; the same column signs are applied to the
    arrays of ``others``, which share ``first``'s columns. A zero column keeps
    its sign.

    Returns
    -------
    flipped : list of ndarray
        ``first`` and ``others``, new arrays.
    """
    if first.shape[1] == 0:
        return [first.copy(), *(o.copy() for o in others)]
    signs = np.sign(first[np.argmax(np.abs(first), axis=0), np.arange(first.shape[1])])
    signs[signs == 0] = 1.0
    return [first * signs, *(o * signs for o in others)]


@lru_cache(maxsize=1)
def _scipy_own_blas():
    """threadpoolctl's handle on the BLAS bundled with scipy's wheel, or None.

    numpy's and scipy's wheels each bundle an OpenBLAS (``numpy.libs``,
    ``scipy.libs``), each with its own thread pool. Where scipy shares
    numpy's BLAS (conda, system packages) there is none to find.
    """
    from scipy.linalg import lapack  # noqa: F401 (loads scipy's BLAS)
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    paths = [
        library["filepath"]
        for library in controller.info()
        if library["user_api"] == "blas"
        and os.path.basename(os.path.dirname(library["filepath"])) == "scipy.libs"
    ]
    return controller.select(filepath=paths) if paths else None


def _one_scipy_blas_thread():
    """Run scipy's own BLAS on one thread (numpy's keeps its threads).

    Alternating scipy's LAPACK calls on covariance-sized matrices with numpy's
    matrix products keeps the idle threads of each pool spinning against the
    other's on the same cores; on one thread scipy's calls do not contend.
    """
    blas = _scipy_own_blas()
    return nullcontext() if blas is None else blas.limit(limits=1)


def top_singular_triplets(M, k):
    """The ``k`` largest singular values of ``M`` and their singular vectors.

    When ``k`` is small against ``M``'s shorter side only those are computed:
    the top eigenvectors of the smaller Gram matrix (LAPACK ``syevr`` on an
    index range), then a thin SVD of ``M`` applied to them, which gives
    orthonormal singular vectors on both sides even for tiny singular
    values. Otherwise one full SVD.

    Returns
    -------
    U : ndarray of shape (M.shape[0], k)
    s : ndarray of shape (k,)
        In descending order.
    Vt : ndarray of shape (k, M.shape[1])
    """
    short = min(M.shape)
    k = min(k, short)
    if 4 * k >= short:
        U, s, Vt = np.linalg.svd(M, full_matrices=False)
        return U[:, :k], s[:k], Vt[:k]
    from scipy.linalg import eigh

    transpose = M.shape[0] > M.shape[1]
    if transpose:
        M = M.T
    with _one_scipy_blas_thread():
        _, Q = eigh(
            M @ M.T,
            subset_by_index=(short - k, short - 1),
            driver="evr",
            check_finite=False,
        )
    # M.T Q = V s R': the exact SVD of M restricted to the top left subspace.
    V, s, Rt = np.linalg.svd(M.T @ Q, full_matrices=False)
    U, Vt = Q @ Rt.T, V.T
    if transpose:
        U, Vt = Vt.T, U.T
    return U, s, Vt


def top_eigh(S, k):
    """The ``k`` largest eigenvalues of symmetric ``S`` and their eigenvectors.

    Only those are computed (LAPACK ``syevr`` on an index range) when ``k``
    is small against the size of ``S``, else one full ``eigh``. Returned in
    descending order.
    """
    size = S.shape[0]
    k = min(k, size)
    if 4 * k >= size:
        eigenvalues, eigenvectors = np.linalg.eigh(S)
    else:
        from scipy.linalg import eigh

        with _one_scipy_blas_thread():
            eigenvalues, eigenvectors = eigh(
                S,
                subset_by_index=(size - k, size - 1),
                driver="evr",
                check_finite=False,
            )
    return eigenvalues[::-1][:k], eigenvectors[:, ::-1][:, :k]


def whitening(covariance):
    """Return ``W`` of shape (p, rank) with ``W.T @ covariance @ W = I``.

    The eigendecomposition is taken of the correlation matrix
    ``D^-1/2 covariance D^-1/2`` (``D`` the diagonal), so that the rank
    decision does not depend on the features' units: features of zero variance
    and eigenvalues at or below ``RANK_RTOL`` times the largest are null and
    dropped, which makes ``W W.T`` a pseudo-inverse of ``covariance``. Columns
    are in order of decreasing eigenvalue.
    """
    n_features = covariance.shape[0]
    std = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    live = np.flatnonzero(std > 0)
    if live.size == 0:
        return np.zeros((n_features, 0))
    correlation = covariance[np.ix_(live, live)] / np.outer(std[live], std[live])
    # numpy.linalg, not scipy.linalg, in every mapper: scipy bundles a second
    # OpenBLAS whose idle threads spin against numpy's.
    eigenvalues, eigenvectors = np.linalg.eigh(correlation)
    # eigh returns ascending eigenvalues; keep the non-null ones, largest first.
    keep = np.flatnonzero(eigenvalues > eigenvalues[-1] * RANK_RTOL)[::-1]
    white = np.zeros((n_features, keep.size))
    white[live] = eigenvectors[:, keep] / np.sqrt(eigenvalues[keep])
    white[live] /= std[live, None]
    return white


def _cholesky_of_correlation(covariance):
    """``(L, std)`` with ``L L' = D^-1/2 covariance D^-1/2``, or None.

    None when a feature has zero variance, the correlation matrix is not
    positive definite or its condition number may reach
    ``_CHOLESKY_MAX_CONDITION``: the rank must then be decided by
    :func:`whitening`.
    """
    from scipy.linalg import lapack

    std = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    if covariance.shape[0] == 0 or not np.all(std > 0):
        return None
    correlation = covariance / std / std[:, None]
    L, info = lapack.dpotrf(correlation, lower=True, clean=True)
    if info != 0:
        return None
    rcond, info = lapack.dpocon(L, np.abs(correlation).sum(axis=0).max(), uplo="L")
    if info != 0 or not rcond * _CHOLESKY_MAX_CONDITION > 1.0:
        return None
    return L, std


def cca_from_covariances(Saa, Sbb, Sab, n_components=None):
    """Canonical correlation analysis from the blocks of a joint covariance.

    Each block's covariance is whitened, then the SVD of the whitened
    cross-covariance gives the canonical pairs. A well-conditioned block is
    whitened by the Cholesky factor of its correlation matrix (triangular
    solves, no eigendecomposition); any other by :func:`whitening`, which
    drops its null directions. Only the ``n_components`` leading pairs are
    computed (see :func:`top_singular_triplets`). Any positive semi-definite
    ``[[Saa, Sab], [Sab.T, Sbb]]`` works: sample covariances, correlations,
    shrunk or kernel matrices.

    Parameters
    ----------
    Saa : ndarray of shape (p_a, p_a)
        Covariance of block a.
    Sbb : ndarray of shape (p_b, p_b)
        Covariance of block b.
    Sab : ndarray of shape (p_a, p_b)
        Cross-covariance of a and b.
    n_components : int, default=None
        Number of pairs wanted; None computes all ``min(rank_a, rank_b)``.

    Returns
    -------
    solution : CCASolution
        ``weights_a`` (p_a, k) and ``weights_b`` (p_b, k) with ``k`` the
        smaller of ``n_components`` and ``min(rank_a, rank_b)``: variates
        ``Xa_centred @ weights_a`` have unit variance under ``Saa`` and are
        uncorrelated; ``correlations`` (k,) in descending order, in [0, 1];
        ``rank_a``, ``rank_b`` the numerical ranks of ``Saa`` and ``Sbb``.
        Signs follow :func:`flip_signs` on the directions of a.
    """
    with _one_scipy_blas_thread():
        return _cca_from_covariances(Saa, Sbb, Sab, n_components)


def _cca_from_covariances(Saa, Sbb, Sab, n_components):
    from scipy.linalg import solve_triangular

    factors = [_cholesky_of_correlation(S) for S in (Saa, Sbb)]
    whitened = [
        None if factor is not None else whitening(S)
        for factor, S in zip(factors, (Saa, Sbb), strict=True)
    ]
    ranks = [
        S.shape[0] if factor is not None else white.shape[1]
        for S, factor, white in zip((Saa, Sbb), factors, whitened, strict=True)
    ]
    k = min(ranks)
    if n_components is not None:
        k = min(k, n_components)
    if k == 0:
        return CCASolution(
            np.zeros((Saa.shape[0], 0)), np.zeros((Sbb.shape[0], 0)), np.zeros(0),
            *ranks,
        )  # fmt: skip
    # M = Wa' Sab Wb, with W = D^-1 L^-T (Cholesky) or the whitening matrix.
    cross = Sab
    if factors[0] is not None:
        L, std = factors[0]
        cross = solve_triangular(
            L, cross / std[:, None], lower=True, check_finite=False
        )
    else:
        cross = whitened[0].T @ cross
    if factors[1] is not None:
        L, std = factors[1]
        cross = solve_triangular(L, (cross / std).T, lower=True, check_finite=False).T
    else:
        cross = cross @ whitened[1]
    U, correlations, Vt = top_singular_triplets(cross, k)
    weights = []
    for factor, white, vectors in zip(factors, whitened, (U, Vt.T), strict=True):
        if factor is not None:
            L, std = factor
            weights.append(
                solve_triangular(L, vectors, lower=True, trans="T", check_finite=False)
                / std[:, None]
            )
        else:
            weights.append(white @ vectors)
    weights_a, weights_b = flip_signs(*weights)
    return CCASolution(weights_a, weights_b, np.clip(correlations, 0.0, 1.0), *ranks)


def cca_of_principal_coordinates(U_a, l_a, U_b, l_b, reg, n_samples, n_components=None):
    """Ridge CCA of two sets of principal coordinates, whitened by a division.

    ``F_m = U_m diag(sqrt(l_m))`` (``U_m`` with orthonormal columns, ``l_m``
    positive) are coordinates of ``n_samples`` centred rows whose Gram matrix
    is ``U_m diag(l_m) U_m'``: the kernel PCA of a centred kernel matrix, or
    ``U s`` of the thin SVD of a centred data block. Their covariance
    ``diag(l_m) / (n - 1)`` is diagonal, and so is its ridge
    ``d_m = (1 - reg) l_m / (n - 1) + reg``; the whitened cross-covariance is
    ``(1 - reg) / (n - 1) diag(sqrt(l_a / d_a)) U_a' U_b diag(sqrt(l_b / d_b))``
    and its SVD (the ``n_components`` leading triplets, see
    :func:`top_singular_triplets`) gives the canonical pairs. No matrix is
    squared, so the spread of ``l`` is never squared either.

    Returns
    -------
    coordinates_a : ndarray of shape (q_a, k)
    coordinates_b : ndarray of shape (q_b, k)
        Canonical directions on ``F_a`` and ``F_b`` (``k = min(q_a, q_b)``,
        at most ``n_components``): the variates ``F_m @ coordinates_m`` have
        unit variance under the ridge.
    correlations : ndarray of shape (k,)
        In descending order, in [0, 1].
    """
    k = min(len(l_a), len(l_b))
    if n_components is not None:
        k = min(k, n_components)
    if k == 0:
        return np.zeros((len(l_a), 0)), np.zeros((len(l_b), 0)), np.zeros(0)
    n_minus_one = n_samples - 1
    ridge_a = (1.0 - reg) * l_a / n_minus_one + reg
    ridge_b = (1.0 - reg) * l_b / n_minus_one + reg
    cross = (U_a * np.sqrt(l_a / ridge_a)).T @ (U_b * np.sqrt(l_b / ridge_b))
    cross *= (1.0 - reg) / n_minus_one
    P, correlations, Qt = top_singular_triplets(cross, k)
    return (
        P / np.sqrt(ridge_a)[:, None],
        Qt.T / np.sqrt(ridge_b)[:, None],
        np.clip(correlations, 0.0, 1.0),
    )


def principal_coordinates(gram, reg, magnitude):
    """Eigendecomposition ``gram = U diag(l) U'`` without its null directions.

    ``gram`` is a centred Gram (or kernel) matrix of ``n`` rows; ``magnitude``
    the largest entry, in absolute value, of the matrix it was centred from.
    A direction is null when ``l`` is below the rounding of that centring,
    ``n * eps * magnitude`` (negative eigenvalues included), or when its
    eigenvalue of the ridge covariance ``(1 - reg) l / (n - 1) + reg`` is at
    most ``RANK_RTOL`` times the largest: the rule of :func:`whitening`.
    Returns ``U`` and ``l`` of the kept directions, in order of decreasing
    ``l``.
    """
    n_samples = len(gram)
    if n_samples == 0 or gram.size == 0:
        return np.zeros((n_samples, 0)), np.zeros(0)
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    noise = n_samples * np.finfo(np.float64).eps * magnitude
    ridge = (1.0 - reg) * eigenvalues / max(n_samples - 1, 1) + reg
    keep = (eigenvalues > noise) & (ridge > ridge[-1] * RANK_RTOL)
    keep = np.flatnonzero(keep)[::-1]
    return eigenvectors[:, keep], eigenvalues[keep]


def inverse_shifted(eigenvalues, alpha):
    """``1 / (eigenvalues + alpha)``, zero for the null directions.

    ``eigenvalues`` are those of a covariance or Gram matrix; a shifted
    eigenvalue at or below ``RANK_RTOL`` times the largest eigenvalue is null
    (this only happens when ``alpha`` is 0 or tiny).
    """
    shifted = eigenvalues + alpha
    null = shifted <= RANK_RTOL * max(eigenvalues.max(initial=0.0), 1e-300)
    inverse = np.zeros_like(shifted)
    np.divide(1.0, shifted, out=inverse, where=~null)
    return inverse


def centred_data(blocks):
    """Row count, mean and centred copy of the blocks side by side.

    The blocks are copied once, side by side, into a Fortran-ordered float64
    array (pandas hands out column-major blocks) and centred in place. These
    are the statistics of :class:`CCA` in factored form, for the Gram solver:
    the centred cross-products are ``centred.T @ centred`` (see
    :func:`expanded_moments`).
    """
    n_samples = blocks[0].shape[0]
    centred = np.empty((n_samples, sum(b.shape[1] for b in blocks)), order="F")
    start = 0
    for block in blocks:
        centred[:, start : start + block.shape[1]] = block
        start += block.shape[1]
    mean = centred.mean(axis=0)
    centred -= mean
    return {"n": n_samples, "mean": mean, "centred": centred}


def expanded_moments(moments, fourth):
    """Moments about the mean (see :func:`merge_moments`) from factored ones.

    Moments that are already expanded are returned as they are. The joint
    cross-product is one symmetric rank-k update (BLAS syrk).
    """
    if "centred" not in moments:
        return moments
    centred = moments["centred"]
    expanded = {"n": moments["n"], "mean": moments["mean"], "m11": centred.T @ centred}
    if fourth:
        centred_squared = centred * centred
        expanded["m21"] = centred_squared.T @ centred
        expanded["m22"] = centred_squared.T @ centred_squared
    return expanded


# Bytes of float64 per chunk of rows in the pass over the data of
# centred_moments: a chunk of the blocks side by side stays in the cache
# while it is centred and its cross-products are formed.
_CHUNK_BYTES = 2**23


def centred_moments(blocks, fourth, *, estimator=None, modalities=None):
    """Moments of one batch about its own mean (see :func:`merge_moments`).

    One pass over the rows in chunks: each chunk of the blocks is copied side
    by side into one float64 buffer (float32 blocks are accumulated in
    float64), centred on its own mean, and its cross-products (one BLAS syrk)
    are merged into the running moments by the exact mean shift of
    :func:`merge_moments`. Nothing of the size of the data is allocated.

    With ``estimator`` (the mapper being fitted) and ``modalities`` (the block
    names), the pass also checks the blocks: unless scikit-learn's
    ``assume_finite`` is set, a non-finite entry raises a ValueError naming
    its row and column, and a block whose squares overflow float64 raises
    the error of :func:`check_squares_finite`. The check costs no extra pass:
    a chunk with a non-finite entry has a non-finite mean.
    """
    n_samples = blocks[0].shape[0]
    widths = [b.shape[1] for b in blocks]
    edges = np.cumsum([0] + widths)
    n_features = int(edges[-1])
    rows = max(1, min(n_samples, _CHUNK_BYTES // (8 * max(n_features, 1))))
    buffer = np.empty((rows, n_features), order="F")
    check = estimator is not None
    finite = check and not get_config()["assume_finite"]
    limits = [np.sqrt(np.finfo(np.float64).max / (4 * max(b.size, 1))) for b in blocks]
    moments = None
    for start in range(0, n_samples, rows):
        stop = min(start + rows, n_samples)
        chunk = buffer[: stop - start]
        for block, lo, hi in zip(blocks, edges[:-1], edges[1:], strict=True):
            chunk[:, lo:hi] = block[start:stop]
        mean = chunk.mean(axis=0)
        if finite and not np.all(np.isfinite(mean)):
            for modality, block in zip(modalities, blocks, strict=True):
                check_finite(
                    block, modality, estimator.feature_names_per_modality_[modality]
                )
        if check:
            for lo, hi, limit in zip(edges[:-1], edges[1:], limits, strict=True):
                part = chunk[:, lo:hi]
                if part.size and max(part.max(), -part.min()) > limit:
                    check_squares_finite(
                        estimator, dict(zip(modalities, blocks, strict=True))
                    )
        chunk -= mean
        if fourth:
            squared = chunk * chunk
            batch = {
                "n": stop - start,
                "mean": mean,
                "m11": chunk.T @ chunk,
                "m21": squared.T @ chunk,
                "m22": squared.T @ squared,
            }
            moments = batch if moments is None else merge_moments(moments, batch)
        elif moments is None:
            moments = {"n": stop - start, "mean": mean, "m11": chunk.T @ chunk}
            product = np.empty_like(moments["m11"])
            shifts = np.empty((-(-n_samples // rows) - 1, n_features))
        else:
            # merge_moments for second-order moments (Chan et al.): the merge
            # adds n_1 n_2 / n delta delta' to the sum of the two m11; these
            # rank-one terms are gathered and added as one product at the end.
            nb, n = stop - start, moments["n"] + stop - start
            delta = mean - moments["mean"]
            np.matmul(chunk.T, chunk, out=product)
            moments["m11"] += product
            shifts[start // rows - 1] = np.sqrt(moments["n"] * nb / n) * delta
            moments["mean"] = moments["mean"] + delta * (nb / n)
            moments["n"] = n
    if not fourth and n_samples > rows:
        moments["m11"] += shifts.T @ shifts
    return moments


def merge_moments(first, second):
    """Merge moments of two batches (Chan et al. 1979; Pebay 2008).

    For centred ``u_i`` the statistics are ``m11[i, j] = sum u_i u_j`` and,
    when fourth moments are kept, ``m21[i, j] = sum u_i**2 u_j`` and
    ``m22[i, j] = sum u_i**2 u_j**2``. Each batch's sums are shifted to the
    merged mean exactly, so no large raw sums are ever subtracted.
    """
    n = first["n"] + second["n"]
    delta = second["mean"] - first["mean"]
    mean = first["mean"] + delta * (second["n"] / n)
    merged = {"n": n, "mean": mean, "m11": first["m11"] + second["m11"]}
    fourth = "m22" in first
    if fourth:
        merged["m21"] = first["m21"] + second["m21"]
        merged["m22"] = first["m22"] + second["m22"]
    for batch in (first, second):
        # Shift this batch's sums from its mean to the merged one: u -> u - d.
        d = mean - batch["mean"]
        nb = batch["n"]
        merged["m11"] += nb * np.outer(d, d)
        if fourth:
            m11, m21 = batch["m11"], batch["m21"]
            var = np.diag(m11)
            dd = np.outer(d, d)
            merged["m22"] += (
                -2.0 * m21 * d[None, :]
                - 2.0 * m21.T * d[:, None]
                + np.outer(var, d * d)
                + np.outer(d * d, var)
                + 4.0 * dd * m11
                + nb * dd * dd
            )
            merged["m21"] += (
                -np.outer(var, d) - 2.0 * d[:, None] * m11 - nb * np.outer(d * d, d)
            )
    return merged
