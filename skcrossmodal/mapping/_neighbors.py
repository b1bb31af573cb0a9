"""Nearest-neighbour map from a source modality into a target's space."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._engines import NumpyEngine
from .._estimator import fit_context
from .._frame import validate_blocks
from .._similarity import block_rows, check_finite_sq_norms, prepare
from ._base import SharedSpaceMixin, score_prediction, validate_source_target


class KNNMapper(SharedSpaceMixin, BaseEstimator):
    """Map a source item to the mean target of its nearest training sources.

    For each source row, the ``n_neighbors`` training rows whose source block
    is most similar are found by the exact search engine of
    :class:`~skcrossmodal.retrieval.CrossModalRetriever` (BLAS products of
    bounded tiles and a running top-k, no loop over samples), and the row is
    mapped to the (weighted) mean of the target blocks paired with them. The
    shared space is the target's feature space: the target block passes
    through unchanged, so both blocks have ``n_target_features`` columns.

    Parameters
    ----------
    source : str
        Modality whose rows are searched.
    target : str
        Modality whose feature space is the shared space.
    n_neighbors : int, default=5
        Number of training rows averaged.
    weights : {"uniform", "distance"}, default="uniform"
        ``"uniform"``: plain mean. ``"distance"``: weights ``1 / distance``
        (as :class:`sklearn.neighbors.KNeighborsRegressor`: a neighbour at
        distance 0 takes all the weight, shared with other such neighbours).
    similarity : {"cosine", "euclidean"}, default="cosine"
        How source rows compare; the distance is ``1 - cosine`` or the
        Euclidean distance.
    batch_size : int or "auto", default="auto"
        Query rows scored per block, against tiles of about 2**22 training
        rows x queries; it never changes the result. ``"auto"`` uses blocks
        of at most 1024 rows within scikit-learn's ``working_memory``.
    n_jobs : int, default=None
        Number of threads scoring blocks of queries in parallel, each with one
        BLAS thread (numpy releases the GIL). None means 1 unless in a joblib
        context: one block at a time, with a multi-threaded BLAS.

    Attributes
    ----------
    source_fit_ : ndarray of shape (n_samples_fit_, n_source_features)
        Training source block (a copy: editing ``X`` after ``fit`` changes
        nothing).
    target_fit_ : ndarray of shape (n_samples_fit_, n_target_features)
        Training target block, paired row by row (a copy as well).
    n_samples_fit_ : int
        Number of training rows.
    n_components_ : int
        Width of the shared space (the number of target features).
    modalities_ : list of str
        ``[source, target]``.
    n_features_in_ : int
        Number of features of the source and target blocks together.
    feature_names_in_ : ndarray of str
        Their column names.
    feature_names_per_modality_ : dict of str to ndarray
        Column names of each block.

    See Also
    --------
    sklearn.neighbors.KNeighborsRegressor : The same prediction on arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame
    >>> from skcrossmodal.mapping import KNNMapper
    >>> X = make_frame(image=[[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]],
    ...                text=[[1.0], [3.0], [10.0]])
    >>> mapper = KNNMapper("image", "text", n_neighbors=2).fit(X)
    >>> mapper.transform(make_frame(image=[[1.0, 0.05]])).to_numpy()
    array([[2.]])
    """

    _parameter_constraints: dict = {
        "source": [str],
        "target": [str],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "weights": [StrOptions({"uniform", "distance"})],
        "similarity": [StrOptions({"cosine", "euclidean"})],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        source,
        target,
        *,
        n_neighbors=5,
        weights="uniform",
        similarity="cosine",
        batch_size="auto",
        n_jobs=None,
    ):
        self.source = source
        self.target = target
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.similarity = similarity
        self.batch_size = batch_size
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Store the paired training rows of the source and target blocks.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table holding the ``source`` and ``target`` blocks, with
            at least ``n_neighbors`` rows.
        y : None
            Ignored.

        Returns
        -------
        self : KNNMapper
            The fitted mapper.
        """
        blocks = validate_source_target(
            self, X, reset=True, ensure_min_samples=self.n_neighbors
        )
        # Copies: a block may be a view of X's data (sklearn's
        # KNeighborsRegressor copies its training data too).
        source = np.array(blocks[self.source])
        if self.similarity == "euclidean":
            check_finite_sq_norms(
                prepare(source, self.similarity)[1],
                f"The training source block {self.source!r}",
            )
        self.source_fit_ = source
        self.target_fit_ = np.array(blocks[self.target])
        self.n_samples_fit_ = self.source_fit_.shape[0]
        self.n_components_ = self.target_fit_.shape[1]
        return self

    def kneighbors(self, source, return_distance=True):
        """Nearest training rows of each source row, closest first.

        Parameters
        ----------
        source : ndarray of shape (n_queries, n_source_features) or DataFrame
            Source block, or a modality table holding it. It is validated as
            :meth:`transform` validates its input: numeric, finite, with the
            fitted number of source features.
        return_distance : bool, default=True
            Whether to return the distances as well.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors)
            ``1 - cosine`` or Euclidean distance to each neighbour. Only
            when ``return_distance=True``.
        indices : ndarray of shape (n_queries, n_neighbors)
            Their training row indices; equally close rows are ordered by
            row index.
        """
        check_is_fitted(self)
        return self._kneighbors(self._source_block(source), return_distance)

    def _source_block(self, source):
        """The source block of ``source``, validated as ``transform`` does."""
        if isinstance(source, pd.DataFrame):
            blocks = validate_blocks(self, source, reset=False)
            if self.source not in blocks:
                raise ValueError(
                    f"KNNMapper.kneighbors searches the source block {self.source!r}, "
                    f"but X has only {list(blocks)}."
                )
            return blocks[self.source]
        columns = self.feature_names_per_modality_[self.source]
        array = np.asarray(source)
        if array.ndim != 2 or array.shape[1] != len(columns):
            raise ValueError(
                f"source must be the {self.source!r} block, of shape (n_queries, "
                f"{len(columns)}) for the columns {list(columns)} KNNMapper was "
                f"fitted with; got shape {array.shape}."
            )
        # As a modality table, so that the checks and messages are transform's.
        frame = pd.DataFrame(array, columns=columns, copy=False)
        return validate_blocks(self, frame, reset=False)[self.source]

    def _kneighbors(self, source, return_distance=True):
        engine = NumpyEngine(self.similarity).build(
            self.source_fit_, name="The training source rows", copy=False
        )
        similarities, indices = engine.search(
            source,
            self.n_neighbors,
            batch_size=self.batch_size,
            n_jobs=self.n_jobs,
            name=f"the source block {self.source!r}",
            gallery_name="the training source rows",
        )
        if not return_distance:
            return indices
        if self.similarity == "cosine":
            return 1.0 - similarities, indices
        # Recompute the k distances directly: the expansion used for the
        # search loses the exact zero of a duplicated row.
        distances = np.empty(indices.shape)
        step = block_rows(indices.shape[1] * source.shape[1] * source.itemsize)
        for start in range(0, source.shape[0], step):
            block = slice(start, start + step)
            differences = source[block, None, :] - self.source_fit_[indices[block]]
            distances[block] = np.sqrt(
                np.einsum("qkf,qkf->qk", differences, differences)
            )
        return distances, indices

    def _predict_target(self, source):
        if self.weights == "uniform":
            indices = self._kneighbors(source, return_distance=False)
            return self.target_fit_[indices].mean(axis=1)
        distances, indices = self._kneighbors(source)
        neighbours = self.target_fit_[indices]
        with np.errstate(divide="ignore"):
            weights = 1.0 / distances
        exact = ~np.isfinite(weights)
        has_exact = exact.any(axis=1)
        weights[has_exact] = exact[has_exact]
        weights /= weights.sum(axis=1, keepdims=True)
        return np.einsum("qk,qkf->qf", weights, neighbours)

    def _embed(self, blocks):
        return {
            modality: (
                self._predict_target(block) if modality == self.source else block
            )
            for modality, block in blocks.items()
        }

    def score(self, X, y=None):
        """Coefficient of determination R² of the mapped source on the target.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table holding the ``source`` and ``target`` blocks.
        y : None
            Ignored.

        Returns
        -------
        score : float
            R² of the predicted target block, averaged uniformly over target
            features (as :meth:`sklearn.neighbors.KNeighborsRegressor.score`).
            At most 1, higher is better.
        """
        return score_prediction(self, X)
