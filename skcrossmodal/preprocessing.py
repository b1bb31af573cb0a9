"""Preprocessing that keeps the modality blocks of a table."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._estimator import fit_context
from ._frame import BlockOutputMixin, validate_blocks

__all__ = ["BlockScaler"]

_FLOAT_DTYPES = (np.float64, np.float32)


class BlockScaler(BlockOutputMixin, TransformerMixin, BaseEstimator):
    """Standardise the features of each modality block, keeping the blocks.

    Each feature is centred and divided by its standard deviation, exactly as
    :class:`sklearn.preprocessing.StandardScaler` does on the whole table,
    but the output is a modality table with the input's column names, and
    ``transform`` accepts *partial rows*: a table with only some of the
    fitted blocks (a text-only query) is scaled block by block. A
    ``StandardScaler`` between a :class:`~skcrossmodal.compose.ModalityUnion`
    and a mapper would instead return a bare array (losing the block names)
    and refuse a table with fewer columns than it was fitted on.

    Parameters
    ----------
    with_mean : bool, default=True
        Whether to centre each feature.
    with_std : bool, default=True
        Whether to divide each feature by its standard deviation (population
        standard deviation, as ``StandardScaler``). A feature of zero
        variance (up to rounding, the rule of ``StandardScaler``) is left
        unscaled.
    modalities : list of str, default=None
        The blocks to fit and scale; None uses every block of the training
        table. At ``transform`` time the table may hold any subset of them.

    Attributes
    ----------
    mean_ : dict of str to ndarray of shape (n_features_m,)
        Per-feature mean of each block (zeros with ``with_mean=False``).
    scale_ : dict of str to ndarray of shape (n_features_m,)
        Per-feature scale of each block: its standard deviation, or ones
        (with ``with_std=False`` or for a constant feature).
    var_ : dict of str to ndarray of shape (n_features_m,)
        Per-feature variance of each block.
    n_samples_seen_ : int
        Number of training rows.
    modalities_ : list of str
        The fitted blocks, in block order.
    n_features_in_ : int
        Number of feature columns of those blocks.
    feature_names_in_ : ndarray of str
        Their column names.
    feature_names_per_modality_ : dict of str to ndarray
        Column names of each block.

    See Also
    --------
    sklearn.preprocessing.StandardScaler : The same scaling of a bare array.

    Notes
    -----
    Float32 blocks stay float32 (their statistics are computed in float64);
    other numeric blocks become float64. Non-finite values raise a
    ValueError naming their row and column, unless scikit-learn's
    ``assume_finite`` is set.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame
    >>> from skcrossmodal.preprocessing import BlockScaler
    >>> X = make_frame(text=np.array([[0.0, 1.0], [2.0, 3.0]]),
    ...                image=np.array([[10.0], [30.0]]))
    >>> scaler = BlockScaler().fit(X)
    >>> scaler.transform(X[["image__0"]])
       image__0
    0      -1.0
    1       1.0
    >>> list(scaler.transform(X).columns)
    ['text__0', 'text__1', 'image__0']
    """

    _parameter_constraints: dict = {
        "with_mean": ["boolean"],
        "with_std": ["boolean"],
        "modalities": [None, list, tuple],
    }

    def __init__(self, *, with_mean=True, with_std=True, modalities=None):
        self.with_mean = with_mean
        self.with_std = with_std
        self.modalities = modalities

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute the mean and standard deviation of each block's features.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table.
        y : None
            Ignored.

        Returns
        -------
        self : BlockScaler
            Fitted scaler.
        """
        required = None if self.modalities is None else list(self.modalities)
        blocks = validate_blocks(
            self, X, reset=True, required=required, dtype=_FLOAT_DTYPES
        )
        n_samples = X.shape[0]
        means, variances, scales = {}, {}, {}
        for modality, block in blocks.items():
            mean = block.mean(axis=0, dtype=np.float64)
            centred = block - mean
            variance = np.einsum("ij,ij->j", centred, centred) / n_samples
            # StandardScaler's rule for a constant feature: a variance within
            # the rounding of the computation (_is_constant_feature in
            # sklearn/preprocessing/_data.py).
            eps = np.finfo(np.float64).eps
            constant = variance <= (
                n_samples * eps * variance + (n_samples * mean * eps) ** 2
            )
            scale = np.sqrt(variance)
            scale[constant] = 1.0
            means[modality] = mean if self.with_mean else np.zeros_like(mean)
            variances[modality] = variance
            scales[modality] = scale if self.with_std else np.ones_like(scale)
        self.mean_, self.var_, self.scale_ = means, variances, scales
        self.n_samples_seen_ = n_samples
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _blocks(self, X):
        check_is_fitted(self)
        return validate_blocks(self, X, reset=False, dtype=_FLOAT_DTYPES)

    def _frame(self, X, blocks, function):
        columns, names = [], []
        for modality, block in blocks.items():
            mean = self.mean_[modality].astype(block.dtype, copy=False)
            scale = self.scale_[modality].astype(block.dtype, copy=False)
            columns.append(function(block, mean, scale))
            names.extend(self.feature_names_per_modality_[modality])
        frame = pd.DataFrame(np.hstack(columns), columns=names, index=X.index)
        return self._finish_output(frame)

    def transform(self, X):
        """Standardise the blocks present in X.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table; fitted blocks may be absent.

        Returns
        -------
        X_scaled : pandas.DataFrame
            The present fitted blocks, scaled, with their column names.
        """
        return self._frame(
            X, self._blocks(X), lambda block, mean, scale: (block - mean) / scale
        )

    def inverse_transform(self, X):
        """Undo the scaling of the blocks present in X.

        Parameters
        ----------
        X : pandas.DataFrame
            Scaled modality table; fitted blocks may be absent.

        Returns
        -------
        X_original : pandas.DataFrame
            The present fitted blocks in their original units.
        """
        return self._frame(
            X, self._blocks(X), lambda block, mean, scale: block * scale + mean
        )

    def get_feature_names_out(self, input_features=None):
        """The fitted column names, unchanged.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored; present for API consistency.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        return np.asarray(self.feature_names_in_, dtype=object)
