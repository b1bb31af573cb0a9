"""Fusers: predict from several modalities, and from the ones present."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "LateFusionClassifier": "_late",
        "LateFusionRegressor": "_late",
        "WeightedSumFusion": "_shared_space",
        "MLPFusionClassifier": "_neural",
    },
)
