"""Late fusion: one estimator per modality block, outputs combined."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import numbers
from copy import deepcopy

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import ClassifierMixin, RegressorMixin, clone, is_classifier
from sklearn.ensemble._base import _BaseHeterogeneousEnsemble
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import check_cv, cross_val_predict
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils._tags import get_tags
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)

from .._estimator import Progress, fit_context
from .._frame import check_class_labels, validate_blocks


class _BaseLateFusion(_BaseHeterogeneousEnsemble):
    """Members per modality, ``<modality>__<param>`` routing, fitting."""

    _parameter_constraints = {
        "estimators": [dict, list],
        "weights": [dict, "array-like", None],
        "final_estimator": [HasMethods("fit"), None],
        "cv": ["cv_object"],
        "n_jobs": [numbers.Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimators,
        *,
        rule="mean",
        weights=None,
        final_estimator=None,
        cv=5,
        n_jobs=None,
        verbose=0,
    ):
        self.estimators = estimators
        self.rule = rule
        self.weights = weights
        self.final_estimator = final_estimator
        self.cv = cv
        self.n_jobs = n_jobs
        self.verbose = verbose

    # ---- members and parameters -------------------------------------------------

    def _members(self, strict=False):
        """``[(modality, estimator)]`` from a dict or a list of pairs, 'drop' kept.

        With ``strict=False`` (get/set_params) malformed items are skipped; fit
        validates with ``strict=True``.
        """
        estimators = self.estimators
        if isinstance(estimators, dict):
            return list(estimators.items())
        if not isinstance(estimators, list):  # rejected by the parameter validation
            return []
        members = []
        for item in estimators:
            if not (isinstance(item, tuple) and len(item) == 2):
                if not strict:
                    continue
                raise TypeError(
                    "estimators must be a dict {modality: estimator} or a list of "
                    f"(modality, estimator) tuples; got the item {item!r}."
                )
            members.append(item)
        return members

    def _validate_members(self):
        members = self._members(strict=True)
        if not members:
            raise ValueError("estimators is empty; give one estimator per modality.")
        names = [name for name, _ in members]
        for name in names:
            if not isinstance(name, str) or not name or "__" in name:
                raise ValueError(
                    "Each key of estimators must be a modality name (a non-empty "
                    f"str without '__'); got {name!r}."
                )
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"estimators names the modalities {duplicated} twice.")
        clashes = sorted(set(names) & set(self.get_params(deep=False)))
        if clashes:
            raise ValueError(
                f"The modalities {clashes} clash with parameters of "
                f"{type(self).__name__} (a grid key '<modality>__<param>' would be "
                "ambiguous); rename the blocks."
            )
        for name, estimator in members:
            if not (estimator == "drop" or hasattr(estimator, "fit")):
                raise TypeError(
                    f"The estimator of modality {name!r} must have a fit method or "
                    f"be 'drop'; got {estimator!r}."
                )
        kept = [(n, e) for n, e in members if not (isinstance(e, str) and e == "drop")]
        if not kept:
            raise ValueError("Every estimator is 'drop'; at least one must be kept.")
        return kept

    # scikit-learn's composition machinery routes ``<modality>`` and
    # ``<modality>__<param>`` through this list view of ``estimators``.
    @property
    def _estimators(self):
        return self._members()

    @_estimators.setter
    def _estimators(self, value):
        self.estimators = dict(value) if isinstance(self.estimators, dict) else value

    def get_params(self, deep=True):
        """Get parameters, members included as ``<modality>[__<param>]``.

        Parameters
        ----------
        deep : bool, default=True
            If True, also return each member as ``<modality>`` and its
            parameters as ``<modality>__<param>``.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return self._get_params("_estimators", deep=deep)

    def set_params(self, **params):
        """Set parameters, members included.

        ``<modality>`` replaces a member (or drops it with ``"drop"``);
        ``<modality>__<param>`` sets a parameter of it, so ``GridSearchCV``
        reaches inside the members with the keys of
        :class:`~skcrossmodal.compose.ModalityUnion`.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : estimator instance
        """
        if "estimators" in params:
            self.estimators = params.pop("estimators")
        return self._set_params("_estimators", **params)

    def __sklearn_tags__(self):
        # _BaseHeterogeneousEnsemble's tags read a list of pairs only.
        tags = super(_BaseHeterogeneousEnsemble, self).__sklearn_tags__()
        try:
            kept = [e for _, e in self._members() if not _is_drop(e)]
            tags.input_tags.allow_nan = all(
                get_tags(e).input_tags.allow_nan for e in kept
            )
        except Exception:
            # Malformed members: fit raises the informative error.
            pass
        # A modality table is a DataFrame of blocks, never a sparse matrix.
        tags.input_tags.sparse = False
        tags.target_tags.required = True
        return tags

    def _weighted_outputs(self, X):
        """The present members' weights, renormalised, and their stacked outputs."""
        outputs = self._member_outputs(X)
        weights = renormalise_weights(self.weights_, self.modalities_, list(outputs))
        return weights, np.stack(
            [np.asarray(p, dtype=np.float64) for p in outputs.values()]
        )

    # ---- fitting ----------------------------------------------------------------

    @fit_context(
        # members are validated when they are fitted
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit one member per modality block (and the stacker).

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table holding a block for each member.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Class labels for :class:`LateFusionClassifier` (a column vector is
            raveled with a ``DataConversionWarning``; a missing label is an
            error). Targets for :class:`LateFusionRegressor`; several targets
            need a final estimator that accepts them with ``"stacking"`` (the
            default RidgeCV does).
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the ``fit`` of every member (and of the stacker); an
            error is raised if one does not support it. With metadata routing
            enabled it is routed as requested instead.
        **fit_params : dict
            Further metadata, routed to the members when metadata routing is
            enabled (``sklearn.set_config(enable_metadata_routing=True)``).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        _check_y_given(self, y)
        y = self._validated_targets(y)
        self._fit(X, y, sample_weight, fit_params)
        self._check_members()
        return self

    def _validated_targets(self, y):
        """``y`` checked and converted (and ``classes_`` set, for a classifier)."""
        raise NotImplementedError

    def _check_members(self):
        """Check the fitted members against each other (classes, for a classifier)."""

    def _fit(self, X, y, sample_weight, fit_params):
        _raise_for_params(fit_params, self, "fit")
        members = self._validate_members()
        names = [name for name, _ in members]
        blocks = validate_blocks(self, X, reset=True, required=names)
        check_consistent_length(X, y)
        stacking = self.rule == "stacking"
        if stacking and self.weights is not None:
            raise ValueError(
                "weights are not used by rule='stacking' (the final estimator learns "
                "how to combine the members); set weights=None."
            )
        self.weights_ = check_modality_weights(self.weights, names)
        methods = {name: self._member_method(name, est) for name, est in members}

        if sample_weight is not None:
            fit_params = {**fit_params, "sample_weight": sample_weight}
        if _routing_enabled():
            routed = process_routing(self, "fit", **fit_params)
            member_params = {name: routed[name].fit for name in names}
            final_params = routed.final_estimator_.fit if stacking else {}
        else:
            member_params = {name: dict(fit_params) for name in names}
            final_params = dict(fit_params)

        jobs = [
            delayed(_fit_member)(clone(est), blocks[name], y, member_params[name], name)
            for name, est in members
        ]
        if stacking:
            cv = check_cv(self.cv, y=y, classifier=is_classifier(self))
            if hasattr(cv, "random_state") and cv.random_state is None:
                # One seed, drawn once per fit, for every member: identical
                # folds, in a copy (the user's splitter is a parameter).
                cv = deepcopy(cv)
                cv.random_state = int(check_random_state(None).randint(2**31 - 1))
            jobs += [
                delayed(cross_val_predict)(
                    clone(est),
                    blocks[name],
                    y,
                    cv=deepcopy(cv),
                    method=methods[name],
                    params=member_params[name],
                )
                for name, est in members
            ]
        progress = Progress(self, self.verbose)
        steps = [f"fit member {name!r}" for name in names]
        if stacking:
            steps += [f"out-of-fold outputs of member {name!r}" for name in names]
        results = []
        for k, result in enumerate(
            Parallel(n_jobs=self.n_jobs, return_as="generator")(jobs)
        ):
            results.append(result)
            progress(f"{k + 1}/{len(jobs)}", steps[k])

        self.estimators_ = results[: len(members)]
        self.named_estimators_ = Bunch(
            **dict(zip(names, self.estimators_, strict=True))
        )
        self.stack_method_ = methods
        if stacking:
            out_of_fold = {
                name: self._stack_columns(prediction)
                for name, prediction in zip(names, results[len(members) :], strict=True)
            }
            self.absent_fill_ = {
                name: columns.mean(axis=0) for name, columns in out_of_fold.items()
            }
            final = self.final_estimator
            self.final_estimator_ = clone(
                self._default_final_estimator() if final is None else final
            )
            _fit_member(
                self.final_estimator_,
                np.hstack(list(out_of_fold.values())),
                y,
                final_params,
                "final_estimator",
            )
            progress("stacking", "fit the final estimator")
        return self

    def _stack_columns(self, prediction):
        prediction = np.asarray(prediction, dtype=np.float64)
        if prediction.ndim == 1:
            return prediction.reshape(-1, 1)
        return prediction

    def _member_outputs(self, X):
        """Validated blocks of X, then each present member's stacking output."""
        check_is_fitted(self)
        blocks = validate_blocks(self, X, reset=False)
        return {
            name: getattr(self.named_estimators_[name], self.stack_method_[name])(block)
            for name, block in blocks.items()
        }

    def _meta_features(self, X):
        """Members' outputs side by side; an absent member gets ``absent_fill_``."""
        outputs = self._member_outputs(X)
        n_samples = X.shape[0]
        columns = []
        for name in self.modalities_:
            if name in outputs:
                columns.append(self._stack_columns(outputs[name]))
            else:
                columns.append(np.tile(self.absent_fill_[name], (n_samples, 1)))
        return np.hstack(columns)

    def get_metadata_routing(self):
        """Get the metadata routing of this object.

        ``fit`` metadata (e.g. ``sample_weight``) is routed to the ``fit`` of
        every member and, for ``rule="stacking"``, of the final estimator.

        Returns
        -------
        routing : MetadataRouter
            Routing information.
        """
        router = MetadataRouter(owner=self)
        for name, estimator in self._members():
            if isinstance(estimator, str) and estimator == "drop":
                continue
            router.add(
                **{name: estimator},
                method_mapping=MethodMapping().add(caller="fit", callee="fit"),
            )
        if self.rule == "stacking":
            final = getattr(self, "final_estimator_", None)
            if final is None:
                final = self.final_estimator or self._default_final_estimator()
            router.add(
                final_estimator_=final,
                method_mapping=MethodMapping().add(caller="fit", callee="fit"),
            )
        return router


def _is_drop(estimator):
    return isinstance(estimator, str) and estimator == "drop"


def check_modality_weights(weights, names):
    """Validate per-modality weights and align them with ``names``.

    Parameters
    ----------
    weights : dict, array-like or None
        ``{modality: weight}`` covering every name, a sequence in the order of
        ``names``, or None (all 1).
    names : list of str
        The modalities.

    Returns
    -------
    weights : ndarray of shape (len(names),)
        Finite, non-negative weights with a positive sum.
    """
    if weights is None:
        return np.ones(len(names))
    if isinstance(weights, dict):
        unknown = [m for m in weights if m not in names]
        if unknown:
            raise ValueError(
                f"weights names the modalities {unknown}, which are not fused; "
                f"the modalities are {names}."
            )
        missing = [m for m in names if m not in weights]
        if missing:
            raise ValueError(
                f"weights has no entry for the modalities {missing}; give one "
                f"weight for each of {names}."
            )
        values = [weights[m] for m in names]
    else:
        values = list(weights)
        if len(values) != len(names):
            raise ValueError(
                f"weights has {len(values)} entries but there are {len(names)} "
                f"modalities ({names}); give one weight per modality, in order."
            )
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(
            f"weights must be finite and non-negative, got {values.tolist()}."
        )
    if values.sum() == 0:
        raise ValueError("weights sum to 0; at least one weight must be positive.")
    return values


def renormalise_weights(weights, names, present):
    """The weights of the ``present`` modalities, rescaled to sum to 1."""
    selected = np.asarray([weights[names.index(m)] for m in present])
    if selected.sum() == 0:
        raise ValueError(
            f"Only the modalities {present} are present in X and all their "
            "weights are 0; nothing to predict from."
        )
    return selected / selected.sum()


def _check_y_given(estimator, y):
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y "
            "is None."
        )


def _fit_member(estimator, X, y, fit_params, name):
    if not _routing_enabled() and "sample_weight" in fit_params:
        try:
            return estimator.fit(X, y, **fit_params)
        except TypeError as exc:
            if "sample_weight" in str(exc):
                raise TypeError(
                    f"The estimator of {name!r} ({type(estimator).__name__}) does not "
                    "support sample_weight."
                ) from exc
            raise
    return estimator.fit(X, y, **fit_params)


def _stacker_has(attr):
    def check(self):
        if self.rule != "stacking":
            return attr == "predict_proba"
        final = getattr(self, "final_estimator_", None)
        if final is None:
            final = self.final_estimator or self._default_final_estimator()
        return hasattr(final, attr)

    return check


class LateFusionClassifier(ClassifierMixin, _BaseLateFusion):
    """Classify from several modalities by fusing one classifier per modality.

    Each modality block of the table is given to its own classifier (cloned
    and fitted on that block only); their class probabilities are combined by
    a weighted mean, a weighted product or a maximum, or by a final
    classifier trained on their out-of-fold outputs ("stacking", as
    :class:`~sklearn.ensemble.StackingClassifier`). At prediction time a
    modality may be absent from X: its member is skipped and the weights of
    the others are renormalised.

    Parameters
    ----------
    estimators : dict or list of (str, estimator) tuples
        The member of each modality, e.g. ``{"text": LogisticRegression(),
        "image": SVC(probability=True)}``; the keys are block names of X.
        A member may be ``"drop"``. A member is reached as ``<modality>`` and
        its parameters as ``<modality>__<param>`` (e.g. in a ``GridSearchCV``
        grid), whether ``estimators`` is a dict or a list, as in
        :class:`~skcrossmodal.compose.ModalityUnion`. A modality may not be
        named like a parameter of this estimator (``"rule"``, ``"cv"``...).
    rule : {"mean", "product", "max", "stacking"}, default="mean"
        How member probabilities ``p_m`` with weights ``w_m`` (normalised to
        sum to 1 over the present modalities) are combined:

        - ``"mean"``: ``sum_m w_m p_m`` (soft voting).
        - ``"product"``: ``prod_m p_m ** w_m``, renormalised over classes (the
          weighted geometric mean; members are treated as independent).
        - ``"max"``: ``max_m w_m p_m`` per class, renormalised over classes.
        - ``"stacking"``: ``final_estimator`` is trained on the members'
          out-of-fold ``predict_proba`` (or ``decision_function`` when a member
          has no ``predict_proba``); for two classes only the second column
          is used. An absent modality's columns are filled with that member's
          mean out-of-fold output (``absent_fill_``: its class prior), so the
          stacker still predicts from the others.

        The three combining rules need every member to have
        ``predict_proba``.
    weights : dict, array-like of shape (n_estimators,) or None, default=None
        Weight of each modality: a dict ``{modality: weight}`` covering every
        member, or a list in the order of ``estimators``. None weights all
        equally. Non-negative, not all zero. Not used with ``"stacking"``.
    final_estimator : estimator, default=None
        The stacker for ``rule="stacking"``; None means
        :class:`~sklearn.linear_model.LogisticRegression`.
    cv : int, cross-validation generator or iterable, default=5
        Splits giving the out-of-fold outputs for ``"stacking"``; an int is a
        :class:`~sklearn.model_selection.StratifiedKFold`. Every member gets
        the same folds: a splitter with ``random_state=None`` is copied and
        seeded once per fit (the splitter passed is never modified).
    n_jobs : int, default=None
        Number of jobs fitting the members (and their cross-validation fits)
        in parallel. None means 1 unless in a :obj:`joblib.parallel_backend`
        context, -1 all processors.
    verbose : int, default=0
        With 1 or more, print one line per member fitted (and per member's
        out-of-fold outputs, and the stacker) to stderr.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members, in the order of ``modalities_``.
    named_estimators_ : :class:`~sklearn.utils.Bunch`
        The fitted members by modality.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    weights_ : ndarray of shape (n_estimators,)
        The validated weights, in the order of ``modalities_``.
    stack_method_ : dict of str to str
        The method whose output each member contributes.
    final_estimator_ : estimator
        The fitted stacker (``rule="stacking"`` only).
    absent_fill_ : dict of str to ndarray
        Mean out-of-fold output of each member, used when its modality is
        absent (``rule="stacking"`` only).
    modalities_ : list of str
        The modalities of the members.
    n_features_in_ : int
        Number of features seen during fit (all member blocks).
    feature_names_in_ : ndarray of str
        Names of those features.
    feature_names_per_modality_ : dict of str to ndarray
        Feature names of each member block.

    See Also
    --------
    LateFusionRegressor : The same for regression.
    sklearn.ensemble.StackingClassifier : Stacking on one feature matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skcrossmodal import make_frame
    >>> from skcrossmodal.fusion import LateFusionClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 20)
    >>> X = make_frame(text=rng.normal(y[:, None], 1.0, (40, 3)),
    ...                image=rng.normal(y[:, None], 1.0, (40, 2)))
    >>> fusion = LateFusionClassifier(
    ...     {"text": LogisticRegression(), "image": LogisticRegression()},
    ...     weights={"text": 2, "image": 1}).fit(X, y)
    >>> fusion.score(X, y)
    0.9...
    >>> text_only = X.filter(like="text__")
    >>> fusion.predict(text_only).shape
    (40,)
    """

    _parameter_constraints = {
        **_BaseLateFusion._parameter_constraints,
        "rule": [StrOptions({"mean", "product", "max", "stacking"})],
    }

    def _default_final_estimator(self):
        return LogisticRegression()

    def _member_method(self, name, estimator):
        if hasattr(estimator, "predict_proba"):
            return "predict_proba"
        if self.rule == "stacking" and hasattr(estimator, "decision_function"):
            return "decision_function"
        needs = (
            "predict_proba or decision_function"
            if self.rule == "stacking"
            else ("predict_proba")
        )
        raise ValueError(
            f"rule={self.rule!r} needs {needs}, but the estimator of modality "
            f"{name!r} ({type(estimator).__name__}) has none (e.g. wrap it in "
            "sklearn.calibration.CalibratedClassifierCV)."
        )

    def _validated_targets(self, y):
        y = check_class_labels(y, type(self).__name__)
        self.classes_ = np.unique(y)
        return y

    def _check_members(self):
        for name, member in self.named_estimators_.items():
            member_classes = getattr(member, "classes_", self.classes_)
            if not np.array_equal(member_classes, self.classes_):
                raise ValueError(
                    f"The estimator of modality {name!r} has classes "
                    f"{member_classes}, expected {self.classes_}."
                )

    def _stack_columns(self, prediction):
        prediction = super()._stack_columns(prediction)
        if prediction.shape[1] == 2 and len(self.classes_) == 2:
            return prediction[:, 1:]
        return prediction

    @available_if(_stacker_has("predict_proba"))
    def predict_proba(self, X):
        """Fused class probabilities, from the modalities present in X.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table; member blocks may be absent, but not all.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities in the order of ``classes_``.
        """
        check_is_fitted(self)
        if self.rule == "stacking":
            return self.final_estimator_.predict_proba(self._meta_features(X))
        weights, probas = self._weighted_outputs(X)
        if self.rule == "mean":
            return np.tensordot(weights, probas, axes=1)
        if self.rule == "product":
            tiny = np.finfo(np.float64).tiny
            log_proba = np.tensordot(weights, np.log(np.maximum(probas, tiny)), axes=1)
            log_proba -= log_proba.max(axis=1, keepdims=True)
            fused = np.exp(log_proba)
        else:
            fused = (weights[:, None, None] * probas).max(axis=0)
        return fused / fused.sum(axis=1, keepdims=True)

    @available_if(_stacker_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the final estimator (``rule="stacking"`` only).

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table; member blocks may be absent, but not all.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The stacker's decision function on the members' outputs.
        """
        check_is_fitted(self)
        return self.final_estimator_.decision_function(self._meta_features(X))

    def predict(self, X):
        """Predict class labels from the modalities present in X.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table; member blocks may be absent, but not all.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        check_is_fitted(self)
        if self.rule == "stacking":
            return self.final_estimator_.predict(self._meta_features(X))
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class LateFusionRegressor(RegressorMixin, _BaseLateFusion):
    """Regress from several modalities by fusing one regressor per modality.

    Each modality block of the table is given to its own regressor (cloned
    and fitted on that block only); their predictions are combined by a
    weighted mean, or by a final regressor trained on their out-of-fold
    predictions ("stacking", as :class:`~sklearn.ensemble.StackingRegressor`).
    At prediction time a modality may be absent from X: its member is skipped
    and the weights of the others are renormalised.

    Parameters
    ----------
    estimators : dict or list of (str, estimator) tuples
        The member of each modality; the keys are block names of X. A member
        may be ``"drop"``. A member is reached as ``<modality>`` and its
        parameters as ``<modality>__<param>``, as in
        :class:`LateFusionClassifier`.
    rule : {"mean", "stacking"}, default="mean"
        ``"mean"``: ``sum_m w_m y_m`` with the weights normalised over the
        present modalities. ``"stacking"``: ``final_estimator`` is trained on
        the members' out-of-fold predictions; an absent modality's column is
        filled with that member's mean out-of-fold prediction
        (``absent_fill_``).
    weights : dict, array-like of shape (n_estimators,) or None, default=None
        Weight of each modality: a dict covering every member or a list in
        the order of ``estimators``; None weights all equally. Not used with
        ``"stacking"``.
    final_estimator : estimator, default=None
        The stacker; None means :class:`~sklearn.linear_model.RidgeCV`.
    cv : int, cross-validation generator or iterable, default=5
        Splits giving the out-of-fold predictions for ``"stacking"``, the
        same for every member (as in :class:`LateFusionClassifier`).
    n_jobs : int, default=None
        Number of jobs fitting the members in parallel.
    verbose : int, default=0
        With 1 or more, print one line per member fitted (and per member's
        out-of-fold outputs, and the stacker) to stderr.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members, in the order of ``modalities_``.
    named_estimators_ : :class:`~sklearn.utils.Bunch`
        The fitted members by modality.
    weights_ : ndarray of shape (n_estimators,)
        The validated weights.
    stack_method_ : dict of str to str
        ``"predict"`` for every member.
    final_estimator_ : estimator
        The fitted stacker (``rule="stacking"`` only).
    absent_fill_ : dict of str to ndarray
        Mean out-of-fold prediction of each member (``rule="stacking"`` only).
    modalities_ : list of str
        The modalities of the members.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of str
        Names of those features.
    feature_names_per_modality_ : dict of str to ndarray
        Feature names of each member block.

    See Also
    --------
    LateFusionClassifier : The same for classification.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skcrossmodal import make_frame
    >>> from skcrossmodal.fusion import LateFusionRegressor
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.normal(size=50)
    >>> X = make_frame(a=signal[:, None] + rng.normal(0, .1, (50, 2)),
    ...                b=signal[:, None] + rng.normal(0, .1, (50, 2)))
    >>> fusion = LateFusionRegressor({"a": Ridge(), "b": Ridge()}).fit(X, signal)
    >>> fusion.score(X, signal) > 0.95
    True
    """

    _parameter_constraints = {
        **_BaseLateFusion._parameter_constraints,
        "rule": [StrOptions({"mean", "stacking"})],
    }

    def _default_final_estimator(self):
        return RidgeCV()

    def _member_method(self, name, estimator):
        if not hasattr(estimator, "predict"):
            raise ValueError(
                f"The estimator of modality {name!r} ({type(estimator).__name__}) "
                "has no predict method."
            )
        return "predict"

    def _validated_targets(self, y):
        return _numeric_targets(y, type(self).__name__)

    def predict(self, X):
        """Predict from the modalities present in X.

        Parameters
        ----------
        X : pandas.DataFrame
            Modality table; member blocks may be absent, but not all.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Fused predictions.
        """
        check_is_fitted(self)
        if self.rule == "stacking":
            return self.final_estimator_.predict(self._meta_features(X))
        weights, predictions = self._weighted_outputs(X)
        return np.tensordot(weights, predictions, axes=1)


def _numeric_targets(y, name):
    """Regression targets as a 1-D float array; a column vector is raveled."""
    y = column_or_1d(y, warn=True)
    if y.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: {name} got complex targets.")
    if y.dtype.kind not in "biuf":
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{name} needs numeric targets, got dtype {y.dtype}: {exc}"
            ) from exc
    return y
