"""Fitting the moment-based mappers from a Dask DataFrame (docs/scaling.md).

:class:`CCA`, :class:`MCCA`, :class:`PLS`, :class:`RidgeMapper` and the Nyström
path of :class:`KernelCCA` solve from sufficient statistics of the joint data
(of the Nyström features, for KernelCCA): the row count, the mean and the
centred cross-products. From a Dask DataFrame each partition's statistics are
computed on the workers, merged pairwise in a tree by exact mean shifts (the
merge of ``CCA.partial_fit``, :func:`~skcrossmodal.mapping._linalg.merge_moments`)
and only the merged statistics, ``n_features ** 2`` floats, reach the client,
which solves the small eigenproblem. ``transform`` of a Dask DataFrame is
lazy, partition by partition, with the fitted model shipped once per worker.

Dask is imported only when a Dask collection arrives (see
:mod:`skcrossmodal._dask`).
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import numpy as np
import pandas as pd
from sklearn.base import clone

from .._dask import (
    check_dask_dataframe,
    import_dask,
    is_dask_collection,
    map_partitions,
    on_partition,
    tree_reduce,
)
from .._frame import validate_blocks

__all__ = ["fit_from_dask", "is_dask_collection", "transform_dask"]

# The attributes a partition's validation needs (set by validate_blocks).
_VALIDATION_ATTRIBUTES = (
    "modalities_",
    "_modalities_seen_in_fit",
    "feature_names_per_modality_",
    "feature_names_in_",
    "n_features_in_",
)


def fit_from_dask(estimator, X):
    """Fit a moment-based mapper from the partitions of a Dask DataFrame.

    Called by ``fit`` (inside its ``fit_context``, so a failed distributed fit
    leaves the previous state intact) when ``X`` is a Dask collection.

    Parameters
    ----------
    estimator : CCA, KernelCCA (Nyström), MCCA, PLS or RidgeMapper
        The estimator being fitted.
    X : dask.dataframe.DataFrame
        Modality table, partitioned by rows.

    Returns
    -------
    estimator : the fitted estimator
    """
    from ._cca import CCA
    from ._kernel_cca import KernelCCA
    from ._linear import RidgeMapper
    from ._mcca import MCCA
    from ._pls import PLS

    check_dask_dataframe(X, estimator)
    fitters = {
        CCA: _fit_cca,
        KernelCCA: _fit_kernel_cca,
        MCCA: _fit_mcca,
        PLS: _fit_pls,
        RidgeMapper: _fit_ridge,
    }
    fitter = fitters.get(type(estimator))
    if fitter is None:
        raise TypeError(f"{type(estimator).__name__} cannot be fitted from Dask.")
    return fitter(estimator, X)


def transform_dask(estimator, X):
    """Map the blocks of a Dask DataFrame into the shared space, lazily.

    The columns are checked on the client (from ``X``'s meta); each
    partition's values (dtypes, finiteness) on the worker that maps it, with
    an error naming the partition.

    Parameters
    ----------
    estimator : fitted shared-space mapper
    X : dask.dataframe.DataFrame

    Returns
    -------
    X_shared : dask.dataframe.DataFrame
        The blocks ``<modality>__<mapper><k>`` of ``transform``, in its dtype, with
        ``X``'s partitions and index; nothing is computed.
    """
    check_dask_dataframe(X, estimator)
    estimator._check_fitted()
    present = validate_blocks(
        estimator,
        X._meta,
        reset=False,
        ensure_min_samples=0,
        dtype=estimator._embed_dtype,
    )
    names = [name for m in present for name in estimator._shared_names(m)]
    # The dtype of the in-memory transform: float32 blocks stay float32.
    dtype = np.result_type(*(block.dtype for block in present.values()))
    meta = pd.DataFrame(np.zeros((0, len(names)), dtype=dtype), columns=names)
    return map_partitions(X, _transform_partition, estimator, meta=meta, empty=meta)


def _transform_partition(partition, estimator, empty):
    blocks = validate_blocks(
        estimator,
        partition,
        reset=False,
        ensure_min_samples=0,
        dtype=estimator._embed_dtype,
    )
    if len(partition) == 0:
        # No rows map to no rows (KernelCCA's Nystroem maps refuse zero rows).
        return empty.set_axis(partition.index)
    return estimator._shared_frame(estimator._embed(blocks), index=partition.index)


def _validated_spec(estimator, X, validate):
    """Validate ``X``'s columns (its meta) on the estimator; return a light copy.

    ``validate(estimator, frame)`` is the estimator's own fit-time validation
    (``reset=True``); run on the empty meta frame it checks the block names
    and dtypes and records the fitted columns. The copy carries only those
    attributes, for the workers to validate their partitions against.
    """
    validate(estimator, X._meta)
    spec = clone(estimator)
    for name in _VALIDATION_ATTRIBUTES:
        setattr(spec, name, getattr(estimator, name))
    return spec


def _paired_spec(estimator, X, *, exactly_two):
    """:func:`_validated_spec` for the paired mappers (CCA, KernelCCA, MCCA, PLS)."""
    from ._base import validate_paired_blocks

    return _validated_spec(
        estimator,
        X,
        lambda e, frame: validate_paired_blocks(
            e, frame, reset=True, exactly_two=exactly_two, ensure_min_samples=0
        ),
    )


def _fitted_blocks(partition, spec, **options):
    """A partition's blocks, validated on ``spec``; every fitted one is required."""
    blocks = validate_blocks(
        spec, partition, reset=False, ensure_min_samples=0, **options
    )
    missing = [m for m in spec.modalities_ if m not in blocks]
    if missing:
        raise ValueError(f"the partition lacks the modalities {missing}.")
    return blocks


def _partition_moments(partition, spec, fourth):
    """Joint moments of one partition's fitted blocks, or None if it is empty."""
    from ._base import check_squares_finite
    from ._linalg import centred_moments

    blocks = _fitted_blocks(partition, spec)
    if len(partition) == 0:
        return None
    check_squares_finite(spec, blocks)
    return centred_moments([blocks[m] for m in spec.modalities_], fourth)


def _merge_all(parts):
    """Merge the moments of several partitions (None for an empty one)."""
    from ._linalg import merge_moments

    parts = [part for part in parts if part is not None]
    if not parts:
        return None
    merged = parts[0]
    for part in parts[1:]:
        merged = merge_moments(merged, part)
    return merged


def _per_partition(X, function, *args):
    """One Delayed ``on_partition(partition, function, *args)`` per partition."""
    dask = import_dask("fitting from a Dask DataFrame")
    task = dask.delayed(on_partition, pure=True)
    return [
        task(part, function, *args, partition_info={"number": number})
        for number, part in enumerate(X.to_delayed())
    ]


def _reduce_moments(
    estimator, X, spec, *, fourth=False, min_samples=2, with_lengths=False
):
    """Merged joint moments of ``spec.modalities_`` over all partitions.

    With ``with_lengths``, also each partition's row count, from the same pass
    (one ``compute``, so each partition is read once).
    """
    dask = import_dask("fitting from a Dask DataFrame")
    shared = dask.delayed(spec, pure=True)
    parts = _per_partition(X, _partition_moments, shared, fourth)
    lengths = (
        [dask.delayed(len)(part) for part in X.to_delayed()] if with_lengths else []
    )
    moments, *lengths = dask.compute(tree_reduce(parts, _merge_all), *lengths)
    n_samples = 0 if moments is None else moments["n"]
    if n_samples < min_samples:
        raise ValueError(
            f"{type(estimator).__name__} needs at least {min_samples} samples, got "
            f"{n_samples} sample(s) in the {X.npartitions} partitions."
        )
    if not all(np.all(np.isfinite(value)) for value in moments.values()):
        raise ValueError(
            f"{type(estimator).__name__}: the cross-products of the partitions "
            "overflow float64. Divide the blocks by a constant first."
        )
    if with_lengths:
        return moments, np.asarray(lengths, dtype=np.int64)
    return moments


def _spans(estimator):
    """Slices of each fitted modality in the joint moments, in fitted order."""
    sizes = [
        len(estimator.feature_names_per_modality_[m]) for m in estimator.modalities_
    ]
    edges = np.cumsum([0, *sizes])
    return {
        m: slice(int(start), int(stop))
        for m, start, stop in zip(
            estimator.modalities_, edges[:-1], edges[1:], strict=True
        )
    }


def _fit_cca(estimator, X):
    if estimator.solver == "gram":
        raise ValueError(
            "CCA(solver='gram') needs all rows in one process; a Dask DataFrame "
            "is fitted from its cross-products: use solver='auto' or 'covariance'."
        )
    spec = _paired_spec(estimator, X, exactly_two=True)
    moments = _reduce_moments(estimator, X, spec, fourth=estimator.reg == "auto")
    estimator._solve(moments, low_rank="raise")
    return estimator


def _fit_mcca(estimator, X):
    spec = _paired_spec(estimator, X, exactly_two=False)
    moments = _reduce_moments(estimator, X, spec)
    return estimator._solve(moments)


def _fit_kernel_cca(estimator, X):
    """KernelCCA's Nyström path: three passes over the partitions.

    1. the blocks' moments give the row count and, with ``scale=True``, the
       feature scales; 2. the landmark rows (drawn by global row position, as
       in memory) are gathered to the client, which fits the Nyström maps;
    3. the moments of the Nyström features are reduced on the workers, and
       the client solves the small ridge CCA.
    """
    if estimator.n_landmarks is None:
        raise ValueError(
            "KernelCCA on a Dask DataFrame needs its Nyström path (n_landmarks=m): "
            "the exact solver needs every row's kernel in one process."
        )
    spec = _paired_spec(estimator, X, exactly_two=True)
    for modality in estimator.modalities_:
        gamma = estimator._gamma_of(modality)
        if isinstance(gamma, str) and gamma == "scale":
            raise ValueError(
                "KernelCCA on a Dask DataFrame cannot use gamma='scale' (it measures "
                f"pairwise distances of rows, for modality {modality!r}): give gamma "
                "a number, e.g. the gamma_ of an in-memory fit on a sample."
            )
    moments, lengths = _reduce_moments(estimator, X, spec, with_lengths=True)
    n_samples = moments["n"]
    if estimator.n_landmarks > n_samples:
        raise ValueError(
            f"n_landmarks={estimator.n_landmarks} exceeds the {n_samples} training "
            "samples the landmarks are drawn from."
        )
    spans = _spans(estimator)
    std = np.sqrt(np.clip(np.diag(moments["m11"]), 0.0, None) / (n_samples - 1))
    estimator.scale_ = {
        m: estimator._feature_scale(std[span], moments["mean"][span], n_samples)
        for m, span in spans.items()
    }
    landmarks = estimator._draw_landmarks(n_samples)
    rows = _rows_at(X, landmarks, lengths)
    landmark_blocks = validate_blocks(
        spec, rows, reset=False, dtype=np.float64, ensure_min_samples=0
    )
    checked = estimator._set_kernels(estimator._scaled(landmark_blocks))
    maps = estimator._nystroem_maps(checked)

    dask = import_dask("fitting from a Dask DataFrame")
    shared = dask.delayed((spec, estimator, maps), pure=True)
    parts = _per_partition(X, _partition_nystroem_moments, shared)
    (features,) = dask.compute(tree_reduce(parts, _merge_all))
    width = estimator.n_landmarks
    a, b = slice(0, width), slice(width, 2 * width)
    m11 = features["m11"]
    solution = estimator._nystroem_solution(m11[a, a], m11[b, b], m11[a, b], n_samples)
    a_name, b_name = estimator.modalities_
    state = {
        "landmark_indices_": landmarks,
        "nystroem_": maps,
        "mean_": {a_name: features["mean"][a], b_name: features["mean"][b]},
    }
    return estimator._publish(solution, state, n_samples)


def _rows_at(X, positions, lengths):
    """The rows of ``X`` at global ``positions`` (sorted), as one pandas frame.

    ``lengths`` are the partitions' row counts.
    """
    dask = import_dask("fitting from a Dask DataFrame")
    edges = np.concatenate([[0], np.cumsum(lengths)])
    parts = []
    for number, part in enumerate(X.to_delayed()):
        local = positions[
            (positions >= edges[number]) & (positions < edges[number + 1])
        ]
        if local.size:
            parts.append(part.iloc[local - edges[number]])
    return pd.concat(dask.compute(*parts))


def _partition_nystroem_moments(partition, shared):
    """Moments of one partition's Nyström features, or None if it is empty."""
    from ._linalg import centred_moments

    spec, estimator, maps = shared
    blocks = _fitted_blocks(partition, spec, dtype=np.float64)
    if len(partition) == 0:
        return None
    scaled = estimator._scaled(blocks)
    features = [
        estimator._nystroem_features(maps, m, estimator._kernel_input(m, scaled[m]))
        for m in estimator.modalities_
    ]
    return centred_moments(features, False)


def _fit_pls(estimator, X):
    spec = _paired_spec(estimator, X, exactly_two=True)
    moments = _reduce_moments(estimator, X, spec)
    return estimator._solve(moments)


def _fit_ridge(estimator, X):
    """RidgeMapper's covariance path; the leave-one-out errors are a second pass."""
    from ._base import validate_source_target

    dask = import_dask("fitting from a Dask DataFrame")
    spec = _validated_spec(
        estimator,
        X,
        lambda e, frame: validate_source_target(
            e, frame, reset=True, ensure_min_samples=0
        ),
    )
    moments = _reduce_moments(estimator, X, spec)

    def loo_sums(eigensystem):
        shared = dask.delayed((spec, eigensystem), pure=True)
        parts = _per_partition(
            X, _partition_loo_sums, shared, estimator._alphas(), estimator.fit_intercept
        )
        (sums,) = dask.compute(tree_reduce(parts, _sum_all))
        return sums

    return estimator._solve(moments, loo_sums)


def _partition_loo_sums(partition, shared, alphas, fit_intercept):
    """Sums of squared leave-one-out residuals of one partition, per alpha."""
    from ._linear import _ridge_loo_sums

    spec, eigensystem = shared
    blocks = _fitted_blocks(partition, spec)
    return _ridge_loo_sums(
        eigensystem, blocks[spec.source], blocks[spec.target], alphas, fit_intercept
    )


def _sum_all(parts):
    return np.sum(parts, axis=0)
