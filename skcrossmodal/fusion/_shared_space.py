"""Shared-space fusion: a weighted sum of aligned modality blocks."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._estimator import fit_context
from .._frame import SEPARATOR, BlockOutputMixin, validate_blocks
from ._late import check_modality_weights, renormalise_weights


class WeightedSumFusion(BlockOutputMixin, TransformerMixin, BaseEstimator):
    """Fuse the aligned blocks of a shared space into one by a weighted sum.

    A mapper (e.g. :class:`~skcrossmodal.mapping.CCA`) puts every modality in
    one space: blocks of the same width whose column ``k`` means the same
    thing. This transformer returns ``sum_m w_m Z_m`` as one block
    ``fused__0 .. fused__{k-1}``, with the weights normalised to sum to 1
    over the modalities present in X. A row with one modality absent is thus
    fused from the others on the same scale, so a classifier trained on
    fused pairs predicts from either modality alone.

    Parameters
    ----------
    weights : dict, array-like of shape (n_modalities,) or None, default=None
        Weight of each modality: a dict ``{modality: weight}`` covering every
        block seen in ``fit``, or a list in block order. None weights all
        equally (the mean). Non-negative, not all zero.

    Attributes
    ----------
    weights_ : ndarray of shape (n_modalities,)
        The validated weights, in the order of ``modalities_``.
    n_components_ : int
        Width of the shared space (and of the output).
    modalities_ : list of str
        The fused modalities.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Names of those features.
    feature_names_per_modality_ : dict of str to ndarray
        Feature names of each block.

    See Also
    --------
    LateFusionClassifier : Fuse per-modality predictions instead of features.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame
    >>> from skcrossmodal.fusion import WeightedSumFusion
    >>> Z = make_frame(text=[[1.0, 2.0], [3.0, 4.0]], image=[[3.0, 0.0], [1.0, 0.0]])
    >>> fusion = WeightedSumFusion(weights={"text": 3, "image": 1}).fit(Z)
    >>> fusion.transform(Z)
       fused__0  fused__1
    0       1.5       1.5
    1       2.5       3.0
    >>> fusion.transform(Z.filter(like="image__"))
       fused__0  fused__1
    0       3.0       0.0
    1       1.0       0.0
    """

    _parameter_constraints = {"weights": [dict, "array-like", None]}

    def __init__(self, weights=None):
        self.weights = weights

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check that the blocks are aligned and validate the weights.

        Parameters
        ----------
        X : pandas.DataFrame
            Shared-space table: blocks of equal width (a mapper's output).
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        blocks = validate_blocks(self, X, reset=True)
        widths = {m: block.shape[1] for m, block in blocks.items()}
        if len(set(widths.values())) != 1:
            raise ValueError(
                "WeightedSumFusion sums aligned blocks of one shared space, but the "
                f"blocks have different widths {widths}; map them first (e.g. with "
                "skcrossmodal.mapping.CCA)."
            )
        self.n_components_ = next(iter(widths.values()))
        self.weights_ = check_modality_weights(self.weights, self.modalities_)
        return self

    def transform(self, X):
        """Weighted mean of the blocks present in X.

        Parameters
        ----------
        X : pandas.DataFrame
            Shared-space table; fitted blocks may be absent, but not all.

        Returns
        -------
        X_fused : pandas.DataFrame of shape (n_samples, n_components_)
            The block ``fused__0 .. fused__{n_components_ - 1}``.
        """
        check_is_fitted(self)
        blocks = validate_blocks(self, X, reset=False)
        weights = renormalise_weights(self.weights_, self.modalities_, list(blocks))
        fused = np.tensordot(weights, np.stack(list(blocks.values())), axes=1)
        frame = pd.DataFrame(fused, columns=self.get_feature_names_out(), index=X.index)
        return self._finish_output(frame)

    def get_feature_names_out(self, input_features=None):
        """Output names ``fused__0 .. fused__{n_components_ - 1}``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored; present for API consistency.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        return np.asarray(
            [f"fused{SEPARATOR}{k}" for k in range(self.n_components_)], dtype=object
        )
