"""Feature extraction on a Dask DataFrame of raw columns (docs/scaling.md).

A fitted extractor or :class:`~skcrossmodal.compose.ModalityUnion` transforms
a Dask DataFrame lazily: each partition (a pandas DataFrame of paths, texts or
waveforms) is extracted on a worker by the in-memory code, with the fitted
model shipped once to each worker (:func:`skcrossmodal._dask.map_partitions`),
and an error names the partition and its rows
(:func:`skcrossmodal._dask.on_partition`). The output has the columns of the
in-memory output and the input's index.

Fitting: the audio extractors check their inputs on the workers (their fit
learns nothing from the data but the first sample rate); the text
vectorizers and ``ModalityUnion`` need the fitted rows in one process and
raise, asking for an in-memory sample.
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import functools

import numpy as np
import pandas as pd

from ._dask import (
    check_dask_dataframe,
    import_dask,
    is_dask_collection,
    map_partitions,
    on_partition,
)


def keep_dask_output(method):
    """Leave a Dask input's lazy output alone under ``set_output``.

    scikit-learn's ``set_output`` wrapper of ``transform``/``fit_transform``
    would build a pandas DataFrame from the lazy Dask output, computing it on
    the client; for a Dask input the method runs unwrapped.
    """
    inner = getattr(method, "__wrapped__", method)

    @functools.wraps(inner)
    def wrapper(self, X, *args, **kwargs):
        if is_dask_collection(X):
            return inner(self, X, *args, **kwargs)
        return method(self, X, *args, **kwargs)

    return wrapper


class _IndexLabel:
    """How a row of a partition is named in an error: by its index label."""

    def __init__(self, label):
        self.label = label

    def __str__(self):
        return f"with index label {self.label!r}"

    __repr__ = __str__


def _raw_column(X, estimator):
    """The one-column Dask DataFrame of raw items ``X`` (a Series is framed)."""
    import_dask(type(estimator).__name__)
    import dask.dataframe as dd

    if isinstance(X, dd.Series):
        return X.to_frame()
    X = check_dask_dataframe(X, estimator)
    if len(X.columns) != 1:
        raise ValueError(
            f"{type(estimator).__name__} extracts features from one raw column, got "
            f"a Dask DataFrame with columns {list(X.columns)}; select the column "
            "(ddf['audio']), or route several with "
            "skcrossmodal.compose.ModalityUnion."
        )
    return X


def _empty_frame(columns, dtypes, index):
    return pd.DataFrame(
        {
            column: np.empty(0, dtype=dtype)
            for column, dtype in zip(columns, dtypes, strict=True)
        },
        columns=columns,
        index=index,
    )


def _extract_partition(partition, extractor, *, columns, dtype):
    """One partition's features: a pandas DataFrame with the partition's index."""
    if len(partition) == 0:
        return _empty_frame(columns, [dtype] * len(columns), partition.index)
    rows = [_IndexLabel(label) for label in partition.index]
    features = extractor._transform_rows(partition.iloc[:, 0].tolist(), rows)
    return pd.DataFrame(
        np.asarray(features, dtype=dtype), columns=columns, index=partition.index
    )


def transform_dask(extractor, X):
    """Lazily transform a Dask DataFrame (or Series) of one raw column.

    Parameters
    ----------
    extractor : fitted extractor
        A text vectorizer or audio extractor of skcrossmodal.
    X : dask.dataframe.DataFrame or dask.dataframe.Series
        One raw column.

    Returns
    -------
    features : dask.dataframe.DataFrame
        Columns ``extractor.get_feature_names_out()``, the index of ``X``.
    """
    ddf = _raw_column(X, extractor)
    columns = [str(name) for name in extractor.get_feature_names_out()]
    dtype = extractor._output_dtype()
    meta = _empty_frame(columns, [dtype] * len(columns), ddf._meta.index)
    return map_partitions(
        ddf, _extract_partition, extractor, meta=meta, columns=columns, dtype=dtype
    )


def _check_partition(partition, extractor):
    """``(first sample rate or None, n_rows)`` of one partition of raw audio."""
    rows = [_IndexLabel(label) for label in partition.index]
    items = partition.iloc[:, 0].tolist()
    return extractor._check_inputs(items, rows), len(items)


def first_sample_rate(extractor, X):
    """Check every raw audio item of ``X`` on the workers.

    Parameters
    ----------
    extractor : audio extractor
        Being fitted.
    X : dask.dataframe.DataFrame or dask.dataframe.Series
        One raw column.

    Returns
    -------
    first_rate : float or None
        The rate of the first file or pair, in partition order.
    n_inputs : int
        Number of rows.
    """
    dask = import_dask(type(extractor).__name__)
    ddf = _raw_column(X, extractor)
    shared = dask.delayed(extractor, pure=True)
    tasks = [
        dask.delayed(on_partition)(
            part, _check_partition, shared, partition_info={"number": number}
        )
        for number, part in enumerate(ddf.to_delayed())
    ]
    results = dask.compute(*tasks)
    n_inputs = sum(n for _, n in results)
    if n_inputs == 0:
        raise ValueError(f"{type(extractor).__name__} got no waveform.")
    rates = [rate for rate, _ in results if rate is not None]
    return (rates[0] if rates else None), n_inputs


def _modality_columns(union, fitted_columns):
    """``{modality: its raw column labels}`` of a fitted ModalityUnion."""
    from sklearn.utils._indexing import _get_column_indices

    labels = {}
    for modality, trans, column in union.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue
        positions = _get_column_indices(fitted_columns, column)
        labels[modality] = [fitted_columns.columns[j] for j in positions]
    return labels


def _is_passthrough(trans):
    """``"passthrough"``, or the FunctionTransformer ModalityUnion fits for it."""
    from .compose import _check_numeric

    if isinstance(trans, str):
        return trans == "passthrough"
    return getattr(trans, "func", None) is _check_numeric


def _block_dtype(trans, input_dtypes):
    if _is_passthrough(trans):
        return np.result_type(*input_dtypes)
    if hasattr(trans, "_output_dtype"):
        return trans._output_dtype()
    return np.dtype(np.float64)


def _union_partition(partition, union, *, columns, dtypes):
    if len(partition) == 0:
        return _empty_frame(columns, dtypes, partition.index)
    features = union.transform(partition)
    return features.astype(dict(zip(columns, dtypes, strict=True)))


def fit_union_dask(union, X):
    """Refuse to fit a ModalityUnion on a Dask DataFrame, saying what to do."""
    raise TypeError(
        "ModalityUnion cannot be fitted on a Dask DataFrame: some extractors "
        "(Word2VecVectorizer, the pooling weights of the text vectorizers) need "
        "all the fitted rows in one process. Fit it on a sample that fits in "
        "memory, e.g. union.fit(ddf.sample(frac=0.1).compute()), then "
        "union.transform(ddf): extraction runs on the workers."
    )


def transform_union_dask(union, X):
    """Lazily transform a Dask DataFrame of raw columns with a fitted union.

    Parameters
    ----------
    union : fitted ModalityUnion
        Fitted on a pandas DataFrame.
    X : dask.dataframe.DataFrame
        The raw table, partitioned by rows.

    Returns
    -------
    X_blocks : dask.dataframe.DataFrame
        The blocks of the modalities present, named as in memory.
    """
    ddf = check_dask_dataframe(X, union)
    feature_names_in = getattr(union, "feature_names_in_", None)
    if feature_names_in is None:
        raise ValueError(
            "ModalityUnion was fitted on an array without column names; to "
            "transform a Dask DataFrame, fit it on a pandas DataFrame with the "
            "same columns."
        )
    fitted_columns = pd.DataFrame(columns=list(feature_names_in))
    labels = _modality_columns(union, fitted_columns)
    unknown = [column for column in ddf.columns if column not in set(feature_names_in)]
    if unknown:
        raise ValueError(
            f"ModalityUnion.transform got column(s) {unknown}, which were not "
            "columns of the DataFrame it was fitted on; drop them, or give them "
            "their fitted names."
        )
    names_out = union.get_feature_names_out()
    present, columns, dtypes = [], [], []
    for modality, trans, _ in union.transformers_:
        if modality not in labels:
            continue
        missing = [label for label in labels[modality] if label not in ddf.columns]
        if len(missing) == len(labels[modality]):
            continue
        if missing:
            raise ValueError(
                f"Modality {modality!r} needs columns {labels[modality]}, but X "
                f"lacks {missing}; give all of them, or none to leave the "
                "modality out."
            )
        present.append(modality)
        block = list(names_out[union.output_indices_[modality]])
        dtype = _block_dtype(trans, [ddf._meta[c].dtype for c in labels[modality]])
        columns += block
        dtypes += [dtype] * len(block)
    if not present:
        raise ValueError(
            "X has none of the columns of the modalities ModalityUnion was fitted "
            f"on ({labels}); it has columns {list(ddf.columns)}."
        )
    meta = _empty_frame(columns, dtypes, ddf._meta.index)
    return map_partitions(
        ddf, _union_partition, union, meta=meta, columns=columns, dtypes=dtypes
    )
