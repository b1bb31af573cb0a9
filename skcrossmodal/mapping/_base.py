"""The shared-space contract every mapper follows (architecture.md §4)."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

from itertools import combinations

import numpy as np
import pandas as pd
from sklearn import config_context
from sklearn.base import TransformerMixin
from sklearn.metrics import r2_score
from sklearn.utils.validation import check_is_fitted

from .._frame import SEPARATOR, BlockOutputMixin, validate_blocks
from ._distributed import is_dask_collection, transform_dask

# Mappers keep float32 blocks as float32 (their statistics are accumulated in
# float64) and convert any other numeric block to float64.
FLOAT_DTYPES = (np.float64, np.float32)


class SharedSpaceMixin(BlockOutputMixin, TransformerMixin):
    """Mixin for mappers whose ``transform`` lands every modality in one space.

    A subclass fits itself, sets ``n_components_`` (the width of the shared
    space) and implements ``_embed(blocks) -> {modality: ndarray}`` for the
    blocks present. This mixin then provides ``transform`` (partial rows
    allowed), ``get_feature_names_out`` and the output naming
    ``<modality>__<prefix><k>``, where ``prefix`` is the lower-cased class name.
    """

    # The dtypes transform passes to _embed (see validate_blocks); a mapper
    # that embeds float32 blocks as float32 sets FLOAT_DTYPES.
    _embed_dtype = np.float64

    def _embed(self, blocks):  # pragma: no cover - abstract
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        dtypes = self._embed_dtype
        dtypes = dtypes if isinstance(dtypes, tuple) else (dtypes,)
        tags.transformer_tags.preserves_dtype = [np.dtype(d).name for d in dtypes]
        return tags

    def _check_fitted(self):
        """Raise NotFittedError unless the mapper can embed; a hook for messages."""
        check_is_fitted(self)

    @property
    def _shared_prefix(self):
        return type(self).__name__.lower()

    def _shared_names(self, modality):
        return [
            f"{modality}{SEPARATOR}{self._shared_prefix}{k}"
            for k in range(self.n_components_)
        ]

    def _shared_frame(self, embeddings, index=None):
        """Place embeddings side by side as one block per modality."""
        columns, names = [], []
        for modality, embedding in embeddings.items():
            columns.append(np.asarray(embedding))
            names.extend(self._shared_names(modality))
        return pd.DataFrame(np.hstack(columns), columns=names, index=index)

    def transform(self, X):
        """Map the modality blocks present in X into the shared space.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table; blocks the mapper was fitted on may be absent.

        Returns
        -------
        X_shared : pandas.DataFrame of shape (n_samples, n_present * n_components_)
            One block ``<modality>__<mapper><k>`` per present modality, all in
            the same space and comparable by cosine or dot product. The
            closed-form mappers embed a float32 block as float32.
        """
        if is_dask_collection(X):
            return transform_dask(self, X)
        self._check_fitted()
        blocks = validate_blocks(self, X, reset=False, dtype=self._embed_dtype)
        shared = self._shared_frame(self._embed(blocks), index=X.index)
        return self._finish_output(shared)

    def get_feature_names_out(self, input_features=None):
        """Output names: one shared-space block per fitted modality.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored; present for API consistency.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        self._check_fitted()
        return np.asarray(
            [name for m in self.modalities_ for name in self._shared_names(m)],
            dtype=object,
        )


def validate_source_target(
    estimator, X, *, reset, ensure_min_samples=2, dtype=FLOAT_DTYPES
):
    """Blocks for a ``source`` -> ``target`` mapper (both required at fit).

    The one validation entry of the directed mappers (RidgeMapper,
    ProcrustesMapper, KNNMapper, MLPMapper): at fit time it rejects
    ``source == target`` and requires both blocks; at transform time either
    block may be absent.
    """
    if reset:
        if estimator.source == estimator.target:
            raise ValueError(
                f"{type(estimator).__name__} maps one modality to another, but "
                f"source and target are both {estimator.source!r}."
            )
        return validate_blocks(
            estimator,
            X,
            reset=True,
            required=[estimator.source, estimator.target],
            min_modalities=2,
            ensure_min_samples=ensure_min_samples,
            dtype=dtype,
        )
    return validate_blocks(estimator, X, reset=False, dtype=dtype)


def validate_paired_blocks(
    estimator,
    X,
    *,
    reset,
    exactly_two,
    ensure_min_samples=2,
    dtype=FLOAT_DTYPES,
    check_finite=True,
):
    """Return the fitted modality blocks of X, all of them, in fitted order.

    The validation shared by the mappers that relate paired blocks and so need
    every fitted modality at fit and score time (``transform`` alone accepts
    partial rows). ``estimator.modalities`` (None or a list of names) chooses
    the blocks at fit time; ``exactly_two`` requires two of them, else at
    least two. Float32 blocks stay float32 (``dtype``). ``check_finite=False``
    leaves the finite check to the caller (which fuses it into its own pass
    over the data and honours ``assume_finite`` itself).
    """
    if not check_finite:
        with config_context(assume_finite=True):
            return validate_paired_blocks(
                estimator,
                X,
                reset=reset,
                exactly_two=exactly_two,
                ensure_min_samples=ensure_min_samples,
                dtype=dtype,
            )
    name = type(estimator).__name__
    if not reset:
        blocks = validate_blocks(
            estimator,
            X,
            reset=False,
            ensure_min_samples=ensure_min_samples,
            dtype=dtype,
        )
        missing = [m for m in estimator.modalities_ if m not in blocks]
        if missing:
            raise ValueError(
                f"{name} needs all of its modalities {estimator.modalities_} here, "
                f"but X lacks {missing}."
            )
        return blocks
    required = estimator.modalities
    if required is not None:
        required = list(required)
        if (
            len(required) < 2
            or (exactly_two and len(required) != 2)
            or not all(isinstance(m, str) for m in required)
            or len(set(required)) != len(required)
        ):
            expected = "two" if exactly_two else "at least two"
            raise ValueError(
                f"modalities must be None or {expected} distinct modality names, "
                f"got {estimator.modalities!r}."
            )
    blocks = validate_blocks(
        estimator,
        X,
        reset=True,
        required=required,
        min_modalities=2,
        ensure_min_samples=ensure_min_samples,
        dtype=dtype,
    )
    if exactly_two and len(blocks) != 2:
        raise ValueError(
            f"{name} relates two modalities but X has {len(blocks)}: "
            f"{list(blocks)}. Choose two with modalities=(a, b)."
        )
    return blocks


def check_squares_finite(estimator, blocks):
    """Raise a ValueError naming a block whose squares would overflow float64.

    Covariances, Gram and kernel matrices sum products of entries; a block
    whose largest magnitude exceeds ``sqrt(float64 max / block.size)`` could
    overflow them to inf (and then to NaN in LAPACK), so it is refused, with
    its modality and the cause, before any product is formed.

    Parameters
    ----------
    estimator : estimator instance
        Used in the message.
    blocks : dict of str to ndarray
        Finite float64 or float32 blocks, by modality.
    """
    for modality, block in blocks.items():
        if block.size == 0:
            continue
        # 4: a squared distance |x - y|^2 is at most 4 max(|x|, |y|)^2.
        limit = np.sqrt(np.finfo(np.float64).max / (4 * block.size))
        peak = float(max(block.max(), -block.min()))
        if peak > limit:
            raise ValueError(
                f"{type(estimator).__name__}: modality {modality!r} has values up to "
                f"{peak:.3g} in magnitude, whose squares summed over its "
                f"{block.shape[0]} x {block.shape[1]} entries overflow float64 (the "
                f"safe limit is {limit:.3g}). Divide the block by a constant first."
            )


def mean_paired_correlation(variates):
    """Pearson correlation of paired variates, averaged over pairs and components.

    ``variates`` is a list of arrays of shape (n_samples, n_components), one per
    modality. For each component the correlation of every pair of modalities
    is taken; a constant variate counts as correlation 0.
    """
    variates = [np.asarray(v, dtype=np.float64) for v in variates]
    centred = [v - v.mean(axis=0) for v in variates]
    norms = [np.linalg.norm(v, axis=0) for v in centred]
    correlations = []
    for i, j in combinations(range(len(centred)), 2):
        covariance = np.einsum("ij,ij->j", centred[i], centred[j])
        denominator = norms[i] * norms[j]
        correlation = np.zeros_like(covariance)
        np.divide(covariance, denominator, out=correlation, where=denominator > 0)
        correlations.append(correlation)
    return float(np.mean(correlations))


def score_prediction(estimator, X):
    """R² of the mapped source against the target block of the same rows.

    The ``score`` of the directed (``source`` -> ``target``) mappers:
    ``estimator._embed`` maps both blocks into the shared space, and the
    mapped source is scored against the target as
    :meth:`sklearn.linear_model.Ridge.score` scores predictions (R², averaged
    uniformly over the shared dimensions).
    """
    check_is_fitted(estimator)
    blocks = validate_blocks(estimator, X, reset=False, dtype=estimator._embed_dtype)
    missing = [m for m in (estimator.source, estimator.target) if m not in blocks]
    if missing:
        raise ValueError(
            f"{type(estimator).__name__}.score needs both the source and the target "
            f"block; X lacks {missing}."
        )
    embedded = estimator._embed(blocks)
    return float(r2_score(embedded[estimator.target], embedded[estimator.source]))


class PairedMapperMixin(SharedSpaceMixin):
    """Mixin for the mappers of paired blocks: CCA, KernelCCA, MCCA and PLS.

    They relate every fitted modality (two, or with ``_exactly_two = False``
    at least two) and are all scored the same way, by the mean correlation of
    the paired variates (:func:`mean_paired_correlation`).
    """

    _exactly_two = True
    _embed_dtype = FLOAT_DTYPES

    def score(self, X, y=None):
        """Mean correlation of the paired variates of X.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_features)
            Modality table with all fitted modalities.
        y : None
            Ignored.

        Returns
        -------
        score : float
            Pearson correlation of the variates of every pair of modalities,
            per component, averaged over pairs and components. A constant
            variate counts as correlation 0. In [-1, 1], higher is better.
        """
        self._check_fitted()
        blocks = validate_paired_blocks(
            self, X, reset=False, exactly_two=self._exactly_two, ensure_min_samples=2
        )
        return mean_paired_correlation(list(self._embed(blocks).values()))


def as_dtype_of(array, block):
    """``array`` (fitted float64 weights or offsets) in the dtype of ``block``.

    A float32 block is embedded in float32; no copy when the dtypes agree.
    """
    return np.asarray(array, dtype=block.dtype)
