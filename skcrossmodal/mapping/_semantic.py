"""Semantic matching: every modality mapped to class posteriors."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .._estimator import fit_context
from .._frame import check_class_labels, validate_blocks
from ._base import FLOAT_DTYPES, SharedSpaceMixin


class SemanticMapper(SharedSpaceMixin, BaseEstimator):
    """Map every modality to the simplex of class posteriors ("semantic matching").

    One clone of ``estimator`` is trained per modality to predict the
    categories ``y`` from that modality's block; ``transform`` replaces each
    block by its classifier's ``predict_proba``, so that all modalities share
    the space of class-posterior vectors (semantic multinomials), of width
    ``n_classes``. This is the SM model of Rasiwasia et al. (2010); after a
    :class:`CCA` in a pipeline, ``make_pipeline(CCA(...), SemanticMapper(...))``
    is their SCM (semantic correlation matching).

    Parameters
    ----------
    estimator : classifier, default=None
        Classifier with ``predict_proba``, cloned for each modality. None means
        ``LogisticRegression(max_iter=1000)`` (multinomial).
    modalities : list of str, default=None
        Blocks of ``X`` to use; None uses every block.

    Attributes
    ----------
    estimators_ : dict of str to classifier
        The fitted classifier of each modality.
    classes_ : ndarray of shape (n_classes,)
        Class labels, the order of the shared-space columns.
    n_components_ : int
        Width of the shared space (the number of classes).
    modalities_ : list of str
        Modalities used, in block order.
    n_features_in_ : int
        Number of feature columns of those modalities.
    feature_names_in_ : ndarray of str
        Their column names.
    feature_names_per_modality_ : dict of str to ndarray
        Column names of each block.

    References
    ----------
    Rasiwasia, N., Costa Pereira, J., Coviello, E., Doyle, G., Lanckriet,
    G. R. G., Levy, R., & Vasconcelos, N. (2010). A new approach to cross-modal
    multimedia retrieval. ACM Multimedia, 251-260.

    Examples
    --------
    >>> import numpy as np
    >>> from skcrossmodal import make_frame
    >>> from skcrossmodal.mapping import SemanticMapper
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 20)
    >>> X = make_frame(image=y[:, None] + 0.3 * rng.normal(size=(60, 2)),
    ...                text=-y[:, None] + 0.3 * rng.normal(size=(60, 3)))
    >>> mapper = SemanticMapper().fit(X, y)
    >>> list(mapper.transform(X).columns[:3])
    ['image__semanticmapper0', 'image__semanticmapper1', 'image__semanticmapper2']
    >>> mapper.score(X, y)
    1.0
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "modalities": [None, list, tuple],
    }
    _embed_dtype = FLOAT_DTYPES

    def __init__(self, estimator=None, *, modalities=None):
        self.estimator = estimator
        self.modalities = modalities

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit one classifier per modality on the categories y.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table.
        y : array-like of shape (n_samples,)
            Category of each row.

        Returns
        -------
        self : SemanticMapper
            The fitted mapper.
        """
        if y is None:
            raise ValueError(
                "SemanticMapper requires y to be passed, but the target y is None: "
                "it needs the categories y, from which it learns each modality's "
                "class posteriors; call fit(X, y)."
            )
        blocks = validate_blocks(
            self,
            X,
            reset=True,
            required=self.modalities,
            ensure_min_samples=2,
            dtype=FLOAT_DTYPES,
        )
        y = check_class_labels(y, type(self).__name__)
        if len(y) != X.shape[0]:
            raise ValueError(f"y has {len(y)} entries but X has {X.shape[0]} rows.")
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"SemanticMapper needs at least 2 classes in y, got {len(self.classes_)}."
            )
        estimator = (
            LogisticRegression(max_iter=1000)
            if self.estimator is None
            else self.estimator
        )
        self.estimators_ = {}
        for modality, block in blocks.items():
            fitted = clone(estimator).fit(block, y)
            if not np.array_equal(fitted.classes_, self.classes_):
                raise ValueError(
                    f"The classifier of modality {modality!r} has classes "
                    f"{fitted.classes_}, expected {self.classes_}."
                )
            self.estimators_[modality] = fitted
        self.n_components_ = len(self.classes_)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    def _embed(self, blocks):
        return {
            modality: self.estimators_[modality]
            .predict_proba(block)
            .astype(block.dtype, copy=False)
            for modality, block in blocks.items()
        }

    def score(self, X, y=None):
        """Mean classification accuracy of the per-modality classifiers.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table; fitted blocks may be absent.
        y : array-like of shape (n_samples,)
            True category of each row.

        Returns
        -------
        score : float
            Accuracy of each present modality's classifier on y, averaged over
            those modalities. In [0, 1], higher is better.
        """
        check_is_fitted(self)
        if y is None:
            raise ValueError("SemanticMapper.score needs the categories y.")
        blocks = validate_blocks(self, X, reset=False, dtype=FLOAT_DTYPES)
        y = column_or_1d(y)
        return float(
            np.mean(
                [
                    np.mean(self.estimators_[modality].predict(block) == y)
                    for modality, block in blocks.items()
                ]
            )
        )
