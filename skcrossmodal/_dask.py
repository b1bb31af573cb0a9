"""The one place where skcrossmodal talks to Dask (docs/scaling.md).

Dask is optional: this module imports it only when a Dask collection arrives
(which means the user already imported it) or when a Dask-only function is
called, and then names the ``dask`` extra if it is missing.

Three patterns cover the library's distributed work:

* **Reduce**: a per-partition function (sufficient statistics, a top-k of one
  gallery shard) runs on the workers and its results are merged pairwise in a
  tree (:func:`tree_reduce`), so the client only receives one small result.
* **Map**: a fitted estimator is applied partition by partition
  (:func:`map_partitions`); it enters the task graph once, as one key, so each
  worker receives it once however many partitions it processes.
* **Errors**: an exception raised on a worker names the partition and the
  index labels of its rows (:func:`on_partition`).
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import sys

from ._optional import import_optional


def is_dask_collection(X):
    """Whether ``X`` is a Dask collection (DataFrame, Series, Array, Bag...).

    Never imports dask: if it is not imported, ``X`` cannot be one of its
    collections.

    Parameters
    ----------
    X : object
        Any input.

    Returns
    -------
    is_dask : bool

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._dask import is_dask_collection
    >>> is_dask_collection(np.zeros(3))
    False
    """
    if "dask" not in sys.modules:
        return False
    import dask

    return dask.is_dask_collection(X)


def import_dask(purpose):
    """Import ``dask`` and ``dask.dataframe``, naming the extra if missing.

    Parameters
    ----------
    purpose : str
        What needs it, for the message.

    Returns
    -------
    dask : module
    """
    dask = import_optional("dask", purpose=purpose)
    import_optional("dask.dataframe", purpose=purpose)
    return dask


def check_dask_dataframe(X, estimator):
    """Return ``X`` if it is a Dask DataFrame; raise a TypeError naming the type.

    Parameters
    ----------
    X : Dask collection
        The input.
    estimator : estimator instance
        For the message.
    """
    import_dask(type(estimator).__name__)
    import dask.dataframe as dd

    if not isinstance(X, dd.DataFrame):
        raise TypeError(
            f"{type(estimator).__name__} takes a Dask DataFrame (a modality table "
            f"partitioned by rows), got a {type(X).__name__}; convert it with "
            "dask.dataframe.from_dask_array(..., columns=...) or to_frame()."
        )
    return X


def on_partition(partition, function, *args, partition_info=None, **kwargs):
    """Call ``function(partition, *args, **kwargs)``; name the partition on error.

    Used as the task of every per-partition computation. An exception is
    raised again as the same type (when it can be built from one message;
    otherwise a RuntimeError) whose message starts with the partition number
    and the index labels of its rows, and chains the original.

    Parameters
    ----------
    partition : pandas.DataFrame
        One partition.
    function : callable
        The work on one pandas partition.
    *args, **kwargs
        Passed on to ``function``.
    partition_info : dict, default=None
        Given by ``dask.dataframe.DataFrame.map_partitions``: ``{"number": i,
        ...}``.

    Returns
    -------
    result : object
        ``function``'s result.
    """
    try:
        return function(partition, *args, **kwargs)
    except Exception as exc:
        number = None if partition_info is None else partition_info.get("number")
        where = "a partition" if number is None else f"partition {number}"
        index = getattr(partition, "index", None)
        if index is not None and len(index):
            where += f" (rows with index labels {index[0]!r}..{index[-1]!r})"
        message = f"In {where}: {exc}"
        try:
            error = type(exc)(message)
        except Exception:
            error = RuntimeError(message)
        raise error from exc


def tree_reduce(parts, merge, *, split_every=8):
    """Merge Delayed results pairwise in a tree of width ``split_every``.

    Parameters
    ----------
    parts : list of dask.delayed.Delayed
        One result per partition; at least one.
    merge : callable
        ``merge(results) -> result`` for a list of up to ``split_every``
        results; it must be associative.
    split_every : int, default=8
        Results merged by one task.

    Returns
    -------
    result : dask.delayed.Delayed
        The merge of all the parts.
    """
    dask = import_dask("tree_reduce")
    if not parts:
        raise ValueError("tree_reduce needs at least one part.")
    parts = list(parts)
    while len(parts) > 1:
        parts = [
            dask.delayed(merge, pure=True)(parts[start : start + split_every])
            for start in range(0, len(parts), split_every)
        ]
    return parts[0]


def map_partitions(ddf, function, model, *, meta, **kwargs):
    """Apply ``function(partition, model, **kwargs)`` to every partition, lazily.

    ``model`` (a fitted estimator) becomes one key of the graph, so each worker
    receives it once; every task goes through :func:`on_partition`.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
        The input.
    function : callable
        ``function(partition, model, **kwargs) -> pandas.DataFrame``.
    model : object
        Passed to every call.
    meta : pandas.DataFrame
        An empty frame with the output's columns and dtypes.
    **kwargs
        Passed to ``function``.

    Returns
    -------
    output : dask.dataframe.DataFrame
        Lazy; nothing runs until it is computed.
    """
    dask = import_dask("map_partitions")
    shared = dask.delayed(model, pure=True)
    return ddf.map_partitions(
        on_partition, function, shared, meta=meta, align_dataframes=False, **kwargs
    )
