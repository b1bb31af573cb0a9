"""Cross-modal retrieval: index a gallery of one modality, search it with another.

:class:`CrossModalRetriever` stores the ``target`` block of a shared-space
table (the gallery) and answers ``query`` blocks with their exact top-k
neighbours, scored in bounded tiles of matrix products (DESIGN.md §6).
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

from contextlib import contextmanager
from numbers import Integral

import joblib
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._dask import is_dask_collection
from ._estimator import fit_context
from ._frame import check_finite, modality_slices, split_modalities
from ._optional import import_optional
from ._sharded import add_sharded, is_sharded, search_sharded
from ._similarity import (
    SIMILARITY_METRICS,
    check_finite_scores,
    check_finite_sq_norms,
    peak_magnitude,
    prepare,
    sort_candidates,
    tile_columns,
    top_k_batch_rows,
    top_k_candidates,
    top_k_similarity,
)
from ._torch import import_torch

__all__ = ["CrossModalRetriever"]

def _resolve_backend(backend):
    return "numpy" if backend == "auto" else backend


def _n_threads(n_jobs):
    """Threads for a search: None keeps each library's default (every core)."""
    if n_jobs is None:
        return None
    return joblib.effective_n_jobs(n_jobs)


class CrossModalRetriever(BaseEstimator):
    """Index a gallery of one modality and search it with another.

    The gallery is the ``target`` block of a shared-space table (the output of
    a fitted mapper or pipeline ``embedder``, or ``X`` itself); queries are the
    ``query`` block of another table, which need not contain anything else. The
    search is exact: queries are scored against the gallery in tiles of matrix
    products, keeping a running top-k, so memory is bounded by one tile and
    never holds an ``n_queries x n_gallery`` matrix.

    Parameters
    ----------
    embedder : estimator with ``transform``, default=None
        A *fitted* mapper or pipeline whose ``transform`` returns a modality
        table in a shared space (see :mod:`skcrossmodal.mapping`); ``fit``
        never refits it. None means ``X`` already is such a table. Like any
        parameter, it is cloned by :func:`~sklearn.base.clone`, and so by
        ``cross_val_score`` and ``GridSearchCV``, which leaves a plain fitted
        mapper unfitted: pass ``FrozenEstimator(mapper)``
        (:class:`sklearn.frozen.FrozenEstimator`, which clones to itself) to
        keep it fitted there, or put an unfitted mapper before the retriever
        in a pipeline, ``make_pipeline(mapper, CrossModalRetriever(...))``,
        to learn the space on each training fold.
    query : str
        Modality of the queries, e.g. ``"text"``.
    target : str
        Modality of the gallery, e.g. ``"image"``. May equal ``query``.
    n_neighbors : int, default=10
        Number of results per query. When the gallery holds fewer items, all
        of them are returned.
    metric : {"cosine", "dot", "euclidean"}, default="cosine"
        Similarity used for ranking. Scores are the cosine similarity, the dot
        product, or the negative *squared* euclidean distance, so that a
        higher score is always better (``np.sqrt(-scores)`` gives distances).
        For cosine the gallery is L2-normalised once at fit time.
    batch_size : int or "auto", default="auto"
        Number of queries scored together. Each query block is scored against
        gallery shards of ``max(n_neighbors + 1, 2**22 // batch_size)`` items,
        so one score tile holds about ``2**22`` entries (16 MiB in float32).
        ``"auto"`` uses blocks of at most 1024 queries, as many blocks as a
        multiple of the number of threads.
    backend : {"auto", "torch", "numpy", "faiss"}, default="auto"
        Engine of the exact search. ``"numpy"`` runs query blocks in a
        thread pool, each with ``numpy.matmul`` on one BLAS thread and a
        running top-k that screens each tile by the maxima of column groups
        (see Notes); ``"torch"`` runs ``torch.mm`` and ``torch.topk``, both
        multi-threaded; ``"faiss"`` uses a faiss index (``IndexFlatIP`` or
        ``IndexFlatL2`` when ``index="flat"``). ``"auto"`` is numpy, the
        fastest on the CPU (within 1.2x of faiss's time, see
        ``benchmarks/bench_retrieval.py``) and the one without an optional
        dependency.
    index : {"flat", "ivf"}, default="flat"
        Faiss index type, used with ``backend="faiss"`` only. ``"ivf"`` is an
        approximate ``IndexIVFFlat`` with ``nlist`` lists, of which ``nprobe``
        are searched; its results are not exact (see ``docs/retrieval.md``
        for its recall).
    nlist : int, default=100
        Number of inverted lists (k-means cells) of the IVF index.
    nprobe : int, default=8
        Number of lists searched per query by the IVF index. May be changed
        after fitting with ``set_params``.
    random_state : int, RandomState instance or None, default=None
        Seed of the k-means that trains the IVF index.
    n_jobs : int, default=None
        Number of threads of the search. None keeps the default of the
        backend, which is every core: unlike most scikit-learn estimators,
        where None means one job, a search is one large matrix product that
        BLAS, torch and faiss always run on all cores. ``-1`` also means all
        cores.

    Attributes
    ----------
    gallery_ : ndarray of shape (n_gallery, n_components)
        The gallery embeddings, L2-normalised for ``metric="cosine"``. They
        keep the dtype of the target block when it is float32 or float64
        (float32 halves memory and is about twice as fast); other dtypes are
        converted to float64. Queries are converted to this dtype (for
        cosine after their normalisation).
    ids_ : ndarray of shape (n_gallery,) or None
        Identifiers returned by :meth:`search` instead of row numbers.
    backend_ : str
        The backend used ("torch", "numpy" or "faiss").
    index_ : faiss index or None
        The faiss index when ``backend_ == "faiss"``.
    n_features_in_ : int
        Number of columns of the DataFrame ``X`` given to ``fit``. Not
        enforced later: queries carry other blocks than the gallery.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of the DataFrame ``X`` given to ``fit``.

    See Also
    --------
    skcrossmodal.mapping.CCA : Learns a shared space for two modalities.
    sklearn.neighbors.NearestNeighbors : Single-modality neighbour search.

    Notes
    -----
    Results are exact and deterministic for every exact backend: they equal
    ranking the whole gallery by score, ties broken by the lower gallery row.
    Each query keeps ``n_neighbors + 1`` candidates, which tells whether a tie
    crosses the cut-off; only the rows where it does are rescored in full.

    Cosine normalises each row after scaling it by the power of two of its
    largest entry, so that embeddings of any finite size rank correctly. Dot
    and euclidean scores of huge embeddings overflow the dtype (to infinity,
    or NaN for ``inf - inf``): a search whose scores would not all be finite
    raises a ``ValueError`` naming the query block and the gallery (a bound
    from the largest entries rules this out in O(n d) for all but huge
    embeddings), and a euclidean gallery whose squared norms overflow is
    refused by ``fit``.

    The numpy backend's selection costs little more than one pass over each
    score tile: the maximum of every group of ``16`` columns is compared with
    the query's current ``(n_neighbors + 1)``-th best score, and only the
    groups that beat it are read again. After the first few tiles almost no
    group does, whereas a selection (``argpartition``) over the whole tile
    costs several times the pass.

    A pickled retriever holds its gallery: about ``n_gallery * n_components *
    itemsize`` bytes plus the ids (see ``docs/retrieval.md``). A flat faiss
    index is rebuilt from ``gallery_`` on loading; an IVF index is serialised
    with ``faiss.serialize_index``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame
    >>> from skcrossmodal.retrieval import CrossModalRetriever
    >>> images = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> gallery = make_frame(image=images)
    >>> retriever = CrossModalRetriever(query="text", target="image", n_neighbors=2)
    >>> retriever = retriever.fit(gallery, ids=["cat", "dog", "both"])
    >>> scores, ids = retriever.search(make_frame(text=np.array([[2.0, 0.1]])))
    >>> ids
    array([['cat', 'both']], dtype='<U4')
    >>> scores.round(3)
    array([[0.999, 0.742]])
    """

    _parameter_constraints: dict = {
        "embedder": [HasMethods(["transform"]), None],
        "query": [str],
        "target": [str],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "metric": [StrOptions(set(SIMILARITY_METRICS))],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "backend": [StrOptions({"auto", "torch", "numpy", "faiss"})],
        "index": [StrOptions({"flat", "ivf"})],
        "nlist": [Interval(Integral, 1, None, closed="left")],
        "nprobe": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        embedder=None,
        *,
        query,
        target,
        n_neighbors=10,
        metric="cosine",
        batch_size="auto",
        backend="auto",
        index="flat",
        nlist=100,
        nprobe=8,
        random_state=None,
        n_jobs=None,
    ):
        self.embedder = embedder
        self.query = query
        self.target = target
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.batch_size = batch_size
        self.backend = backend
        self.index = index
        self.nlist = nlist
        self.nprobe = nprobe
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ fit

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, ids=None):
        """Embed ``X`` and index its ``target`` block as the gallery.

        Parameters
        ----------
        X : pandas.DataFrame
            Gallery table: a shared-space table with a ``target`` block, or
            the input of ``embedder`` that produces one.
        y : None
            Ignored; present for pipeline compatibility.
        ids : array-like of shape (n_gallery,), default=None
            Identifiers of the gallery items, returned by :meth:`search`
            instead of row numbers.

        Returns
        -------
        self : object
            The fitted retriever.
        """
        for attribute in (
            "gallery_", "ids_", "index_", "_gallery_sq_norms", "_gallery_peak",
            "n_features_in_", "feature_names_in_",
        ):
            self.__dict__.pop(attribute, None)
        if is_dask_collection(X):
            return add_sharded(self, X, ids)
        return self._add(X, ids)

    @fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, ids=None):
        """Append the ``target`` block of ``X`` to the gallery.

        The first call on an unfitted retriever is a :meth:`fit`.

        Parameters
        ----------
        X : pandas.DataFrame
            Gallery table, as in :meth:`fit`.
        y : None
            Ignored; present for API consistency.
        ids : array-like of shape (n_samples,), default=None
            Identifiers of the new items. Required when the gallery has ids,
            refused when it has none.

        Returns
        -------
        self : object
            The retriever with the enlarged gallery.
        """
        if is_dask_collection(X) or is_sharded(self):
            return add_sharded(self, X, ids)
        return self._add(X, ids)

    def _add(self, X, ids):
        first = not hasattr(self, "gallery_")
        if first:
            self._check_setup()
        blocks, columns = self._embed(X)
        if self.target not in blocks:
            raise ValueError(self._missing_block_message("target", self.target, blocks))
        block = blocks[self.target]
        gallery = self._finite_float(block, self.target, columns)
        if gallery.shape[0] == 0:
            raise ValueError("The gallery is empty: X has no rows.")
        if not first and gallery.shape[1] != self.gallery_.shape[1]:
            raise ValueError(
                f"The new {self.target!r} block has {gallery.shape[1]} features but "
                f"the gallery has {self.gallery_.shape[1]}."
            )
        ids = self._check_ids(ids, gallery.shape[0], first)
        gallery, sq_norms = prepare(gallery, self.metric)
        if sq_norms is not None:
            check_finite_sq_norms(
                sq_norms,
                f"The gallery ({self.target!r})" if first
                else f"The new {self.target!r} block",
            )
        peak = peak_magnitude(gallery)
        if first:
            self.backend_ = _resolve_backend(self.backend)
            if np.may_share_memory(gallery, block):
                gallery = gallery.copy()
            self.gallery_ = np.ascontiguousarray(gallery)
            self.ids_ = ids
            self._gallery_sq_norms = sq_norms
            self._gallery_peak = peak
            if hasattr(X, "columns"):
                self.feature_names_in_ = np.asarray(X.columns, dtype=object)
                self.n_features_in_ = len(self.feature_names_in_)
            if self.backend_ == "faiss":
                self.index_ = self._build_faiss_index(self.gallery_)
            return self
        gallery = gallery.astype(self.gallery_.dtype, copy=False)
        if self.backend_ == "faiss":
            data = self._faiss_data(gallery, f"The new {self.target!r} block")
        self.gallery_ = np.concatenate([self.gallery_, gallery])
        self._gallery_peak = max(self._gallery_peak, peak)
        if ids is not None:
            self.ids_ = np.concatenate([self.ids_, ids])
        if sq_norms is not None:
            self._gallery_sq_norms = np.concatenate(
                [self._gallery_sq_norms, sq_norms.astype(self.gallery_.dtype)]
            )
        if self.backend_ == "faiss":
            self.index_.add(data)
        return self

    def _check_setup(self):
        if self.embedder is not None:
            try:
                check_is_fitted(self.embedder)
            except NotFittedError as exc:
                raise NotFittedError(
                    f"The embedder {type(self.embedder).__name__} is not fitted; "
                    "CrossModalRetriever never fits it. A clone of the retriever "
                    "(cross_val_score, GridSearchCV) clones the embedder unfitted: "
                    "wrap the fitted embedder in sklearn.frozen.FrozenEstimator to "
                    "keep it fitted, or learn it on each fold in a pipeline, "
                    "make_pipeline(mapper, CrossModalRetriever(...))."
                ) from exc
        if self.index == "ivf" and self.backend != "faiss":
            raise ValueError(
                f"index='ivf' needs backend='faiss', got backend={self.backend!r}."
            )

    def _check_ids(self, ids, n_rows, first):
        if not first and ids is None and self.ids_ is not None:
            raise ValueError(
                "The gallery has ids; pass ids for the new rows to partial_fit."
            )
        if not first and ids is not None and self.ids_ is None:
            raise ValueError(
                "The gallery was fitted without ids; partial_fit cannot add ids now."
            )
        if ids is None:
            return None
        ids = np.asarray(ids)
        if ids.ndim != 1 or ids.shape[0] != n_rows:
            raise ValueError(
                f"ids must be 1-D with one entry per gallery row ({n_rows}), got "
                f"shape {ids.shape}."
            )
        return ids

    # ------------------------------------------------------- embedding, checks

    def _embed(self, X):
        """Blocks of the shared-space table of ``X``, and their column names."""
        Z = X if self.embedder is None else self.embedder.transform(X)
        try:
            blocks = split_modalities(Z)
        except ValueError as exc:
            source = "X" if self.embedder is None else "The embedder's output"
            raise ValueError(f"{source} is not a modality table: {exc}") from exc
        slices = modality_slices(Z.columns)
        columns = {m: list(Z.columns[where]) for m, where in slices.items()}
        return blocks, columns

    def _missing_block_message(self, role, modality, blocks):
        where = "X" if self.embedder is None else "the embedder's output for X"
        return (
            f"The {role} block {modality!r} is not in {where}; it has blocks "
            f"{list(blocks)}."
        )

    @staticmethod
    def _finite_float(block, modality, columns):
        if block.dtype.kind not in "biuf":
            raise TypeError(
                f"Block {modality!r} must be numeric, got dtype {block.dtype} "
                f"(column {columns[modality][0]!r})."
            )
        if block.dtype not in (np.float32, np.float64):
            block = block.astype(np.float32 if block.dtype == np.float16 else np.float64)
        check_finite(block, modality, columns[modality])
        return block

    def _query_block(self, X):
        blocks, columns = self._embed(X)
        if self.query not in blocks:
            raise ValueError(self._missing_block_message("query", self.query, blocks))
        Q = self._finite_float(blocks[self.query], self.query, columns)
        if Q.shape[0] == 0:
            raise ValueError("The query set is empty: X has no rows.")
        if Q.shape[1] != self.gallery_.shape[1]:
            raise ValueError(
                f"The query block {self.query!r} has {Q.shape[1]} features but the "
                f"gallery ({self.target!r}) has {self.gallery_.shape[1]}; both must "
                "live in the same shared space."
            )
        return Q, blocks, columns

    def _prepared_queries(self, Q):
        """Queries in the gallery's dtype, prepared for the metric."""
        dtype = self.gallery_.dtype
        if self.metric == "cosine":
            # Normalised first: a float64 query of any size fits a float32 gallery.
            Q, q_sq_norms = prepare(Q, self.metric)
            return Q.astype(dtype, copy=False), q_sq_norms
        with np.errstate(over="ignore"):
            Q = Q.astype(dtype, copy=False)  # overflow is reported by the search
        return prepare(Q, self.metric)

    # --------------------------------------------------------------- search

    def search(self, X, n_neighbors=None):
        """Find the best gallery items for each query.

        Parameters
        ----------
        X : pandas.DataFrame
            Query table: a shared-space table with a ``query`` block, or the
            input of ``embedder`` (only the query's modality is needed).
        n_neighbors : int, default=None
            Number of results per query; None uses ``self.n_neighbors``. A
            gallery with fewer items returns all of them.

        Returns
        -------
        scores : ndarray of shape (n_queries, n_results)
            Similarities, best first (see ``metric``).
        indices : ndarray of shape (n_queries, n_results)
            Gallery row numbers, or ``ids_`` entries when ids were given. Equal
            scores are ordered by gallery row. An IVF index may find fewer
            than ``n_results`` items; the missing slots hold index -1 (None as
            an id) and score ``-inf``.
        """
        check_is_fitted(self)
        if is_dask_collection(X) or is_sharded(self):
            return search_sharded(self, X, n_neighbors)
        n_neighbors = self.n_neighbors if n_neighbors is None else n_neighbors
        if not isinstance(n_neighbors, Integral) or n_neighbors < 1:
            raise ValueError(
                f"n_neighbors must be a positive integer, got {n_neighbors!r}."
            )
        Q, _, _ = self._query_block(X)
        Q, q_sq_norms = self._prepared_queries(Q)
        faiss = self.backend_ == "faiss"
        check_finite_scores(
            Q,
            self.gallery_,
            self.metric,
            q_sq=q_sq_norms,
            g_sq=self._gallery_sq_norms,
            g_peak=self._gallery_peak,
            dtype=np.float32 if faiss else self.gallery_.dtype,
            queries=f"the query block {self.query!r}",
            gallery=f"the gallery ({self.target!r})",
        )
        k = min(int(n_neighbors), self.gallery_.shape[0])
        if self.backend_ == "faiss" and self.index == "ivf":
            scores, indices = self._search_ivf(Q, k)
        else:
            scores, indices = self._search_exact(Q, q_sq_norms, k)
        if self.ids_ is None:
            return scores, indices
        found = indices >= 0
        if found.all():
            return scores, self.ids_[indices]
        ids = np.full(indices.shape, None, dtype=object)
        ids[found] = self.ids_[indices[found]]
        return scores, ids

    def _search_exact(self, Q, q_sq_norms, k):
        candidates = {
            "numpy": self._numpy_candidates,
            "torch": self._torch_candidates,
            "faiss": self._faiss_candidates,
        }[self.backend_]
        return top_k_similarity(
            Q,
            self.gallery_,
            k,
            self.metric,
            q_sq=q_sq_norms,
            g_sq=self._gallery_sq_norms,
            candidates=lambda keep: candidates(Q, q_sq_norms, keep),
        )

    def _numpy_candidates(self, Q, q_sq_norms, keep):
        return top_k_candidates(
            Q,
            self.gallery_,
            keep,
            self.metric,
            q_sq=q_sq_norms,
            g_sq=self._gallery_sq_norms,
            batch_size=self.batch_size,
            n_threads=_n_threads(self.n_jobs) or joblib.cpu_count(),
        )

    def _torch_candidates(self, Q, q_sq_norms, keep):
        torch = import_torch("CrossModalRetriever(backend='torch')")
        n_threads = _n_threads(self.n_jobs)
        previous_threads = torch.get_num_threads()
        if n_threads is not None:
            torch.set_num_threads(n_threads)
        try:
            with torch.inference_mode():
                return self._torch_candidates_inner(
                    torch, Q, q_sq_norms, keep, top_k_batch_rows(Q.shape[0], self.batch_size)
                )
        finally:
            torch.set_num_threads(previous_threads)

    def _torch_candidates_inner(self, torch, Q, q_sq_norms, keep, rows):
        n_gallery = self.gallery_.shape[0]
        cols = tile_columns(rows, keep)
        G = torch.from_numpy(self.gallery_)
        if not Q.flags.writeable or not Q.flags.c_contiguous:
            Q = np.array(Q, order="C")  # torch.from_numpy needs a writable buffer
        Q_t = torch.from_numpy(Q)
        euclidean = self.metric == "euclidean"
        if euclidean:
            g_sq = torch.from_numpy(self._gallery_sq_norms)
            q_sq_all = torch.from_numpy(q_sq_norms)
        buffer = torch.empty(rows * min(cols, n_gallery), dtype=G.dtype)
        scores = np.empty((Q.shape[0], keep), dtype=self.gallery_.dtype)
        indices = np.empty((Q.shape[0], keep), dtype=np.int64)
        for start in range(0, Q.shape[0], rows):
            stop = min(start + rows, Q.shape[0])
            q = Q_t[start:stop]
            best_scores = best_indices = None
            for g_start in range(0, n_gallery, cols):
                g_stop = min(g_start + cols, n_gallery)
                width = g_stop - g_start
                S = buffer[: q.shape[0] * width].view(q.shape[0], width)
                torch.mm(q, G[g_start:g_stop].T, out=S)
                if euclidean:
                    S.mul_(2.0)
                    S.sub_(q_sq_all[start:stop, None])
                    S.sub_(g_sq[None, g_start:g_stop])
                top_scores, top_indices = torch.topk(S, min(keep, width), dim=1, sorted=False)
                top_indices += g_start
                if best_scores is None:
                    best_scores, best_indices = top_scores, top_indices
                    continue
                best_scores = torch.cat([best_scores, top_scores], dim=1)
                best_indices = torch.cat([best_indices, top_indices], dim=1)
                if best_scores.shape[1] > keep:
                    best_scores, which = torch.topk(best_scores, keep, dim=1, sorted=False)
                    best_indices = torch.gather(best_indices, 1, which)
            scores[start:stop] = best_scores.numpy()
            indices[start:stop] = best_indices.numpy()
        return scores, indices

    # ---------------------------------------------------------------- faiss

    def _faiss(self):
        return import_optional("faiss", purpose="CrossModalRetriever(backend='faiss')")

    def _faiss_data(self, gallery, what):
        """The gallery in float32, the dtype faiss indexes and computes in."""
        with np.errstate(over="ignore"):
            data = np.ascontiguousarray(gallery, dtype=np.float32)
        if not np.isfinite(data).all():
            raise ValueError(
                f"{what} has entries up to {peak_magnitude(gallery):.3g}, beyond "
                f"float32 (at most {np.finfo(np.float32).max:.3g}), in which faiss "
                "indexes the gallery; rescale it or use backend='numpy'."
            )
        return data

    def _build_faiss_index(self, gallery):
        faiss = self._faiss()
        d = gallery.shape[1]
        euclidean = self.metric == "euclidean"
        data = self._faiss_data(gallery, f"The gallery ({self.target!r})")
        if self.index == "flat":
            index = faiss.IndexFlatL2(d) if euclidean else faiss.IndexFlatIP(d)
        else:
            if gallery.shape[0] < self.nlist:
                raise ValueError(
                    f"index='ivf' with nlist={self.nlist} needs at least {self.nlist} "
                    f"gallery items to train, got {gallery.shape[0]}; lower nlist."
                )
            metric = faiss.METRIC_L2 if euclidean else faiss.METRIC_INNER_PRODUCT
            quantizer = faiss.IndexFlatL2(d) if euclidean else faiss.IndexFlatIP(d)
            index = faiss.IndexIVFFlat(quantizer, d, self.nlist, metric)
            index.cp.seed = int(check_random_state(self.random_state).randint(2**31 - 1))
            with self._faiss_threads(faiss):
                index.train(data)
            # The IVF index owns its quantizer from here on (kept alive for pickling).
            index.own_fields = True
            quantizer.this.disown()
        index.add(data)
        return index

    @contextmanager
    def _faiss_threads(self, faiss):
        previous = faiss.omp_get_max_threads()
        n_threads = _n_threads(self.n_jobs)
        if n_threads is not None:
            faiss.omp_set_num_threads(n_threads)
        try:
            yield
        finally:
            faiss.omp_set_num_threads(previous)

    def _faiss_candidates(self, Q, q_sq_norms, keep):
        faiss = self._faiss()
        with self._faiss_threads(faiss):
            distances, indices = self.index_.search(
                np.ascontiguousarray(Q, dtype=np.float32), keep
            )
        scores = -distances if self.metric == "euclidean" else distances
        return scores.astype(self.gallery_.dtype, copy=False), indices.astype(np.int64)

    def _search_ivf(self, Q, k):
        self.index_.nprobe = self.nprobe
        scores, indices = self._faiss_candidates(Q, None, k)
        scores[indices < 0] = -np.inf
        return sort_candidates(scores, indices)

    def __getstate__(self):
        state = dict(super().__getstate__())
        if state.get("index_") is not None:
            if self.index == "flat":
                state["index_"] = None
            else:
                state["index_"] = self._faiss().serialize_index(state["index_"])
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if getattr(self, "backend_", None) != "faiss":
            return
        if self.index_ is None:
            self.index_ = self._build_faiss_index(self.gallery_)
        else:
            self.index_ = self._faiss().deserialize_index(self.index_)

    # ---------------------------------------------------------------- score

    def score(self, X, y=None):
        """Mean average precision of retrieving ``X``'s target block by its query block.

        Each query row of ``X`` ranks every ``target`` row of ``X`` (not the
        fitted gallery, so that held-out folds are scored on themselves, the
        protocol of the Wikipedia benchmark) over the full ranking.

        Parameters
        ----------
        X : pandas.DataFrame
            Table with both the ``query`` and the ``target`` block (or the
            embedder's input producing them), rows paired.
        y : array-like of shape (n_samples,), default=None
            Category labels: a target is relevant when it shares the query's
            label. None: only the paired row is relevant.

        Returns
        -------
        score : float
            Mean average precision, in [0, 1].
        """
        from .metrics import mean_average_precision

        check_is_fitted(self)
        Q, blocks, columns = self._query_block(X)
        if self.target not in blocks:
            raise ValueError(self._missing_block_message("target", self.target, blocks))
        T = self._finite_float(blocks[self.target], self.target, columns)
        return float(
            mean_average_precision(Q, T, y, y, metric=self.metric)
        )
