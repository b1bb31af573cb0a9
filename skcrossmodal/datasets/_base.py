"""Shared helpers of the dataset loaders: bundled files and descriptions."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

from importlib import resources

import numpy as np


def load_bundled_npz(name):
    """Load ``skcrossmodal/datasets/data/<name>.npz`` into a dict of arrays."""
    path = resources.files("skcrossmodal.datasets") / "data" / f"{name}.npz"
    with resources.as_file(path) as file, np.load(file, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def load_descr(name):
    """Text of ``skcrossmodal/datasets/descr/<name>.rst``."""
    path = resources.files("skcrossmodal.datasets") / "descr" / f"{name}.rst"
    return path.read_text(encoding="utf-8")
