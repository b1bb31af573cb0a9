"""Bundled multi-view datasets: UCI Multiple Features (mfeat) and Nutrimouse."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import numpy as np
import pandas as pd
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

from .._frame import SEPARATOR, make_frame
from ._base import load_bundled_npz, load_descr

MFEAT_VIEWS = ("fou", "fac", "kar", "pix", "zer", "mor")


@validate_params(
    {"return_X_y": ["boolean"], "as_frame": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_mfeat(*, return_X_y=False, as_frame=True):
    """Load the UCI Multiple Features digits (bundled, 2,000 digits, 6 views).

    Each row is one handwritten digit described six ways: Fourier
    coefficients (``fou``, 76), profile correlations (``fac``, 216),
    Karhunen-Loève coefficients (``kar``, 64), 2x3-window pixel averages
    (``pix``, 240), Zernike moments (``zer``, 47) and morphological features
    (``mor``, 6). Ten classes of 200 digits. Read more in ``DESCR``.

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=True
        If True, ``data`` is a modality table with blocks ``fou__0..75``,
        ``fac__0..215``, ... (float64). If False, ``data`` is a dict mapping
        each view name to its 2-D array (the list-of-views form of other
        multi-view libraries), with the original dtypes.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : pandas.DataFrame of shape (2000, 649) or dict of ndarray
            The six views, see ``as_frame``.
        target : ndarray of shape (2000,)
            Digit 0..9 (rows are sorted by digit, 200 each).
        target_names : ndarray of shape (10,)
            ``"0"`` .. ``"9"``.
        view_names : list of str
            The block names in order.
        DESCR : str
            Description, provenance and published results.

    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from skcrossmodal.datasets import load_mfeat
    >>> X, y = load_mfeat(return_X_y=True)
    >>> X.shape
    (2000, 649)
    >>> X.columns[0], X.columns[-1]
    ('fou__0', 'mor__5')
    """
    npz = load_bundled_npz("mfeat")
    views = {view: npz[view] for view in MFEAT_VIEWS}
    if as_frame:
        data = make_frame(**{v: a.astype(np.float64) for v, a in views.items()})
    else:
        data = views
    target = npz["y"]
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        target_names=np.asarray([str(k) for k in range(10)]),
        view_names=list(MFEAT_VIEWS),
        DESCR=load_descr("mfeat"),
    )


@validate_params(
    {
        "target": [StrOptions({"diet", "genotype"})],
        "return_X_y": ["boolean"],
        "as_frame": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_nutrimouse(*, target="diet", return_X_y=False, as_frame=True):
    """Load the Nutrimouse study (bundled, 40 mice, 2 views, 2 label sets).

    Each row is one mouse: the expression of 120 liver genes (block
    ``gene``) and the percentages of 21 hepatic fatty acids (block
    ``lipid``). Each mouse has a genotype (wild type or PPARalpha-deficient)
    and one of five diets. Read more in ``DESCR``.

    Parameters
    ----------
    target : {"diet", "genotype"}, default="diet"
        Which label set is returned as ``target``; both are in the Bunch.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=True
        If True, ``data`` is a modality table whose columns are named by the
        original variables, e.g. ``gene__ACAT1`` and ``lipid__C16.0``. If
        False, ``data`` is a dict ``{"gene": ndarray, "lipid": ndarray}``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : pandas.DataFrame of shape (40, 141) or dict of ndarray
            The two views, see ``as_frame``.
        target : ndarray of shape (40,)
            Codes of the label set chosen by ``target``.
        target_names : ndarray of str
            Names of those codes.
        diet, genotype : ndarray of shape (40,)
            Both label sets as codes: diet 0..4 = coc, fish, lin, ref, sun;
            genotype 0 = ppar, 1 = wt.
        diet_names, genotype_names : ndarray of str
            The code to name maps.
        feature_names : dict of str to ndarray
            Original variable names of each view.
        DESCR : str
            Description, provenance and published results.

    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from skcrossmodal.datasets import load_nutrimouse
    >>> mice = load_nutrimouse()
    >>> mice.data.shape
    (40, 141)
    >>> mice.target_names.tolist()
    ['coc', 'fish', 'lin', 'ref', 'sun']
    >>> mice.data.columns[120]
    'lipid__C14.0'
    """
    npz = load_bundled_npz("nutrimouse")
    views = {view: npz[view] for view in ("gene", "lipid")}
    feature_names = {view: npz[f"{view}_feature_names"] for view in views}
    if as_frame:
        columns = [
            f"{view}{SEPARATOR}{name}" for view in views for name in feature_names[view]
        ]
        data = pd.DataFrame(np.hstack(list(views.values())), columns=columns)
    else:
        data = views
    labels = npz[target]
    if return_X_y:
        return data, labels
    return Bunch(
        data=data,
        target=labels,
        target_names=npz[f"{target}_names"],
        diet=npz["diet"],
        genotype=npz["genotype"],
        diet_names=npz["diet_names"],
        genotype_names=npz["genotype_names"],
        feature_names=feature_names,
        DESCR=load_descr("nutrimouse"),
    )
