"""Multi-set canonical correlation analysis of two or more modalities."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

from itertools import combinations
from numbers import Integral, Real

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from .._estimator import fit_context
from .._frame import check_n_components
from ._base import PairedMapperMixin, as_dtype_of, validate_paired_blocks
from ._distributed import fit_from_dask, is_dask_collection
from ._linalg import (
    centred_moments,
    constant_features,
    flip_signs,
    shrink_toward_diagonal,
    top_eigh,
    whitening,
)


class MCCA(PairedMapperMixin, BaseEstimator):
    """Multi-set canonical correlation analysis of two or more modalities.

    Carroll's generalised CCA (MAXVAR): find, per component, one direction per
    modality whose variates best agree with a common variate. It is solved in
    closed form as the generalised eigenproblem ``C v = lambda D v`` of the
    joint covariance ``C`` of all blocks against its block diagonal ``D``
    (each modality's own covariance); equivalently, after whitening every
    block, one eigendecomposition of the joint correlation matrix of the
    whitened blocks. The eigenvalue ``lambda`` (between 0 and the number of
    modalities) is the sum over modalities of the squared multiple
    correlation of the common variate with that modality. This is the
    formulation of cca-zoo's ``MCCA`` and of Kettenring (1971). For two
    modalities the eigenvalues are ``1 + rho`` and the directions are those
    of :class:`CCA`: MCCA reduces to CCA.

    Each modality's direction is rescaled so that its variates have unit
    variance (under the regularised covariance), as in :class:`CCA`.

    Parameters
    ----------
    n_components : int, default=2
        Number of components; at most the smallest numerical rank of the
        modalities' covariances.
    reg : float in [0, 1), default=0.0
        Shrinkage of the joint covariance toward its diagonal,
        ``C <- (1 - reg) C + reg diag(C)``, exactly as in :class:`CCA`.
        With ``reg=0`` null directions of a singular block (constant
        features, exact linear dependencies) are dropped.
    scale : bool, default=False
        Whether to standardise each feature to unit variance (MCCA of the
        correlation matrix), as in :class:`CCA`. A constant feature is left
        unscaled.
    modalities : list of str, default=None
        The blocks of ``X`` to relate (at least two). None uses every block.

    Attributes
    ----------
    eigenvalues_ : ndarray of shape (n_components,)
        Eigenvalues ``lambda`` of ``C v = lambda D v``, in descending order.
    canonical_correlations_ : ndarray of shape (n_components,)
        Per component, the correlation of the training variates averaged over
        all pairs of modalities (under the regularised covariance). For two
        modalities these are :class:`CCA`'s canonical correlations.
    weights_ : dict of str to ndarray of shape (n_features_m, n_components)
        Direction of each modality, applied to
        ``(X_m - mean_[m]) / scale_[m]``.
    mean_ : dict of str to ndarray of shape (n_features_m,)
        Per-feature mean of each modality.
    scale_ : dict of str to ndarray of shape (n_features_m,)
        Per-feature standard deviation with ``scale=True``, else ones.
    n_components_ : int
        Width of the shared space.
    modalities_ : list of str
        The modalities, in block order of ``X`` at fit.
    n_features_in_ : int
        Number of feature columns of the modalities.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Their column names.
    feature_names_per_modality_ : dict of str to ndarray
        Column names of each modality.

    See Also
    --------
    CCA : The two-modality case, with ``partial_fit`` and automatic shrinkage.
    KernelCCA : Kernel CCA of two modalities.

    Notes
    -----
    The cost is one pass over the data for the joint covariance, one
    eigendecomposition per modality to whiten it and one of the whitened joint
    matrix (of the size of the total rank): no iteration.

    References
    ----------
    Carroll, J. D. (1968). Generalization of canonical correlation analysis to
    three or more sets of variables. Proceedings of the 76th Annual Convention
    of the American Psychological Association, 227-228.

    Kettenring, J. R. (1971). Canonical analysis of several sets of variables.
    Biometrika, 58(3), 433-451.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame
    >>> from skcrossmodal.mapping import MCCA
    >>> rng = np.random.default_rng(0)
    >>> shared = rng.normal(size=(100, 1))
    >>> X = make_frame(**{m: shared + 0.1 * rng.normal(size=(100, 3))
    ...                   for m in ("text", "image", "audio")})
    >>> mcca = MCCA(n_components=1).fit(X)
    >>> mcca.canonical_correlations_.round(2)
    array([1.])
    >>> list(mcca.transform(X[["audio__0", "audio__1", "audio__2"]]).columns)
    ['audio__mcca0']
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "reg": [Interval(Real, 0, 1, closed="left")],
        "scale": ["boolean"],
        "modalities": [None, tuple, list],
    }
    _exactly_two = False

    def __init__(self, n_components=2, *, reg=0.0, scale=False, modalities=None):
        self.n_components = n_components
        self.reg = reg
        self.scale = scale
        self.modalities = modalities

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit one direction per modality and component.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_features)
            Modality table with at least two modalities (see ``modalities``).
        y : None
            Ignored.

        Returns
        -------
        self : MCCA
            Fitted estimator.
        """
        if is_dask_collection(X):
            return fit_from_dask(self, X)
        blocks = validate_paired_blocks(
            self, X, reset=True, exactly_two=False, check_finite=False
        )
        moments = centred_moments(
            list(blocks.values()), False, estimator=self, modalities=list(blocks)
        )
        return self._solve(moments)

    def _solve(self, moments):
        """Fit from the joint moments of the fitted blocks (``fit`` and Dask)."""
        blocks = {m: self.feature_names_per_modality_[m] for m in self.modalities_}
        n_samples = moments["n"]
        mean = moments["mean"]
        covariance = moments["m11"] / (n_samples - 1)
        std = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
        # A feature constant up to the rounding of its mean gets exactly zero
        # (co)variance, so that the whitening treats it as a null direction.
        constant = constant_features(std, mean, n_samples)
        covariance[constant, :] = 0.0
        covariance[:, constant] = 0.0
        if self.scale:
            scale = np.where(constant | (std == 0), 1.0, std)
            covariance /= np.outer(scale, scale)
        else:
            scale = np.ones_like(std)
        if self.reg:
            covariance = shrink_toward_diagonal(covariance, self.reg)
        edges = np.cumsum([0] + [len(names) for names in blocks.values()])
        spans = [
            slice(start, stop)
            for start, stop in zip(edges[:-1], edges[1:], strict=True)
        ]
        whitenings = [whitening(covariance[span, span]) for span in spans]
        ranks = [w.shape[1] for w in whitenings]
        check_n_components(
            self,
            self.n_components,
            min(ranks),
            "the smallest numerical rank of the modality covariances: "
            + ", ".join(f"{m!r} ({r})" for m, r in zip(blocks, ranks, strict=True))
            + f", after {n_samples} samples",
        )
        joint_whitening = linalg.block_diag(*whitenings)
        whitened = joint_whitening.T @ covariance @ joint_whitening
        k = self.n_components
        eigenvalues, eigenvectors = top_eigh(whitened, k)

        rank_edges = np.cumsum([0] + ranks)
        weights = []
        for w, start, stop in zip(
            whitenings, rank_edges[:-1], rank_edges[1:], strict=True
        ):
            part = eigenvectors[start:stop]
            # W.T C_mm W = I: the variance of a variate is the squared norm of
            # its part of the eigenvector.
            norms = np.linalg.norm(part, axis=0)
            scaled = np.zeros_like(part)
            np.divide(part, norms, out=scaled, where=norms > 0)
            weights.append(w @ scaled)
        weights = flip_signs(*weights)

        pair_correlations = [
            np.einsum(
                "ik,ij,jk->k", weights[i], covariance[spans[i], spans[j]], weights[j]
            )
            for i, j in combinations(range(len(weights)), 2)
        ]
        self.n_components_ = k
        self.eigenvalues_ = eigenvalues
        self.canonical_correlations_ = np.mean(pair_correlations, axis=0)
        self.weights_ = dict(zip(blocks, weights, strict=True))
        self.mean_ = {m: mean[span] for m, span in zip(blocks, spans, strict=True)}
        self.scale_ = {m: scale[span] for m, span in zip(blocks, spans, strict=True)}
        return self

    def _embed(self, blocks):
        return {
            modality: (block - as_dtype_of(self.mean_[modality], block))
            @ as_dtype_of(
                self.weights_[modality] / self.scale_[modality][:, None], block
            )
            for modality, block in blocks.items()
        }
