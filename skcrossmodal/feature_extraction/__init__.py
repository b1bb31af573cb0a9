"""Feature extractors: raw text, images and audio to vectors."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

from .._lazy import attach

__getattr__, __dir__, __all__ = attach(
    __name__,
    {
        "Word2VecVectorizer": "text",
        "KeyedVectorsVectorizer": "text",
        "CNNFeatureExtractor": "image",
        "LogMelExtractor": "audio",
        "MFCCExtractor": "audio",
    },
)
