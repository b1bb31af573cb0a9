"""Real datasets: small ones bundled, larger ones built from local files."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "load_wikipedia": "_wikipedia",
        "load_mfeat": "_multiview",
        "load_nutrimouse": "_multiview",
        "make_avmnist": "_avmnist",
    },
)
