"""Cross-modal retrieval: index a gallery of one modality, search it with another.

:class:`CrossModalRetriever` stores the ``target`` block of a shared-space
table (the gallery) in a search engine (:mod:`skcrossmodal._engines`) and
answers ``query`` blocks with their exact top-k neighbours.
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._dask import is_dask_collection
from ._engines import make_engine
from ._estimator import Progress, fit_context
from ._frame import (
    ModalityNamesError,
    float_block,
    how_to_name,
    modality_slices,
)
from ._sharded import add_sharded, is_sharded, query_block, query_info, search_sharded
from ._similarity import SIMILARITIES

__all__ = ["CrossModalRetriever"]


class CrossModalRetriever(BaseEstimator):
    """Index a gallery of one modality and search it with another.

    The gallery is the ``target`` block of a shared-space table (the output of
    a fitted mapper: put the mapper before the retriever in a pipeline,
    ``make_pipeline(CCA(), CrossModalRetriever("text", "image"))``); queries
    are the ``query`` block of another table, which need not contain anything
    else. The search is exact: queries are scored against the gallery in tiles
    of matrix products merged into a running top-k, so memory is bounded by
    the tiles and never holds an ``n_queries x n_gallery`` matrix.

    Parameters
    ----------
    query : str
        Modality of the queries, e.g. ``"text"``.
    target : str
        Modality of the gallery, e.g. ``"image"``. May equal ``query``.
    n_neighbors : int, default=10
        Number of results per query. When the gallery holds fewer items, all
        of them are returned.
    similarity : {"cosine", "dot", "euclidean"}, default="cosine"
        How queries and gallery items compare. Scores are the cosine
        similarity, the dot product, or the negative *squared* euclidean
        distance, so that a higher score is always better (``np.sqrt(-scores)``
        gives distances). For cosine the gallery is L2-normalised once at fit
        time.
    batch_size : int or "auto", default="auto"
        Number of queries scored together; it never changes the results. Each
        query block is scored against gallery shards of ``max(n_neighbors + 1,
        2**22 // batch_size)`` items. ``"auto"`` uses blocks of at most 1024
        queries and keeps the tiles of all threads within scikit-learn's
        ``working_memory`` (``sklearn.set_config(working_memory=...)``, MiB).
    backend : {"auto", "numpy", "torch", "faiss"}, default="auto"
        Search engine. ``"numpy"`` scores tiles with ``numpy.matmul``,
        ``"torch"`` with ``torch.mm``; both merge each tile into the same
        running top-k (see Notes). ``"faiss"`` uses a faiss index
        (``IndexFlatIP`` or ``IndexFlatL2`` when ``index="flat"``). ``"auto"``
        is numpy, which needs no optional dependency.
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
        Number of threads of the search. With numpy and torch, each scores
        blocks of queries on one BLAS thread; with faiss, the number of its
        OpenMP threads. None means 1 unless in a
        :obj:`joblib.parallel_backend` context (numpy and torch then score
        one block at a time on their BLAS's own threads); -1 means all
        processors.
    verbose : int, default=0
        1 reports each block of queries of a large search (and the fit), 2
        every block, on stderr.

    Attributes
    ----------
    gallery_ : ndarray of shape (n_gallery, n_components)
        The gallery embeddings, L2-normalised for ``similarity="cosine"``.
        They keep the dtype of the target block when it is float32 or float64
        (float32 halves memory and is about twice as fast); other dtypes are
        converted to float64. Queries are converted to this dtype (for
        cosine after their normalisation).
    ids_ : ndarray of shape (n_gallery,) or None
        Identifiers returned by :meth:`search` and :meth:`predict` instead of
        row numbers.
    backend_ : str
        The engine used (``"numpy"``, ``"torch"`` or ``"faiss"``).
    engine_ : skcrossmodal._engines.Engine
        The search engine holding the gallery (and a faiss index).
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

    The numpy and torch engines keep a running top-k per query, as faiss's
    ``ResultHeap`` does: each score tile is screened by the maxima of groups
    of ``16`` columns, compared with the query's current ``(n_neighbors +
    1)``-th best score, and only the groups that beat it are read again.

    Cosine normalises each row after scaling it by the power of two of its
    largest entry, so that embeddings of any finite size rank correctly. Dot
    and euclidean scores of huge embeddings overflow the dtype (to infinity,
    or NaN for ``inf - inf``): a search whose scores would not all be finite
    raises a ``ValueError`` naming the query block and the gallery, and a
    euclidean gallery whose squared norms overflow is refused by ``fit``.

    A pickled retriever holds its gallery: about ``n_gallery * n_components *
    itemsize`` bytes plus the ids (see ``docs/retrieval.md``). A flat faiss
    index is rebuilt from the gallery on loading; an IVF index is serialised
    with ``faiss.serialize_index``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame
    >>> from skcrossmodal.retrieval import CrossModalRetriever
    >>> images = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> gallery = make_frame(image=images)
    >>> retriever = CrossModalRetriever("text", "image", n_neighbors=2)
    >>> retriever = retriever.fit(gallery, ids=["cat", "dog", "both"])
    >>> scores, ids = retriever.search(make_frame(text=np.array([[2.0, 0.1]])))
    >>> ids
    array([['cat', 'both']], dtype='<U4')
    >>> scores.round(3)
    array([[0.999, 0.742]])
    >>> retriever.predict(make_frame(text=np.array([[0.1, 2.0]])))
    array([['dog', 'both']], dtype='<U4')
    """

    _parameter_constraints: dict = {
        "query": [str],
        "target": [str],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "similarity": [StrOptions(set(SIMILARITIES))],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "backend": [StrOptions({"auto", "torch", "numpy", "faiss"})],
        "index": [StrOptions({"flat", "ivf"})],
        "nlist": [Interval(Integral, 1, None, closed="left")],
        "nprobe": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        query,
        target,
        *,
        n_neighbors=10,
        similarity="cosine",
        batch_size="auto",
        backend="auto",
        index="flat",
        nlist=100,
        nprobe=8,
        random_state=None,
        n_jobs=None,
        verbose=0,
    ):
        self.query = query
        self.target = target
        self.n_neighbors = n_neighbors
        self.similarity = similarity
        self.batch_size = batch_size
        self.backend = backend
        self.index = index
        self.nlist = nlist
        self.nprobe = nprobe
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        # An IVF index trains a k-means; unseeded, its lists differ between fits.
        tags.non_deterministic = (
            self.backend == "faiss"
            and self.index == "ivf"
            and self.random_state is None
        )
        return tags

    # ------------------------------------------------------------------ fit

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, ids=None):
        """Index the ``target`` block of ``X`` as the gallery.

        Parameters
        ----------
        X : pandas.DataFrame
            Gallery table: a shared-space table with a ``target`` block.
        y : None
            Ignored; present for pipeline compatibility.
        ids : array-like of shape (n_gallery,), default=None
            Identifiers of the gallery items, returned by :meth:`search` and
            :meth:`predict` instead of row numbers.

        Returns
        -------
        self : object
            The fitted retriever.
        """
        for attribute in (
            "gallery_",
            "ids_",
            "engine_",
            "backend_",
            "n_features_in_",
            "feature_names_in_",
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
        first = not hasattr(self, "engine_")
        if first and self.index == "ivf" and self.backend != "faiss":
            raise ValueError(
                f"index='ivf' needs backend='faiss', got backend={self.backend!r}."
            )
        progress = Progress(self, self.verbose)
        gallery = self._target_block(X, self._blocks(X, reset=first))
        if gallery.shape[0] == 0:
            raise ValueError("The gallery is empty: X has no rows.")
        if not first and gallery.shape[1] != self.gallery_.shape[1]:
            raise ValueError(
                f"The new {self.target!r} block has {gallery.shape[1]} features but "
                f"the gallery has {self.gallery_.shape[1]}."
            )
        ids = self._check_ids(ids, gallery.shape[0], first)
        if first:
            backend = "numpy" if self.backend == "auto" else self.backend
            engine = make_engine(
                backend,
                self.similarity,
                index=self.index,
                nlist=self.nlist,
                random_state=self.random_state,
            ).build(gallery, name=f"The gallery ({self.target!r})", n_jobs=self.n_jobs)
            self.backend_ = backend
            if hasattr(X, "columns"):
                self.feature_names_in_ = np.asarray(X.columns, dtype=object)
                self.n_features_in_ = len(self.feature_names_in_)
        else:
            engine = self.engine_.add(gallery, name=f"The new {self.target!r} block")
            if ids is not None:
                ids = np.concatenate([self.ids_, ids])
            else:
                ids = self.ids_
        self.engine_ = engine
        self.gallery_ = engine.gallery
        self.ids_ = ids
        progress("fit", f"gallery of {engine.n_gallery} rows indexed ({self.backend_})")
        return self

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

    # ------------------------------------------------------------ validation

    def _blocks(self, X, *, reset=False):
        """The blocks of the shared-space table ``X``: ``{modality: positions}``
        (:func:`~skcrossmodal._frame.modality_slices`)."""
        if not hasattr(X, "columns"):
            raise ModalityNamesError(
                f"{type(self).__name__} needs a shared-space table, but X is a "
                f"{type(X).__name__} and a bare array has no modality names. Put the "
                "mapper that makes the shared space before the retriever in a "
                "pipeline. " + how_to_name(X)
            )
        if reset and X.shape[1] == 0:
            raise ValueError(
                f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of "
                f"1 is required: X has no modality block for {type(self).__name__}."
            )
        try:
            slices = modality_slices(X.columns)
        except ValueError as exc:
            raise ModalityNamesError(
                f"X is not a modality table: {exc} Put the mapper that makes the "
                "shared space before the retriever in a pipeline."
            ) from exc
        return slices

    def _query_block(self, X):
        """The validated query block of ``X`` and ``X``'s block slices."""
        slices = self._blocks(X)
        Q = query_block(X, query_info(self), slices)
        if Q.shape[0] == 0:
            raise ValueError("The query set is empty: X has no rows.")
        return Q, slices

    def _target_block(self, X, slices):
        return float_block(
            X, self.target, type(self).__name__, role="target", slices=slices
        )

    # --------------------------------------------------------------- search

    def search(self, X, n_neighbors=None):
        """Find the best gallery items for each query.

        Parameters
        ----------
        X : pandas.DataFrame
            Query table: a shared-space table with a ``query`` block (only
            the query's modality is needed).
        n_neighbors : int, default=None
            Number of results per query; None uses ``self.n_neighbors``. A
            gallery with fewer items returns all of them.

        Returns
        -------
        scores : ndarray of shape (n_queries, n_results)
            Similarities, best first (see ``similarity``).
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
        Q, _ = self._query_block(X)
        scores, indices = self._search_rows(Q, int(n_neighbors))
        if self.ids_ is None:
            return scores, indices
        found = indices >= 0
        if found.all():
            return scores, self.ids_[indices]
        ids = np.full(indices.shape, None, dtype=object)
        ids[found] = self.ids_[indices[found]]
        return scores, ids

    def _search_rows(self, Q, n_neighbors):
        """Scores and gallery rows of a validated query block (also a shard's search)."""
        options = {"nprobe": self.nprobe} if self.backend_ == "faiss" else {}
        return self.engine_.search(
            Q,
            n_neighbors,
            batch_size=self.batch_size,
            n_jobs=self.n_jobs,
            name=f"the query block {self.query!r}",
            gallery_name=f"the gallery ({self.target!r})",
            progress=Progress(self, self.verbose),
            **options,
        )

    def predict(self, X):
        """The ranked gallery items of each query.

        Parameters
        ----------
        X : pandas.DataFrame
            Query table, as in :meth:`search`.

        Returns
        -------
        ids : ndarray of shape (n_queries, n_results)
            Gallery ids (or row numbers without ids), best first: the second
            output of :meth:`search` with ``n_neighbors`` results.
        """
        return self.search(X)[1]

    # ---------------------------------------------------------------- score

    def score(self, X, y=None):
        """Mean average precision of retrieving ``X``'s target block by its query block.

        Each query row of ``X`` ranks every ``target`` row of ``X`` (not the
        fitted gallery, so that held-out folds are scored on themselves, the
        protocol of the Wikipedia benchmark) over the full ranking.

        Parameters
        ----------
        X : pandas.DataFrame
            Table with both the ``query`` and the ``target`` block, rows
            paired.
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
        Q, slices = self._query_block(X)
        T = self._target_block(X, slices)
        return float(
            mean_average_precision(
                Q, T, y, y, similarity=self.similarity, batch_size=self.batch_size
            )
        )
