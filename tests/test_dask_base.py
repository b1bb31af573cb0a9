"""The shared Dask patterns of skcrossmodal._dask, on a real LocalCluster."""

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
dask = pytest.importorskip("dask")

import _dask_helpers  # noqa: E402

from skcrossmodal._dask import (  # noqa: E402
    is_dask_collection,
    map_partitions,
    tree_reduce,
)


def _frame(n=103, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(n, 3)), columns=["a__0", "a__1", "b__0"])


def _uneven(frame, sizes):
    """A Dask DataFrame whose partitions have the given sizes (0 allowed)."""
    edges = np.cumsum([0, *sizes])
    parts = [
        frame.iloc[start:stop]
        for start, stop in zip(edges[:-1], edges[1:], strict=True)
    ]
    return dd.from_delayed([dask.delayed(p) for p in parts], meta=frame.iloc[:0])


def test_is_dask_collection():
    frame = _frame()
    assert not is_dask_collection(frame)
    assert is_dask_collection(dd.from_pandas(frame, npartitions=2))


@pytest.mark.parametrize("split_every", [2, 8])
def test_tree_reduce_of_uneven_and_empty_partitions(dask_client, split_every):
    frame = _frame()
    ddf = _uneven(frame, [40, 0, 7, 50, 0, 6])
    parts = [dask.delayed(_dask_helpers.partition_sum)(p) for p in ddf.to_delayed()]
    result = tree_reduce(parts, _dask_helpers.merge_sums, split_every=split_every)
    result = dask_client.compute(result).result()
    assert result["n"] == 103
    np.testing.assert_allclose(
        result["total"], frame.to_numpy().sum(axis=0), rtol=1e-12
    )


def test_map_partitions_sends_the_model_once_per_worker(dask_client):
    frame = _frame(n=400)
    ddf = dd.from_pandas(frame, npartitions=16)
    before = dask_client.run(_dask_helpers.loads_in_this_process)
    model = _dask_helpers.CountedModel(3.0)
    out = map_partitions(ddf, _dask_helpers.scale_partition, model, meta=frame.iloc[:0])
    np.testing.assert_allclose(out.compute().to_numpy(), 3.0 * frame.to_numpy())
    after = dask_client.run(_dask_helpers.loads_in_this_process)
    loads = {worker: after[worker] - before.get(worker, 0) for worker in after}
    assert sum(loads.values()) >= 1
    assert max(loads.values()) <= 1, loads


def test_map_partitions_error_names_the_partition(dask_client):
    frame = _frame(n=40).abs()
    frame.iloc[25, 1] = -1.0
    ddf = dd.from_pandas(frame, npartitions=4)
    out = map_partitions(ddf, _dask_helpers.fail_on_negative, None, meta=frame.iloc[:0])
    with pytest.raises(
        ValueError,
        match=(
            r"In partition 2 \(rows with index labels 20..29\): "
            "found a negative value"
        ),
    ):
        out.compute()
