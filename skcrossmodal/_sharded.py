"""A retrieval gallery sharded over a Dask cluster (docs/scaling.md).

:class:`~skcrossmodal.retrieval.CrossModalRetriever` fitted on a Dask
DataFrame keeps its gallery on the workers: each partition becomes one shard,
an in-memory retriever fitted on that partition's ``target`` block, persisted
where the partition was computed. A search sends the queries to every shard
once, runs the exact engine of each shard there, and merges the per-shard
top-k in a tree (:func:`skcrossmodal._dask.tree_reduce`): only
``n_queries x n_neighbors`` results travel, never gallery rows. The merge
breaks equal scores by the global gallery row, as the in-memory engine does,
so the result is the one of a retriever fitted on ``X.compute()``.
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import operator
from functools import partial
from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from ._dask import (
    check_dask_dataframe,
    import_dask,
    is_dask_collection,
    on_partition,
    tree_reduce,
)
from ._frame import float_block
from ._similarity import merge_top_k

__all__ = ["ShardedGallery"]

_PURPOSE = "CrossModalRetriever on a Dask DataFrame"


class ShardedGallery:
    """The gallery of a retriever fitted on a Dask DataFrame, held by the workers.

    Stored as ``gallery_`` of :class:`~skcrossmodal.retrieval.CrossModalRetriever`;
    it has the ``shape`` and ``dtype`` of the gallery it stands for. Each
    shard is a persisted Delayed: a dict with the fitted in-memory retriever
    of one partition (None for a partition without rows), its number of rows
    and, when the ids were given as a Dask collection, its ids.

    It cannot be pickled: the shards live in the memory of the workers of the
    client that fitted it, and a pickle would either lose them or have to
    bring the whole gallery to one process.

    Parameters
    ----------
    shards : list of dask.delayed.Delayed
        One persisted shard per partition.
    sizes : ndarray of shape (n_shards,)
        Rows of each shard.
    n_features : int
        Width of the gallery embeddings.
    dtype : numpy.dtype
        Dtype of the gallery embeddings.
    worker_ids : bool
        Whether the shards hold the ids.
    ids_dtype : numpy.dtype or None
        Dtype of those ids.
    """

    ndim = 2

    def __init__(
        self, shards, sizes, n_features, dtype, *, worker_ids=False, ids_dtype=None
    ):
        self.shards = list(shards)
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(
            np.int64
        )
        self.n_features = int(n_features)
        self.dtype = np.dtype(dtype)
        self.worker_ids = worker_ids
        self.ids_dtype = ids_dtype

    @property
    def shape(self):
        return (int(self.sizes.sum()), self.n_features)

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        n_gallery, n_features = self.shape
        return (
            f"ShardedGallery(n_gallery={n_gallery}, n_features={n_features}, "
            f"n_shards={len(self.shards)}, dtype={self.dtype.name})"
        )

    def __reduce__(self):
        raise TypeError(
            f"Cannot pickle a CrossModalRetriever fitted on a Dask DataFrame: its "
            f"gallery ({len(self)} rows in {len(self.shards)} shards) lives in the "
            "memory of the Dask workers. Fit a retriever on the gathered table "
            "(X.compute()) to pickle it, or refit on the Dask DataFrame after loading."
        )


def is_sharded(retriever):
    """Whether ``retriever`` holds a :class:`ShardedGallery`."""
    return isinstance(getattr(retriever, "gallery_", None), ShardedGallery)


# ------------------------------------------------------------------------ fit


def _shard_template(retriever):
    """An unfitted retriever with the parameters of every shard.

    One thread per shard (a Dask worker runs one task per thread).
    """
    return clone(retriever).set_params(n_jobs=1)


def _fit_shard(partition, template, ids):
    n_rows = len(partition)
    if ids is not None:
        ids = np.asarray(ids)
        if ids.shape != (n_rows,):
            raise ValueError(
                f"ids must have one entry per gallery row: the partition has "
                f"{n_rows} rows and its ids have shape {ids.shape}."
            )
    if n_rows == 0:
        return {"retriever": None, "n": 0, "ids": ids}
    shard = clone(template).fit(partition)  # the template is shared by the tasks
    return {"retriever": shard, "n": n_rows, "ids": ids}


def _shard_info(shard):
    retriever = shard["retriever"]
    if retriever is None:
        return 0, None, None
    return shard["n"], retriever.gallery_.shape[1], retriever.gallery_.dtype.str


def _partitions_of(ids, X):
    """The partitions of Dask ``ids``, checked to match those of ``X``."""
    if ids.npartitions != X.npartitions:
        raise ValueError(
            f"ids given as a Dask collection must be partitioned like X: it has "
            f"{ids.npartitions} partitions and X has {X.npartitions}."
        )
    return ids.to_delayed()


def add_sharded(retriever, X, ids):
    """Fit or extend the sharded gallery of ``retriever`` from Dask DataFrame ``X``.

    The hook of ``CrossModalRetriever.fit`` and ``partial_fit``: a first call
    (no ``gallery_``) fits, a later one appends the partitions of ``X`` as new
    shards. A pandas ``X`` given to ``partial_fit`` of a sharded retriever
    becomes one new shard.

    Parameters
    ----------
    retriever : CrossModalRetriever
        Unfitted, or fitted on a Dask DataFrame.
    X : dask.dataframe.DataFrame or pandas.DataFrame
        The gallery table.
    ids : array-like, Dask Series or Index, or None
        Gallery ids. A Dask collection must be partitioned like ``X`` and
        stays on the workers; anything else is held by the client, as in
        memory.

    Returns
    -------
    retriever : CrossModalRetriever
    """
    dask = import_dask(_PURPOSE)
    import dask.dataframe as dd

    first = not hasattr(retriever, "gallery_")
    if not first and not is_sharded(retriever):
        raise ValueError(
            "partial_fit cannot add a Dask DataFrame to a gallery fitted in memory; "
            "fit the retriever on the Dask DataFrame (the whole gallery) instead."
        )
    if not first and not is_dask_collection(X):
        X = dd.from_pandas(X, npartitions=1)
    check_dask_dataframe(X, retriever)
    if getattr(retriever, "index", "flat") != "flat":
        raise ValueError(
            f"A gallery sharded over Dask is searched exactly; index="
            f"{retriever.index!r} is not supported there, use index='flat'."
        )
    previous = None if first else retriever.gallery_
    dask_ids = ids is not None and is_dask_collection(ids)
    if not first:
        had_ids = previous.worker_ids or retriever.ids_ is not None
        if ids is None and had_ids:
            raise ValueError(
                "The gallery has ids; pass ids for the new rows to partial_fit."
            )
        if ids is not None and not had_ids:
            raise ValueError(
                "The gallery was fitted without ids; partial_fit cannot add ids now."
            )
        if ids is not None and dask_ids != previous.worker_ids:
            raise ValueError(
                "The ids of a sharded gallery stay where they were first given: "
                + ("as a Dask collection" if previous.worker_ids else "on the client")
                + "; give the new ids the same way."
            )

    template = dask.delayed(_shard_template(retriever), pure=True)
    parts = X.to_delayed()
    id_parts = _partitions_of(ids, X) if dask_ids else [None] * len(parts)
    number = 0 if first else len(previous.shards)
    shards = [
        dask.delayed(on_partition, pure=True)(
            part,
            _fit_shard,
            template,
            part_ids,
            partition_info={"number": number + i},
        )
        for i, (part, part_ids) in enumerate(zip(parts, id_parts, strict=True))
    ]
    shards = list(dask.persist(*shards))
    info = dask.compute(*[dask.delayed(_shard_info)(shard) for shard in shards])
    sizes = np.array([n for n, _, _ in info], dtype=np.int64)
    filled = [(number + i, d, dtype) for i, (n, d, dtype) in enumerate(info) if n]
    if first and not filled:
        raise ValueError("The gallery is empty: X has no rows.")
    reference = filled[0] if first else (None, previous.n_features, previous.dtype.str)
    for i, d, dtype in filled:
        if d != reference[1]:
            where = f"partition {reference[0]}" if first else "the gallery"
            raise ValueError(
                f"The {retriever.target!r} block of partition {i} has {d} features "
                f"but {where} has {reference[1]}."
            )
        if dtype != reference[2]:
            where = f"partition {reference[0]}" if first else "the gallery"
            raise ValueError(
                f"The {retriever.target!r} block of partition {i} has dtype "
                f"{np.dtype(dtype).name} but {where} has "
                f"{np.dtype(reference[2]).name}; cast X to one dtype first."
            )
    n_new = int(sizes.sum())
    client_ids = None
    if ids is not None and not dask_ids:
        client_ids = np.asarray(ids)
        if client_ids.ndim != 1 or client_ids.shape[0] != n_new:
            raise ValueError(
                f"ids must be 1-D with one entry per gallery row ({n_new}), got "
                f"shape {client_ids.shape}."
            )
    # The dtype numpy gives the ids of a partition (object for pandas strings).
    ids_dtype = np.asarray(ids._meta).dtype if dask_ids else None

    if first:
        retriever.backend_ = (
            "numpy" if retriever.backend == "auto" else retriever.backend
        )
        retriever.gallery_ = ShardedGallery(
            shards,
            sizes,
            reference[1],
            reference[2],
            worker_ids=dask_ids,
            ids_dtype=ids_dtype,
        )
        retriever.ids_ = client_ids
        retriever.index_ = None
        retriever.feature_names_in_ = np.asarray(X.columns, dtype=object)
        retriever.n_features_in_ = len(retriever.feature_names_in_)
        return retriever
    if dask_ids and ids_dtype != previous.ids_dtype:
        ids_dtype = np.result_type(ids_dtype, previous.ids_dtype)
    retriever.gallery_ = ShardedGallery(
        previous.shards + shards,
        np.concatenate([previous.sizes, sizes]),
        previous.n_features,
        previous.dtype,
        worker_ids=previous.worker_ids,
        ids_dtype=ids_dtype,
    )
    if client_ids is not None:
        retriever.ids_ = np.concatenate([retriever.ids_, client_ids])
    return retriever


# --------------------------------------------------------------------- search


def query_info(retriever):
    """What :func:`query_block` needs of a fitted retriever, as a small tuple
    that a Dask task can take without the retriever."""
    return (
        type(retriever).__name__,
        retriever.query,
        retriever.target,
        retriever.gallery_.shape[1],
    )


def query_block(X, info, slices=None):
    """The query block of ``X`` as a finite float array in the gallery's space.

    The one check of a search's queries, for the retriever and for each Dask
    partition (which may be empty); ``info`` is :func:`query_info`.
    """
    name, query, target, n_features = info
    block = float_block(X, query, name, role="query", slices=slices)
    if block.shape[1] != n_features:
        raise ValueError(
            f"The query block {query!r} has {block.shape[1]} features but the "
            f"gallery ({target!r}) has {n_features}; both must live in the same "
            "shared space."
        )
    return block


def _search_shard(shard, queries, k, offset, dtype):
    """Top-k of one shard with global gallery rows (and its ids, if it holds them).

    ``queries`` is the query block already validated by :func:`query_block`.
    """
    n = shard["n"]
    k = min(k, n)
    if len(queries) == 0:
        scores, rows = np.empty((0, k), dtype=dtype), np.empty((0, k), dtype=np.int64)
    else:
        scores, rows = shard["retriever"]._search_rows(queries, k)
    if shard["ids"] is None:
        return scores, rows + offset
    return scores, rows + offset, shard["ids"][rows]


def _finish(merged, client_ids):
    scores, rows = merged[0], merged[1]
    if len(merged) == 3:
        return scores, merged[2]
    if client_ids is None:
        return scores, rows
    return scores, client_ids[rows]


def _search_in_memory(queries, retriever, k, dtype, ids_dtype):
    if len(queries) == 0:
        return np.empty((0, k), dtype=dtype), np.empty((0, k), dtype=ids_dtype)
    return retriever.search(queries, n_neighbors=k)


def _check_n_neighbors(retriever, n_neighbors):
    n_neighbors = retriever.n_neighbors if n_neighbors is None else n_neighbors
    if not isinstance(n_neighbors, Integral) or n_neighbors < 1:
        raise ValueError(
            f"n_neighbors must be a positive integer, got {n_neighbors!r}."
        )
    return int(n_neighbors)


def _merged_shards(dask, gallery, queries, k, split_every):
    """Delayed ``merge_top_k`` of every non-empty shard's top-k of ``queries``."""
    parts = [
        dask.delayed(on_partition, pure=True)(
            shard,
            _search_shard,
            queries,
            k,
            int(offset),
            gallery.dtype,
            partition_info={"number": number},
        )
        for number, (shard, n, offset) in enumerate(
            zip(gallery.shards, gallery.sizes, gallery.offsets, strict=True)
        )
        if n
    ]
    return tree_reduce(parts, partial(merge_top_k, k=k), split_every=split_every)


def search_sharded(retriever, X, n_neighbors=None, *, split_every=8):
    """Search a sharded gallery, or search with Dask queries (the search hook).

    Parameters
    ----------
    retriever : CrossModalRetriever
        Fitted, on a Dask DataFrame or in memory.
    X : pandas.DataFrame or dask.dataframe.DataFrame
        The queries.
    n_neighbors : int, default=None
        Results per query; None uses ``retriever.n_neighbors``.
    split_every : int, default=8
        Shard results merged by one task.

    Returns
    -------
    scores, ids : ndarray, or dask.array.Array for Dask queries
        As the in-memory ``search`` returns them. For a Dask DataFrame of
        queries, two lazy Dask Arrays with one chunk of rows per query
        partition (of unknown size until computed, as Dask DataFrame
        partitions are); ``dask.compute(scores, ids)`` gives the in-memory
        result. A query partition without rows gives no rows.
    """
    check_is_fitted(retriever)
    k_asked = _check_n_neighbors(retriever, n_neighbors)
    gallery = retriever.gallery_
    sharded = isinstance(gallery, ShardedGallery)
    k = min(k_asked, gallery.shape[0])
    info = query_info(retriever)
    if sharded:
        dask = import_dask(_PURPOSE)
        client_ids = retriever.ids_
    if not is_dask_collection(X):
        queries = query_block(X, info)
        if len(queries) == 0:
            raise ValueError("The query set is empty: X has no rows.")
        merged = _merged_shards(
            dask, gallery, dask.delayed(queries, pure=True), k, split_every
        )
        return _finish(dask.compute(merged)[0], client_ids)

    dask = import_dask(_PURPOSE)
    import dask.array as da

    check_dask_dataframe(X, retriever)
    if sharded:
        ids_dtype = (
            gallery.ids_dtype
            if gallery.worker_ids
            else np.dtype(np.int64)
            if client_ids is None
            else client_ids.dtype
        )
        shared_ids = dask.delayed(client_ids, pure=True)
    else:
        ids_dtype = (
            np.dtype(np.int64) if retriever.ids_ is None else retriever.ids_.dtype
        )
        shared = dask.delayed(retriever, pure=True)
    results = []
    for number, part in enumerate(X.to_delayed()):
        if sharded:
            queries = dask.delayed(on_partition, pure=True)(
                part,
                query_block,
                info,
                partition_info={"number": number},
            )
            merged = _merged_shards(dask, gallery, queries, k, split_every)
            result = dask.delayed(_finish, pure=True)(merged, shared_ids)
        else:
            result = dask.delayed(on_partition, pure=True)(
                part,
                _search_in_memory,
                shared,
                k,
                gallery.dtype,
                ids_dtype,
                partition_info={"number": number},
            )
        results.append(result)
    scores = [
        da.from_delayed(
            dask.delayed(operator.getitem)(r, 0), (np.nan, k), dtype=gallery.dtype
        )
        for r in results
    ]
    ids = [
        da.from_delayed(
            dask.delayed(operator.getitem)(r, 1), (np.nan, k), dtype=ids_dtype
        )
        for r in results
    ]
    return da.concatenate(scores), da.concatenate(ids)
