"""Imports of optional dependencies, with an error naming the pip extra."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import importlib

_EXTRA_OF = {
    "torch": "torch",
    "torchvision": "torch",
    "PIL": "torch",
    "faiss": "faiss",
    "dask": "dask",
    "distributed": "dask",
}


def import_optional(module, *, purpose=None):
    """Import ``module`` or raise an ImportError that names the extra to install.

    Parameters
    ----------
    module : str
        Module name, e.g. ``"torch"``.
    purpose : str, default=None
        What needs it, for the message (e.g. ``"CNNFeatureExtractor"``).
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = _EXTRA_OF.get(top, top)
        needed_by = f"{purpose} needs" if purpose else "This feature needs"
        raise ImportError(
            f"{needed_by} {top!r}, which is not installed. Install it with "
            f"pip install 'skcrossmodal[{extra}]'."
        ) from exc
