"""skcrossmodal: cross-modal learning as plain scikit-learn estimators.

Every modality of a sample lives in one row of one table: a DataFrame whose
numeric columns are named ``<modality>__<feature>`` (see :func:`make_frame`).
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

from ._frame import (
    ModalityNamesError,
    make_frame,
    make_modality_selector,
    select_modalities,
    split_modalities,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "ModalityNamesError",
    "make_frame",
    "make_modality_selector",
    "select_modalities",
    "split_modalities",
    "__version__",
]
