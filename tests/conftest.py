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
