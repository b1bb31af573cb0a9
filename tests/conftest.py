"""Suite-wide test settings."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tiny networks in tests run fastest, and reproducibly, on one thread."""
    try:
        import torch
    except ImportError:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def dask_client():
    """A real dask.distributed cluster: two worker processes on loopback.

    Started once for the whole session, only by the tests that ask for it.
    """
    pytest.importorskip("dask.dataframe")
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        memory_limit="4GiB",
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()
