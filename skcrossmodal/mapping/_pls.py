"""Partial least squares (PLS-SVD) of two modalities, in closed form."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from .._estimator import fit_context
from .._frame import check_n_components
from ._base import (
    PairedMapperMixin,
    as_dtype_of,
    validate_paired_blocks,
)
from ._distributed import fit_from_dask, is_dask_collection
from ._linalg import (
    centred_moments,
    constant_features,
    flip_signs,
    top_singular_triplets,
)


class PLS(PairedMapperMixin, BaseEstimator):
    """Partial least squares of two modalities: SVD of their cross-covariance.

    The pairs of unit-norm directions, one per modality, whose latent scores
    have maximal covariance are the singular vectors of the cross-covariance
    matrix ``Xa_c.T @ Xb_c / (n - 1)`` of the centred (optionally
    standardised) blocks: one SVD, no iteration. This is PLS-SVD, the model of
    :class:`sklearn.cross_decomposition.PLSSVD`; both modalities are mapped to
    their latent scores, which form the shared space.

    Parameters
    ----------
    n_components : int, default=2
        Number of latent pairs; at most ``min(n_samples, n_features_a,
        n_features_b)``.
    scale : bool, default=False
        Whether to standardise each feature to unit variance first. Either
        way a constant feature, one whose standard deviation is at most
        ``n_samples * eps * |mean|`` (the rounding of a constant), gets weight
        0 and is left unscaled, as in :class:`CCA`.
    modalities : tuple of two str, default=None
        The two blocks of ``X`` to relate. None requires ``X`` to have exactly
        two blocks.

    Attributes
    ----------
    covariances_ : ndarray of shape (n_components,)
        Covariance of each pair of training scores (the singular values of the
        cross-covariance), in descending order.
    weights_ : dict of str to ndarray of shape (n_features_m, n_components)
        Orthonormal directions of each modality, applied to
        ``(X_m - mean_[m]) / scale_[m]``.
    mean_ : dict of str to ndarray of shape (n_features_m,)
        Per-feature mean of each modality.
    scale_ : dict of str to ndarray of shape (n_features_m,)
        Per-feature standard deviation with ``scale=True``, else ones.
    n_components_ : int
        Width of the shared space.
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
    sklearn.cross_decomposition.PLSSVD : The same model on two arrays.
    CCA : Maximises correlation instead of covariance.

    Notes
    -----
    PLS maximises covariance, so ``score`` reports the Pearson correlation of
    the paired scores (scale-free and comparable with :class:`CCA`'s score)
    rather than their covariance, which ``covariances_`` holds.

    References
    ----------
    Wegelin, J. A. (2000). A survey of partial least squares (PLS) methods,
    with emphasis on the two-block case. Technical report 371, Department of
    Statistics, University of Washington.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame
    >>> from skcrossmodal.mapping import PLS
    >>> rng = np.random.default_rng(0)
    >>> shared = rng.normal(size=(100, 1))
    >>> X = make_frame(text=shared + 0.1 * rng.normal(size=(100, 3)),
    ...                image=shared + 0.1 * rng.normal(size=(100, 4)))
    >>> pls = PLS(n_components=1).fit(X)
    >>> round(pls.score(X), 2)
    1.0
    >>> list(pls.transform(X).columns)
    ['text__pls0', 'image__pls0']
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "scale": ["boolean"],
        "modalities": [None, tuple, list],
    }

    def __init__(self, n_components=2, *, scale=False, modalities=None):
        self.n_components = n_components
        self.scale = scale
        self.modalities = modalities

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the PLS directions of the two modalities of X.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_features)
            Modality table with the two modalities (see ``modalities``).
        y : None
            Ignored.

        Returns
        -------
        self : PLS
            Fitted estimator.
        """
        if is_dask_collection(X):
            return fit_from_dask(self, X)
        blocks = validate_paired_blocks(
            self, X, reset=True, exactly_two=True, check_finite=False
        )
        moments = centred_moments(
            list(blocks.values()), False, estimator=self, modalities=list(blocks)
        )
        return self._solve(moments)

    def _solve(self, moments):
        """Fit from the joint moments of the two blocks (``fit`` and Dask)."""
        n_samples = moments["n"]
        (a, names_a), (b, names_b) = (
            (m, self.feature_names_per_modality_[m]) for m in self.modalities_
        )
        size_a, size_b = len(names_a), len(names_b)
        check_n_components(
            self,
            self.n_components,
            min(n_samples, size_a, size_b),
            f"min(n_samples={n_samples}, features of {a!r}={size_a}, "
            f"features of {b!r}={size_b})",
        )
        span_a, span_b = slice(0, size_a), slice(size_a, size_a + size_b)
        mean, m11 = moments["mean"], moments["m11"]
        std = np.sqrt(np.clip(np.diag(m11), 0.0, None) / (n_samples - 1))
        # A constant feature (up to the rounding of its mean) is exactly
        # constant: no weight, and no division by its rounding noise.
        constant = constant_features(std, mean, n_samples)
        scale = np.where(constant, 1.0, std) if self.scale else np.ones_like(std)
        factor = np.where(constant, 0.0, 1.0 / scale)
        cross_covariance = (
            m11[span_a, span_b]
            * np.outer(factor[span_a], factor[span_b])
            / (n_samples - 1)
        )
        k = self.n_components
        U, singular_values, Vt = top_singular_triplets(cross_covariance, k)
        U, V = flip_signs(U, Vt.T)
        self.mean_ = {a: mean[span_a], b: mean[span_b]}
        self.scale_ = {a: scale[span_a], b: scale[span_b]}
        self.n_components_ = k
        self.covariances_ = singular_values[:k]
        self.weights_ = {a: U, b: V}
        return self

    def _embed(self, blocks):
        return {
            modality: (block - as_dtype_of(self.mean_[modality], block))
            / as_dtype_of(self.scale_[modality], block)
            @ as_dtype_of(self.weights_[modality], block)
            for modality, block in blocks.items()
        }
