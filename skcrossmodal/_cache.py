"""A content-keyed feature cache: each distinct input row is extracted once.

A grid search over ``Pipeline(ModalityUnion(extractors) -> mapper)`` refits
the union on every fold of every candidate and transforms every test fold
again, so an expensive extractor (a CNN) sees the same images many times.
``Pipeline(memory=...)`` caches a whole ``fit_transform`` keyed by its input,
which differs from fold to fold. This cache keys **rows** instead:

* a row's key is a SHA-1 digest of its raw content, computed once per call
  (for the fit and the transform of that call): a string is hashed with,
  when it names a file, the file's absolute path, modification time (ns) and
  size (so an edited file is extracted afresh); an ndarray with its dtype,
  shape and bytes in C order; a ``PIL.Image`` with its mode, size and pixels;
  a tuple or list item by item; anything else with :func:`joblib.hash`;
* features are stored per **fitted** transformer: the key of a store is the
  :func:`joblib.hash` of the fitted transformer (its parameters and fitted
  state), of the files its parameters name (path, modification time, size)
  and of the input's column names and dtypes, so a refit that learns
  something else (another vocabulary, other weights) never reads features of
  another fit;
* a fit is itself cached (as ``Pipeline(memory=...)`` does) under the hash of
  the unfitted transformer, the files its parameters name (a weights file
  replaced at the same path is another fit), the input's column names and
  dtypes, the row keys of its input, ``y`` and the fit parameters, unless a
  ``random_state`` among its parameters is None or a ``RandomState`` instance
  (then the fit is not reproducible and runs each time). A transformer whose
  fit learns nothing from the data declares it with a class attribute
  ``_fit_learns_from_data = False`` (as
  :class:`~skcrossmodal.feature_extraction.CNNFeatureExtractor` does): its
  fits are keyed without the rows and ``y``, so every fold and candidate of a
  search shares one fit (one network built) instead of one per fold. Such a
  fit is kept in the process only, not written: another process fits it
  again (building a network takes about as long as reading one back) and
  finds the features under the same key, the hash of the fitted state.

The cache is valid only for transformers whose ``transform`` is **row-wise
and deterministic**: each output row depends only on its input row and on the
fitted state (true of the feature extractors of skcrossmodal and of
scikit-learn's vectorizers and scalers; false of a transformer that, say,
normalises a batch by its own statistics). Features are computed for the rows
missing from the store only, in one call of ``transform`` on those rows.

Everything is written with :func:`joblib.dump` under
``<memory.location>/skcrossmodal/``, each file to a temporary name and then
renamed, so concurrent processes (``GridSearchCV(n_jobs=...)``) see complete
files only; deleting that folder empties the cache. Files read are also kept
in memory for the process (the last 16 feature stores and 32 fits), so a
search in one process reads each file once; a store's folder is listed again
only when a row is missing from what the process holds (another process may
have written it since).
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import hashlib
import os
import stat
import tempfile
import uuid
from collections import OrderedDict
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.utils.validation import check_memory
from sklearn_compat.utils._indexing import _safe_indexing

_FOLDER = "skcrossmodal"
# Part of every key: a change of what is stored or how invalidates old files.
_FORMAT = 2
# Stores kept in memory per process (each holds the features read so far).
_MAX_STORES_IN_MEMORY = 16
_STORES = OrderedDict()
# Fits read or made in this process, by file: a search's candidates share a fold's fit.
_MAX_FITS_IN_MEMORY = 32
_FITS = OrderedDict()


def cache_location(memory):
    """The cache folder of ``memory``, or None when ``memory`` caches nothing.

    Parameters
    ----------
    memory : None, str, path-like or joblib.Memory
        As the ``memory`` parameter of scikit-learn's ``Pipeline``.

    Returns
    -------
    location : pathlib.Path or None
    """
    if isinstance(memory, os.PathLike):
        memory = os.fspath(memory)
    memory = check_memory(memory)
    location = getattr(memory, "location", None)
    if location is None:
        return None
    return Path(location) / _FOLDER


def row_keys(X):
    """One hex digest per row of ``X``, hashing the row's raw content.

    Parameters
    ----------
    X : 1-D sequence, pandas Series or DataFrame, or 2-D array
        A 1-D input has one cell per row; a 2-D input one cell per column.

    Returns
    -------
    keys : ndarray of str of shape (n_samples,)
    """
    if isinstance(X, pd.DataFrame):
        columns = [X.iloc[:, j].to_numpy() for j in range(X.shape[1])]
        return np.asarray(
            [_digest_cells(column[i] for column in columns) for i in range(len(X))]
        )
    if sparse.issparse(X):
        X = sparse.csr_matrix(X)
        return np.asarray(
            [
                _digest_cells((X.indices[a:b], X.data[a:b]))
                for a, b in zip(X.indptr[:-1], X.indptr[1:], strict=True)
            ]
        )
    if isinstance(X, pd.Series):
        X = X.to_numpy()
    # a numeric array has one row per cell; a 1-D object array one cell per row
    return np.asarray([_digest_cell(cell) for cell in X])


def _digest_cells(cells):
    digest = hashlib.sha1()
    for cell in cells:
        _update(digest, cell)
    return digest.hexdigest()


def _digest_cell(cell):
    """``_digest_cells((cell,))`` without the loop (one call per row)."""
    digest = hashlib.sha1()
    _update(digest, cell)
    return digest.hexdigest()


def _update(digest, cell):
    if type(cell) is np.ndarray and not cell.dtype.hasobject:
        digest.update(b"a%s%s:" % (cell.dtype.str.encode(), str(cell.shape).encode()))
        digest.update(cell.data if cell.flags.c_contiguous else cell.tobytes())
    elif isinstance(cell, (str, os.PathLike)):
        path = os.fspath(cell)
        digest.update(b"s%d:" % len(path) + path.encode("utf-8", "surrogatepass"))
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            return
        if stat.S_ISREG(info.st_mode):
            where = os.path.abspath(path).encode("utf-8", "surrogatepass")
            digest.update(b"f%d:%d:%d:" % (info.st_mtime_ns, info.st_size, len(where)))
            digest.update(where)
    elif isinstance(cell, bytes):
        digest.update(b"b%d:" % len(cell) + cell)
    elif isinstance(cell, np.ndarray) and not cell.dtype.hasobject:  # a subclass
        _update(digest, np.asarray(cell))
    elif isinstance(cell, (tuple, list)):
        digest.update(b"t%d:" % len(cell))
        for item in cell:
            _update(digest, item)
    elif cell is None or isinstance(cell, (bool, int, float, complex, np.generic)):
        digest.update(f"n{type(cell).__name__}:{cell!r};".encode())
    elif type(cell).__module__.startswith("PIL."):
        digest.update(f"i{cell.mode}{cell.size}:".encode())
        digest.update(cell.tobytes())
    else:
        digest.update(b"j" + joblib.hash(cell).encode())


def _input_signature(X):
    """What a transformer may see besides the cells: column names and dtypes."""
    if isinstance(X, pd.DataFrame):
        return ("frame", [str(c) for c in X.columns], [str(t) for t in X.dtypes])
    if isinstance(X, pd.Series):
        return ("series", str(X.name), str(X.dtype))
    return (type(X).__name__, np.ndim(X) if isinstance(X, np.ndarray) else 1)


def _params(estimator):
    """``estimator.get_params(deep=True)``, or None if it has no parameters."""
    try:
        return estimator.get_params(deep=True)
    except (AttributeError, TypeError):
        return None


def _reproducible_fit(params):
    """Whether every ``random_state`` among the parameters fixes the seed."""
    if params is None:  # no get_params: do not cache its fit
        return False
    return all(
        not isinstance(value, np.random.RandomState) and value is not None
        for key, value in params.items()
        if key == "random_state" or key.endswith("__random_state")
    )


def _write(path, value):
    """``joblib.dump`` to a temporary name, then rename (atomic on POSIX)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    try:
        joblib.dump(value, temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def fit_cached(location, transformer, X, y, keys, fit_params):
    """Fit ``transformer`` on ``X``, or load the fit from the cache.

    Parameters
    ----------
    location : pathlib.Path
        The cache folder (:func:`cache_location`).
    transformer : estimator
        Unfitted; fitted in place when no fit is found, so pass a clone.
    X : the transformer's input
    y : array-like or None
    keys : ndarray of str
        ``row_keys(X)``.
    fit_params : dict
        Passed to ``fit``.

    Returns
    -------
    fitted : estimator
        ``transformer``, fitted. A fit found in the cache is the object loaded
        in this process, if any, shared by the callers: the union never
        modifies a fitted transformer, and neither should its user.
    fitted_key : str
        The key of its feature store, given to :func:`transform_cached`.
    """
    params = _params(transformer)
    path = None
    # A fit that learns nothing is rebuilt from the parameters about as fast
    # as it is read back, so it is kept in this process and never written.
    on_disk = _fit_learns_from_data(transformer)
    if _reproducible_fit(params):
        data = (keys, y) if on_disk else None
        key = joblib.hash(
            (
                _FORMAT,
                transformer,
                _parameter_files(params),
                _input_signature(X),
                data,
                fit_params,
            )
        )
        path = location / "fits" / f"{key}.joblib"
        if path in _FITS:
            _FITS.move_to_end(path)
            return _FITS[path]
        if on_disk:
            try:
                return _remember_fit(path, joblib.load(path))
            except FileNotFoundError:
                pass
    fitted = transformer.fit(X, y, **fit_params)
    fitted_key = fitted_state_key(fitted, X)
    if path is not None:
        if on_disk:
            _write(path, (fitted, fitted_key))
        _remember_fit(path, (fitted, fitted_key))
    return fitted, fitted_key


def _fit_learns_from_data(transformer):
    """Whether a fit of ``transformer`` may depend on the content of X or y.

    A transformer whose fit learns nothing from the data (it only checks the
    input and builds its state from its parameters, as
    :class:`~skcrossmodal.feature_extraction.CNNFeatureExtractor` loads its
    network) says so with a class attribute ``_fit_learns_from_data = False``;
    its fits are then keyed without the rows, so the folds of a search share
    one fit.
    """
    return getattr(transformer, "_fit_learns_from_data", True) is not False


def _parameter_files(params):
    """``(parameter, path, mtime_ns, size)`` of each parameter naming a file.

    A parameter such as a weights file keeps its name when the file is
    replaced; its modification time and size make the new file another key.
    """
    if params is None:
        return ()
    files = []
    for name, value in sorted(params.items()):
        if not isinstance(value, (str, os.PathLike)):
            continue
        try:
            info = os.stat(value)
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(info.st_mode):
            where = os.path.abspath(value)
            files.append((name, where, info.st_mtime_ns, info.st_size))
    return tuple(files)


def _remember_fit(path, entry):
    _FITS[path] = entry
    while len(_FITS) > _MAX_FITS_IN_MEMORY:
        _FITS.popitem(last=False)
    return entry


def fitted_state_key(fitted, X):
    """The key of the feature store of ``fitted`` applied to inputs like ``X``.

    Parameters
    ----------
    fitted : estimator
        A fitted transformer.
    X : the transformer's input
        Only its column names and dtypes are used.

    Returns
    -------
    key : str
    """
    return joblib.hash(
        (_FORMAT, fitted, _parameter_files(_params(fitted)), _input_signature(X))
    )


class _Store:
    """The features of one fitted transformer, read from its shard files."""

    def __init__(self, folder):
        self.folder = folder
        self.files = set()
        self.index = {}  # row key -> (shard number, row in shard)
        self.shards = []

    def refresh(self):
        if not self.folder.is_dir():
            return
        for entry in os.scandir(self.folder):
            if not entry.name.endswith(".joblib") or entry.name in self.files:
                continue
            self.add(entry.name, joblib.load(entry.path))

    def add(self, name, shard):
        keys, rows = shard
        number = len(self.shards)
        self.shards.append(rows)
        self.files.add(name)
        for k, key in enumerate(keys):
            self.index.setdefault(key, (number, k))


def _store(folder):
    store = _STORES.pop(folder, None)
    if store is None:
        store = _Store(folder)
    _STORES[folder] = store
    while len(_STORES) > _MAX_STORES_IN_MEMORY:
        _STORES.popitem(last=False)
    return store


def _as_rows(Xt, n_rows):
    """A transformer's output as a 2-D ndarray or CSR matrix of ``n_rows``."""
    if sparse.issparse(Xt):
        Xt = sparse.csr_matrix(Xt)
    else:
        Xt = np.asarray(Xt.to_numpy() if hasattr(Xt, "to_numpy") else Xt)
        if Xt.ndim == 1:
            Xt = Xt.reshape(-1, 1)
    if Xt.ndim != 2 or Xt.shape[0] != n_rows:
        raise ValueError(
            f"The transformer must return one row per input row for the feature "
            f"cache: {n_rows} rows in, shape {Xt.shape} out."
        )
    return Xt


def transform_cached(location, fitted, fitted_key, X, keys, params):
    """``fitted.transform(X)``, computing only the rows missing from the cache.

    Parameters
    ----------
    location : pathlib.Path
        The cache folder.
    fitted : estimator
        A fitted transformer whose transform is row-wise and deterministic.
    fitted_key : str
        Its key, from :func:`fit_cached` (or :func:`fitted_state_key`).
    X : the transformer's input
    keys : ndarray of str
        ``row_keys(X)``.
    params : dict
        Passed to ``transform``.

    Returns
    -------
    Xt : ndarray or CSR matrix of shape (n_samples, n_features)
    n_computed : int
        Number of distinct rows that were transformed (not found).
    """
    if params:
        fitted_key = joblib.hash((fitted_key, params))
    store = _store(location / "features" / fitted_key)
    missing = _missing(store, keys)
    if missing:
        # Another process may have written the rows since: read its new files.
        store.refresh()
        missing = _missing(store, keys)
    if missing:
        rows = np.fromiter(missing.values(), dtype=np.intp, count=len(missing))
        computed = _as_rows(
            fitted.transform(_safe_indexing(X, rows, axis=0), **params), len(rows)
        )
        shard = (np.asarray(list(missing)), computed)
        name = f"{uuid.uuid4().hex}.joblib"
        _write(store.folder / name, shard)
        store.add(name, shard)
    return _gather(store, keys), len(missing)


def _missing(store, keys):
    """``{key: first row}`` of the distinct keys that ``store`` lacks."""
    index = store.index
    missing = {}
    for i, key in enumerate(keys):
        if key not in index and key not in missing:
            missing[key] = i
    return missing


def _gather(store, keys):
    where = np.asarray([store.index[key] for key in keys], dtype=np.intp).reshape(-1, 2)
    shard_of, row_of = where[:, 0], where[:, 1]
    widths = {store.shards[s].shape[1] for s in np.unique(shard_of)}
    if len(widths) > 1:
        raise ValueError(
            f"The feature cache {store.folder} holds rows of different widths "
            f"{sorted(widths)} for one fitted transformer; its transform is not "
            "deterministic. Delete the folder, and do not cache this transformer."
        )
    pieces, order = [], []
    for s in np.unique(shard_of):
        positions = np.flatnonzero(shard_of == s)
        pieces.append(store.shards[s][row_of[positions]])
        order.append(positions)
    order = np.concatenate(order)
    if len(pieces) == 1 and np.array_equal(order, np.arange(len(order))):
        return pieces[0]
    stacked = (
        sparse.vstack(pieces, format="csr")
        if sparse.issparse(pieces[0])
        else (np.concatenate(pieces))
    )
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return stacked[inverse]
