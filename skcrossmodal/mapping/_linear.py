"""Linear maps from a source modality into a target modality's space."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from .._estimator import fit_context
from ._base import (
    FLOAT_DTYPES,
    SharedSpaceMixin,
    as_dtype_of,
    check_squares_finite,
    score_prediction,
    validate_source_target,
)
from ._distributed import fit_from_dask, is_dask_collection
from ._linalg import centred_moments, flip_signs, inverse_shifted


def _ridge_loo_sums(eigensystem, source, target, alphas, fit_intercept):
    """Sums of squared leave-one-out residuals of some rows, per alpha.

    ``eigensystem`` is the covariance eigensystem of all the training rows
    (see :meth:`RidgeMapper._solve`), ``source`` and ``target`` the blocks of
    the rows summed over (all of them in memory, one partition on Dask).
    """
    if len(source) == 0:
        return np.zeros(len(alphas))
    source = source - eigensystem["source_mean"]
    target = target - eigensystem["target_mean"]
    offset = 1.0 / eigensystem["n"] if fit_intercept else 0.0
    Q = source @ eigensystem["V"]
    errors = _ridge_loo_errors(
        eigensystem["eigenvalues"], Q, eigensystem["QtY"], target, alphas, offset
    )
    return errors * target.size


def _ridge_loo_errors(eigenvalues, Q, QtY, Y, alphas, offset):
    """Mean squared leave-one-out error of ridge for each alpha.

    ``Q`` (n, r) holds the data's coordinates on the eigenvectors of the
    centred covariance (``Xc @ V``), whose eigenvalues are ``eigenvalues`` (r,);
    ``QtY = Q.T @ Yc``. The hat matrix of ridge with penalty ``a`` is
    ``Q diag(1 / (eigenvalues + a)) Q.T`` plus ``offset`` (``1 / n`` for the
    unpenalised intercept), so every alpha costs two products with Q.
    """
    Q_squared = Q * Q
    errors = np.empty(len(alphas))
    for i, alpha in enumerate(alphas):
        inverse = inverse_shifted(eigenvalues, alpha)
        residual = Y - Q @ (inverse[:, None] * QtY)
        leverage = Q_squared @ inverse + offset
        residual /= (1.0 - leverage)[:, None]
        errors[i] = np.mean(residual * residual)
    return errors


class RidgeMapper(SharedSpaceMixin, BaseEstimator):
    """Multi-output ridge regression from a source modality into a target's space.

    The coefficients solve ``min_W ||Yc - Xc W||² + alpha ||W||²`` in closed
    form, with ``Xc`` and ``Yc`` the (centred, when ``fit_intercept``) source
    and target blocks. The shared space is the target's feature space:
    ``transform`` maps the source block through the ridge and passes the
    target block through unchanged, so both blocks have ``n_target_features``
    columns and can be compared by cosine.

    When ``alpha`` is a list, the value with the smallest mean squared
    leave-one-out error (over all samples and targets, the criterion of
    :class:`sklearn.linear_model.RidgeCV` with ``alpha_per_target=False``) is
    chosen from ONE eigendecomposition: of the ``p x p`` covariance when there
    are more samples than source features, else of the ``n x n`` Gram matrix.
    Each alpha then costs only matrix products.

    Parameters
    ----------
    source : str
        Modality mapped by the ridge.
    target : str
        Modality whose feature space is the shared space.
    alpha : float or array-like of float, default=1.0
        Penalty, or candidate penalties (non-negative) to choose from by
        leave-one-out.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept by centring both blocks.

    Attributes
    ----------
    coef_ : ndarray of shape (n_target_features, n_source_features)
        Ridge coefficients, as in :class:`sklearn.linear_model.Ridge`.
    intercept_ : ndarray of shape (n_target_features,)
        Intercept (zeros when ``fit_intercept=False``).
    alpha_ : float
        Penalty used.
    loo_errors_ : ndarray of shape (n_alphas,)
        Mean squared leave-one-out error of each candidate alpha (only when
        ``alpha`` is a list).
    n_components_ : int
        Width of the shared space (the number of target features).
    modalities_ : list of str
        ``[source, target]``.
    n_features_in_ : int
        Number of features of the source and target blocks together.
    feature_names_in_ : ndarray of str
        Their column names.
    feature_names_per_modality_ : dict of str to ndarray
        Column names of each block.

    See Also
    --------
    sklearn.linear_model.RidgeCV : The same leave-one-out choice on arrays.
    MLPMapper : Nonlinear regression into the target's space.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame
    >>> from skcrossmodal.mapping import RidgeMapper
    >>> rng = np.random.default_rng(0)
    >>> image = rng.normal(size=(50, 4))
    >>> X = make_frame(image=image, text=image[:, :2] + 0.1 * rng.normal(size=(50, 2)))
    >>> mapper = RidgeMapper("image", "text", alpha=[0.1, 1.0, 10.0]).fit(X)
    >>> mapper.alpha_
    0.1
    >>> list(mapper.transform(X).columns)
    ['image__ridgemapper0', 'image__ridgemapper1', 'text__ridgemapper0', 'text__ridgemapper1']
    """

    _parameter_constraints: dict = {
        "source": [str],
        "target": [str],
        "alpha": [Interval(Real, 0, None, closed="left"), "array-like"],
        "fit_intercept": ["boolean"],
    }
    _embed_dtype = FLOAT_DTYPES

    def __init__(self, source, target, *, alpha=1.0, fit_intercept=True):
        self.source = source
        self.target = target
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the ridge map from the source block to the target block.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table holding the ``source`` and ``target`` blocks.
        y : None
            Ignored.

        Returns
        -------
        self : RidgeMapper
            The fitted mapper.
        """
        alphas = self._alphas()
        if is_dask_collection(X):
            return fit_from_dask(self, X)
        blocks = validate_source_target(self, X, reset=True)
        check_squares_finite(self, blocks)
        source, target = blocks[self.source], blocks[self.target]
        n_samples, n_features = source.shape
        if n_samples <= n_features:
            return self._fit_gram(source, target, alphas)
        moments = centred_moments([source, target], False)
        return self._solve(
            moments,
            lambda eigensystem: _ridge_loo_sums(
                eigensystem, source, target, alphas, self.fit_intercept
            ),
        )

    def _alphas(self):
        """The candidate penalties, validated, as a 1-d float64 array."""
        alphas = np.atleast_1d(np.asarray(self.alpha, dtype=np.float64))
        if alphas.ndim != 1 or alphas.size == 0 or np.any(alphas < 0):
            raise ValueError(
                f"alpha must be a non-negative number or a non-empty list of them, "
                f"got {self.alpha!r}."
            )
        return alphas

    def _solve(self, moments, loo_sums):
        """Fit from the joint moments of ``[source, target]`` (``fit`` and Dask).

        The covariance path, for more rows than source features:
        ``eigh(Xc'Xc) = V diag(l) V'`` and ``Q'Yc = V' Xc'Yc`` with
        ``Q = Xc V``. Without an intercept the cross-products are taken about
        zero instead of the mean. ``loo_sums(eigensystem)`` returns, per
        candidate alpha, the sum over all rows and targets of the squared
        leave-one-out residuals (see :func:`_ridge_loo_sums`); it is called
        only when ``alpha`` is a list, as the residuals need every row.
        """
        alphas = self._alphas()
        n_source = len(self.feature_names_per_modality_[self.source])
        source, target = slice(0, n_source), slice(n_source, None)
        m11, mean, n_samples = moments["m11"], moments["mean"], moments["n"]
        if not self.fit_intercept:
            m11 = m11 + n_samples * np.outer(mean, mean)
            mean = np.zeros_like(mean)
        # numpy's eigh (LAPACK syevd) runs on the same BLAS as the products
        # around it; scipy's bundles a second OpenBLAS whose idle threads slow
        # the two down.
        eigenvalues, V = np.linalg.eigh(m11[source, source])
        eigensystem = {
            "eigenvalues": np.clip(eigenvalues, 0.0, None),
            "V": V,
            "QtY": V.T @ m11[source, target],
            "source_mean": mean[source],
            "target_mean": mean[target],
            "n": n_samples,
        }
        n_targets = eigensystem["QtY"].shape[1]
        alpha = self._select_alpha(
            alphas, lambda: loo_sums(eigensystem) / (n_samples * n_targets)
        )
        inverse = inverse_shifted(eigensystem["eigenvalues"], alpha)[:, None]
        coef = V @ (inverse * eigensystem["QtY"])
        return self._publish(coef, mean[source], mean[target], alpha)

    def _fit_gram(self, source, target, alphas):
        """Fit from the ``n x n`` Gram matrix (no more rows than source features).

        This path needs every row in one process; a Dask DataFrame is fitted
        by :meth:`_solve`.
        """
        n_samples = source.shape[0]
        if self.fit_intercept:
            source_mean = source.mean(axis=0, dtype=np.float64)
            target_mean = target.mean(axis=0, dtype=np.float64)
            source = source - source_mean
            target = target - target_mean
        else:
            source_mean = np.zeros(source.shape[1])
            target_mean = np.zeros(target.shape[1])
            source = np.asarray(source, dtype=np.float64)
            target = np.asarray(target, dtype=np.float64)
        eigenvalues, U = np.linalg.eigh(source @ source.T)
        eigenvalues = np.clip(eigenvalues, 0.0, None)

        def loo_errors():
            # Q = Xc V = U S: the Gram's eigenvectors scaled by singular values.
            Q = U * np.sqrt(eigenvalues)
            offset = 1.0 / n_samples if self.fit_intercept else 0.0
            return _ridge_loo_errors(
                eigenvalues, Q, Q.T @ target, target, alphas, offset
            )

        alpha = self._select_alpha(alphas, loo_errors)
        inverse = inverse_shifted(eigenvalues, alpha)[:, None]
        coef = source.T @ (U @ (inverse * (U.T @ target)))
        return self._publish(coef, source_mean, target_mean, alpha)

    def _select_alpha(self, alphas, loo_errors):
        """The one ``alpha``, or of a list the one with the lowest mean squared
        leave-one-out error (``loo_errors()``, kept as ``loo_errors_``)."""
        if np.ndim(self.alpha) == 0:
            return float(alphas[0])
        self.loo_errors_ = loo_errors()
        return float(alphas[np.argmin(self.loo_errors_)])

    def _publish(self, coef, source_mean, target_mean, alpha):
        """Set the fitted attributes from ``coef`` (source x target features)."""
        self.alpha_ = alpha
        self.coef_ = coef.T
        self.intercept_ = target_mean - source_mean @ coef
        self.n_components_ = coef.shape[1]
        return self

    def _embed(self, blocks):
        return {
            modality: (
                block @ as_dtype_of(self.coef_.T, block)
                + as_dtype_of(self.intercept_, block)
                if modality == self.source
                else block
            )
            for modality, block in blocks.items()
        }

    def score(self, X, y=None):
        """Coefficient of determination R² of the mapped source on the target.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table holding the ``source`` and ``target`` blocks.
        y : None
            Ignored.

        Returns
        -------
        score : float
            R² of the predicted target block, averaged uniformly over target
            features (as :meth:`sklearn.linear_model.Ridge.score`). At most 1,
            higher is better.
        """
        return score_prediction(self, X)


class ProcrustesMapper(SharedSpaceMixin, BaseEstimator):
    """Orthogonal map (rotation/reflection) of a source modality onto a target.

    Both blocks are centred; the orthogonal ``R`` minimising
    ``||A R - B||_F`` (``A``, ``B`` the centred source and target of paired
    rows) is ``U V^T`` from the SVD ``A^T B = U S V^T`` (Schönemann, 1966).

    Dimensions are matched by this rule: the block with MORE features is
    reduced by PCA (fitted on the training rows, of which there must be at
    least ``d``) to ``d = min(d_source, d_target)`` dimensions, the other is
    kept as is (centred). The shared space has ``d`` dimensions: the target's
    own coordinates when the target is the smaller (or equal) block, else the
    target's first ``d`` principal components; the source is rotated into it.

    Parameters
    ----------
    source : str
        Modality that is rotated.
    target : str
        Modality onto which it is rotated.
    scaling : bool, default=False
        Whether to also fit one global scale factor ``s`` (``A s R ~ B``), the
        optimal ``trace(S) / ||A||_F²``. It does not change cosine rankings,
        but improves ``score``.

    Attributes
    ----------
    rotation_ : ndarray of shape (n_components_, n_components_)
        The orthogonal matrix ``R``.
    scale_ : float
        Global scale factor (1 when ``scaling=False``).
    mean_ : dict of str to ndarray
        Per-feature mean of each block.
    projection_ : dict of str to ndarray of shape (n_features_m, n_components_)
        Orthonormal PCA directions applied to each centred block (the
        identity for the block that is not reduced).
    n_components_ : int
        Width of the shared space, ``min(d_source, d_target)``.
    modalities_ : list of str
        ``[source, target]``.
    n_features_in_ : int
        Number of features of the source and target blocks together.
    feature_names_in_ : ndarray of str
        Their column names.
    feature_names_per_modality_ : dict of str to ndarray
        Column names of each block.

    See Also
    --------
    scipy.linalg.orthogonal_procrustes : The same solution on two arrays.

    References
    ----------
    Schönemann, P. H. (1966). A generalized solution of the orthogonal
    Procrustes problem. Psychometrika, 31(1), 1-10.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame
    >>> from skcrossmodal.mapping import ProcrustesMapper
    >>> rng = np.random.default_rng(0)
    >>> image = rng.normal(size=(50, 3))
    >>> rotation = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    >>> X = make_frame(image=image, text=image @ rotation)
    >>> mapper = ProcrustesMapper("image", "text").fit(X)
    >>> bool(np.allclose(mapper.rotation_, rotation))
    True
    >>> round(mapper.score(X), 6)
    1.0
    """

    _parameter_constraints: dict = {
        "source": [str],
        "target": [str],
        "scaling": ["boolean"],
    }
    _embed_dtype = FLOAT_DTYPES

    def __init__(self, source, target, *, scaling=False):
        self.source = source
        self.target = target
        self.scaling = scaling

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the orthogonal map from the source block onto the target block.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table holding the ``source`` and ``target`` blocks.
        y : None
            Ignored.

        Returns
        -------
        self : ProcrustesMapper
            The fitted mapper.
        """
        blocks = validate_source_target(self, X, reset=True)
        check_squares_finite(self, blocks)
        n_components = min(block.shape[1] for block in blocks.values())
        n_samples = X.shape[0]
        for modality, block in blocks.items():
            if block.shape[1] > n_components and n_samples < n_components:
                raise ValueError(
                    f"ProcrustesMapper reduces modality {modality!r} "
                    f"({block.shape[1]} features) by PCA to the {n_components} "
                    f"dimensions of the other block, which needs at least "
                    f"{n_components} rows; X has {n_samples} rows."
                )
        self.mean_, self.projection_, reduced = {}, {}, {}
        for modality, block in blocks.items():
            mean = block.mean(axis=0, dtype=np.float64)
            centred = block - mean
            if block.shape[1] > n_components:
                _, _, Vt = np.linalg.svd(centred, full_matrices=False)
                # Deterministic signs: the largest loading of each direction positive.
                (projection,) = flip_signs(Vt[:n_components].T)
            else:
                projection = np.eye(n_components)
            self.mean_[modality], self.projection_[modality] = mean, projection
            reduced[modality] = centred @ projection
        A, B = reduced[self.source], reduced[self.target]
        U, singular_values, Vt = np.linalg.svd(A.T @ B)
        self.rotation_ = U @ Vt
        if self.scaling:
            norm = np.sum(A * A)
            self.scale_ = float(singular_values.sum() / norm) if norm > 0 else 1.0
        else:
            self.scale_ = 1.0
        self.n_components_ = n_components
        return self

    def _embed(self, blocks):
        embedded = {}
        for modality, block in blocks.items():
            coordinates = (block - as_dtype_of(self.mean_[modality], block)) @ (
                as_dtype_of(self.projection_[modality], block)
            )
            if modality == self.source:
                coordinates = (
                    self.scale_ * coordinates @ as_dtype_of(self.rotation_, block)
                )
            embedded[modality] = coordinates.astype(block.dtype, copy=False)
        return embedded

    def score(self, X, y=None):
        """Coefficient of determination R² of the rotated source in the shared space.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table holding the ``source`` and ``target`` blocks.
        y : None
            Ignored.

        Returns
        -------
        score : float
            R² of the rotated source against the (reduced, centred) target,
            averaged uniformly over the shared dimensions. At most 1, higher
            is better.
        """
        return score_prediction(self, X)
