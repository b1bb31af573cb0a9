"""The modality table: one DataFrame, one column block per modality.

Every estimator that needs modality blocks goes through this module: it is the
only place that parses ``<modality>__<feature>`` column names (docs/architecture.md §1).
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import numbers

import numpy as np
import pandas as pd
from sklearn import get_config
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

SEPARATOR = "__"


class ModalityNamesError(ValueError):
    """Input without modality block names reached an estimator that needs them.

    Raised when ``X`` is not a DataFrame (a bare array has no modality names) or
    has a column not named ``<modality>__<feature>``. A subclass of
    :class:`ValueError`, so ``except ValueError`` still catches it.

    Parameters
    ----------
    *args : str
        The message: what lacks names and how to name the blocks.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import ModalityNamesError, split_modalities
    >>> try:
    ...     split_modalities(np.zeros((2, 3)))
    ... except ModalityNamesError as error:
    ...     print(type(error).__name__)
    ModalityNamesError
    """


# Shown (and documented) as skcrossmodal.ModalityNamesError, where it is exported.
ModalityNamesError.__module__ = "skcrossmodal"

_HOW_TO_NAME = (
    "Name the modality blocks, e.g. X = skcrossmodal.make_frame(text=T, image=I), "
    "or produce X with skcrossmodal.compose.make_modality_union(...)."
)


def make_frame(index=None, **blocks):
    """Build a modality table from one 2-D array per modality.

    Parameters
    ----------
    index : array-like of shape (n_samples,), default=None
        Row index of the returned frame.
    **blocks : array-like of shape (n_samples, n_features_m)
        One array per modality, keyed by modality name. A 1-D array is one
        feature. Column ``j`` of modality ``m`` is named ``m__j``.

    Returns
    -------
    frame : pandas.DataFrame of shape (n_samples, sum of n_features_m)
        The blocks side by side, in the order given.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame
    >>> X = make_frame(text=np.ones((2, 2)), image=np.zeros((2, 3)))
    >>> list(X.columns)
    ['text__0', 'text__1', 'image__0', 'image__1', 'image__2']
    """
    if not blocks:
        raise ValueError(
            "make_frame needs at least one block, e.g. make_frame(text=T)."
        )
    arrays, names = [], []
    n_samples = None
    first = None
    for modality, values in blocks.items():
        _check_modality_name(modality)
        values = np.asarray(values)
        if values.ndim == 1:
            values = values.reshape(-1, 1)
        if values.ndim != 2:
            raise ValueError(
                f"Block {modality!r} must be 1-D or 2-D, got an array of shape "
                f"{values.shape}."
            )
        if n_samples is None:
            n_samples, first = values.shape[0], modality
        elif values.shape[0] != n_samples:
            raise ValueError(
                f"Block {modality!r} has {values.shape[0]} rows but block {first!r} "
                f"has {n_samples}; every block must describe the same samples."
            )
        arrays.append(values)
        names.extend(f"{modality}{SEPARATOR}{j}" for j in range(values.shape[1]))
    if len({a.dtype for a in arrays}) == 1:
        # One dtype: a single 2-D block, so that split_modalities can return views.
        return pd.DataFrame(np.hstack(arrays), columns=names, index=index, copy=False)
    columns = [column for a in arrays for column in a.T]
    return pd.DataFrame(dict(zip(names, columns, strict=True)), index=index)


def _check_modality_name(modality):
    if not isinstance(modality, str) or not modality or SEPARATOR in modality:
        raise ValueError(
            f"Modality names must be non-empty strings without {SEPARATOR!r}; "
            f"got {modality!r}."
        )


def modality_slices(columns):
    """Map each modality to the positions of its columns, in block order.

    Parameters
    ----------
    columns : sequence of str
        Column names of a modality table.

    Returns
    -------
    slices : dict of str to slice or ndarray of int
        A ``slice`` when the block's columns are contiguous (the usual case,
        which allows zero-copy views), else an integer index array.
    """
    # Index.tolist() converts pandas' arrow-backed strings in one call, where
    # iterating the Index converts them one at a time.
    names = columns.tolist() if hasattr(columns, "tolist") else list(columns)
    positions = {}
    for j, name in enumerate(names):
        if not isinstance(name, str) or SEPARATOR not in name:
            raise ModalityNamesError(
                f"Column {name!r} is not named '<modality>{SEPARATOR}<feature>'. "
                + _HOW_TO_NAME
            )
        modality = name.split(SEPARATOR, 1)[0]
        if not modality:
            raise ModalityNamesError(f"Column {name!r} has an empty modality name.")
        positions.setdefault(modality, []).append(j)
    slices = {}
    for modality, idx in positions.items():
        if idx[-1] - idx[0] + 1 == len(idx):
            slices[modality] = slice(idx[0], idx[-1] + 1)
        else:
            slices[modality] = np.asarray(idx)
    return slices


def split_modalities(X, *, dtype=None):
    """Split a modality table into one 2-D array per modality.

    Parameters
    ----------
    X : pandas.DataFrame
        A table whose columns are named ``<modality>__<feature>``.
    dtype : data-type, default=None
        If given, each block is converted to it.

    Returns
    -------
    blocks : dict of str to ndarray of shape (n_samples, n_features_m)
        The blocks in order of first appearance. A block is a view of ``X``'s
        data where pandas allows (a single-dtype, contiguous block).

    Raises
    ------
    ValueError
        If ``X`` is not a DataFrame (a bare array has no modality names) or a
        column is not named ``<modality>__<feature>``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame, split_modalities
    >>> X = make_frame(text=np.ones((2, 2)), image=np.zeros((2, 3)))
    >>> {m: block.shape for m, block in split_modalities(X).items()}
    {'text': (2, 2), 'image': (2, 3)}
    """
    if not isinstance(X, pd.DataFrame):
        raise ModalityNamesError(
            f"Expected a DataFrame with '<modality>{SEPARATOR}<feature>' columns, got "
            f"{type(X).__name__}; a bare array has no modality names. " + how_to_name(X)
        )
    blocks = {}
    for modality, where in modality_slices(X.columns).items():
        block = X.iloc[:, where].to_numpy(dtype=dtype)
        blocks[modality] = block
    return blocks


def select_modalities(X, *modalities):
    """The blocks of the given modalities, as a smaller modality table.

    A block is chosen by its exact modality name (the text before the first
    ``__``), so ``"text"`` never picks a ``pretext__`` column as a substring
    filter such as ``X.filter(like="text__")`` would.

    Parameters
    ----------
    X : pandas.DataFrame
        A modality table.
    *modalities : str
        The modalities to keep, in the order wanted.

    Returns
    -------
    X_selected : pandas.DataFrame
        The columns of those blocks, block after block.

    Raises
    ------
    ValueError
        If a modality has no block in ``X``.

    See Also
    --------
    make_modality_selector : The same choice as a callable column selector.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame, select_modalities
    >>> X = make_frame(text=np.ones((2, 2)), pretext=np.zeros((2, 1)))
    >>> list(select_modalities(X, "text").columns)
    ['text__0', 'text__1']
    """
    return X[make_modality_selector(*modalities)(X)]


def make_modality_selector(*modalities):
    """A callable that picks the columns of the given modality blocks.

    Like :func:`sklearn.compose.make_column_selector`, the result is called on
    a table and returns column names, so it can select columns in a
    :class:`~sklearn.compose.ColumnTransformer` or ``X[selector(X)]``.

    Parameters
    ----------
    *modalities : str
        Modality names; at least one.

    Returns
    -------
    selector : callable
        ``selector(X) -> list of str``: the columns of those blocks of ``X``,
        in the order of ``modalities``. It raises a ValueError naming a
        modality that has no block in ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame, make_modality_selector
    >>> X = make_frame(text=np.ones((2, 2)), image=np.zeros((2, 1)))
    >>> make_modality_selector("image", "text")(X)
    ['image__0', 'text__0', 'text__1']
    """
    if not modalities:
        raise ValueError("make_modality_selector needs at least one modality name.")
    for modality in modalities:
        _check_modality_name(modality)
    return ModalitySelector(modalities)


class ModalitySelector:
    """Picks the columns of some modality blocks; see :func:`make_modality_selector`.

    A class rather than a closure, so that a router holding it can be pickled,
    hashed by joblib and shipped to Dask workers (as scikit-learn's
    ``make_column_selector`` is).
    """

    def __init__(self, modalities):
        self.modalities = tuple(modalities)

    def __repr__(self):
        names = ", ".join(repr(m) for m in self.modalities)
        return f"make_modality_selector({names})"

    def __call__(self, X):
        if not isinstance(X, pd.DataFrame):
            raise ModalityNamesError(
                f"Expected a DataFrame with '<modality>{SEPARATOR}<feature>' columns, "
                f"got {type(X).__name__}. " + _HOW_TO_NAME
            )
        slices = modality_slices(X.columns)
        missing = [m for m in self.modalities if m not in slices]
        if missing:
            raise ValueError(
                f"X has no block for the modalities {missing}; its blocks are "
                f"{list(slices)}."
            )
        return [name for m in self.modalities for name in X.columns[slices[m]]]


def check_finite(block, modality, columns=None):
    """Raise a ValueError naming the first non-finite entry of ``block``.

    Parameters
    ----------
    block : ndarray of shape (n_samples, n_features)
        Numeric block.
    modality : str
        Block name, used in the message.
    columns : sequence of str, default=None
        Column names of the block, used in the message.
    """
    if block.dtype.kind not in "fc" or get_config()["assume_finite"]:
        return
    finite = np.isfinite(block)
    if finite.all():
        return
    row, col = np.argwhere(~finite)[0]
    column = columns[col] if columns is not None else f"{modality}{SEPARATOR}{col}"
    raise ValueError(
        f"Modality {modality!r} has a non-finite value ({block[row, col]}) in row "
        f"{row}, column {column!r}; remove or impute NaN/inf first."
    )


def check_class_labels(y, name):
    """``y`` as a 1-D array of class labels, each row with a label.

    A column vector is raveled with a ``DataConversionWarning``, as
    scikit-learn's classifiers do. A missing label (None, NaN, ``pd.NA``)
    raises a ValueError naming its row: scikit-learn calls None labels an
    "unknown label type" and NaN labels "Input y contains NaN", or fails to
    sort a None among strings.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, 1)
        Class labels.
    name : str
        The estimator, for messages.

    Returns
    -------
    y : ndarray of shape (n_samples,)

    Examples
    --------
    >>> from skcrossmodal._frame import check_class_labels
    >>> check_class_labels(["cat", None, "dog"], "SemanticMapper")
    Traceback (most recent call last):
    ...
    ValueError: SemanticMapper: y has a missing label (None) in row 1; ...
    """
    y = column_or_1d(y, warn=True)
    missing = np.asarray(pd.isna(y), dtype=bool)
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise ValueError(
            f"{name}: y has a missing label ({y[row]}) in row {row}; every row "
            "needs a class label: drop the unlabelled rows or label them."
        )
    check_classification_targets(y)
    return y


def validate_blocks(
    estimator,
    X,
    *,
    reset,
    required=None,
    min_modalities=1,
    dtype=np.float64,
    ensure_min_samples=1,
):
    """Validate a modality table for ``estimator`` and split it into blocks.

    At fit time (``reset=True``) this records ``modalities_`` (the block names
    used), ``n_features_in_``, ``feature_names_in_`` and
    ``feature_names_per_modality_`` on ``estimator``. At transform time
    (``reset=False``) a block may be absent (a partial row), but each present
    fitted block must have the fitted columns. A block that was in the table at
    fit time but not used (``required`` chose a subset) is ignored; a block the
    estimator never saw raises an error naming it.

    Parameters
    ----------
    estimator : estimator instance
        The estimator being fitted or applied; used for messages and state.
    X : pandas.DataFrame
        Modality table.
    reset : bool
        True in ``fit``; False in ``transform``/``predict``/``score``.
    required : sequence of str, default=None
        At fit time, the modalities to use (all must be present); None uses
        every block of ``X``. Ignored when ``reset=False``.
    min_modalities : int, default=1
        Smallest number of blocks needed at fit time.
    dtype : data-type or tuple of data-types, default=np.float64
        Blocks are converted to this type; with a tuple (e.g.
        ``(np.float64, np.float32)``) a block already of one of these types
        keeps it and any other block becomes the first.
    ensure_min_samples : int, default=1
        Smallest number of rows accepted.

    Returns
    -------
    blocks : dict of str to ndarray
        Finite, ``dtype`` blocks for the fitted modalities present in ``X``,
        in fitted order.
    """
    name = type(estimator).__name__
    if not isinstance(X, pd.DataFrame):
        raise ModalityNamesError(
            f"{name} needs modality blocks, but X is a {type(X).__name__} and a bare "
            "array has no modality names. " + how_to_name(X)
        )
    if reset and X.shape[1] == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is "
            f"required: X has no modality block for {name}."
        )
    slices = modality_slices(X.columns)
    if reset:
        if required is None:
            modalities = list(slices)
        else:
            modalities = [required] if isinstance(required, str) else list(required)
            missing = [m for m in modalities if m not in slices]
            if missing:
                raise ValueError(
                    f"{name} needs modalities {missing} but X has blocks "
                    f"{list(slices)}."
                )
        if len(modalities) < min_modalities:
            raise ValueError(
                f"{name} needs at least {min_modalities} modality blocks, but X has "
                f"{len(modalities)}: {modalities}."
            )
    else:
        seen = getattr(estimator, "_modalities_seen_in_fit", estimator.modalities_)
        unknown = [m for m in slices if m not in seen]
        if unknown:
            raise ValueError(
                f"X has modalities {unknown} that {name} was not fitted on; it knows "
                f"{list(seen)}."
            )
        modalities = [m for m in estimator.modalities_ if m in slices]
        if not modalities:
            raise ValueError(
                f"X has none of the modalities {name} was fitted on "
                f"({list(estimator.modalities_)}); it has blocks {list(slices)}."
            )
    n_samples = X.shape[0]
    if n_samples < ensure_min_samples:
        raise ValueError(
            f"{name} needs at least {ensure_min_samples} samples, got {n_samples} "
            "sample(s)."
        )
    blocks = {}
    for modality in modalities:
        columns = X.columns[slices[modality]]
        if not reset:
            expected = estimator.feature_names_per_modality_[modality]
            if len(columns) != len(expected) or np.any(columns != expected):
                raise ValueError(
                    f"X has {X.shape[1]} features, but {name} is expecting "
                    f"{estimator.n_features_in_} features as input: block "
                    f"{modality!r} has columns {_abbreviate(columns)} but {name} was "
                    f"fitted with {_abbreviate(expected)}."
                )
        blocks[modality] = _finite_block(X, slices[modality], name, modality, dtype)
    if reset:
        estimator._modalities_seen_in_fit = list(slices)
        estimator.modalities_ = list(modalities)
        estimator.feature_names_per_modality_ = {
            m: np.asarray(X.columns[slices[m]], dtype=object) for m in modalities
        }
        estimator.feature_names_in_ = np.concatenate(
            [estimator.feature_names_per_modality_[m] for m in modalities]
        )
        estimator.n_features_in_ = len(estimator.feature_names_in_)
    return blocks


def how_to_name(X):
    """How to turn ``X`` into a modality table (with a reshape hint for 1-D input)."""
    if getattr(X, "ndim", None) == 1:
        return (
            "Reshape your data: a 1-D array is neither a table of samples nor "
            "named; build a 2-D table with named blocks. " + _HOW_TO_NAME
        )
    return _HOW_TO_NAME


def _is_plain_number(kind):
    return kind.kind in "biuf" and not isinstance(kind, pd.SparseDtype)


def numeric_block(frame, name, modality, dtype):
    """One block's columns as a numeric ndarray, refusing what is not features.

    Sparse columns are refused (densifying could exhaust memory), complex
    numbers and strings too; an object column holding only real numbers (e.g.
    ``np.array([1, 2], dtype=object)``) is read as numbers. ``dtype`` is one
    dtype or a tuple of accepted float dtypes, the first being the one others
    are converted to (as in :func:`sklearn.utils.check_array`).
    """
    kinds = set(frame.dtypes)
    if not all(_is_plain_number(kind) for kind in kinds):
        _refuse_non_features(frame, name, modality)
    if isinstance(dtype, tuple):
        target = kinds.pop() if len(kinds) == 1 else None
        dtype = target if target in dtype else dtype[0]
    return frame.to_numpy(dtype=dtype)


def _refuse_non_features(frame, name, modality):
    """Raise on the first column of ``frame`` that does not hold real numbers."""
    for column, kind in frame.dtypes.items():
        if _is_plain_number(kind):
            continue
        where = f"column {column!r} of modality {modality!r}"
        if isinstance(kind, pd.SparseDtype):
            raise TypeError(
                f"{name} does not support sparse input: {where} is sparse. Densify "
                "it (X.sparse.to_dense()) if it fits in memory, or reduce it first "
                "(e.g. sklearn.decomposition.TruncatedSVD)."
            )
        if kind.kind == "c":
            raise ValueError(f"Complex data not supported: {where} is {kind}.")
        values = frame[column]
        if pd.api.types.infer_dtype(values, skipna=True) in ("string", "bytes"):
            raise TypeError(
                f"{name} needs numeric features, but {where} holds text (dtype "
                f"{kind}). Extract features first (skcrossmodal.compose.ModalityUnion)."
            )
        try:
            values.to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{name} needs numeric features, but {where} has dtype {kind} with "
                f"a value that is not a number: {exc}"
            ) from exc


def float_block(X, modality, name, *, role, slices=None):
    """The ``modality`` block of the modality table ``X`` as a finite float
    array: float32 is kept, other numbers become float64.

    Parameters
    ----------
    X : pandas.DataFrame
        A modality table.
    modality : str
        The block wanted.
    name : str
        The estimator that reads it, for the messages.
    role : str
        What the block is to it (e.g. ``"query"``), for the message when ``X``
        has no such block.
    slices : dict, default=None
        ``modality_slices(X.columns)``, if already known.
    """
    if slices is None:
        slices = modality_slices(X.columns)
    if modality not in slices:
        raise ValueError(
            f"The {role} block {modality!r} is not in X; it has blocks {list(slices)}."
        )
    return _finite_block(X, slices[modality], name, modality, (np.float64, np.float32))


def _finite_block(X, where, name, modality, dtype):
    """The columns ``where`` of ``X`` (the block of ``modality``) as a numeric
    array in ``dtype`` (see :func:`numeric_block`), refusing a non-finite entry."""
    block = numeric_block(X.iloc[:, where], name, modality, dtype)
    check_finite(block, modality, X.columns[where])
    return block


def _abbreviate(names, n=3):
    names = list(names)
    if len(names) <= 2 * n:
        return names
    return names[:n] + ["..."] + names[-n:]


def check_n_components(estimator, n_components, limit, reason):
    """Raise a clear ValueError if ``n_components`` exceeds ``limit``."""
    if not isinstance(n_components, numbers.Integral) or n_components < 1:
        raise ValueError(
            f"n_components must be a positive integer, got {n_components!r}."
        )
    if n_components > limit:
        raise ValueError(
            f"{type(estimator).__name__} can find at most {limit} components "
            f"({reason}), but n_components={n_components}."
        )


class BlockOutputMixin:
    """``set_output`` for transformers whose output is a modality table.

    Their ``transform`` always returns a DataFrame whose column names carry the
    blocks (a partial row yields fewer blocks than ``get_feature_names_out``
    lists, which scikit-learn's generic wrapper cannot express), so the
    automatic wrapping of :class:`~sklearn.base.TransformerMixin` is turned
    off. ``set_output(transform="default"|"pandas")`` keeps the DataFrame;
    ``"polars"`` converts it. Subclasses call :meth:`_finish_output`.
    """

    def __init_subclass__(cls, **kwargs):
        kwargs["auto_wrap_output_keys"] = None
        super().__init_subclass__(**kwargs)

    def set_output(self, *, transform=None):
        """Set the output container of ``transform`` and ``fit_transform``.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"}, default=None
            ``"default"`` and ``"pandas"`` return a pandas DataFrame (block
            names are part of the output), ``"polars"`` a polars DataFrame,
            None leaves the configuration unchanged.

        Returns
        -------
        self : estimator instance
        """
        if transform is None:
            return self
        if transform not in ("default", "pandas", "polars"):
            raise ValueError(
                "transform must be 'default', 'pandas', 'polars' or None, got "
                f"{transform!r}."
            )
        if not hasattr(self, "_sklearn_output_config"):
            self._sklearn_output_config = {}
        self._sklearn_output_config["transform"] = transform
        return self

    def _finish_output(self, frame):
        from sklearn.utils._set_output import _get_output_config

        if _get_output_config("transform", self)["dense"] == "polars":
            import polars as pl

            return pl.from_pandas(frame)
        return frame
