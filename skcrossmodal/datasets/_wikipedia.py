"""The Wikipedia image-text dataset of Rasiwasia et al. (ACM MM 2010)."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

from .._frame import make_frame
from ._base import load_bundled_npz, load_descr


@validate_params(
    {
        "subset": [StrOptions({"train", "test", "all"})],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_wikipedia(*, subset="train", return_X_y=False):
    """Load the Wikipedia cross-modal dataset (bundled, 2,866 image-text pairs).

    Each row is one section of a Wikipedia featured article: its text as 10
    LDA topic proportions (block ``text``) and its image as a 128-bin SIFT
    bag-of-visual-words histogram (block ``image``), with one of 10
    categories. The split is the authors' own: 2,173 train, 693 test. Read
    more in ``DESCR``.

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        Which part of the fixed split to load; ``"all"`` is train then test.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : pandas.DataFrame of shape (n_samples, 138)
            Modality table with blocks ``text__0..9`` and ``image__0..127``
            (float64).
        target : ndarray of shape (n_samples,)
            Category codes 0..9.
        target_names : ndarray of shape (10,)
            Category names (art, biology, ..., warfare).
        text_ids, image_ids : ndarray of shape (n_samples,)
            Original document and image identifiers.
        subset : ndarray of shape (n_samples,)
            ``"train"`` or ``"test"`` for each row.
        DESCR : str
            Description, provenance and the published results.

    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from skcrossmodal.datasets import load_wikipedia
    >>> wiki = load_wikipedia(subset="test")
    >>> wiki.data.shape
    (693, 138)
    >>> wiki.target_names[:3].tolist()
    ['art', 'biology', 'geography']
    """
    npz = load_bundled_npz("wikipedia")
    parts = ["train", "test"] if subset == "all" else [subset]

    def stack(key):
        return np.concatenate([npz[f"{key}_{part}"] for part in parts])

    data = make_frame(
        text=stack("text").astype(np.float64), image=stack("image").astype(np.float64)
    )
    target = stack("label")
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        target_names=npz["category_names"],
        text_ids=stack("text_id"),
        image_ids=stack("image_id"),
        subset=np.concatenate(
            [np.full(len(npz[f"label_{part}"]), part) for part in parts]
        ),
        DESCR=load_descr("wikipedia"),
    )
