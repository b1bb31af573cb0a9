"""Fitting the moment-based mappers from a Dask DataFrame (docs/scaling.md).

:class:`CCA`, :class:`MCCA`, :class:`PLS` and :class:`RidgeMapper` solve from
sufficient statistics of the joint data: the row count, the mean and the
centred cross-products. From a Dask DataFrame each partition's statistics are
computed on the workers, merged pairwise in a tree by exact mean shifts (the
merge of ``CCA.partial_fit``, :func:`~skcrossmodal.mapping._cca._merge_moments`)
and only the merged statistics, ``n_features ** 2`` floats, reach the client,
which solves the small eigenproblem. ``transform`` of a Dask DataFrame is
lazy, partition by partition, with the fitted model shipped once per worker.

Dask is imported only when a Dask collection arrives (see
:mod:`skcrossmodal._dask`).
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

from itertools import combinations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.extmath import svd_flip

from .._dask import (
    check_dask_dataframe,
    import_dask,
    is_dask_collection,
    map_partitions,
    on_partition,
    tree_reduce,
)
from .._frame import check_n_components, validate_blocks

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
    estimator : CCA, MCCA, PLS or RidgeMapper
        The estimator being fitted.
    X : dask.dataframe.DataFrame
        Modality table, partitioned by rows.

    Returns
    -------
    estimator : the fitted estimator
    """
    from ._cca import CCA
    from ._linear import RidgeMapper
    from ._mcca import MCCA
    from ._pls import PLS

    check_dask_dataframe(X, estimator)
    fitters = {CCA: _fit_cca, MCCA: _fit_mcca, PLS: _fit_pls, RidgeMapper: _fit_ridge}
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
        The blocks ``<modality>__<mapper><k>`` of ``transform``, float64, with
        ``X``'s partitions and index; nothing is computed.
    """
    check_dask_dataframe(X, estimator)
    estimator._check_fitted()
    present = validate_blocks(estimator, X._meta, reset=False, ensure_min_samples=0)
    names = [name for m in present for name in estimator._shared_names(m)]
    meta = pd.DataFrame(np.zeros((0, len(names))), columns=names)
    return map_partitions(X, _transform_partition, estimator, meta=meta)


def _transform_partition(partition, estimator):
    blocks = validate_blocks(estimator, partition, reset=False, ensure_min_samples=0)
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


def _partition_moments(partition, spec, fourth):
    """Joint moments of one partition's fitted blocks, or None if it is empty."""
    from ._base import check_squares_finite
    from ._cca import _centred_moments

    blocks = validate_blocks(spec, partition, reset=False, ensure_min_samples=0)
    missing = [m for m in spec.modalities_ if m not in blocks]
    if missing:
        raise ValueError(f"the partition lacks the modalities {missing}.")
    if len(partition) == 0:
        return None
    check_squares_finite(spec, blocks)
    return _centred_moments([blocks[m] for m in spec.modalities_], fourth)


def _merge_all(parts):
    """Merge the moments of several partitions (None for an empty one)."""
    from ._cca import _merge_moments

    parts = [part for part in parts if part is not None]
    if not parts:
        return None
    merged = parts[0]
    for part in parts[1:]:
        merged = _merge_moments(merged, part)
    return merged


def _per_partition(X, function, *args):
    """One Delayed ``on_partition(partition, function, *args)`` per partition."""
    dask = import_dask("fitting from a Dask DataFrame")
    task = dask.delayed(on_partition, pure=True)
    return [
        task(part, function, *args, partition_info={"number": number})
        for number, part in enumerate(X.to_delayed())
    ]


def _reduce_moments(estimator, X, spec, *, fourth=False, min_samples=2):
    """Merged joint moments of ``spec.modalities_`` over all partitions."""
    dask = import_dask("fitting from a Dask DataFrame")
    shared = dask.delayed(spec, pure=True)
    parts = _per_partition(X, _partition_moments, shared, fourth)
    (moments,) = dask.compute(tree_reduce(parts, _merge_all))
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
    return moments


def _spans(estimator):
    """Slices of each fitted modality in the joint moments, in fitted order."""
    sizes = [
        len(estimator.feature_names_per_modality_[m]) for m in estimator.modalities_
    ]
    edges = np.cumsum([0, *sizes])
    return {
        m: slice(int(start), int(stop))
        for m, start, stop in zip(estimator.modalities_, edges[:-1], edges[1:])
    }


def _fit_cca(estimator, X):
    from ._base import validate_paired_blocks

    if estimator.solver == "gram":
        raise ValueError(
            "CCA(solver='gram') needs all rows in one process; a Dask DataFrame "
            "is fitted from its cross-products: use solver='auto' or 'covariance'."
        )
    spec = _validated_spec(
        estimator,
        X,
        lambda e, frame: validate_paired_blocks(
            e, frame, reset=True, exactly_two=True, ensure_min_samples=0
        ),
    )
    moments = _reduce_moments(estimator, X, spec, fourth=estimator.reg == "auto")
    estimator._solve(moments, low_rank="raise")
    return estimator


def _fit_mcca(estimator, X):
    from ._base import validate_paired_blocks

    spec = _validated_spec(
        estimator,
        X,
        lambda e, frame: validate_paired_blocks(
            e, frame, reset=True, exactly_two=False, ensure_min_samples=0
        ),
    )
    moments = _reduce_moments(estimator, X, spec)
    _mcca_from_moments(estimator, moments)
    return estimator


def _covariance_without_constants(moments):
    """Sample covariance with constant features' (co)variances set to zero."""
    from ._base import constant_features

    n = moments["n"]
    covariance = moments["m11"] / (n - 1)
    std = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    constant = constant_features(std, moments["mean"], n)
    covariance[constant, :] = 0.0
    covariance[:, constant] = 0.0
    return covariance


def _mcca_from_moments(estimator, moments):
    """MCCA's solution from joint moments; the steps of ``MCCA.fit``.

    ``MCCA.fit`` forms the same covariance from its rows (``_joint_covariance``)
    and then runs these steps inline; it can be reduced to this function.
    """
    from scipy import linalg

    from ._cca import _shrink_toward_diagonal, _whitening

    covariance = _covariance_without_constants(moments)
    if estimator.reg:
        covariance = _shrink_toward_diagonal(covariance, estimator.reg)
    spans = list(_spans(estimator).values())
    modalities = estimator.modalities_
    whitenings = [_whitening(covariance[span, span]) for span in spans]
    ranks = [w.shape[1] for w in whitenings]
    check_n_components(
        estimator,
        estimator.n_components,
        min(ranks),
        "the smallest numerical rank of the modality covariances: "
        + ", ".join(f"{m!r} ({r})" for m, r in zip(modalities, ranks))
        + f", after {moments['n']} samples",
    )
    whitening = linalg.block_diag(*whitenings)
    whitened = whitening.T @ covariance @ whitening
    k = estimator.n_components
    eigenvalues, eigenvectors = np.linalg.eigh(whitened)
    eigenvalues, eigenvectors = eigenvalues[::-1][:k], eigenvectors[:, ::-1][:, :k]

    rank_edges = np.cumsum([0, *ranks])
    weights = []
    for w, start, stop in zip(whitenings, rank_edges[:-1], rank_edges[1:]):
        part = eigenvectors[start:stop]
        norms = np.linalg.norm(part, axis=0)
        scaled = np.zeros_like(part)
        np.divide(part, norms, out=scaled, where=norms > 0)
        weights.append(w @ scaled)
    first = weights[0]
    signs = np.sign(first[np.argmax(np.abs(first), axis=0), np.arange(k)])
    signs[signs == 0] = 1.0
    weights = [w * signs for w in weights]
    pair_correlations = [
        np.einsum("ik,ij,jk->k", weights[i], covariance[spans[i], spans[j]], weights[j])
        for i, j in combinations(range(len(weights)), 2)
    ]
    estimator.n_components_ = k
    estimator.eigenvalues_ = eigenvalues
    estimator.canonical_correlations_ = np.mean(pair_correlations, axis=0)
    estimator.weights_ = dict(zip(modalities, weights))
    estimator.mean_ = {m: moments["mean"][span] for m, span in zip(modalities, spans)}


def _fit_pls(estimator, X):
    from ._base import validate_paired_blocks

    spec = _validated_spec(
        estimator,
        X,
        lambda e, frame: validate_paired_blocks(
            e, frame, reset=True, exactly_two=True, ensure_min_samples=0
        ),
    )
    moments = _reduce_moments(estimator, X, spec)
    _pls_from_moments(estimator, moments)
    return estimator


def _pls_from_moments(estimator, moments):
    """PLS-SVD from joint moments; the steps of ``PLS.fit`` on the covariance.

    ``PLS.fit`` standardises its centred rows and multiplies them; the same
    cross-covariance is a block of the joint moments. ``PLS.fit`` can be
    reduced to this function.
    """
    from ._base import constant_features

    n = moments["n"]
    (a, span_a), (b, span_b) = _spans(estimator).items()
    size_a, size_b = span_a.stop - span_a.start, span_b.stop - span_b.start
    check_n_components(
        estimator,
        estimator.n_components,
        min(n, size_a, size_b),
        f"min(n_samples={n}, features of {a!r}={size_a}, features of {b!r}={size_b})",
    )
    mean = moments["mean"]
    std = np.sqrt(np.clip(np.diag(moments["m11"]), 0.0, None) / (n - 1))
    constant = constant_features(std, mean, n)
    if estimator.scale:
        scale = np.where(constant, 1.0, std)
    else:
        scale = np.ones_like(std)
    factor = np.where(constant, 0.0, 1.0 / scale)
    cross_covariance = (
        moments["m11"][span_a, span_b]
        * np.outer(factor[span_a], factor[span_b])
        / (n - 1)
    )
    U, singular_values, Vt = np.linalg.svd(cross_covariance, full_matrices=False)
    k = estimator.n_components
    U, Vt = svd_flip(U[:, :k], Vt[:k])
    estimator.mean_ = {a: mean[span_a], b: mean[span_b]}
    estimator.scale_ = {a: scale[span_a], b: scale[span_b]}
    estimator.n_components_ = k
    estimator.covariances_ = singular_values[:k]
    estimator.weights_ = {a: U, b: Vt.T}


def _fit_ridge(estimator, X):
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
    solution = _ridge_eigensystem(estimator, moments)
    alphas = np.atleast_1d(np.asarray(estimator.alpha, dtype=np.float64))
    if np.ndim(estimator.alpha) == 0:
        alpha = float(alphas[0])
    else:
        # The leave-one-out residuals need every row: a second pass.
        shared = dask.delayed(spec, pure=True)
        parts = _per_partition(
            X, _partition_loo_sums, shared, solution, alphas, estimator.fit_intercept
        )
        (sums,) = dask.compute(tree_reduce(parts, _sum_all))
        n_targets = solution["QtY"].shape[1]
        estimator.loo_errors_ = sums / (moments["n"] * n_targets)
        alpha = float(alphas[np.argmin(estimator.loo_errors_)])
    _ridge_from_eigensystem(estimator, solution, alpha)
    return estimator


def _ridge_eigensystem(estimator, moments):
    """Eigendecomposition of the source's cross-products and the target's projection.

    The covariance path of ``RidgeMapper.fit`` (the one it takes when there
    are more rows than source features): ``eigh(Xc'Xc) = V diag(l) V'`` and
    ``Q'Yc = V' Xc'Yc``, here from the joint moments. Without an intercept the
    cross-products are about zero instead of the mean.
    """
    spans = _spans(estimator)
    source, target = spans[estimator.source], spans[estimator.target]
    m11, mean, n = moments["m11"], moments["mean"], moments["n"]
    if not estimator.fit_intercept:
        m11 = m11 + n * np.outer(mean, mean)
        mean = np.zeros_like(mean)
    eigenvalues, V = np.linalg.eigh(m11[source, source])
    eigenvalues = np.clip(eigenvalues, 0.0, None)
    return {
        "eigenvalues": eigenvalues,
        "V": V,
        "QtY": V.T @ m11[source, target],
        "source_mean": mean[source],
        "target_mean": mean[target],
        "n": n,
    }


def _ridge_from_eigensystem(estimator, solution, alpha):
    """Set RidgeMapper's coefficients for ``alpha`` (the end of ``fit``)."""
    from ._linear import _inverse_shifted

    inverse = _inverse_shifted(solution["eigenvalues"], alpha)[:, None]
    coef = solution["V"] @ (inverse * solution["QtY"])
    estimator.alpha_ = alpha
    estimator.coef_ = coef.T
    estimator.intercept_ = solution["target_mean"] - solution["source_mean"] @ coef
    estimator.n_components_ = coef.shape[1]


def _partition_loo_sums(partition, spec, solution, alphas, fit_intercept):
    """Sums of squared leave-one-out residuals of one partition, per alpha."""
    from ._linear import _ridge_loo_errors

    blocks = validate_blocks(spec, partition, reset=False, ensure_min_samples=0)
    if len(partition) == 0:
        return np.zeros(len(alphas))
    source = blocks[spec.source] - solution["source_mean"]
    target = blocks[spec.target] - solution["target_mean"]
    offset = 1.0 / solution["n"] if fit_intercept else 0.0
    errors = _ridge_loo_errors(
        solution["eigenvalues"],
        source @ solution["V"],
        solution["QtY"],
        target,
        alphas,
        offset,
    )
    return errors * target.size


def _sum_all(parts):
    return np.sum(parts, axis=0)
