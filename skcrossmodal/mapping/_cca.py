"""Closed-form canonical correlation analysis of two modalities."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._estimator import fit_context
from .._frame import check_finite, check_n_components
from ._base import (
    PairedMapperMixin,
    as_dtype_of,
    check_squares_finite,
    validate_paired_blocks,
)
from ._distributed import fit_from_dask, is_dask_collection
from ._linalg import (
    CCASolution,
    cca_from_covariances,
    cca_of_principal_coordinates,
    centred_data,
    centred_moments,
    constant_features,
    expanded_moments,
    flip_signs,
    merge_moments,
    principal_coordinates,
    shrink_toward_diagonal,
)


def _cca_from_standardised_data(centred, std, reg, head, tail, n_components):
    """Canonical directions of ``S <- (1 - reg) S + reg diag(S)`` from the data.

    ``centred`` (n, p) holds the two blocks side by side, centred; ``std`` the
    features' standard deviations, zero for constant ones. The shrunk
    covariance of each block's standardised non-constant columns ``Z_m`` is
    ``(1 - reg) Z_m'Z_m / (n - 1) + reg I``; the eigendecomposition of the
    ``n x n`` Gram matrix ``Z_m Z_m' = U diag(l) U'`` (the linear kernel,
    whose eigenvalues are those of ``Z_m'Z_m``: the spread of the covariance
    path, not its square) turns the problem into CCA of the principal
    coordinates ``U diag(sqrt(l))`` (at most ``n`` per block), and a
    direction ``c`` on them is ``Z_m' U diag(1 / sqrt(l)) c`` on ``Z_m``.
    For a block with more features than rows this is O(n^2 p) instead of
    the O(p^3) of the covariance. Returns a :class:`CCASolution` of the
    ``n_components`` leading pairs whose weights apply to the standardised
    features.
    """
    n_samples = centred.shape[0]
    standardised, coordinates = [], []
    for span in (head, tail):
        live = np.flatnonzero(std[span] > 0)
        Z = centred[:, span][:, live] / std[span][live]
        gram = Z @ Z.T
        coordinates.append(principal_coordinates(gram, reg, np.max(np.abs(gram))))
        standardised.append((Z, live))
    (U_a, l_a), (U_b, l_b) = coordinates
    c_a, c_b, correlations = cca_of_principal_coordinates(
        U_a, l_a, U_b, l_b, reg, n_samples, n_components
    )
    weights = []
    for span, (Z, live), (U, eigenvalues), c in zip(
        (head, tail), standardised, coordinates, (c_a, c_b), strict=True
    ):
        w = np.zeros((len(std[span]), c.shape[1]))
        w[live] = Z.T @ (U @ (c / np.sqrt(eigenvalues)[:, None]))
        weights.append(w)
    return CCASolution(weights[0], weights[1], correlations, len(l_a), len(l_b))


def _uncorrelated_solution(std, head, tail):
    """The canonical pairs when the shrunk cross-covariance is zero (reg = 1).

    Every direction then has correlation 0; the k-th direction of a modality
    is its k-th non-constant feature scaled to unit variance (weights on the
    standardised features), the choice of :class:`CCA`'s documentation.
    """
    weights = []
    for span in (head, tail):
        live = np.flatnonzero(std[span] > 0)
        w = np.zeros((len(std[span]), live.size))
        w[live, np.arange(live.size)] = 1.0
        weights.append(w)
    k = min(w.shape[1] for w in weights)
    return CCASolution(
        weights[0], weights[1], np.zeros(k), weights[0].shape[1], weights[1].shape[1]
    )


def _shrinkage_intensity(moments, std):
    """Schafer-Strimmer analytic shrinkage intensity of the correlation matrix.

    The intensity of R package corpcor's ``estimate.lambda`` (unit weights):
    on the standardised data ``x``, with ``r_ij`` the mean of ``x_i x_j``,
    ``lambda = sum_{i != j} Var(r_ij) / sum_{i != j} r_ij**2`` clipped to
    [0, 1], computed here from the accumulated moments. ``std`` holds the
    features' standard deviations (``n - 1`` denominator); a zero one marks a
    constant feature, which contributes nothing. From factored moments (the
    centred rows) the two sums come from the ``n x n`` Gram matrix of ``x``
    and its row norms, O(n^2 p) instead of the O(n p^2) of the moments.
    """
    n = moments["n"]
    inv_sd = np.zeros_like(std)
    np.divide(1.0, std, out=inv_sd, where=std > 0)
    if "centred" in moments:
        x = moments["centred"] * inv_sd
        squares = x * x
        # ||x'x||_F = ||x x'||_F; the diagonal r_ii contributes sum_i (x_i'x_i)^2.
        sum_squares = (
            np.sum((x @ x.T) ** 2) - np.sum(np.sum(squares, axis=0) ** 2)
        ) / n**2
        mean_squared_sum = (
            np.sum(np.sum(squares, axis=1) ** 2) - np.sum(squares * squares)
        ) / n
    else:
        mean_products = moments["m11"] * np.outer(inv_sd, inv_sd) / n
        mean_squared_products = moments["m22"] * np.outer(inv_sd**2, inv_sd**2) / n
        np.fill_diagonal(mean_products, 0.0)
        np.fill_diagonal(mean_squared_products, 0.0)
        sum_squares = np.sum(mean_products**2)
        mean_squared_sum = np.sum(mean_squared_products)
    if sum_squares <= 0:
        return 1.0
    numerator = mean_squared_sum - sum_squares
    return float(np.clip(numerator / sum_squares / (n - 1), 0.0, 1.0))


# The fitted attributes a solve sets; partial_fit removes them while the rows
# seen so far lack the rank that n_components needs.
_SOLVED_ATTRIBUTES = (
    "n_components_", "reg_", "solver_", "canonical_correlations_", "weights_",
    "mean_", "scale_",
)  # fmt: skip


class CCA(PairedMapperMixin, BaseEstimator):
    """Canonical correlation analysis of two modalities, in closed form.

    Finds pairs of directions, one per modality, whose variates are maximally
    correlated; both modalities are mapped into the space of their canonical
    variates, where row i of one block and row j of the other are comparable
    by cosine or dot product. The joint covariance ``S`` of the two blocks
    (a correlation matrix with ``scale=True``) is optionally shrunk toward its
    diagonal, ``S <- (1 - reg) S + reg diag(S)``; each modality's block of
    ``S`` is whitened (by the Cholesky factor of its correlation matrix, or by
    eigendecomposition when that is ill-conditioned) and one SVD of the whitened
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
        When that estimate clips to 1 the data carry no detectable
        cross-correlation: the shrunk covariance is ``diag(S)``, every
        canonical correlation is 0, the k-th direction of each modality is
        its k-th non-constant feature scaled to unit variance, and a
        ``UserWarning`` says so.
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
    solver : {"auto", "covariance", "gram"}, default="auto"
        How ``fit`` solves. ``"covariance"`` eigendecomposes each modality's
        ``p x p`` covariance, O(n p^2 + p^3). ``"gram"`` (the dual) works on
        the centred, standardised ``n x p`` blocks instead, through the
        eigendecomposition of each block's ``n x n`` Gram matrix (the linear
        kernel, whose eigenvalues are the covariance's), O(n^2 p), and finds
        at most the rank of the centred rows (``n - 1``) directions per
        modality, which carry every non-zero correlation. Both solve the
        same problem, to rounding. ``"auto"`` uses ``"gram"`` when a modality
        has more features than rows, else ``"covariance"``, to which it also
        falls back when ``reg > 0`` and ``n_components`` asks for more
        directions than ``"gram"`` finds (their correlations are 0).
        ``partial_fit`` always solves from the covariance.
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
    solver_ : {"covariance", "gram"}
        The solver used.
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
    Float32 input stays float32 in ``transform``; the statistics are
    accumulated in float64, in one pass over the rows in chunks, without a
    copy of the data (see ``docs/mappers.md``). Only the ``n_components``
    leading pairs are computed.

    ``fit`` and ``partial_fit`` accumulate the same sufficient statistics
    (row count, mean and centred cross-products of the joint data, merged
    between batches by exact mean shifts; with ``reg="auto"`` also third and
    fourth order co-moments), and every call solves from them: fitting in
    chunks gives the model a single ``fit`` gives, up to rounding. The
    statistics are kept, so ``partial_fit`` may follow ``fit``; they take
    about ``n_features_in_ ** 2`` floats (three times that with
    ``reg="auto"``), or, after a ``fit`` with the ``"gram"`` solver, the
    centred rows (``n_samples * n_features_in_`` floats, fewer), from which
    the cross-products are formed when ``partial_fit`` needs them (the
    "gram" solver never forms them).

    ``partial_fit`` accepts batches of any size, one row included. Until the
    rows seen have the rank that ``n_components`` needs, it only accumulates
    them: the estimator is then not fitted (``transform`` raises
    :class:`~sklearn.exceptions.NotFittedError` saying how many rows it has
    seen and what rank they have), and the first batch that completes the
    rank solves. A ``fit`` or ``partial_fit`` that raises leaves the
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

    More features than rows: the Gram solver, with shrinkage.

    >>> X = make_frame(text=shared[:20] + rng.normal(size=(20, 300)),
    ...                image=shared[:20] + rng.normal(size=(20, 50)))
    >>> cca = CCA(n_components=1, reg=0.5).fit(X)
    >>> cca.solver_
    'gram'
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "reg": [Interval(Real, 0, 1, closed="left"), StrOptions({"auto"})],
        "scale": ["boolean"],
        "solver": [StrOptions({"auto", "covariance", "gram"})],
        "modalities": [None, tuple, list],
    }

    def __init__(
        self, n_components=2, *, reg=0.0, scale=False, solver="auto", modalities=None
    ):
        self.n_components = n_components
        self.reg = reg
        self.scale = scale
        self.solver = solver
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
        if is_dask_collection(X):
            return fit_from_dask(self, X)
        blocks = validate_paired_blocks(
            self, X, reset=True, exactly_two=True, check_finite=False
        )
        fourth = self.reg == "auto"
        n_samples = X.shape[0]
        if self.solver == "gram" or (
            self.solver == "auto"
            and max(b.shape[1] for b in blocks.values()) > n_samples
        ):
            for modality, block in blocks.items():
                check_finite(
                    block, modality, self.feature_names_per_modality_[modality]
                )
            check_squares_finite(self, blocks)
            data = centred_data(list(blocks.values()))
            # With reg > 0 the covariance has directions beyond the at most
            # n - 1 of the data: "auto" falls back to it when they are needed.
            fallback = self.solver == "auto" and self.reg != 0
            if self._solve(data, low_rank="report" if fallback else "raise"):
                return self
            moments = expanded_moments(data, fourth)
        else:
            moments = self._moments_of(blocks, fourth)
        self._solve(moments, low_rank="raise")
        return self

    @fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Add the rows of X to the statistics and refit from all rows so far.

        The components are solved once the rows seen so far have the rank
        that ``n_components`` needs; until then the rows are only
        accumulated (see Notes).

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
            The estimator.
        """
        first_call = not hasattr(self, "_moments")
        fourth = self.reg == "auto"
        if (
            not first_call
            and "centred" not in self._moments
            and fourth != ("m22" in self._moments)
        ):
            raise ValueError(
                "partial_fit cannot switch reg between 'auto' and a number: "
                "'auto' needs fourth-order moments from the first batch on. "
                "Call fit to start again."
            )
        blocks = validate_paired_blocks(
            self,
            X,
            reset=first_call,
            exactly_two=True,
            ensure_min_samples=1,
            check_finite=False,
        )
        moments = self._moments_of(blocks, fourth)
        if not first_call:
            moments = merge_moments(expanded_moments(self._moments, fourth), moments)
        self._solve(moments, low_rank="keep")
        return self

    def _moments_of(self, blocks, fourth):
        """Checked moments of the validated ``blocks`` (see ``centred_moments``)."""
        return centred_moments(
            list(blocks.values()), fourth, estimator=self, modalities=list(blocks)
        )

    def _solve(self, moments, *, low_rank):
        """Solve from the statistics ``moments`` and set the fitted attributes.

        Factored statistics (the centred rows) are solved by the Gram solver,
        expanded ones by the covariance solver. When the statistics lack the
        rank that ``n_components`` needs, ``low_rank`` says what to do:
        ``"raise"`` a ValueError, ``"keep"`` the statistics unsolved
        (partial_fit), or ``"report"`` it, changing nothing. Returns whether
        the components were solved.
        """
        a, b = self.modalities_
        n_features_a = len(self.feature_names_per_modality_[a])
        head, tail = slice(None, n_features_a), slice(n_features_a, None)
        n = moments["n"]
        if n < 2:
            self._keep_unsolved(moments, (0, 0))
            return False
        factored = "centred" in moments
        if factored:
            centred = moments["centred"]
            variance = np.einsum("ij,ij->j", centred, centred) / (n - 1)
        else:
            covariance = moments["m11"] / (n - 1)
            variance = np.diag(covariance).copy()
        std = np.sqrt(variance)
        constant = constant_features(std, moments["mean"], n)
        std[constant] = 0.0
        scale = np.where(std > 0, std, 1.0) if self.scale else np.ones_like(std)
        if self.reg == "auto":
            reg = _shrinkage_intensity(moments, std)
        else:
            reg = float(self.reg)

        standardised = True
        if reg == 1.0:
            solution = _uncorrelated_solution(std, head, tail)
        elif factored:
            solution = _cca_from_standardised_data(
                centred, std, reg, head, tail, self.n_components
            )
        else:
            covariance[constant, :] = 0.0
            covariance[:, constant] = 0.0
            if self.scale:
                covariance /= np.outer(scale, scale)
            if reg:
                covariance = shrink_toward_diagonal(covariance, reg)
            solution = cca_from_covariances(
                covariance[head, head],
                covariance[tail, tail],
                covariance[head, tail],
                self.n_components,
            )
            standardised = False
        ranks = (solution.rank_a, solution.rank_b)
        if self.n_components > min(ranks):
            if low_rank == "report":
                return False
            if low_rank == "keep":
                self._keep_unsolved(moments, ranks)
                return False
            reason = (
                f"the smaller numerical rank of the covariances of {a!r} "
                f"({ranks[0]}) and {b!r} ({ranks[1]}), after {n} samples"
            )
            if factored and reg > 0:
                reason += (
                    "; solver='gram' finds at most the rank of the centred rows, "
                    "n_samples - 1 or less"
                )
            check_n_components(self, self.n_components, min(ranks), reason)
        if reg == 1.0:
            warnings.warn(
                "CCA(reg='auto'): the Schafer-Strimmer shrinkage intensity is 1, "
                "so the data carry no detectable cross-correlation between "
                f"{a!r} and {b!r}; every canonical correlation is 0 and each "
                "direction is one feature scaled to unit variance.",
                UserWarning,
                stacklevel=5,  # the caller of fit / partial_fit
            )
        k = self.n_components
        weights_a, weights_b = solution.weights_a[:, :k], solution.weights_b[:, :k]
        if standardised:
            # From weights on (X - mean) / std to weights on (X - mean) / scale.
            factor = np.zeros_like(std)
            np.divide(scale, std, out=factor, where=std > 0)
            weights_a = weights_a * factor[head, None]
            weights_b = weights_b * factor[tail, None]
            weights_a, weights_b = flip_signs(weights_a, weights_b)
        self._moments = moments
        self._ranks = ranks
        self.n_samples_seen_ = n
        self.reg_ = reg
        self.solver_ = "gram" if factored else "covariance"
        self.n_components_ = k
        self.canonical_correlations_ = solution.correlations[:k]
        self.weights_ = {a: weights_a, b: weights_b}
        self.mean_ = {a: moments["mean"][head], b: moments["mean"][tail]}
        self.scale_ = {a: scale[head], b: scale[tail]}
        return True

    def _keep_unsolved(self, moments, ranks):
        """Keep the statistics of partial_fit without a solution (rank lacking)."""
        for name in _SOLVED_ATTRIBUTES:
            self.__dict__.pop(name, None)
        self._moments = moments
        self._ranks = ranks
        self.n_samples_seen_ = moments["n"]

    def __sklearn_is_fitted__(self):
        return hasattr(self, "weights_")

    def _check_fitted(self):
        if hasattr(self, "_moments") and not hasattr(self, "weights_"):
            (a, b), (rank_a, rank_b) = self.modalities_, self._ranks
            raise NotFittedError(
                f"This CCA instance has seen {self.n_samples_seen_} rows in "
                f"partial_fit, and the numerical ranks of the covariances of {a!r} "
                f"({rank_a}) and {b!r} ({rank_b}) are below n_components="
                f"{self.n_components}, the rank both need to solve. Call "
                "partial_fit with more rows before using this estimator."
            )
        check_is_fitted(self)

    def _projections(self, modalities):
        """``(weights, offset)`` per modality: variates are ``X @ weights - offset``."""
        for modality in modalities:
            weights = self.weights_[modality] / self.scale_[modality][:, None]
            yield weights, self.mean_[modality] @ weights

    def _embed(self, blocks):
        embeddings = {}
        for (modality, block), (weights, offset) in zip(
            blocks.items(), self._projections(blocks), strict=True
        ):
            if block.dtype == np.float64:
                embeddings[modality] = block @ weights - offset
            else:
                # Centred first: float32 keeps no digits for a large offset.
                centred = block - as_dtype_of(self.mean_[modality], block)
                embeddings[modality] = centred @ as_dtype_of(weights, block)
        return embeddings
