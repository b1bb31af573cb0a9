"""The one place where skcrossmodal talks to torch: device, seeding, batching.

Every torch-based estimator (neural mappers, neural fusion, CNN features) goes
through these helpers so that no training or inference loop is written twice.
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

from ._optional import import_optional


def import_torch(purpose=None):
    """Import torch lazily, naming the ``torch`` extra if it is missing."""
    return import_optional("torch", purpose=purpose)


def resolve_device(device="auto"):
    """Return a ``torch.device``: ``"auto"`` picks CUDA, then MPS, then the CPU."""
    torch = import_torch()
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def torch_generator(random_state):
    """A seeded ``torch.Generator`` (CPU) derived from a scikit-learn random_state."""
    from sklearn.utils import check_random_state

    torch = import_torch()
    seed = int(check_random_state(random_state).randint(0, 2**31 - 1))
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator, seed
