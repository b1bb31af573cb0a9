"""Extractors the Dask extraction tests send to workers, counting their transfers."""

import os

from skcrossmodal.feature_extraction import MFCCExtractor

LOADS = []


class CountedMFCC(MFCCExtractor):
    """An MFCCExtractor that records every unpickling in its process."""

    def __setstate__(self, state):
        super().__setstate__(state)
        LOADS.append(os.getpid())


def loads_in_this_process():
    return len(LOADS)
