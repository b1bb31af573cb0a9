"""The moment-based mappers fitted from, and applied to, a Dask DataFrame.

Every distributed result is compared with the in-memory fit of the same rows
(itself tested against closed forms and scikit-learn elsewhere), and RidgeMapper
and PLS also with scikit-learn directly, on a real two-process LocalCluster.
"""

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.cross_decomposition import PLSSVD
from sklearn.linear_model import Ridge

dd = pytest.importorskip("dask.dataframe")
dask = pytest.importorskip("dask")

import itertools

from _tolerance import FLOAT32

from skcrossmodal import make_frame
from skcrossmodal.mapping import CCA, MCCA, PLS, KernelCCA, RidgeMapper

# Partition sizes: unequal, with empty partitions first, inside and last.
SIZES = [0, 70, 3, 0, 41, 120, 1, 65, 0]
TIGHT = {"rtol": 1e-8, "atol": 1e-10}


def _table(n=300, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, 2))
    blocks = {
        name: shared @ rng.normal(size=(2, p)) + rng.normal(size=(n, p)) + 5.0
        for name, p in (("text", 6), ("image", 4), ("audio", 3))
    }
    return make_frame(**{m: b.astype(dtype) for m, b in blocks.items()})


def _partitioned(frame, sizes=SIZES):
    """A Dask DataFrame whose partitions have the given sizes (0 allowed)."""
    assert sum(sizes) == len(frame)
    edges = np.cumsum([0, *sizes])
    parts = [frame.iloc[start:stop] for start, stop in itertools.pairwise(edges)]
    return dd.from_delayed([dask.delayed(p) for p in parts], meta=frame.iloc[:0])


def _fitted_arrays(model):
    """Every fitted array of a mapper, by name."""
    arrays = {}
    for name, value in vars(model).items():
        if not name.endswith("_") or name.startswith("_"):
            continue
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, np.ndarray) and item.dtype.kind == "f":
                    arrays[f"{name}[{key}]"] = item
        elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
            arrays[name] = value
        elif isinstance(value, float):
            arrays[name] = np.asarray(value)
    return arrays


MAPPERS = [
    CCA(n_components=2, modalities=("text", "image")),
    CCA(n_components=3, reg=0.3, scale=True, modalities=("image", "text")),
    CCA(n_components=2, reg="auto", modalities=("text", "audio")),
    MCCA(n_components=2),
    MCCA(n_components=2, reg=0.2, modalities=["audio", "text"]),
    PLS(n_components=2, modalities=("text", "image")),
    PLS(n_components=3, scale=True, modalities=("text", "audio")),
    RidgeMapper("text", "image", alpha=2.0),
    RidgeMapper("image", "audio", alpha=[0.01, 1.0, 100.0, 1e4]),
    RidgeMapper("text", "audio", alpha=0.5, fit_intercept=False),
    RidgeMapper("audio", "text", alpha=[0.1, 10.0], fit_intercept=False),
    KernelCCA(
        n_components=2,
        n_landmarks=40,
        gamma=0.05,
        reg=0.1,
        random_state=0,
        modalities=("text", "image"),
    ),
    KernelCCA(
        n_components=2,
        kernel="poly",
        # Fewer landmarks than the rank of a cubic kernel on 3 features (20):
        # a rank-deficient landmark kernel would amplify rounding.
        n_landmarks=15,
        scale=True,
        reg=0.2,
        random_state=3,
        modalities=("image", "audio"),
    ),
]


@pytest.mark.parametrize("mapper", MAPPERS, ids=repr)
def test_dask_fit_equals_in_memory_fit(dask_client, mapper):
    frame = _table()
    expected = clone(mapper).fit(frame)
    model = clone(mapper).fit(_partitioned(frame))
    reference = _fitted_arrays(expected)
    got = _fitted_arrays(model)
    assert set(got) == set(reference)
    for name, value in reference.items():
        np.testing.assert_allclose(got[name], value, **TIGHT, err_msg=name)
    assert model.modalities_ == expected.modalities_
    assert model.n_features_in_ == expected.n_features_in_
    np.testing.assert_array_equal(model.feature_names_in_, expected.feature_names_in_)


@pytest.mark.parametrize("mapper", MAPPERS[::3], ids=repr)
def test_dask_transform_is_lazy_with_the_same_blocks(dask_client, mapper):
    frame = _table()
    model = clone(mapper).fit(frame)
    ddf = _partitioned(frame)
    shared = model.transform(ddf)
    assert dask.is_dask_collection(shared)
    assert shared.npartitions == ddf.npartitions
    expected = model.transform(frame)
    assert list(shared.columns) == list(expected.columns)
    computed = shared.compute()
    pd.testing.assert_index_equal(computed.index, frame.index)
    np.testing.assert_allclose(computed.to_numpy(), expected.to_numpy(), **TIGHT)

    # A partial row: one block only.
    one = [c for c in frame.columns if c.startswith(model.modalities_[0] + "__")]
    partial = model.transform(_partitioned(frame[one])).compute()
    pd.testing.assert_frame_equal(partial, model.transform(frame[one]))


def test_ridge_from_dask_matches_scikit_learn(dask_client):
    frame = _table(seed=3)
    model = RidgeMapper("text", "image", alpha=3.0).fit(_partitioned(frame))
    reference = Ridge(alpha=3.0).fit(
        frame.filter(like="text__"), frame.filter(like="image__")
    )
    np.testing.assert_allclose(model.coef_, reference.coef_, **TIGHT)
    np.testing.assert_allclose(model.intercept_, reference.intercept_, **TIGHT)


def test_pls_from_dask_matches_scikit_learn(dask_client):
    frame = _table(seed=4)
    model = PLS(n_components=2, scale=True).fit(
        _partitioned(frame[[c for c in frame if not c.startswith("audio")]])
    )
    reference = PLSSVD(n_components=2, scale=True).fit(
        frame.filter(like="text__"), frame.filter(like="image__")
    )
    # Same directions up to sign.
    for mine, theirs in (
        (model.weights_["text"], reference.x_weights_),
        (model.weights_["image"], reference.y_weights_),
    ):
        np.testing.assert_allclose(np.abs(mine.T @ theirs), np.eye(2), atol=1e-8)


def test_float32_partitions(dask_client):
    frame = _table(seed=1, dtype=np.float32)
    ddf = _partitioned(frame)
    assert set(ddf.dtypes) == {np.dtype(np.float32)}
    for mapper in (
        CCA(2, modalities=("text", "image")),
        MCCA(2),
        PLS(2, modalities=("text", "image")),
    ):
        expected = clone(mapper).fit(frame)
        model = clone(mapper).fit(ddf)
        for modality, weights in expected.weights_.items():
            np.testing.assert_allclose(model.weights_[modality], weights, **TIGHT)
        shared = model.transform(ddf)
        assert set(shared.dtypes) == {np.dtype(np.float32)}
        shared = shared.compute()
        assert set(shared.dtypes) == {np.dtype(np.float32)}
        np.testing.assert_allclose(
            shared.to_numpy(), expected.transform(frame).to_numpy(), **FLOAT32
        )


def test_many_partitions_deep_tree(dask_client):
    # 40 partitions: a reduction tree of three levels (split_every=8).
    frame = _table(n=400, seed=2)
    expected = CCA(2, modalities=("text", "image")).fit(frame)
    model = CCA(2, modalities=("text", "image")).fit(
        dd.from_pandas(frame, npartitions=40)
    )
    np.testing.assert_allclose(
        model.canonical_correlations_, expected.canonical_correlations_, **TIGHT
    )
    assert model.n_samples_seen_ == 400


def test_partial_fit_continues_a_dask_fit(dask_client):
    frame = _table(seed=5)
    model = CCA(2, modalities=("text", "image")).fit(
        _partitioned(frame.iloc[:200], [0, 150, 50])
    )
    model.partial_fit(frame.iloc[200:])
    expected = CCA(2, modalities=("text", "image")).fit(frame)
    for modality, weights in expected.weights_.items():
        np.testing.assert_allclose(model.weights_[modality], weights, **TIGHT)


def _with_nan(frame, row, column):
    bad = frame.copy()
    bad.iloc[row, bad.columns.get_loc(column)] = np.nan
    return bad


@pytest.mark.parametrize(
    "mapper", [MAPPERS[0], MAPPERS[3], MAPPERS[5], MAPPERS[8]], ids=repr
)
def test_non_finite_value_names_the_partition(dask_client, mapper):
    # Row 120 is in partition 5 (rows 114..233).
    frame = _with_nan(_table(), 120, "image__2")
    with pytest.raises(
        ValueError,
        match=r"partition 5 \(rows with index labels 114..233\).*non-finite.*'image__2'",
    ):
        clone(mapper).fit(_partitioned(frame))


def test_transform_error_names_the_partition(dask_client):
    frame = _table()
    model = MCCA(2).fit(frame)
    shared = model.transform(_partitioned(_with_nan(frame, 299, "audio__0")))
    with pytest.raises(ValueError, match=r"partition 7 .*non-finite.*'audio__0'"):
        shared.compute()


def test_text_column_refused(dask_client):
    frame = _table().astype({"text__0": object})
    frame.iloc[80, 0] = "eighty"
    # Dask reads object columns as strings: refused on the client, from the meta.
    with pytest.raises(TypeError, match=r"'text__0'.*holds text"):
        CCA(2, modalities=("text", "image")).fit(_partitioned(frame))
    # Kept as object, the meta is empty and the partition is checked on the worker.
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = _partitioned(frame)
        with pytest.raises(TypeError, match=r"partition 4 .*'text__0'.*not a number"):
            CCA(2, modalities=("text", "image")).fit(ddf)


def test_bad_columns_are_refused_on_the_client(dask_client):
    frame = _table()
    ddf = _partitioned(frame.rename(columns={"image__0": "image0"}))
    with pytest.raises(ValueError, match="'image0' is not named"):
        CCA(2).fit(ddf)
    model = PLS(2, modalities=("text", "image")).fit(frame)
    with pytest.raises(ValueError, match="fitted with"):
        model.transform(_partitioned(frame.rename(columns={"text__1": "text__x"})))


def test_failed_dask_refit_leaves_the_previous_fit(dask_client):
    frame = _table()
    for mapper in (MAPPERS[0], MAPPERS[3], MAPPERS[5], MAPPERS[8]):
        model = clone(mapper).fit(frame)
        before = dict(vars(model))
        column = f"{model.modalities_[-1]}__0"
        bad = _partitioned(_with_nan(_table(seed=9), 5, column))
        with pytest.raises(ValueError, match="partition 1"):
            model.fit(bad)
        assert vars(model).keys() == before.keys()
        for name, value in before.items():
            assert vars(model)[name] is value, name


def test_too_few_rows_and_unsupported_input(dask_client):
    frame = _table()
    with pytest.raises(ValueError, match="at least 2 samples, got 1"):
        CCA(1, modalities=("text", "image")).fit(
            _partitioned(frame.iloc[:1], [0, 1, 0])
        )
    with pytest.raises(ValueError, match="at least 2 samples, got 0"):
        MCCA(1).fit(_partitioned(frame.iloc[:0], [0, 0]))
    with pytest.raises(ValueError, match="solver='gram'"):
        CCA(1, solver="gram", modalities=("text", "image")).fit(_partitioned(frame))
    with pytest.raises(ValueError, match="at most 3 components"):
        MCCA(4).fit(_partitioned(frame))
    array = dask.array.from_array(frame.to_numpy(), chunks=(100, 13))
    with pytest.raises(TypeError, match="takes a Dask DataFrame"):
        CCA(1).fit(array)


def test_missing_dask_names_the_extra(monkeypatch):
    ddf = _partitioned(_table())
    # dask.dataframe cannot be imported any more (a None entry blocks it).
    monkeypatch.setitem(sys.modules, "dask.dataframe", None)
    with pytest.raises(ImportError, match=r"pip install 'skcrossmodal\[dask\]'"):
        CCA(2, modalities=("text", "image")).fit(ddf)
    model = CCA(2, modalities=("text", "image")).fit(_table())
    with pytest.raises(ImportError, match=r"skcrossmodal\[dask\]"):
        model.transform(ddf)


def test_mapping_does_not_import_dask():
    code = (
        "import sys, skcrossmodal.mapping, skcrossmodal; "
        "from skcrossmodal.mapping import CCA; "
        "assert 'dask' not in sys.modules, 'dask imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _slow_chunk(seed):
    """One chunk of _table's columns, made slowly (so a worker can die mid-task)."""
    time.sleep(0.25)
    return _table(n=50, seed=100 + seed)


def test_worker_dying_mid_fit_is_retried(dask_client):
    n_chunks = 16
    frame = pd.concat([_table(n=50, seed=100 + s) for s in range(n_chunks)])
    expected = CCA(2, modalities=("text", "image")).fit(frame)
    ddf = dd.from_map(_slow_chunk, list(range(n_chunks)), meta=frame.iloc[:0])
    result = {}

    def fit():
        try:
            result["model"] = CCA(2, modalities=("text", "image")).fit(ddf)
        except BaseException as exc:  # pragma: no cover - reported below
            result["error"] = exc

    thread = threading.Thread(target=fit)
    thread.start()
    # Let tasks start, then kill one worker process (its nanny restarts it).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(dask_client.processing().values()):
        time.sleep(0.05)
    time.sleep(0.5)
    victim, pid = min(dask_client.run(os.getpid).items())
    assert thread.is_alive(), "the fit ended before a worker could be killed"
    os.kill(pid, signal.SIGKILL)
    thread.join(timeout=60)
    assert not thread.is_alive()
    dask_client.wait_for_workers(2, timeout=60)
    assert victim not in dask_client.scheduler_info()["workers"]
    assert "error" not in result, result.get("error")
    model = result["model"]
    np.testing.assert_allclose(
        model.canonical_correlations_, expected.canonical_correlations_, **TIGHT
    )
    for modality, weights in expected.weights_.items():
        np.testing.assert_allclose(model.weights_[modality], weights, **TIGHT)


def test_kernel_cca_on_dask_same_landmarks_and_transform(dask_client):
    frame = _table()
    mapper = KernelCCA(
        n_components=2, n_landmarks=30, gamma=0.05, reg=0.1, random_state=1,
        modalities=("text", "image"),
    )  # fmt: skip
    expected = clone(mapper).fit(frame)
    model = clone(mapper).fit(_partitioned(frame))
    np.testing.assert_array_equal(model.landmark_indices_, expected.landmark_indices_)
    assert model.gamma_ == expected.gamma_
    np.testing.assert_allclose(
        model.transform(frame).to_numpy(), expected.transform(frame).to_numpy(), **TIGHT
    )


def test_kernel_cca_on_dask_refuses_the_exact_path_and_gamma_scale(dask_client):
    ddf = _partitioned(_table())
    with pytest.raises(ValueError, match="needs its Nyström path"):
        KernelCCA(modalities=("text", "image")).fit(ddf)
    with pytest.raises(ValueError, match="cannot use gamma='scale'"):
        KernelCCA(n_landmarks=10, gamma="scale", modalities=("text", "image")).fit(ddf)


def test_ridge_float32_partitions(dask_client):
    # RidgeMapper's one covariance solve from float32 partitions (accumulated
    # in float64 on the workers, as in memory) gives the in-memory fit.
    frame = _table(seed=5, dtype=np.float32)
    ddf = _partitioned(frame)
    for mapper in (
        RidgeMapper("text", "image", alpha=2.0),
        RidgeMapper("image", "text", alpha=[0.01, 1.0, 100.0]),
    ):
        expected = clone(mapper).fit(frame)
        model = clone(mapper).fit(ddf)
        assert model.alpha_ == expected.alpha_
        for name in ("coef_", "intercept_"):
            np.testing.assert_allclose(
                getattr(model, name), getattr(expected, name), **TIGHT
            )
        if np.ndim(mapper.alpha):
            np.testing.assert_allclose(model.loo_errors_, expected.loo_errors_, **TIGHT)
        shared = model.transform(ddf).compute()
        assert set(shared.dtypes) == {np.dtype(np.float32)}
        np.testing.assert_allclose(
            shared.to_numpy(), expected.transform(frame).to_numpy(), **FLOAT32
        )


def test_transform_of_empty_partitions_gives_no_rows(dask_client):
    # KernelCCA's Nystroem maps refuse zero rows in memory; a Dask partition
    # without rows maps to none, in the dtype of the others.
    frame = _table(seed=6)
    model = KernelCCA(
        n_components=2, n_landmarks=20, gamma=0.05, modalities=("text", "image")
    ).fit(frame)
    shared = model.transform(_partitioned(frame))
    parts = [part.compute() for part in shared.partitions]
    assert [len(part) for part in parts] == SIZES
    assert all(list(part.columns) == list(shared.columns) for part in parts)
    computed = shared.compute()
    np.testing.assert_allclose(
        computed.to_numpy(), model.transform(frame).to_numpy(), **TIGHT
    )
