"""Search engines behind one interface: build, add, search, pickle.

An engine holds a prepared gallery (:func:`skcrossmodal._similarity.prepare`)
and answers exact top-k queries over it. :class:`NumpyEngine` and
:class:`TorchEngine` score tiles of gallery rows x queries (``numpy.matmul``
or ``torch.mm``) and merge each tile into the one running top-k,
:class:`~skcrossmodal._similarity.RunningTopK`; :class:`FaissEngine` asks a
faiss index (flat: exact; IVF: approximate). Every exact engine returns the
same results: the ranking of the whole gallery by score, ties broken by the
lower gallery row (:func:`~skcrossmodal._similarity.settle_ties`).

:class:`~skcrossmodal.retrieval.CrossModalRetriever` and
:class:`~skcrossmodal.mapping.KNNMapper` are thin estimators over them.
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import copy
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from functools import lru_cache

import numpy as np
from joblib import effective_n_jobs
from threadpoolctl import ThreadpoolController

from ._optional import import_optional
from ._similarity import (
    RunningTopK,
    check_finite_scores,
    check_finite_sq_norms,
    check_similarity,
    peak_magnitude,
    prepare,
    rescore_top_k,
    search_blocks,
    settle_ties,
    sort_candidates,
)
from ._torch import import_torch

__all__ = [
    "ENGINES",
    "Engine",
    "FaissEngine",
    "NumpyEngine",
    "TorchEngine",
    "make_engine",
]


@lru_cache(maxsize=1)
def _blas_controller():
    """numpy's BLAS, found once: scanning the loaded libraries is not free."""
    return ThreadpoolController()


class Engine:
    """Exact top-k search over a gallery: the interface of every engine.

    ``build(gallery)`` indexes a gallery, ``add(gallery)`` returns a new
    engine with more rows (the engine itself never changes once built, so
    that a failed ``partial_fit`` leaves the previous one intact), and
    ``search(queries, k)`` returns the scores and gallery rows of the ``k``
    best of each query, best first, ties to the lower row. Engines pickle.

    Parameters
    ----------
    similarity : {"cosine", "dot", "euclidean"}, default="cosine"
        How queries and gallery rows compare; scores are higher for closer
        rows (``"euclidean"``: the negative squared distance).

    Attributes
    ----------
    gallery : ndarray of shape (n_gallery, n_features)
        The prepared gallery (L2-normalised rows for cosine), float32 or
        float64.
    sq_norms : ndarray of shape (n_gallery,) or None
        Squared norms of its rows, for ``"euclidean"``.
    peak : float
        Largest absolute entry of ``gallery``.
    """

    name = None
    exact = True

    def __init__(self, similarity="cosine"):
        check_similarity(similarity)
        self.similarity = similarity

    @property
    def n_gallery(self):
        return self.gallery.shape[0]

    # ----------------------------------------------------------- indexing

    def _prepare_gallery(self, gallery, name, dtype=None):
        gallery = np.asarray(gallery)
        if dtype is not None:
            gallery = gallery.astype(dtype, copy=False)
        prepared, sq_norms = prepare(gallery, self.similarity)
        if sq_norms is not None:
            check_finite_sq_norms(sq_norms, name)
        return prepared, sq_norms, np.may_share_memory(prepared, gallery)

    def build(self, gallery, *, name="The gallery", n_jobs=None, copy=True):
        """Index ``gallery`` (finite floats, one row per item) and return self.

        ``copy=False`` lets the engine keep ``gallery`` itself where no
        preparation copies it (dot, euclidean).
        """
        prepared, sq_norms, shared = self._prepare_gallery(gallery, name)
        if copy and shared:
            prepared = prepared.copy()
        self.gallery = np.ascontiguousarray(prepared)
        self.sq_norms = sq_norms
        self.peak = peak_magnitude(self.gallery)
        self._build_index(name, n_jobs)
        return self

    def add(self, gallery, *, name="The new rows"):
        """A new engine whose gallery is this one's followed by ``gallery``."""
        prepared, sq_norms, _ = self._prepare_gallery(gallery, name, self.gallery.dtype)
        new = copy.copy(self)
        new.gallery = np.concatenate([self.gallery, prepared])
        new.peak = max(self.peak, peak_magnitude(prepared))
        if sq_norms is not None:
            new.sq_norms = np.concatenate([self.sq_norms, sq_norms])
        new._add_to_index(self, prepared, name)
        return new

    def _build_index(self, name, n_jobs):
        """Build what the engine needs beyond ``gallery`` (a faiss index)."""

    def _add_to_index(self, previous, prepared, name):
        """Extend the copy of ``previous``'s index by the ``prepared`` rows."""

    # ------------------------------------------------------------- search

    def prepare_queries(self, queries):
        """Queries in the gallery's dtype, prepared, and their squared norms."""
        dtype = self.gallery.dtype
        queries = np.asarray(queries)
        if self.similarity == "cosine":
            # Normalised first: a float64 query of any size fits a float32 gallery.
            Q, q_sq = prepare(queries, self.similarity)
            return Q.astype(dtype, copy=False), q_sq
        with np.errstate(over="ignore"):
            Q = queries.astype(dtype, copy=False)  # overflow is reported by search
        return prepare(Q, self.similarity)

    def search(
        self,
        queries,
        k,
        *,
        batch_size="auto",
        n_jobs=None,
        name="the queries",
        gallery_name="the gallery",
        progress=None,
    ):
        """Scores and gallery rows of the ``k`` best rows for each query.

        Parameters
        ----------
        queries : ndarray of shape (n_queries, n_features)
            Finite queries (not yet prepared).
        k : int
            Number of results; at most ``n_gallery`` are returned.
        batch_size : int or "auto", default="auto"
            Queries scored together; ``"auto"`` keeps the score tiles of all
            threads within scikit-learn's ``working_memory``.
        n_jobs : int, default=None
            Threads scoring blocks of queries in parallel (each with one BLAS
            thread). None means 1 unless in a joblib context: one block at a
            time, on the BLAS's own threads.
        name, gallery_name : str
            What the queries and the gallery are, for error messages.
        progress : skcrossmodal._estimator.Progress, default=None
            Reports each block of queries searched.

        Returns
        -------
        scores, indices : ndarray of shape (n_queries, min(k, n_gallery))
            Best first, equal scores by lower gallery row.
        """
        Q, q_sq = self._checked_queries(queries, name, gallery_name)
        k = min(int(k), self.n_gallery)
        keep = min(k + 1, self.n_gallery)
        scores, indices = self._candidates(
            Q, q_sq, keep, batch_size=batch_size, n_jobs=n_jobs, progress=progress
        )
        return settle_ties(
            scores,
            indices,
            k,
            lambda rows: rescore_top_k(
                Q[rows],
                self.gallery,
                k,
                self.similarity,
                None if q_sq is None else q_sq[rows],
                self.sq_norms,
            ),
        )

    def _checked_queries(self, queries, name, gallery_name):
        """:meth:`prepare_queries`, refusing queries whose scores would overflow."""
        Q, q_sq = self.prepare_queries(queries)
        check_finite_scores(
            Q,
            self.gallery,
            self.similarity,
            q_sq=q_sq,
            g_sq=self.sq_norms,
            g_peak=self.peak,
            dtype=self._score_dtype(),
            queries=name,
            gallery=gallery_name,
        )
        return Q, q_sq

    def _score_dtype(self):
        return self.gallery.dtype

    def _candidates(self, Q, q_sq, keep, *, batch_size, n_jobs, progress):
        """The ``keep`` best scores of each prepared query and their rows, unordered."""
        raise NotImplementedError


class NumpyEngine(Engine):
    """Tiles of ``numpy.matmul`` merged into one running top-k.

    Query blocks run in ``n_jobs`` threads, each with one BLAS thread (numpy
    releases the GIL), scoring tiles of about ``TILE_ENTRIES`` entries into
    one reused buffer (see :func:`~skcrossmodal._similarity.search_blocks`).

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal._engines import NumpyEngine
    >>> engine = NumpyEngine("dot").build(np.array([[1.0, 0.0], [0.0, 2.0]]))
    >>> engine.search(np.array([[1.0, 1.0]]), 2)
    (array([[2., 1.]]), array([[1, 0]]))
    """

    name = "numpy"

    def _candidates(self, Q, q_sq, keep, *, batch_size, n_jobs, progress):
        n_queries, n_gallery = Q.shape[0], self.n_gallery
        n_threads = effective_n_jobs(n_jobs)
        rows, columns = search_blocks(
            n_queries, n_gallery, keep, Q.dtype.itemsize, batch_size, n_threads
        )
        starts = range(0, n_queries, rows)
        n_threads = min(n_threads, len(starts))
        euclidean = self.similarity == "euclidean"
        if euclidean:
            # Within a query row, q.g - |g|^2 / 2 ranks as -|q - g|^2 does (it is
            # half of it plus |q|^2 / 2) and costs one pass over a tile, not three.
            half_g_sq = self.sq_norms / 2
        product = self._tile_product(Q)

        def block(start):
            stop = min(start + rows, n_queries)
            buffer = np.empty((stop - start) * columns, dtype=Q.dtype)
            top = RunningTopK(stop - start, keep, Q.dtype)
            for g_start in range(0, n_gallery, columns):
                g_stop = min(g_start + columns, n_gallery)
                tile = buffer[: (stop - start) * (g_stop - g_start)]
                T = product(
                    start, stop, g_start, g_stop, tile.reshape(g_stop - g_start, -1)
                )
                if euclidean:
                    T -= half_g_sq[g_start:g_stop, None]
                top.push(T, g_start)
            scores, indices = top.result()
            if euclidean:
                return 2.0 * scores - q_sq[start:stop, None], indices
            return scores, indices

        if n_threads == 1:
            results = map(block, starts)
            pool = nullcontext()
        else:
            pool = ThreadPoolExecutor(n_threads)
        with self._one_thread_each(n_threads), pool:
            if n_threads > 1:
                results = pool.map(block, starts)
            scores = np.empty((n_queries, keep), dtype=Q.dtype)
            indices = np.empty((n_queries, keep), dtype=np.int64)
            for start, (block_scores, block_indices) in zip(
                starts, results, strict=True
            ):
                stop = min(start + rows, n_queries)
                scores[start:stop], indices[start:stop] = block_scores, block_indices
                if progress:
                    progress(
                        f"search {stop}/{n_queries} queries",
                        f"{n_gallery} gallery rows",
                        level=2 if len(starts) < 4 else 1,
                    )
        return scores, indices

    def _tile_product(self, Q):
        """``product(start, stop, g_start, g_stop, out)``: the score tile
        ``gallery[g_start:g_stop] @ Q[start:stop].T`` (one row per gallery
        item, as :class:`~skcrossmodal._similarity.RunningTopK` screens it)
        written into ``out``."""
        G = self.gallery

        def product(start, stop, g_start, g_stop, out):
            return np.matmul(G[g_start:g_stop], Q[start:stop].T, out=out)

        return product

    def _one_thread_each(self, n_threads):
        """Parallel blocks each on one BLAS thread, so as not to oversubscribe."""
        if n_threads == 1:
            return nullcontext()
        return _blas_controller().limit(limits=1, user_api="blas")


class TorchEngine(NumpyEngine):
    """The tiles of :class:`NumpyEngine` computed by ``torch.mm``.

    The same blocks, tiles and running top-k; only the matrix products run
    in torch (its own BLAS). With ``n_jobs`` threads each runs torch on one
    intra-op thread.
    """

    name = "torch"

    def _tile_product(self, Q):
        torch = import_torch("CrossModalRetriever(backend='torch')")
        if not Q.flags.writeable or not Q.flags.c_contiguous:
            Q = np.array(Q, order="C")  # torch.from_numpy needs a writable buffer
        gallery = self.gallery
        if not gallery.flags.writeable:
            gallery = gallery.copy()
        Q_t, G_t = torch.from_numpy(Q), torch.from_numpy(gallery)

        def product(start, stop, g_start, g_stop, out):
            with torch.inference_mode():
                torch.mm(
                    G_t[g_start:g_stop], Q_t[start:stop].T, out=torch.from_numpy(out)
                )
            return out

        return product

    @contextmanager
    def _one_thread_each(self, n_threads):
        torch = import_torch("CrossModalRetriever(backend='torch')")
        previous = torch.get_num_threads()
        if n_threads > 1:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(previous)


class FaissEngine(Engine):
    """A faiss index: flat (``IndexFlatIP`` / ``IndexFlatL2``, exact) or IVF
    (``IndexIVFFlat``, approximate).

    faiss indexes and scores in float32; the gallery is also kept in its own
    dtype, from which a flat index is rebuilt on unpickling (an IVF index is
    serialised with ``faiss.serialize_index``).

    Parameters
    ----------
    similarity : {"cosine", "dot", "euclidean"}, default="cosine"
        How rows compare.
    index : {"flat", "ivf"}, default="flat"
        Index type.
    nlist : int, default=100
        Inverted lists (k-means cells) of the IVF index.
    random_state : int, RandomState instance or None, default=None
        Seed of the k-means that trains the IVF index.
    """

    name = "faiss"

    def __init__(
        self, similarity="cosine", *, index="flat", nlist=100, random_state=None
    ):
        super().__init__(similarity)
        self.index = index
        self.nlist = nlist
        self.random_state = random_state
        self.exact = index == "flat"

    @staticmethod
    def _faiss():
        return import_optional("faiss", purpose="CrossModalRetriever(backend='faiss')")

    @contextmanager
    def _threads(self, n_jobs):
        faiss = self._faiss()
        previous = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(effective_n_jobs(n_jobs))
        try:
            yield faiss
        finally:
            faiss.omp_set_num_threads(previous)

    def _score_dtype(self):
        return np.dtype(np.float32)

    @staticmethod
    def _float32(gallery, name):
        """The gallery in float32, the dtype faiss indexes and computes in."""
        with np.errstate(over="ignore"):
            data = np.ascontiguousarray(gallery, dtype=np.float32)
        if not np.isfinite(data).all():
            raise ValueError(
                f"{name} has entries up to {peak_magnitude(gallery):.3g}, beyond "
                f"float32 (at most {np.finfo(np.float32).max:.3g}), in which faiss "
                "indexes the gallery; rescale it or use backend='numpy'."
            )
        return data

    def _build_index(self, name, n_jobs):
        from sklearn.utils import check_random_state

        faiss = self._faiss()
        n_gallery, d = self.gallery.shape
        data = self._float32(self.gallery, name)
        euclidean = self.similarity == "euclidean"
        if self.index == "flat":
            index = faiss.IndexFlatL2(d) if euclidean else faiss.IndexFlatIP(d)
        else:
            if n_gallery < self.nlist:
                raise ValueError(
                    f"index='ivf' with nlist={self.nlist} needs at least {self.nlist} "
                    f"gallery items to train, got {n_gallery}; lower nlist."
                )
            metric = faiss.METRIC_L2 if euclidean else faiss.METRIC_INNER_PRODUCT
            quantizer = faiss.IndexFlatL2(d) if euclidean else faiss.IndexFlatIP(d)
            index = faiss.IndexIVFFlat(quantizer, d, self.nlist, metric)
            index.cp.seed = int(
                check_random_state(self.random_state).randint(2**31 - 1)
            )
            with self._threads(n_jobs):
                index.train(data)
            # The IVF index owns its quantizer from here on (kept alive for pickling).
            index.own_fields = True
            quantizer.this.disown()
        index.add(data)
        self.faiss_index = index

    def _add_to_index(self, previous, prepared, name):
        data = self._float32(prepared, name)
        index = self._faiss().clone_index(previous.faiss_index)
        index.add(data)
        self.faiss_index = index

    def _search_index(self, Q, k, n_jobs, nprobe=None):
        params = None
        if self.index == "ivf":
            params = self._faiss().SearchParametersIVF(nprobe=int(nprobe))
        with self._threads(n_jobs):
            distances, indices = self.faiss_index.search(
                np.ascontiguousarray(Q, dtype=np.float32), k, params=params
            )
        scores = -distances if self.similarity == "euclidean" else distances
        return scores.astype(self.gallery.dtype, copy=False), indices.astype(np.int64)

    def _candidates(self, Q, q_sq, keep, *, batch_size, n_jobs, progress):
        return self._search_index(Q, keep, n_jobs)

    def search(self, queries, k, *, nprobe=8, **options):
        """As :meth:`Engine.search`; ``nprobe``: lists searched by an IVF index.

        An IVF index may find fewer than ``k`` rows: the missing slots hold
        row -1 and score ``-inf``, after the found ones.
        """
        if self.exact:
            return super().search(queries, k, **options)
        Q, _ = self._checked_queries(
            queries,
            options.get("name", "the queries"),
            options.get("gallery_name", "the gallery"),
        )
        scores, indices = self._search_index(
            Q, min(int(k), self.n_gallery), options.get("n_jobs"), nprobe
        )
        scores[indices < 0] = -np.inf
        return sort_candidates(scores, indices)

    def __getstate__(self):
        state = dict(self.__dict__)
        index = state.pop("faiss_index", None)
        if index is not None and self.index == "ivf":
            state["serialized_index"] = self._faiss().serialize_index(index)
        return state

    def __setstate__(self, state):
        serialized = state.pop("serialized_index", None)
        self.__dict__.update(state)
        if "gallery" not in state:
            return
        if serialized is not None:
            self.faiss_index = self._faiss().deserialize_index(serialized)
        else:
            self._build_index("The gallery", None)


ENGINES = {"numpy": NumpyEngine, "torch": TorchEngine, "faiss": FaissEngine}


def make_engine(backend, similarity="cosine", **options):
    """An unbuilt engine: ``backend`` is ``"numpy"``, ``"torch"`` or ``"faiss"``
    (``options``: those of :class:`FaissEngine`)."""
    if backend != "faiss":
        return ENGINES[backend](similarity)
    return FaissEngine(similarity, **options)
