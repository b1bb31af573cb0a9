"""Route raw columns to per-modality feature extractors.

:class:`ModalityUnion` turns a raw table (a caption column, an image-path
column, a few numeric columns...) into the modality table of docs/architecture.md §1: one
block of numeric columns ``<modality>__<feature>`` per modality, ready for
mappers, fusers and retrieval.
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import os
from numbers import Integral

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import TransformerMixin, clone
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import Bunch
from sklearn.utils._param_validation import HasMethods
from sklearn.utils._tags import get_tags
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    process_routing,
)
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    _check_feature_names_in,
    _num_samples,
    check_is_fitted,
)
from sklearn_compat.utils._indexing import _get_column_indices, _safe_indexing
from sklearn_compat.utils.validation import (
    _check_feature_names,
    _check_n_features,
    check_array,
    validate_data,
)

from . import _cache
from ._dask import is_dask_collection
from ._estimator import Progress, fit_context
from ._frame import SEPARATOR, BlockOutputMixin, _check_modality_name

__all__ = ["ModalityUnion", "make_modality_union"]

_SPECIAL = ("passthrough", "drop")


class ModalityUnion(BlockOutputMixin, TransformerMixin, _BaseComposition):
    """Extract one feature block per modality from the columns of a raw table.

    Each ``(modality, transformer, column)`` routes a column (or several) of
    ``X`` to a clone of ``transformer``. The outputs are placed side by side in
    a DataFrame whose columns are named ``<modality>__<feature>``: the modality
    table that mappers, fusers and retrieval take (docs/architecture.md §1). It works like
    :class:`~sklearn.compose.ColumnTransformer`, with three differences: the
    output is always a DataFrame of modality blocks (a sparse extractor
    output becomes a sparse-backed block, see ``transformers``), and at
    transform time a modality whose columns are all absent is skipped (a
    text-only query yields only the text block). Columns of the fitted DataFrame that no
    modality selects are allowed (and ignored) at transform time, but a column
    the union was not fitted with raises a ``ValueError`` that names it, so
    that a renamed raw column (``audio`` -> ``wav``) cannot silently drop its
    modality.

    Parameters
    ----------
    transformers : list of tuples
        ``(modality, transformer, column)`` tuples.

        modality : str
            Name of the output block: non-empty, without ``"__"``, unique. It
            is also the prefix for :meth:`set_params` and grid search
            (``"<modality>__<parameter>"``).
        transformer : {"passthrough", "drop"} or estimator
            An estimator with ``fit`` (or ``fit_transform``) and ``transform``;
            it is cloned, never fitted in place. ``"passthrough"`` stands for a
            :class:`~sklearn.preprocessing.FunctionTransformer` with one-to-one
            feature names that keeps the (numeric) column(s) as they are, and
            appears as one in ``transformers_``; ``"drop"`` leaves the
            modality out. A sparse output (a text vectorizer's) is kept
            sparse: its block has ``pandas.SparseDtype`` columns, never
            densified behind the user's back. Estimators that need dense
            blocks refuse it by name; reduce it first (e.g. with
            :class:`~sklearn.decomposition.TruncatedSVD` in the modality's
            pipeline) or densify it knowingly (``X.sparse.to_dense()``).
        column : str, int, list, slice, boolean mask or callable
            A single name (or integer position for arrays) gives the
            transformer a 1-D input, as text vectorizers need; a list, slice or
            mask gives a 2-D input. A callable is called on ``X`` at fit time
            and must return one of these.

    memory : str, path-like or joblib.Memory, default=None
        A feature cache (``skcrossmodal._cache``). ``None`` caches nothing.
        Otherwise each transformer is fitted (a fit is itself cached under
        its parameters, the files they name and the content of its input,
        unless a ``random_state`` among its parameters is None or a
        ``RandomState``; the fit of an extractor that learns nothing from the
        data, such as the CNN, is shared by every fold) and then each
        **distinct row** (hashed by raw content: a file path
        with the file's modification time and size, an array's bytes...) is
        transformed once per fitted state, across folds, candidates and
        scorers of a search, and stored on disk with :mod:`joblib` under
        ``<location>/skcrossmodal/``. The scores are those without the cache
        provided the transformers' ``transform`` is row-wise and
        deterministic (each output row depends only on its input row and the
        fitted state), as feature extractors are; do not cache one that is
        not. ``"passthrough"`` modalities are never cached.
    n_jobs : int, default=None
        Number of modalities fitted or transformed in parallel with joblib.
        ``None`` means 1 unless in a :obj:`joblib.parallel_backend` context;
        ``-1`` means all processors.
    verbose : int, default=0
        With 1 or more, print one line to stderr per transformer fitted or
        applied, ``[ModalityUnion] fit 1/2: modality 'text', TfidfVectorizer
        (0.1 s)`` (with a cache, how many rows were computed).

    Attributes
    ----------
    transformers_ : list of tuples
        ``(modality, fitted_transformer, column)``, with the clones fitted on
        ``X`` and ``column`` resolved (a callable replaced by its result).
    named_transformers_ : :class:`~sklearn.utils.Bunch`
        The fitted transformers by modality name.
    modalities_ : list of str
        The modalities of the output, in order (all but the dropped ones).
    output_indices_ : dict of str to slice
        Columns of each modality block in the output of :meth:`fit_transform`.
    n_features_in_ : int
        Number of columns of ``X`` seen during :term:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names of ``X`` seen during :term:`fit`. Defined only when ``X``
        has column names that are all strings.

    See Also
    --------
    make_modality_union : Build a ModalityUnion from keyword arguments.
    sklearn.compose.ColumnTransformer : The general column router.
    skcrossmodal.split_modalities : Split the output back into blocks.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.feature_extraction.text import CountVectorizer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcrossmodal.compose import ModalityUnion
    >>> X = pd.DataFrame({"caption": ["a red car", "a blue sky"],
    ...                   "width": [3.0, 1.0], "height": [2.0, 4.0]})
    >>> union = ModalityUnion([("text", CountVectorizer(), "caption"),
    ...                        ("size", StandardScaler(), ["width", "height"])])
    >>> union.fit_transform(X)
       text__blue  text__car  text__red  text__sky  size__width  size__height
    0           0          1          1          0          1.0          -1.0
    1           1          0          0          1         -1.0           1.0
    >>> union.transform(X[["caption"]])  # a text-only query
       text__blue  text__car  text__red  text__sky
    0           0          1          1          0
    1           1          0          0          1
    """

    _parameter_constraints: dict = {
        "transformers": [list],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(self, transformers, *, memory=None, n_jobs=None, verbose=0):
        self.transformers = transformers
        self.memory = memory
        self.n_jobs = n_jobs
        self.verbose = verbose

    @property
    def _transformers(self):
        # (name, estimator) pairs for _BaseComposition's get_params/set_params.
        try:
            return [(name, trans) for name, trans, _ in self.transformers]
        except (TypeError, ValueError):
            return self.transformers

    @_transformers.setter
    def _transformers(self, value):
        try:
            self.transformers = [
                (name, trans, column)
                for (name, trans), (_, _, column) in zip(
                    value, self.transformers, strict=True
                )
            ]
        except (TypeError, ValueError):
            self.transformers = value

    def get_params(self, deep=True):
        """Get parameters, including those of the transformers.

        Parameters
        ----------
        deep : bool, default=True
            If True, also return the transformers by modality name and their
            parameters as ``<modality>__<parameter>``.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return self._get_params("_transformers", deep=deep)

    def set_params(self, **params):
        """Set parameters, including those of the transformers.

        A transformer is replaced with ``set_params(<modality>=new)`` and its
        parameters are set with ``set_params(<modality>__<parameter>=value)``.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : ModalityUnion
            This estimator.
        """
        self._set_params("_transformers", **params)
        return self

    def _validate_transformers(self):
        if not self.transformers:
            raise ValueError(
                "ModalityUnion needs at least one (modality, transformer, column) "
                "tuple; transformers is empty."
            )
        for entry in self.transformers:
            if not isinstance(entry, tuple) or len(entry) != 3:
                raise ValueError(
                    "Each entry of transformers must be a (modality, transformer, "
                    f"column) tuple, got {entry!r}."
                )
        names = [name for name, _, _ in self.transformers]
        for name in names:
            _check_modality_name(name)
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(
                f"Modality names must be unique; {duplicates} appear more than once."
            )
        clashes = sorted(set(names) & set(self.get_params(deep=False)))
        if clashes:
            raise ValueError(
                f"Modality names {clashes} clash with parameters of ModalityUnion; "
                "rename the modalities."
            )
        for name, trans, _ in self.transformers:
            if isinstance(trans, str) and trans in _SPECIAL:
                continue
            if not (
                hasattr(trans, "fit") or hasattr(trans, "fit_transform")
            ) or not hasattr(trans, "transform"):
                raise TypeError(
                    f"The transformer of modality {name!r} must implement fit and "
                    "transform, or be 'passthrough' or 'drop'; got "
                    f"{trans!r} (type {type(trans).__name__})."
                )

    def _resolve_column(self, X, modality, column):
        """Return (column, positions, is_1d) of ``column`` in ``X`` at fit time."""
        if callable(column):
            column = column(X)
        is_1d = np.isscalar(column)
        keys = [column] if is_1d else column
        if isinstance(keys, slice):
            keys = [k for k in (keys.start, keys.stop) if k is not None]
        names = [
            k for k in np.asarray(keys, dtype=object).ravel() if isinstance(k, str)
        ]
        if names and not isinstance(X, pd.DataFrame):
            raise ValueError(
                f"Modality {modality!r} selects columns by name ({column!r}), but X "
                f"is a {type(X).__name__} without column names; pass a DataFrame or "
                "select columns by integer position."
            )
        if isinstance(X, pd.DataFrame):
            missing = [k for k in names if k not in X.columns]
            if missing:
                raise ValueError(
                    f"Modality {modality!r} needs column(s) {missing}, which X does "
                    f"not have; X has columns {list(X.columns)}."
                )
        try:
            if isinstance(column, slice) and not names:
                positions = list(range(X.shape[1]))[column]
            else:
                positions = _get_column_indices(X, column)
        except (ValueError, IndexError, KeyError, TypeError) as exc:
            raise ValueError(
                f"Modality {modality!r} has an invalid column selection {column!r} "
                f"for X with {X.shape[1]} columns: {exc}"
            ) from exc
        if not positions:
            raise ValueError(
                f"Modality {modality!r} selects no column of X (column={column!r})."
            )
        return column, list(positions), is_1d

    def _select(self, X, positions, is_1d, *, by_label):
        """The input of one modality: a 1-D or 2-D piece of ``X``."""
        if by_label:
            labels = [self._labels_in[j] for j in positions]
            return X[labels[0]] if is_1d else X[labels]
        key = positions[0] if is_1d else positions
        return _safe_indexing(X, key, axis=1)

    def _check_X(self, X):
        if isinstance(X, pd.DataFrame):
            if X.shape[1] == 0:
                raise ValueError(
                    f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
                    "of 1 is required by ModalityUnion."
                )
            if _num_samples(X) == 0:
                raise ValueError(
                    f"Found array with 0 sample(s) (shape={X.shape}) while a minimum "
                    "of 1 is required by ModalityUnion."
                )
            return X
        return check_array(
            X, accept_sparse=("csr", "csc"), dtype=None, ensure_all_finite=False
        )

    def fit(self, X, y=None, **params):
        """Fit one clone of each transformer on its column(s) of X.

        Parameters
        ----------
        X : {pandas.DataFrame, array-like} of shape (n_samples, n_columns)
            The raw table. Every column a modality selects must be present.
        y : array-like of shape (n_samples,), default=None
            Targets, passed on to each transformer.
        **params : dict
            Metadata routed to the transformers' ``fit``/``fit_transform``;
            only with ``sklearn.set_config(enable_metadata_routing=True)``.

        Returns
        -------
        self : ModalityUnion
            The fitted union.
        """
        _raise_for_params(params, self, "fit")
        self.fit_transform(X, y, **params)
        return self

    @fit_context(
        # the transformers are validated by their own fit
        prefer_skip_nested_validation=False
    )
    def fit_transform(self, X, y=None, **params):
        """Fit every transformer and return the modality table of X.

        Parameters
        ----------
        X : {pandas.DataFrame, array-like} of shape (n_samples, n_columns)
            The raw table. Every column a modality selects must be present.
        y : array-like of shape (n_samples,), default=None
            Targets, passed on to each transformer.
        **params : dict
            Metadata routed to the transformers' ``fit``/``fit_transform``;
            only with ``sklearn.set_config(enable_metadata_routing=True)``.

        Returns
        -------
        X_blocks : pandas.DataFrame of shape (n_samples, n_features_out)
            One block ``<modality>__<feature>`` per modality not dropped
            (sparse-backed for a sparse transformer output).
        """
        _raise_for_params(params, self, "fit_transform")
        if is_dask_collection(X):
            from ._distributed_extract import fit_union_dask

            fit_union_dask(self, X)
        self._validate_transformers()
        X = self._check_X(X)
        validate_data(self, X=X, skip_check_array=True)
        self._labels_in = list(X.columns) if isinstance(X, pd.DataFrame) else None
        routed_params = process_routing(self, "fit_transform", **params)

        resolved = {}
        for modality, _, column in self.transformers:
            resolved[modality] = self._resolve_column(X, modality, column)
        passthrough = {m for m, trans, _ in self.transformers if _is_passthrough(trans)}
        self._columns = {
            modality: (positions, is_1d and modality not in passthrough)
            for modality, (_, positions, is_1d) in resolved.items()
        }
        active = [
            (modality, trans, *self._columns[modality])
            for modality, trans, _ in self.transformers
            if not _is_drop(trans)
        ]

        location = _cache.cache_location(self.memory)
        progress = Progress(self, self.verbose)
        results = Parallel(n_jobs=self.n_jobs, return_as="generator")(
            delayed(_fit_transform_one)(
                _passthrough_transformer(modality)
                if _is_passthrough(trans)
                else clone(trans),
                self._select(X, positions, is_1d, by_label=False),
                y,
                routed_params[modality],
                None if _is_passthrough(trans) else location,
            )
            for modality, trans, positions, is_1d in active
        )
        fitted = {}
        for k, ((modality, *_), result) in enumerate(
            zip(active, results, strict=True), 1
        ):
            fitted[modality] = result
            progress(
                f"fit {k}/{len(active)}",
                f"modality {modality!r}, {type(result[1]).__name__}{result[3]}",
            )

        n_samples = _num_samples(X)
        input_names = _check_feature_names_in(self)
        self.transformers_ = []
        self._names_out = {}
        self._cache_keys = {}
        self._passthrough = passthrough
        outputs = {}
        for modality, trans, _ in self.transformers:
            resolved_column, positions, _ = resolved[modality]
            if _is_drop(trans):
                self.transformers_.append((modality, "drop", resolved_column))
                continue
            Xt, fitted_trans, cache_key, _ = fitted[modality]
            self.transformers_.append((modality, fitted_trans, resolved_column))
            self._cache_keys[modality] = cache_key
            outputs[modality] = _as_block(Xt, modality, n_samples)
            self._names_out[modality] = _block_names(
                modality,
                fitted_trans,
                input_names[positions],
                outputs[modality].shape[1],
            )
        self.modalities_ = list(outputs)
        self.output_indices_ = {}
        start = 0
        for modality, block in outputs.items():
            self.output_indices_[modality] = slice(start, start + block.shape[1])
            start += block.shape[1]
        return self._assemble(outputs, X)

    def transform(self, X, **params):
        """Extract the blocks of the modalities present in X.

        Parameters
        ----------
        X : {pandas.DataFrame, array-like} of shape (n_samples, n_columns)
            The raw table. If the union was fitted on a DataFrame and X is
            one, columns are found by name (their order does not matter), a
            modality whose columns are all absent is skipped, and one with
            only some of its columns raises an error. Columns of the fitted
            DataFrame that no modality selects may be present or not; any
            other column raises an error naming it (and the columns of the
            modalities it may have replaced). Otherwise X must have the
            ``n_features_in_`` columns seen in fit.
        **params : dict
            Metadata routed to the transformers' ``transform``; only with
            ``sklearn.set_config(enable_metadata_routing=True)``.

        Returns
        -------
        X_blocks : pandas.DataFrame of shape (n_samples, n_features_present)
            One block ``<modality>__<feature>`` per modality present, in
            fitted order.
        """
        _raise_for_params(params, self, "transform")
        check_is_fitted(self)
        if is_dask_collection(X):
            from ._distributed_extract import transform_union_dask

            return transform_union_dask(self, X)
        X = self._check_X(X)
        by_label = self._labels_in is not None and isinstance(X, pd.DataFrame)
        if not by_label:
            _check_feature_names(self, X, reset=False)
            _check_n_features(self, X, reset=False)
        routed_params = process_routing(self, "transform", **params)

        if by_label:
            self._check_no_unknown_columns(X)
        present = []
        for modality in self.modalities_:
            positions, is_1d = self._columns[modality]
            if by_label:
                labels = [self._labels_in[j] for j in positions]
                missing = [label for label in labels if label not in X.columns]
                if len(missing) == len(labels):
                    continue
                if missing:
                    raise ValueError(
                        f"X has {X.shape[1]} features, but {type(self).__name__} is "
                        f"expecting {self.n_features_in_} features as input: "
                        f"modality {modality!r} needs columns {labels}, but X lacks "
                        f"{missing}; give all of them, or none to leave the "
                        "modality out."
                    )
            present.append((modality, positions, is_1d))
        if not present:
            expected = {m: self._modality_labels(m) for m in self.modalities_}
            raise ValueError(
                "X has none of the columns of the modalities ModalityUnion was "
                f"fitted on ({expected}); it has columns {list(X.columns)}."
            )

        named = self.named_transformers_
        location = _cache.cache_location(self.memory)
        progress = Progress(self, self.verbose)
        cache_keys = self._cache_keys
        results = Parallel(n_jobs=self.n_jobs, return_as="generator")(
            delayed(_transform_one)(
                named[modality],
                self._select(X, positions, is_1d, by_label=by_label),
                routed_params[modality],
                None if modality in self._passthrough else location,
                cache_keys[modality],
            )
            for modality, positions, is_1d in present
        )
        n_samples = _num_samples(X)
        outputs = {}
        for k, ((modality, _, _), (Xt, note)) in enumerate(
            zip(present, results, strict=True), 1
        ):
            progress(
                f"transform {k}/{len(present)}",
                f"modality {modality!r}, {type(named[modality]).__name__}{note}",
            )
            block = _as_block(Xt, modality, n_samples)
            expected_width = len(self._names_out[modality])
            if block.shape[1] != expected_width:
                raise ValueError(
                    f"The transformer of modality {modality!r} returned "
                    f"{block.shape[1]} features at transform but {expected_width} "
                    "at fit."
                )
            outputs[modality] = block
        return self._assemble(outputs, X)

    def _check_no_unknown_columns(self, X):
        """Raise naming the columns of ``X`` that were not columns at fit time.

        A modality is left out by leaving out its columns; a column of another
        name (say a renamed raw column) would otherwise drop its modality
        without a word.
        """
        fitted = set(self._labels_in)
        unknown = [column for column in X.columns if column not in fitted]
        if not unknown:
            return
        expected = {m: self._modality_labels(m) for m in self.modalities_}
        hint = "".join(
            f" Modality {modality!r} expected {labels}, which X lacks: was it renamed?"
            for modality, labels in expected.items()
            if not any(label in X.columns for label in labels)
        )
        raise ValueError(
            f"ModalityUnion.transform got column(s) {unknown}, which were not "
            f"columns of the DataFrame it was fitted on.{hint} Drop them, or give "
            "them their fitted names; a modality is left out by leaving out all "
            "of its columns."
        )

    def _modality_labels(self, modality):
        return [self._labels_in[j] for j in self._columns[modality][0]]

    def _assemble(self, outputs, X):
        index = X.index if isinstance(X, pd.DataFrame) else None
        names = [name for m in outputs for name in self._names_out[m]]
        blocks = list(outputs.values())
        if any(sparse.issparse(block) for block in blocks):
            frames = [
                pd.DataFrame.sparse.from_spmatrix(
                    block, index=index, columns=self._names_out[m]
                )
                if sparse.issparse(block)
                else pd.DataFrame(block, index=index, columns=self._names_out[m])
                for m, block in outputs.items()
            ]
            frame = pd.concat(frames, axis=1)
            if index is None:
                frame.index = pd.RangeIndex(_num_samples(X))
        elif len({block.dtype for block in blocks}) <= 1:
            data = np.hstack(blocks) if blocks else np.empty((_num_samples(X), 0))
            frame = pd.DataFrame(data, columns=names, index=index, copy=False)
        else:
            # One frame per block: pandas keeps each as one 2-D block, where a
            # dict of columns would validate and copy every column.
            frame = pd.concat(
                [
                    pd.DataFrame(block, columns=self._names_out[m])
                    for m, block in outputs.items()
                ],
                axis=1,
            )
            if index is not None:
                frame.index = index
        return self._finish_output(frame)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``<modality>__<feature>``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Must match ``feature_names_in_`` if given; otherwise unused.

        Returns
        -------
        feature_names_out : ndarray of str objects
            All fitted blocks, in order. A transform of a partial table
            returns the blocks of the modalities present only.
        """
        check_is_fitted(self)
        _check_feature_names_in(self, input_features)
        return np.asarray(
            [name for m in self.modalities_ for name in self._names_out[m]],
            dtype=object,
        )

    @property
    def named_transformers_(self):
        """The fitted transformers by modality name.

        Read-only attribute to access a fitted transformer by its modality
        name, e.g. ``union.named_transformers_.text.vocabulary_``.
        """
        return Bunch(**{name: trans for name, trans, _ in self.transformers_})

    def __getitem__(self, modality):
        try:
            return self.named_transformers_[modality]
        except AttributeError as exc:
            raise TypeError(
                "ModalityUnion is subscriptable after it is fitted"
            ) from exc
        except KeyError as exc:
            raise KeyError(f"{modality!r} is not a modality of this union") from exc

    def get_metadata_routing(self):
        """Get the metadata routing of this object.

        Returns
        -------
        routing : MetadataRouter
            Routes metadata of ``fit``/``fit_transform``/``transform`` to each
            transformer's methods.
        """
        router = MetadataRouter(owner=self)
        for name, trans, _ in self.transformers:
            mapping = MethodMapping()
            if hasattr(trans, "fit_transform"):
                mapping.add(caller="fit", callee="fit_transform").add(
                    caller="fit_transform", callee="fit_transform"
                )
            else:
                mapping.add(caller="fit", callee="fit").add(
                    caller="fit", callee="transform"
                ).add(caller="fit_transform", callee="fit").add(
                    caller="fit_transform", callee="transform"
                )
            mapping.add(caller="transform", callee="transform")
            router.add(method_mapping=mapping, **{name: trans})
        return router

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            inner = [
                get_tags(trans).input_tags
                for _, trans, _ in self.transformers
                if not (isinstance(trans, str) and trans in _SPECIAL)
            ]
        except Exception:
            # Malformed transformers: fit raises the informative error.
            return tags
        # The union accepts what any of its extractors accepts (a raw text
        # column, categories), and NaN/sparse input only if all of them do.
        tags.input_tags.string = any(t.string for t in inner)
        tags.input_tags.categorical = any(t.categorical for t in inner)
        tags.input_tags.allow_nan = all(t.allow_nan for t in inner)
        tags.input_tags.sparse = all(t.sparse for t in inner)
        return tags


def _is_drop(trans):
    return isinstance(trans, str) and trans == "drop"


def _is_passthrough(trans):
    return isinstance(trans, str) and trans == "passthrough"


def _fit_transform_one(trans, X, y, params, location):
    """Fit one modality's transformer; return (output, fitted, cache key, note)."""
    if location is None:
        if hasattr(trans, "fit_transform"):
            Xt = trans.fit_transform(X, y, **params.get("fit_transform", {}))
        else:
            Xt = trans.fit(X, y, **params.get("fit", {})).transform(
                X, **params.get("transform", {})
            )
        return Xt, trans, None, ""
    # With a cache, fit then transform: only a fitted transformer is cached.
    keys = _cache.row_keys(X)
    fit_params = {**params.get("fit", {}), **params.get("fit_transform", {})}
    trans, key = _cache.fit_cached(location, trans, X, y, keys, fit_params)
    Xt, n_computed = _cache.transform_cached(
        location, trans, key, X, keys, params.get("transform", {})
    )
    return Xt, trans, key, f", {n_computed} of {len(keys)} rows computed"


def _transform_one(trans, X, params, location, key):
    """Transform one modality; return (output, note)."""
    if location is None:
        return trans.transform(X, **params.get("transform", {})), ""
    if key is None:  # fitted without a cache
        key = _cache.fitted_state_key(trans, X)
    keys = _cache.row_keys(X)
    Xt, n_computed = _cache.transform_cached(
        location, trans, key, X, keys, params.get("transform", {})
    )
    return Xt, f", {n_computed} of {len(keys)} rows computed"


def _passthrough_transformer(modality):
    """What ``"passthrough"`` stands for: numeric columns kept as they are."""
    return FunctionTransformer(
        _check_numeric,
        kw_args={"modality": modality},
        accept_sparse=True,
        check_inverse=False,
        feature_names_out="one-to-one",
    )


def _check_numeric(X, modality):
    """The columns of a ``"passthrough"`` modality, refused unless numeric."""
    if sparse.issparse(X):
        return X
    if isinstance(X, pd.DataFrame):
        non_numeric = [c for c, t in X.dtypes.items() if t.kind not in "biuf"]
        for column in non_numeric:
            # An object column holding only real numbers is read as numbers.
            values = X[column]
            reason = None
            if pd.api.types.infer_dtype(values, skipna=True) in ("string", "bytes"):
                reason = "holds text"
            else:
                try:
                    values.to_numpy(dtype=np.float64)
                except (TypeError, ValueError) as exc:
                    reason = f"holds a value that is not a number ({exc})"
            if reason is not None:
                raise TypeError(
                    f"Modality {modality!r} is 'passthrough' but column {column!r} "
                    f"(dtype {values.dtype}) {reason}; passthrough needs numeric "
                    "columns. Give it a feature extractor."
                )
        return X.to_numpy(dtype=np.float64) if non_numeric else X.to_numpy()
    X = np.asarray(X)
    if X.dtype.kind in "biuf":
        return X
    try:
        if X.dtype.kind in "US" or any(isinstance(v, str) for v in X.ravel()):
            raise TypeError("argument must be a real number, not a string")
        return X.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"Modality {modality!r} is 'passthrough' but its columns are not "
            f"numeric ({exc}); give it a feature extractor."
        ) from exc


def _as_block(Xt, modality, n_samples):
    """A 2-D ndarray, or a CSR matrix for sparse output, from a transformer."""
    if sparse.issparse(Xt):
        Xt = sparse.csr_matrix(Xt)
    else:
        if hasattr(Xt, "to_numpy"):
            Xt = Xt.to_numpy()
        Xt = np.asarray(Xt)
        if Xt.ndim == 1:
            Xt = Xt.reshape(-1, 1)
    if Xt.ndim != 2 or Xt.shape[0] != n_samples:
        raise ValueError(
            f"The transformer of modality {modality!r} must return a 2-D output "
            f"with {n_samples} rows, got shape {Xt.shape}."
        )
    return Xt


def _block_names(modality, trans, input_names, width):
    """``<modality>__<feature>`` names of one fitted modality's output."""
    try:
        features = [str(name) for name in trans.get_feature_names_out(input_names)]
    except (AttributeError, NotImplementedError):
        features = [str(k) for k in range(width)]
    if len(features) != width:
        raise ValueError(
            f"The transformer of modality {modality!r} names {len(features)} output "
            f"features but returned {width} columns."
        )
    return [f"{modality}{SEPARATOR}{feature}" for feature in features]


def make_modality_union(*, memory=None, n_jobs=None, verbose=0, **named):
    """Build a :class:`ModalityUnion` from ``modality=(transformer, column)``.

    Parameters
    ----------
    memory : str, path-like or joblib.Memory, default=None
        The feature cache; see :class:`ModalityUnion`.
    n_jobs : int, default=None
        Number of modalities fitted in parallel; see :class:`ModalityUnion`.
    verbose : int, default=0
        Progress messages; see :class:`ModalityUnion`.
    **named : tuple (transformer, column)
        One keyword per modality, in output order: the modality name, and the
        transformer with the column(s) it reads, as in :class:`ModalityUnion`.

    Returns
    -------
    union : ModalityUnion
        In a :func:`~sklearn.pipeline.make_pipeline` its step is named
        ``"modalityunion"``, so a grid reaches a transformer parameter as
        ``"modalityunion__<modality>__<parameter>"``.

    Examples
    --------
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcrossmodal.compose import make_modality_union
    >>> union = make_modality_union(text=(TfidfVectorizer(), "caption"),
    ...                             image=(StandardScaler(), ["r", "g", "b"]))
    >>> [name for name, _, _ in union.transformers]
    ['text', 'image']
    """
    transformers = []
    for modality, value in named.items():
        if not isinstance(value, tuple) or len(value) != 2:
            raise ValueError(
                f"make_modality_union expects modality=(transformer, column); got "
                f"{modality}={value!r}."
            )
        transformers.append((modality, *value))
    return ModalityUnion(transformers, memory=memory, n_jobs=n_jobs, verbose=verbose)
