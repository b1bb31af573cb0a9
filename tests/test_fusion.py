"""Tests of skcrossmodal.fusion: late fusion, shared-space fusion, neural fusion."""

import importlib.util
import pickle
import re

import numpy as np
import pandas as pd
import pytest
from _fusion_data import (  # noqa: E402
    _two_view_task,
    make_views,
)
from joblib import parallel_backend
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context
from sklearn.base import BaseEstimator, clone
from sklearn.compose import ColumnTransformer
from sklearn.cross_decomposition import CCA as SklearnCCA
from sklearn.ensemble import StackingClassifier, StackingRegressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    StratifiedKFold,
    check_cv,
    cross_val_predict,
    cross_val_score,
)
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from skcrossmodal import make_frame
from skcrossmodal.fusion import (
    LateFusionClassifier,
    LateFusionRegressor,
    WeightedSumFusion,
)
from skcrossmodal.mapping._base import SharedSpaceMixin

# ---- data -----------------------------------------------------------------------


def members(C=1.0):
    return {
        "text": LogisticRegression(C=C),
        "image": LogisticRegression(C=C),
        "audio": LogisticRegression(C=C),
    }


def block(X, modality):
    return X.filter(regex=f"^{modality}__").to_numpy()


def member_probas(X, y):
    return {
        m: LogisticRegression().fit(block(X, m), y).predict_proba(block(X, m))
        for m in ("text", "image", "audio")
    }


# ---- late fusion: hand computations ------------------------------------------------


@pytest.mark.parametrize(
    "weights", [None, {"text": 3.0, "image": 1.0, "audio": 0.5}, [3.0, 1.0, 0.5]]
)
def test_mean_rule_is_weighted_mean_of_member_probabilities(weights):
    X, y = make_views()
    fusion = LateFusionClassifier(members(), weights=weights).fit(X, y)
    probas = member_probas(X, y)
    w = np.ones(3) if weights is None else np.array([3.0, 1.0, 0.5])
    expected = sum(
        wi * probas[m] for wi, m in zip(w, ("text", "image", "audio"), strict=True)
    )
    expected /= w.sum()
    assert_allclose(fusion.predict_proba(X), expected, rtol=1e-10)
    assert_array_equal(fusion.predict(X), fusion.classes_[expected.argmax(axis=1)])


def test_product_rule_is_normalised_weighted_geometric_mean():
    X, y = make_views()
    weights = {"text": 2.0, "image": 1.0, "audio": 1.0}
    fusion = LateFusionClassifier(members(), rule="product", weights=weights).fit(X, y)
    probas = member_probas(X, y)
    product = probas["text"] ** 0.5 * probas["image"] ** 0.25 * probas["audio"] ** 0.25
    assert_allclose(
        fusion.predict_proba(X), product / product.sum(axis=1, keepdims=True), rtol=1e-9
    )


def test_max_rule_takes_the_largest_weighted_probability():
    X, y = make_views()
    fusion = LateFusionClassifier(members(), rule="max", weights=[1, 1, 2]).fit(X, y)
    probas = member_probas(X, y)
    largest = np.maximum.reduce(
        [probas["text"] / 4, probas["image"] / 4, probas["audio"] / 2]
    )
    assert_allclose(
        fusion.predict_proba(X),
        largest / largest.sum(axis=1, keepdims=True),
        rtol=1e-10,
    )


def test_stacking_matches_manual_out_of_fold_stacking():
    X, y = make_views()
    cv = StratifiedKFold(4)
    fusion = LateFusionClassifier(members(), rule="stacking", cv=cv).fit(X, y)
    out_of_fold = [
        cross_val_predict(
            LogisticRegression(), block(X, m), y, cv=cv, method="predict_proba"
        )
        for m in ("text", "image", "audio")
    ]
    final = LogisticRegression().fit(np.hstack(out_of_fold), y)
    full = [
        LogisticRegression().fit(block(X, m), y).predict_proba(block(X, m))
        for m in ("text", "image", "audio")
    ]
    assert_allclose(
        fusion.predict_proba(X), final.predict_proba(np.hstack(full)), rtol=1e-8
    )
    assert_allclose(
        fusion.decision_function(X), final.decision_function(np.hstack(full)), rtol=1e-8
    )
    # an absent modality contributes its mean out-of-fold output (its class prior)
    partial = X.drop(columns=X.filter(like="audio__").columns)
    filled = np.hstack(full[:2] + [np.tile(out_of_fold[2].mean(axis=0), (len(X), 1))])
    assert_allclose(
        fusion.predict_proba(partial), final.predict_proba(filled), rtol=1e-8
    )


def test_stacking_equals_sklearn_stacking_over_column_transformers():
    X, y = make_views(seed=1)
    y = y % 2  # binary: one probability column per member, as in scikit-learn
    cv = StratifiedKFold(3)
    ours = LateFusionClassifier(members(), rule="stacking", cv=cv).fit(X, y)
    theirs = StackingClassifier(
        [
            (
                m,
                make_pipeline(
                    ColumnTransformer(
                        [(m, "passthrough", list(X.filter(like=m + "__")))]
                    ),
                    LogisticRegression(),
                ),
            )
            for m in ("text", "image", "audio")
        ],
        final_estimator=LogisticRegression(),
        cv=cv,
    ).fit(X, y)
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-6)


def test_regressor_mean_and_stacking():
    X, _ = make_views()
    rng = np.random.default_rng(0)
    target = X.to_numpy() @ rng.normal(size=X.shape[1]) + rng.normal(size=len(X))
    names = ("text", "image", "audio")
    weights = {"text": 1.0, "image": 2.0, "audio": 1.0}
    fusion = LateFusionRegressor(
        {m: LinearRegression() for m in names}, weights=weights
    )
    fusion.fit(X, target)
    predictions = {
        m: LinearRegression().fit(block(X, m), target).predict(block(X, m))
        for m in names
    }
    expected = (
        predictions["text"] + 2 * predictions["image"] + predictions["audio"]
    ) / 4
    assert_allclose(fusion.predict(X), expected, rtol=1e-10)
    # absent image: renormalised over text and audio
    no_image = X.drop(columns=X.filter(like="image__").columns)
    assert_allclose(
        fusion.predict(no_image),
        (predictions["text"] + predictions["audio"]) / 2,
        rtol=1e-10,
    )

    cv = KFold(3)
    stacked = LateFusionRegressor(
        {m: LinearRegression() for m in names},
        rule="stacking",
        final_estimator=LinearRegression(),
        cv=cv,
    ).fit(X, target)
    reference = StackingRegressor(
        [
            (
                m,
                make_pipeline(
                    ColumnTransformer(
                        [(m, "passthrough", list(X.filter(like=m + "__")))]
                    ),
                    LinearRegression(),
                ),
            )
            for m in names
        ],
        final_estimator=LinearRegression(),
        cv=cv,
    ).fit(X, target)
    assert_allclose(stacked.predict(X), reference.predict(X), rtol=1e-8)


# ---- absent modalities ----------------------------------------------------------------


def test_absent_modalities_are_skipped_and_weights_renormalised():
    X, y = make_views()
    weights = {"text": 3.0, "image": 1.0, "audio": 2.0}
    fusion = LateFusionClassifier(members(), weights=weights).fit(X, y)
    probas = member_probas(X, y)
    text_only = X.filter(like="text__")
    assert_allclose(fusion.predict_proba(text_only), probas["text"], rtol=1e-10)
    no_text = X.drop(columns=text_only.columns)
    assert_allclose(
        fusion.predict_proba(no_text),
        (probas["image"] + 2 * probas["audio"]) / 3,
        rtol=1e-10,
    )
    # blocks may come in any order
    shuffled = pd.concat([X.filter(like="audio__"), X.filter(like="text__")], axis=1)
    assert_allclose(
        fusion.predict_proba(shuffled), (3 * probas["text"] + 2 * probas["audio"]) / 5
    )


def test_absent_modality_with_zero_weight_left_alone_raises():
    X, y = make_views()
    fusion = LateFusionClassifier(members(), weights=[1, 1, 0]).fit(X, y)
    with pytest.raises(ValueError, match="all their weights are 0"):
        fusion.predict(X.filter(like="audio__"))


def test_unknown_and_wrong_blocks_at_predict_time():
    X, y = make_views()
    fusion = LateFusionClassifier(members()).fit(X, y)
    with pytest.raises(ValueError, match="not fitted on"):
        fusion.predict(X.assign(video__0=1.0))
    with pytest.raises(ValueError, match="none of the modalities"):
        fusion.predict(pd.DataFrame(index=X.index))
    with pytest.raises(ValueError, match="'image'"):
        fusion.predict(X.drop(columns="image__0"))


# ---- parameters, search, cross-validation ----------------------------------------------


@pytest.mark.parametrize("as_list", [False, True])
def test_get_and_set_params_reach_members(as_list):
    estimators = members()
    if as_list:
        estimators = list(estimators.items())
    fusion = LateFusionClassifier(estimators)
    params = fusion.get_params(deep=True)
    assert params["text__C"] == 1.0
    assert params["image"] is dict(fusion._members())["image"]
    assert not any(key.startswith("estimators__") for key in params)
    fusion.set_params(text__C=0.1, audio=KNeighborsClassifier())
    assert dict(fusion._members())["text"].C == 0.1
    assert isinstance(dict(fusion._members())["audio"], KNeighborsClassifier)
    assert isinstance(fusion.estimators, list if as_list else dict)
    with pytest.raises(ValueError, match="Invalid parameter 'video'"):
        fusion.set_params(video__C=1.0)


def test_member_keys_route_like_modality_union():
    """The grid keys of a member are those of ModalityUnion: <modality>__<param>."""
    from skcrossmodal.compose import ModalityUnion

    fusion = LateFusionClassifier(members())
    union = ModalityUnion([(name, est, [name]) for name, est in members().items()])
    member_keys = {k for k in fusion.get_params() if "__" in k or k in members()}
    union_keys = {k for k in union.get_params() if "__" in k or k in members()}
    assert member_keys == union_keys
    # set_params with 'estimators' and a member parameter: the new member is set
    fusion.set_params(estimators=members(), text__C=0.5)
    assert fusion.estimators["text"].C == 0.5


def test_modality_named_like_a_parameter_is_refused():
    X, y = make_views()
    X = X.rename(columns=lambda c: c.replace("text__", "cv__"))
    estimators = {"cv": LogisticRegression(), "image": LogisticRegression()}
    with pytest.raises(ValueError, match=r"\['cv'\] clash with parameters"):
        LateFusionClassifier(estimators).fit(X, y)


def test_grid_search_over_weights_and_member_parameters():
    X, y = make_views()
    param_grid = {
        "weights": [{"text": 1, "image": 1, "audio": 1}, [0, 1, 1]],
        "text__C": [0.01, 1.0],
        "image": [LogisticRegression(), LogisticRegression(C=0.01)],
    }
    grid = GridSearchCV(LateFusionClassifier(members()), param_grid, cv=3).fit(X, y)
    assert set(grid.cv_results_["params"][0]) == {"weights", "text__C", "image"}
    best = grid.best_estimator_
    assert best.named_estimators_["text"].C == grid.best_params_["text__C"]
    assert best.weights == grid.best_params_["weights"]
    # the searched object itself is left untouched
    assert grid.estimator.estimators["text"].C == 1.0
    # reference: every candidate fitted by hand with the same folds
    cv = check_cv(3, y, classifier=True)
    for params, mean_score in zip(
        grid.cv_results_["params"], grid.cv_results_["mean_test_score"], strict=True
    ):
        estimators = members()
        estimators["text"] = clone(estimators["text"]).set_params(C=params["text__C"])
        estimators["image"] = clone(params["image"])
        scores = []
        for train, test in cv.split(X, y):
            model = LateFusionClassifier(estimators, weights=params["weights"])
            model.fit(X.iloc[train], y[train])
            scores.append(model.score(X.iloc[test], y[test]))
        assert mean_score == pytest.approx(np.mean(scores), rel=1e-12)


def test_verbose_prints_one_line_per_member(capsys):
    X, y = make_views()
    LateFusionClassifier(members(), verbose=1).fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 3
    for k, (line, name) in enumerate(
        zip(lines, ["text", "image", "audio"], strict=True), 1
    ):
        assert re.fullmatch(
            rf"\[LateFusionClassifier\] {k}/3: fit member '{name}' \(\d+\.\d s\)",
            line,
        )
    LateFusionClassifier(members(), rule="stacking", cv=2, verbose=1).fit(X, y)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 7 and "out-of-fold outputs of member 'audio'" in lines[5]
    LateFusionClassifier(members()).fit(X, y)
    assert capsys.readouterr().err == ""


def test_cross_val_score_and_fusion_beats_weakest_view():
    X, y = make_views(n_samples=150)
    fused = cross_val_score(LateFusionClassifier(members()), X, y, cv=5)
    audio = cross_val_score(LogisticRegression(), block(X, "audio"), y, cv=5)
    assert fused.shape == (5,)
    assert fused.mean() > audio.mean()


def test_clone_pickle_and_idempotent_fit():
    X, y = make_views()
    fusion = LateFusionClassifier(members(), rule="product").fit(X, y)
    cloned = clone(fusion)
    assert isinstance(cloned.estimators, dict)
    assert cloned.estimators["text"] is not fusion.estimators["text"]
    assert not hasattr(cloned, "estimators_")
    restored = pickle.loads(pickle.dumps(fusion))
    assert_allclose(restored.predict_proba(X), fusion.predict_proba(X))
    refit = fusion.predict_proba(X)
    assert_allclose(fusion.fit(X, y).predict_proba(X), refit)
    # members are cloned: the user's objects are never fitted
    assert not hasattr(fusion.estimators["text"], "coef_")


def test_fitted_attributes_and_row_subset_invariance():
    X, y = make_views()
    fusion = LateFusionClassifier(members(), n_jobs=2)
    with pytest.raises(NotFittedError):
        fusion.predict(X)
    with parallel_backend("threading"):
        assert fusion.fit(X, y) is fusion
    assert fusion.n_features_in_ == 9
    assert fusion.modalities_ == ["text", "image", "audio"]
    assert list(fusion.named_estimators_) == ["text", "image", "audio"]
    assert_array_equal(fusion.classes_, [0, 1, 2])
    assert_allclose(fusion.predict_proba(X.iloc[10:20]), fusion.predict_proba(X)[10:20])


def test_string_labels_and_drop():
    X, y = make_views()
    labels = np.array(["cat", "dog", "emu"])[y]
    fusion = LateFusionClassifier({**members(), "audio": "drop"}).fit(X, labels)
    assert fusion.modalities_ == ["text", "image"]
    assert set(fusion.predict(X)) <= set(labels)
    # the dropped block is ignored at predict time
    fusion.predict(X)


# ---- sample_weight and metadata routing ------------------------------------------------


def test_sample_weight_reaches_every_member():
    X, y = make_views()
    sample_weight = np.random.default_rng(0).uniform(0.1, 2, size=len(y))
    fusion = LateFusionClassifier(members(), rule="stacking", cv=3)
    fusion.fit(X, y, sample_weight=sample_weight)
    expected = LogisticRegression().fit(
        block(X, "text"), y, sample_weight=sample_weight
    )
    assert_allclose(fusion.named_estimators_["text"].coef_, expected.coef_)
    with pytest.raises(TypeError, match="'text'.*does not support sample_weight"):
        LateFusionClassifier({"text": KNeighborsClassifier()}).fit(
            X, y, sample_weight=sample_weight
        )


def test_metadata_routing_of_sample_weight():
    X, y = make_views()
    sample_weight = np.random.default_rng(0).uniform(0.1, 2, size=len(y))
    with config_context(enable_metadata_routing=True):
        fusion = LateFusionClassifier(
            {
                "text": LogisticRegression().set_fit_request(sample_weight=True),
                "image": LogisticRegression().set_fit_request(sample_weight=False),
            }
        ).fit(X, y, sample_weight=sample_weight)
        with pytest.raises(ValueError, match="sample_weight"):
            # a member that has not stated whether it wants sample_weight
            LateFusionClassifier({"text": LogisticRegression()}).fit(
                X, y, sample_weight=sample_weight
            )
    weighted = LogisticRegression().fit(
        block(X, "text"), y, sample_weight=sample_weight
    )
    plain = LogisticRegression().fit(block(X, "image"), y)
    assert_allclose(fusion.named_estimators_["text"].coef_, weighted.coef_)
    assert_allclose(fusion.named_estimators_["image"].coef_, plain.coef_)


# ---- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, error, match",
    [
        (
            {"estimators": {"video": LogisticRegression()}},
            ValueError,
            "needs modalities \\['video'\\]",
        ),
        (
            {"weights": {"text": 1, "image": 1, "audio": 1, "video": 1}},
            ValueError,
            "video",
        ),
        (
            {"weights": {"text": 1, "image": 1}},
            ValueError,
            "no entry for the modalities \\['audio'\\]",
        ),
        ({"weights": [0, 0, 0]}, ValueError, "sum to 0"),
        ({"weights": [1, -1, 1]}, ValueError, "non-negative"),
        ({"weights": [1, 1]}, ValueError, "2 entries but there are 3"),
        ({"estimators": {"text": SVC()}}, ValueError, "predict_proba.*'text'.*SVC"),
        (
            {"rule": "stacking", "weights": [1, 1, 1]},
            ValueError,
            "not used by rule='stacking'",
        ),
        ({"estimators": {}}, ValueError, "empty"),
        (
            {"estimators": [("text", LogisticRegression()), "image"]},
            TypeError,
            "list of",
        ),
        ({"estimators": {"text": "drop"}}, ValueError, "at least one"),
        ({"estimators": {"a__b": LogisticRegression()}}, ValueError, "without '__'"),
        ({"rule": "median"}, ValueError, "rule"),
    ],
)
def test_errors(params, error, match):
    X, y = make_views()
    fusion = LateFusionClassifier(members()).set_params(**params)
    with pytest.raises(error, match=match):
        fusion.fit(X, y)


def test_bare_array_and_regressor_rules():
    X, y = make_views()
    with pytest.raises(ValueError, match="make_frame"):
        LateFusionClassifier(members()).fit(X.to_numpy(), y)
    with pytest.raises(ValueError, match="rule"):
        LateFusionRegressor({"text": Ridge()}, rule="product").fit(X, y.astype(float))
    with pytest.raises(ValueError, match="non-finite.*row 3"):
        LateFusionClassifier(members()).fit(
            X.assign(text__0=X["text__0"].where(X.index != 3)), y
        )


# ---- shared-space fusion ------------------------------------------------------------------


class _TwoViewCCA(SharedSpaceMixin, BaseEstimator):
    """A test-local mapper: scikit-learn's CCA on two blocks, as a shared space."""

    def __init__(self, n_components=2):
        self.n_components = n_components

    def fit(self, X, y=None):
        from skcrossmodal._frame import validate_blocks

        blocks = validate_blocks(self, X, reset=True, min_modalities=2)
        first, second = list(blocks.values())
        self.cca_ = SklearnCCA(self.n_components).fit(first, second)
        self.n_components_ = self.n_components
        return self

    def _embed(self, blocks):
        cca = self.cca_
        out = {}
        for position, modality in enumerate(self.modalities_):
            if modality in blocks:
                mean, std, rotation = (
                    (cca._x_mean, cca._x_std, cca.x_rotations_)
                    if position == 0
                    else (cca._y_mean, cca._y_std, cca.y_rotations_)
                )
                out[modality] = (blocks[modality] - mean) / std @ rotation
        return out


def test_weighted_sum_is_hand_weighted_mean():
    rng = np.random.default_rng(0)
    A, B, C = rng.normal(size=(3, 6, 4))
    Z = make_frame(a=A, b=B, c=C)
    fusion = WeightedSumFusion(weights={"a": 1, "b": 2, "c": 1}).fit(Z)
    out = fusion.transform(Z)
    assert list(out.columns) == ["fused__0", "fused__1", "fused__2", "fused__3"]
    assert_allclose(out.to_numpy(), (A + 2 * B + C) / 4)
    assert_allclose(
        fusion.transform(Z.drop(columns=Z.filter(like="b__").columns)), (A + C) / 2
    )
    assert_allclose(WeightedSumFusion([1, 0, 3]).fit(Z).transform(Z), (A + 3 * C) / 4)
    assert_array_equal(fusion.get_feature_names_out(), out.columns)


def test_weighted_sum_errors():
    rng = np.random.default_rng(0)
    Z = make_frame(a=rng.normal(size=(5, 2)), b=rng.normal(size=(5, 3)))
    with pytest.raises(ValueError, match="different widths"):
        WeightedSumFusion().fit(Z)
    Z = make_frame(a=rng.normal(size=(5, 2)), b=rng.normal(size=(5, 2)))
    with pytest.raises(ValueError, match="'c'"):
        WeightedSumFusion({"a": 1, "b": 1, "c": 1}).fit(Z)
    with pytest.raises(ValueError, match="sum to 0"):
        WeightedSumFusion([0, 0]).fit(Z)
    with pytest.raises(ValueError, match="make_frame"):
        WeightedSumFusion().fit(Z.to_numpy())


@pytest.mark.parametrize("mapper", ["local", "cca"])
def test_shared_space_pipeline_predicts_from_either_modality(mapper):
    if mapper == "cca":
        if importlib.util.find_spec("skcrossmodal.mapping._cca") is None:
            pytest.skip("skcrossmodal.mapping.CCA is not available")
        from skcrossmodal.mapping import CCA

        space = CCA(n_components=2)
    else:
        space = _TwoViewCCA(n_components=2)
    X, y = _two_view_task()
    X_test, y_test = _two_view_task(seed=1)
    pipe = make_pipeline(space, WeightedSumFusion(), LogisticRegression()).fit(X, y)
    for modality in ("text", "image"):
        only = X_test.filter(like=f"{modality}__")
        assert pipe.score(only, y_test) > 0.8, modality
    assert pipe.score(X_test, y_test) > 0.8
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.min() > 0.8


# ---- numerical edges, labels, model selection ------------------------------------------


class _RecordingKFold(KFold):
    """A KFold that records the test folds it yields (shared by its copies)."""

    folds = []

    def split(self, X, y=None, groups=None):
        for train, test in super().split(X, y, groups):
            _RecordingKFold.folds.append(test.tolist())
            yield train, test


def test_stacking_leaves_the_cv_splitter_alone_and_members_share_folds():
    X, y = make_views()
    cv = _RecordingKFold(n_splits=3, shuffle=True)
    before = dict(vars(cv))
    _RecordingKFold.folds = []
    fusion = LateFusionClassifier(members(), rule="stacking", cv=cv).fit(X, y)
    # Fitting used to write a RandomState into the user's splitter.
    assert cv.random_state is None
    assert vars(cv) == before
    folds = _RecordingKFold.folds
    assert len(folds) == 9  # 3 members x 3 folds, every member the same folds
    assert folds[0:3] == folds[3:6] == folds[6:9]
    assert sorted(sum(folds[0:3], [])) == list(range(len(y)))
    # The stacker learned from those folds: redo the out-of-fold outputs by hand.
    columns = []
    for modality in ("text", "image", "audio"):
        out_of_fold = np.empty((len(y), 3))
        for test in folds[0:3]:
            train = np.setdiff1d(np.arange(len(y)), test)
            member = LogisticRegression().fit(block(X, modality)[train], y[train])
            out_of_fold[test] = member.predict_proba(block(X, modality)[test])
        columns.append(out_of_fold)
    stacker = LogisticRegression().fit(np.hstack(columns), y)
    assert_allclose(fusion.final_estimator_.coef_, stacker.coef_, rtol=1e-8)
    regressor_cv = KFold(n_splits=3, shuffle=True)
    LateFusionRegressor({"text": Ridge()}, rule="stacking", cv=regressor_cv).fit(
        X, y.astype(float)
    )
    assert regressor_cv.random_state is None


def test_column_vector_y_is_raveled_with_a_warning():
    from sklearn.exceptions import DataConversionWarning

    X, y = make_views()
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        fused = LateFusionClassifier(members()).fit(X, y[:, None])
    expected = LateFusionClassifier(members()).fit(X, y)
    assert_array_equal(fused.classes_, expected.classes_)
    assert_array_equal(fused.predict_proba(X), expected.predict_proba(X))
    message = r"y should be a 1d array, got an array of shape \(90, 2\)"
    with pytest.raises(ValueError, match=message):
        LateFusionClassifier(members()).fit(X, np.column_stack([y, y]))


@pytest.mark.parametrize("missing", [None, np.nan])
def test_late_fusion_missing_label_names_its_row(missing):
    X, y = make_views()
    labels = np.array(["a", "b", "c"], dtype=object)[y]
    labels[11] = missing
    message = r"LateFusionClassifier: y has a missing label \((None|nan)\) in row 11"
    with pytest.raises(ValueError, match=message):
        LateFusionClassifier(members()).fit(X, labels)
    with pytest.raises(ValueError, match=r"missing label \(nan\) in row 4"):
        LateFusionClassifier(members()).fit(X, np.where(np.arange(90) == 4, np.nan, y))
