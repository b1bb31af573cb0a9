"""Mappers: learn from paired rows a shared space for several modalities.

Every mapper's ``transform`` returns one block per modality present, all of the
same width and comparable by cosine or dot product (docs/architecture.md §4).
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "CCA": "_cca",
        "KernelCCA": "_kernel_cca",
        "MCCA": "_mcca",
        "PLS": "_pls",
        "RidgeMapper": "_linear",
        "ProcrustesMapper": "_linear",
        "KNNMapper": "_neighbors",
        "SemanticMapper": "_semantic",
        "MLPMapper": "_neural",
        "ContrastiveMapper": "_neural",
    },
)
