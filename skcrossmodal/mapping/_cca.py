"""Closed-form canonical correlation analysis of two modalities."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import svd_flip
from sklearn.utils.validation import check_is_fitted
from .._estimator import fit_context

from .._frame import check_n_components
from ._base import SharedSpaceMixin, mean_paired_correlation, validate_paired_blocks


class CCASolution(NamedTuple):
    """Canonical directions of two blocks, see :func:`_cca_from_covariances`."""

    weights_a: np.ndarray
    weights_b: np.ndarray
    correlations: np.ndarray
    rank_a: int
    rank_b: int


# A direction of a block's correlation matrix whose eigenvalue is at or below
# this fraction of the largest (a standard deviation below 1e-5 of the largest,
# i.e. an exact linear dependency up to float64 or float32 rounding) is null.
NULL_EIGENVALUE_RTOL = 1e-10


def _whitening(covariance):
    """Return ``W`` of shape (p, rank) with ``W.T @ covariance @ W = I``.

    The eigendecomposition is taken of the correlation matrix
    ``D^-1/2 covariance D^-1/2`` (``D`` the diagonal), so that the rank
    decision does not depend on the features' units: features of zero variance
    and eigenvalues at or below ``NULL_EIGENVALUE_RTOL`` times the largest are
    null and dropped, which makes ``W W.T`` a pseudo-inverse of
    ``covariance``. Columns are in order of decreasing eigenvalue.
    """
    n_features = covariance.shape[0]
    std = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    live = np.flatnonzero(std > 0)
    if live.size == 0:
        return np.zeros((n_features, 0))
    correlation = covariance[np.ix_(live, live)] / np.outer(std[live], std[live])
    # numpy.linalg, not scipy.linalg, in every mapper: scipy bundles a second
    # OpenBLAS whose idle threads spin against numpy's (CCA fit 2.3x slower).
    eigenvalues, eigenvectors = np.linalg.eigh(correlation)
    # eigh returns ascending eigenvalues; keep the non-null ones, largest first.
    keep = np.flatnonzero(eigenvalues > eigenvalues[-1] * NULL_EIGENVALUE_RTOL)[::-1]
    whitening = np.zeros((n_features, keep.size))
    whitening[live] = eigenvectors[:, keep] / np.sqrt(eigenvalues[keep])
    whitening[live] /= std[live, None]
    return whitening


def _cca_from_covariances(Saa, Sbb, Sab):
    """Canonical correlation analysis from the blocks of a joint covariance.

    Each block's covariance is whitened (pseudo-inverse square root by
    eigendecomposition, null directions dropped, see :func:`_whitening`), then
    one SVD of the whitened cross-covariance gives the canonical pairs. Any
    positive semi-definite ``[[Saa, Sab], [Sab.T, Sbb]]`` works: sample
    covariances, correlations, shrunk or kernel matrices.

    Parameters
    ----------
    Saa : ndarray of shape (p_a, p_a)
        Covariance of block a.
    Sbb : ndarray of shape (p_b, p_b)
        Covariance of block b.
    Sab : ndarray of shape (p_a, p_b)
        Cross-covariance of a and b.

    Returns
    -------
    solution : CCASolution
        ``weights_a`` (p_a, k) and ``weights_b`` (p_b, k) with ``k =
        min(rank_a, rank_b)``: variates ``Xa_centred @ weights_a`` have unit
        variance under ``Saa`` and are uncorrelated; ``correlations`` (k,) in
        descending order, in [0, 1]; ``rank_a``, ``rank_b`` the numerical ranks
        of ``Saa`` and ``Sbb``. Signs are fixed so that the largest weight of
        each canonical direction of a is positive.
    """
    whiten_a = _whitening(Saa)
    whiten_b = _whitening(Sbb)
    rank_a, rank_b = whiten_a.shape[1], whiten_b.shape[1]
    k = min(rank_a, rank_b)
    if k == 0:
        empty = np.zeros(0)
        return CCASolution(
            np.zeros((Saa.shape[0], 0)), np.zeros((Sbb.shape[0], 0)), empty, 0, 0
        )
    whitened_cross = whiten_a.T @ Sab @ whiten_b
    U, correlations, Vt = np.linalg.svd(whitened_cross, full_matrices=False)
    weights_a = whiten_a @ U[:, :k]
    weights_b = whiten_b @ Vt[:k].T
    weights_a, weights_b_t = svd_flip(weights_a, weights_b.T, u_based_decision=True)
    return CCASolution(
        weights_a,
        weights_b_t.T,
        np.clip(correlations[:k], 0.0, 1.0),
        rank_a,
        rank_b,
    )


def _centred_moments(blocks, fourth):
    """Moments of one batch about its own mean (see :func:`_merge_moments`).

    The blocks are copied once, side by side, into a Fortran-ordered array
    (pandas hands out column-major blocks), centred in place, and the joint
    cross-product is one symmetric rank-k update (BLAS syrk).
    """
    n_samples = blocks[0].shape[0]
    centred = np.empty((n_samples, sum(b.shape[1] for b in blocks)), order="F")
    start = 0
    for block in blocks:
        centred[:, start : start + block.shape[1]] = block
        start += block.shape[1]
    mean = centred.mean(axis=0)
    centred -= mean
    moments = {"n": n_samples, "mean": mean, "m11": centred.T @ centred}
    if fourth:
        centred_squared = centred * centred
        moments["m21"] = centred_squared.T @ centred
        moments["m22"] = centred_squared.T @ centred_squared
    return moments


def _merge_moments(first, second):
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


def _shrinkage_intensity(moments, std):
    """Schafer-Strimmer analytic shrinkage intensity of the correlation matrix.

    The intensity of R package corpcor's ``estimate.lambda`` (unit weights):
    on the standardised data ``x``, with ``r_ij`` the mean of ``x_i x_j``,
    ``lambda = sum_{i != j} Var(r_ij) / sum_{i != j} r_ij**2`` clipped to
    [0, 1], computed here from the accumulated moments. ``std`` holds the
    features' standard deviations (``n - 1`` denominator); a zero one marks a
    constant feature, which contributes nothing.
    """
    n = moments["n"]
    inv_sd = np.zeros_like(std)
    np.divide(1.0, std, out=inv_sd, where=std > 0)
    mean_products = moments["m11"] * np.outer(inv_sd, inv_sd) / n
    mean_squared_products = moments["m22"] * np.outer(inv_sd**2, inv_sd**2) / n
    np.fill_diagonal(mean_products, 0.0)
    np.fill_diagonal(mean_squared_products, 0.0)
    sum_squares = np.sum(mean_products**2)
    if sum_squares == 0:
        return 1.0
    numerator = np.sum(mean_squared_products) - sum_squares
    return float(np.clip(numerator / sum_squares / (n - 1), 0.0, 1.0))


class CCA(SharedSpaceMixin, BaseEstimator):
    """Canonical correlation analysis of two modalities, in closed form.

    Finds pairs of directions, one per modality, whose variates are maximally
    correlated; both modalities are mapped into the space of their canonical
    variates, where row i of one block and row j of the other are comparable
    by cosine or dot product. The joint covariance ``S`` of the two blocks
    (a correlation matrix with ``scale=True``) is optionally shrunk toward its
    diagonal, ``S <- (1 - reg) S + reg diag(S)``; each modality's block of
    ``S`` is whitened by eigendecomposition and one SVD of the whitened
    cross-covariance gives the canonical pairs. No iteration.

    With ``scale=True`` and ``reg="auto"`` this is the shrinkage CCA of
    Jendoubi & Strimmer (2019).

    Parameters
    ----------
    n_components : int, default=2
        Number of canonical pairs; at most the smaller numerical rank of the
        two modality covariances.
    reg : float in [0, 1) or "auto", default=0.0
        Shrinkage of the joint covariance toward its diagonal. ``"auto"``
        uses the Schafer & Strimmer (2005) analytic intensity of the joint
        correlation matrix (R corpcor's ``estimate.lambda``, computed on the
        standardised joint data whatever ``scale``), stored in ``reg_``.
        With ``reg=0`` a singular covariance (e.g. features that sum to one,
        like topic proportions) is handled by dropping its null directions:
        constant features, and eigenvectors of the modality's correlation
        matrix whose eigenvalue is at most ``1e-10`` times the largest (a
        standard deviation below 1e-5 of the largest: an exact linear
        dependency up to rounding). ``n_components`` is then limited by the
        remaining rank.
    scale : bool, default=False
        Whether to standardise each feature to unit variance (CCA of the
        correlation matrix). A constant feature is left unscaled.
    modalities : tuple of two str, default=None
        The two blocks of ``X`` to relate. None requires ``X`` to have exactly
        two blocks.

    Attributes
    ----------
    canonical_correlations_ : ndarray of shape (n_components,)
        Canonical correlations on the training data (of the shrunk covariance
        when ``reg_ > 0``), in descending order.
    weights_ : dict of str to ndarray of shape (n_features_m, n_components)
        Canonical directions of each modality, applied to
        ``(X_m - mean_[m]) / scale_[m]``.
    mean_ : dict of str to ndarray of shape (n_features_m,)
        Per-feature mean of each modality.
    scale_ : dict of str to ndarray of shape (n_features_m,)
        Per-feature standard deviation with ``scale=True``, else ones.
    reg_ : float
        Shrinkage intensity used.
    n_components_ : int
        Width of the shared space.
    n_samples_seen_ : int
        Number of rows the sufficient statistics were accumulated from.
    modalities_ : list of str
        The two modalities, in block order of ``X`` at fit.
    n_features_in_ : int
        Number of feature columns of the two modalities.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Their column names.
    feature_names_per_modality_ : dict of str to ndarray
        Column names of each modality.

    See Also
    --------
    sklearn.cross_decomposition.CCA : Iterative (NIPALS) CCA on two arrays.

    Notes
    -----
    ``fit`` and ``partial_fit`` accumulate the same sufficient statistics
    (row count, mean and centred cross-products of the joint data, merged
    between batches by exact mean shifts; with ``reg="auto"`` also third and
    fourth order co-moments), and every call solves from them: fitting in
    chunks gives the model a single ``fit`` gives, up to rounding. The
    statistics are kept, so ``partial_fit`` may follow ``fit``; they take
    about ``n_features_in_ ** 2`` floats (three times that with
    ``reg="auto"``). A ``fit`` or ``partial_fit`` that raises leaves the
    estimator unchanged.

    References
    ----------
    Hotelling, H. (1936). Relations between two sets of variates. Biometrika.

    Schafer, J., & Strimmer, K. (2005). A shrinkage approach to large-scale
    covariance matrix estimation and implications for functional genomics.
    Statistical Applications in Genetics and Molecular Biology, 4(1).

    Jendoubi, T., & Strimmer, K. (2019). A whitening approach to probabilistic
    canonical correlation analysis for omics data integration. BMC
    Bioinformatics, 20, 15.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame
    >>> from skcrossmodal.mapping import CCA
    >>> rng = np.random.default_rng(0)
    >>> shared = rng.normal(size=(100, 1))
    >>> X = make_frame(text=shared + 0.1 * rng.normal(size=(100, 3)),
    ...                image=shared + 0.1 * rng.normal(size=(100, 4)))
    >>> cca = CCA(n_components=1).fit(X)
    >>> cca.canonical_correlations_.round(2)
    array([1.])
    >>> list(cca.transform(X[["text__0", "text__1", "text__2"]]).columns)
    ['text__cca0']
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "reg": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "scale": ["boolean"],
        "modalities": [None, tuple, list],
    }

    def __init__(self, n_components=2, *, reg=0.0, scale=False, modalities=None):
        self.n_components = n_components
        self.reg = reg
        self.scale = scale
        self.modalities = modalities

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the canonical directions of the two modalities of X.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_features)
            Modality table with the two modalities (see ``modalities``).
        y : None
            Ignored.

        Returns
        -------
        self : CCA
            Fitted estimator.
        """
        blocks = validate_paired_blocks(
            self, X, reset=True, exactly_two=True, ensure_min_samples=2
        )
        blocks = list(blocks.values())
        self._solve(_centred_moments(blocks, fourth=self.reg == "auto"))
        return self

    @fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Add the rows of X to the statistics and refit from all rows so far.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_features)
            Modality table with the two fitted modalities; the first call
            chooses them, as ``fit`` does.
        y : None
            Ignored.

        Returns
        -------
        self : CCA
            Fitted estimator.
        """
        first_call = not hasattr(self, "_moments")
        fourth = self.reg == "auto"
        if not first_call and fourth != ("m22" in self._moments):
            raise ValueError(
                "partial_fit cannot switch reg between 'auto' and a number: "
                "'auto' needs fourth-order moments from the first batch on. "
                "Call fit to start again."
            )
        blocks = validate_paired_blocks(
            self, X, reset=first_call, exactly_two=True, ensure_min_samples=1
        )
        blocks = list(blocks.values())
        moments = _centred_moments(blocks, fourth=fourth)
        if not first_call:
            moments = _merge_moments(self._moments, moments)
        if moments["n"] < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 samples in total to "
                f"estimate covariances; partial_fit has seen {moments['n']}."
            )
        self._solve(moments)
        return self

    def _solve(self, moments):
        """Fit the model from accumulated moments; sets the fitted attributes."""
        a, b = self.modalities_
        n_features_a = len(self.feature_names_per_modality_[a])
        n = moments["n"]
        covariance = moments["m11"] / (n - 1)
        std = np.sqrt(np.diag(covariance))
        # A constant feature keeps a variance of rounding size when its mean
        # is not exactly representable: make it exactly null.
        constant = std <= n * np.finfo(np.float64).eps * np.abs(moments["mean"])
        covariance[constant, :] = 0.0
        covariance[:, constant] = 0.0
        std[constant] = 0.0
        scale = np.where(std > 0, std, 1.0) if self.scale else np.ones_like(std)
        if self.scale:
            covariance /= np.outer(scale, scale)
        if self.reg == "auto":
            reg = _shrinkage_intensity(moments, std)
        else:
            reg = float(self.reg)
        if reg:
            covariance = covariance * (1.0 - reg)
            covariance.flat[:: len(covariance) + 1] /= 1.0 - reg
        head, tail = slice(None, n_features_a), slice(n_features_a, None)
        solution = _cca_from_covariances(
            covariance[head, head], covariance[tail, tail], covariance[head, tail]
        )
        check_n_components(
            self,
            self.n_components,
            min(solution.rank_a, solution.rank_b),
            f"the smaller numerical rank of the covariances of {a!r} "
            f"({solution.rank_a}) and {b!r} ({solution.rank_b}), after "
            f"{n} samples",
        )
        k = self.n_components
        self._moments = moments
        self.n_samples_seen_ = n
        self.reg_ = reg
        self.n_components_ = k
        self.canonical_correlations_ = solution.correlations[:k]
        self.weights_ = {a: solution.weights_a[:, :k], b: solution.weights_b[:, :k]}
        self.mean_ = {a: moments["mean"][head], b: moments["mean"][tail]}
        self.scale_ = {a: scale[head], b: scale[tail]}

    def _projections(self, modalities):
        """``(weights, offset)`` per modality: variates are ``X @ weights - offset``."""
        for modality in modalities:
            weights = self.weights_[modality] / self.scale_[modality][:, None]
            yield weights, self.mean_[modality] @ weights

    def _embed(self, blocks):
        return {
            modality: block @ weights - offset
            for (modality, block), (weights, offset) in zip(
                blocks.items(), self._projections(blocks), strict=True
            )
        }

    def score(self, X, y=None):
        """Mean canonical correlation of the paired variates of X.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_features)
            Modality table with both fitted modalities.
        y : None
            Ignored.

        Returns
        -------
        score : float
            Pearson correlation of the two modalities' variates, per
            component, averaged over the components. A constant variate
            counts as correlation 0.
        """
        check_is_fitted(self)
        blocks = validate_paired_blocks(
            self, X, reset=False, exactly_two=True, ensure_min_samples=2
        )
        return mean_paired_correlation(list(self._embed(blocks).values()))
