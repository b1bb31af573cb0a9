"""Tests of ModalityUnion / make_modality_union (skcrossmodal.compose)."""

import pickle
import re

import joblib
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils._tags import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

from skcrossmodal import split_modalities
from skcrossmodal.compose import ModalityUnion, make_modality_union

WORDS = {
    0: ["cat", "dog", "pet", "fur", "paw", "kitten", "puppy"],
    1: ["car", "road", "engine", "wheel", "truck", "tyre", "fuel"],
}


@pytest.fixture
def raw():
    """A small raw table: a caption column and three numeric columns."""
    rng = np.random.default_rng(0)
    n = 40
    y = np.arange(n) % 2
    captions = [
        " ".join(rng.choice(WORDS[label], size=4)) + " " + rng.choice(["a", "the"])
        for label in y
    ]
    size = rng.normal(size=(n, 3)) + y[:, None]
    X = pd.DataFrame(
        {
            "caption": captions,
            "w": np.abs(size[:, 0]) + 1,
            "h": size[:, 1],
            "d": size[:, 2],
            "id": np.arange(n),
        },
        index=np.arange(100, 100 + n),
    )
    return X, y


def _union(**extra):
    return make_modality_union(
        text=(TfidfVectorizer(), "caption"),
        size=(make_pipeline(StandardScaler(), PCA(n_components=2)), ["w", "h", "d"]),
        ratio=(
            FunctionTransformer(np.log1p, feature_names_out="one-to-one"),
            ["w"],
        ),
        **extra,
    )


def _column_transformer():
    """The same routing with scikit-learn's ColumnTransformer: the reference."""
    return ColumnTransformer(
        [
            ("text", TfidfVectorizer(), "caption"),
            (
                "size",
                make_pipeline(StandardScaler(), PCA(n_components=2)),
                ["w", "h", "d"],
            ),
            (
                "ratio",
                FunctionTransformer(np.log1p, feature_names_out="one-to-one"),
                ["w"],
            ),
        ],
        sparse_threshold=0,
    )


class NdimRecorder(TransformerMixin, BaseEstimator):
    """Records the dimensionality of its input; outputs the row lengths."""

    def fit(self, X, y=None):
        self.input_ndim_ = np.ndim(X)
        return self

    def transform(self, X):
        values = np.asarray(X, dtype=float)
        return values.reshape(len(values), -1).sum(axis=1, keepdims=True)


# -- output values and names -------------------------------------------------


def test_output_matches_independently_fitted_transformers(raw):
    X, _ = raw
    out = _union().fit_transform(X)

    tfidf = TfidfVectorizer().fit(X["caption"])
    text = tfidf.transform(X["caption"]).toarray()
    size = make_pipeline(StandardScaler(), PCA(n_components=2)).fit_transform(
        X[["w", "h", "d"]]
    )
    ratio = np.log1p(X[["w"]].to_numpy())

    assert isinstance(out, pd.DataFrame)
    assert_allclose(out.to_numpy(), np.hstack([text, size, ratio]))
    expected_names = [f"text__{word}" for word in tfidf.get_feature_names_out()] + [
        "size__pca0",
        "size__pca1",
        "ratio__w",
    ]
    assert list(out.columns) == expected_names
    assert_array_equal(out.index, X.index)
    blocks = split_modalities(out)
    assert list(blocks) == ["text", "size", "ratio"]
    assert_allclose(blocks["text"], text)


def test_output_matches_column_transformer(raw):
    X, _ = raw
    union = _union().fit(X)
    reference = _column_transformer().fit(X)
    assert_allclose(union.transform(X).to_numpy(), reference.transform(X))
    assert_array_equal(union.get_feature_names_out(), reference.get_feature_names_out())


def test_sparse_output_stays_sparse(raw):
    """A sparse extractor gives a sparse-backed block, never a silent dense one."""
    X, _ = raw
    union = make_modality_union(
        text=(CountVectorizer(), "caption"), size=("passthrough", ["w", "h"])
    )
    out = union.fit_transform(X)
    reference = CountVectorizer().fit_transform(X["caption"])
    text = out.filter(like="text__")
    assert all(isinstance(t, pd.SparseDtype) for t in text.dtypes)
    assert not any(
        isinstance(t, pd.SparseDtype) for t in out.filter(like="size__").dtypes
    )
    assert (text.sparse.to_coo().tocsr() != reference).nnz == 0
    assert_array_equal(out.index, X.index)
    assert_array_equal(out.filter(like="size__").to_numpy(), X[["w", "h"]].to_numpy())
    assert_array_equal(
        union.transform(X).filter(like="text__").sparse.to_dense(), reference.toarray()
    )
    # a consumer that needs dense blocks refuses the sparse one by name
    from skcrossmodal.mapping import CCA

    with pytest.raises(
        TypeError, match="column 'text__[a-z]+' of modality 'text' is sparse"
    ):
        CCA(n_components=1).fit(out)


def test_mixed_output_dtypes_are_kept(raw):
    X, _ = raw
    out = make_modality_union(
        words=(CountVectorizer(), "caption"), size=("passthrough", ["w", "h"])
    ).fit_transform(X.astype({"w": np.float32, "h": np.float32}))
    blocks = split_modalities(out)
    assert blocks["words"].dtype == np.int64
    assert blocks["size"].dtype == np.float32


def test_float32_is_preserved():
    # What check_transformer_preserve_dtypes would test on an ndarray output.
    X = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    out = ModalityUnion([("all", StandardScaler(), slice(None))]).fit_transform(X)
    assert set(out.dtypes) == {np.dtype(np.float32)}


def test_transformer_feature_names_with_separator_keep_the_modality(raw):
    X, _ = raw
    inner = ColumnTransformer([("scaled", StandardScaler(), ["w", "h"])])
    out = make_modality_union(size=(inner, ["w", "h", "d"])).fit_transform(X)
    assert list(out.columns) == ["size__scaled__w", "size__scaled__h"]
    assert list(split_modalities(out)) == ["size"]


def test_feature_names_fall_back_to_positions():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 1.0, 0.0]})
    out = make_modality_union(
        m=(FunctionTransformer(lambda v: np.c_[v, v]), ["a", "b"])
    ).fit_transform(X)
    assert list(out.columns) == ["m__0", "m__1", "m__2", "m__3"]


# -- column routing ----------------------------------------------------------


def test_single_column_gives_1d_input_and_list_gives_2d(raw):
    X, _ = raw
    union = make_modality_union(
        one=(NdimRecorder(), "w"), many=(NdimRecorder(), ["w"]), pos=(NdimRecorder(), 1)
    ).fit(X)
    assert union.named_transformers_.one.input_ndim_ == 1
    assert union.named_transformers_.many.input_ndim_ == 2
    assert union.named_transformers_.pos.input_ndim_ == 1

    array = X[["w", "h", "d"]].to_numpy()
    union = ModalityUnion(
        [("one", NdimRecorder(), 0), ("many", NdimRecorder(), [1, 2])]
    ).fit(array)
    assert union.named_transformers_.one.input_ndim_ == 1
    assert union.named_transformers_.many.input_ndim_ == 2
    out = union.transform(array)
    assert_allclose(out["one__0"], array[:, 0])
    assert_allclose(out["many__0"], array[:, 1] + array[:, 2])


def test_callable_column_selector(raw):
    X, _ = raw
    union = make_modality_union(
        numbers=(StandardScaler(), make_column_selector(dtype_include=np.floating))
    ).fit(X)
    assert union.transformers_[0][2] == ["w", "h", "d"]
    assert_allclose(
        union.transform(X).to_numpy(),
        StandardScaler().fit_transform(X[["w", "h", "d"]]),
    )


def test_passthrough_and_drop(raw):
    X, _ = raw
    union = make_modality_union(
        size=("passthrough", ["w", "h"]), text=("drop", "caption")
    )
    out = union.fit_transform(X)
    assert list(out.columns) == ["size__w", "size__h"]
    assert_array_equal(out.to_numpy(), X[["w", "h"]].to_numpy())
    assert union.named_transformers_.text == "drop"
    assert union.modalities_ == ["size"]
    # A dropped modality's column is not needed at transform time.
    assert_array_equal(union.transform(X[["w", "h"]]).to_numpy(), out.to_numpy())


def test_passthrough_is_a_one_to_one_function_transformer(raw):
    X, _ = raw
    union = make_modality_union(
        one=("passthrough", "w"), two=("passthrough", ["h", "d"])
    ).fit(X)
    for modality, columns in [("one", ["w"]), ("two", ["h", "d"])]:
        fitted = union.named_transformers_[modality]
        assert isinstance(fitted, FunctionTransformer)
        assert_array_equal(fitted.get_feature_names_out(), columns)
        # the reference: scikit-learn's ColumnTransformer passthrough
        reference = ColumnTransformer([(modality, "passthrough", columns)]).fit(X)
        assert_array_equal(
            union.transform(X).filter(like=f"{modality}__").to_numpy(),
            reference.transform(X),
        )
    assert list(union.get_feature_names_out()) == ["one__w", "two__h", "two__d"]
    # the parameter keeps the string: clone and get_params see "passthrough"
    assert clone(union).transformers[0][1] == "passthrough"


def test_passthrough_of_text_raises(raw):
    X, _ = raw
    with pytest.raises(TypeError, match="'passthrough'.*'caption'.*numeric"):
        make_modality_union(text=("passthrough", "caption")).fit(X)


def test_passthrough_of_object_array():
    X = np.array([[1.5, "a"], [2.0, "b"]], dtype=object)
    out = ModalityUnion([("x", "passthrough", [0])]).fit_transform(X)
    assert_array_equal(out["x__x0"], [1.5, 2.0])
    with pytest.raises(TypeError, match="'y' is 'passthrough'.*not numeric"):
        ModalityUnion([("y", "passthrough", [1])]).fit(X)


def test_user_transformers_are_not_fitted_in_place(raw):
    X, _ = raw
    tfidf, scaler = TfidfVectorizer(), StandardScaler()
    union = make_modality_union(text=(tfidf, "caption"), size=(scaler, ["w", "h"]))
    union.fit(X)
    assert not hasattr(tfidf, "vocabulary_")
    assert not hasattr(scaler, "mean_")
    assert union.transformers[0][1] is tfidf
    assert union.named_transformers_.text is not tfidf
    assert hasattr(union.named_transformers_.text, "vocabulary_")


def test_fitted_attributes(raw):
    X, _ = raw
    union = _union().fit(X)
    assert union.n_features_in_ == 5
    assert_array_equal(union.feature_names_in_, ["caption", "w", "h", "d", "id"])
    assert union.modalities_ == ["text", "size", "ratio"]
    assert set(union.named_transformers_) == {"text", "size", "ratio"}
    assert union["size"] is union.named_transformers_.size
    n_words = len(union["text"].vocabulary_)
    assert union.output_indices_ == {
        "text": slice(0, n_words),
        "size": slice(n_words, n_words + 2),
        "ratio": slice(n_words + 2, n_words + 3),
    }
    assert union.transformers_[1][2] == ["w", "h", "d"]
    with pytest.raises(KeyError, match="'image' is not a modality"):
        union["image"]
    with pytest.raises(TypeError, match="subscriptable after it is fitted"):
        _union()["text"]


def test_get_feature_names_out_checks_input_features(raw):
    X, _ = raw
    union = _union().fit(X)
    assert_array_equal(
        union.get_feature_names_out(list(X.columns)), union.get_feature_names_out()
    )
    with pytest.raises(ValueError, match="input_features"):
        union.get_feature_names_out(["a", "b", "c", "d", "e"])


# -- partial rows ------------------------------------------------------------


def test_transform_skips_absent_modalities(raw):
    X, _ = raw
    union = _union().fit(X)
    full = union.transform(X)

    text_only = union.transform(X[["caption"]])
    assert list(split_modalities(text_only)) == ["text"]
    assert_allclose(text_only.to_numpy(), full.iloc[:, union.output_indices_["text"]])

    numbers_only = union.transform(X.drop(columns="caption"))
    assert list(split_modalities(numbers_only)) == ["size", "ratio"]
    expected = full.drop(columns=text_only.columns)
    pd.testing.assert_frame_equal(numbers_only, expected)
    # get_feature_names_out still lists every fitted block.
    assert len(union.get_feature_names_out()) == full.shape[1]


def test_transform_ignores_column_order_and_unselected_fit_columns(raw):
    X, _ = raw
    union = _union().fit(X)  # "id" is a column of X that no modality selects
    shuffled = X[["d", "id", "caption", "h", "w"]]
    pd.testing.assert_frame_equal(union.transform(shuffled), union.transform(X))
    without_id = X.drop(columns="id")
    pd.testing.assert_frame_equal(union.transform(without_id), union.transform(X))


def test_transform_with_a_renamed_column_names_it(raw):
    X, _ = raw
    union = _union().fit(X)
    renamed = X.rename(columns={"caption": "text"})
    with pytest.raises(
        ValueError,
        match=r"column\(s\) \['text'\], which were not columns of the DataFrame "
        r"it was fitted on. Modality 'text' expected \['caption'\]",
    ):
        union.transform(renamed)
    # The same modality left out on purpose still gives partial rows.
    assert list(split_modalities(union.transform(X.drop(columns="caption")))) == [
        "size",
        "ratio",
    ]


def test_transform_with_an_unknown_column_raises(raw):
    X, _ = raw
    union = _union().fit(X.drop(columns="id"))
    with pytest.raises(
        ValueError, match=r"\['id', 'extra'\], which were not columns.*Drop them"
    ) as info:
        union.transform(X.assign(extra="x"))
    assert "expected" not in str(info.value)  # every modality is present


def test_transform_with_some_columns_of_a_modality_raises(raw):
    X, _ = raw
    union = _union().fit(X)
    with pytest.raises(ValueError, match=r"'size' needs columns.*lacks \['h'\]"):
        union.transform(X.drop(columns="h"))


def test_transform_with_no_modality_column_raises(raw):
    X, _ = raw
    union = _union().fit(X)
    with pytest.raises(ValueError, match="none of the columns.*'caption'"):
        union.transform(X[["id"]])


def test_transform_array_after_frame_fit_warns(raw):
    X, _ = raw
    union = make_modality_union(size=(StandardScaler(), ["w", "h"])).fit(X)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        out = union.transform(X.to_numpy())
    assert_allclose(out.to_numpy(), union.transform(X).to_numpy())


# -- errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    "transformers, error, match",
    [
        ([], ValueError, "at least one"),
        (
            [("text", StandardScaler(), ["w"]), ("text", StandardScaler(), ["h"])],
            ValueError,
            r"unique; \['text'\]",
        ),
        ([("my__text", StandardScaler(), ["w"])], ValueError, "without '__'"),
        ([("", StandardScaler(), ["w"])], ValueError, "non-empty"),
        ([("n_jobs", StandardScaler(), ["w"])], ValueError, "clash with parameters"),
        (
            [("text", StandardScaler())],
            ValueError,
            r"\(modality, transformer, column\)",
        ),
        ([("text", "scaler", ["w"])], TypeError, "'text' must implement fit"),
        ([("text", LogisticRegression(), ["w"])], TypeError, "must implement fit"),
        ([("text", StandardScaler(), ["nope"])], ValueError, r"column\(s\) \['nope'\]"),
        ([("text", StandardScaler(), [])], ValueError, "selects no column"),
        ([("text", StandardScaler(), [7])], ValueError, "invalid column selection"),
    ],
)
def test_invalid_configurations(raw, transformers, error, match):
    X, y = raw
    with pytest.raises(error, match=match):
        ModalityUnion(transformers).fit(X, y)


def test_fit_without_a_configured_column_names_it(raw):
    X, _ = raw
    with pytest.raises(ValueError, match=r"'text' needs column\(s\) \['caption'\]"):
        _union().fit(X.drop(columns="caption"))


def test_column_name_on_array_raises(raw):
    X, _ = raw
    with pytest.raises(ValueError, match="without column names"):
        make_modality_union(size=(StandardScaler(), ["w"])).fit(X[["w"]].to_numpy())


def test_bad_parameters_raise(raw):
    X, _ = raw
    with pytest.raises(ValueError, match="n_jobs"):
        ModalityUnion([("size", StandardScaler(), ["w"])], n_jobs="many").fit(X)


def test_make_modality_union_rejects_bad_values():
    with pytest.raises(
        ValueError, match=r"modality=\(transformer, column\); got text="
    ):
        make_modality_union(text=TfidfVectorizer())


def test_make_modality_union_keeps_order_and_parameters():
    union = make_modality_union(
        n_jobs=2, verbose=True, b=("passthrough", ["x"]), a=("drop", "y")
    )
    assert union.transformers == [("b", "passthrough", ["x"]), ("a", "drop", "y")]
    assert (union.n_jobs, union.verbose) == (2, True)


# -- scikit-learn integration ------------------------------------------------


def test_get_params_and_set_params_reach_transformers(raw):
    X, _ = raw
    union = _union()
    params = union.get_params()
    assert params["text"] is union.transformers[0][1]
    assert params["text__max_features"] is None
    union.set_params(text__max_features=3, size__pca__n_components=1)
    assert union.fit_transform(X).shape[1] == 3 + 1 + 1

    union.set_params(text=CountVectorizer(binary=True))
    assert union.transformers[0][2] == "caption"
    out = union.fit_transform(X)
    assert set(np.unique(split_modalities(out)["text"])) <= {0, 1}


def test_grid_search_in_pipeline_matches_column_transformer(raw):
    X, y = raw
    cv = KFold(3, shuffle=True, random_state=0)
    grid = [2, None]
    search = GridSearchCV(
        make_pipeline(_union(), LogisticRegression()),
        {"modalityunion__text__max_features": grid},
        cv=cv,
    ).fit(X, y)
    reference = GridSearchCV(
        make_pipeline(_column_transformer(), LogisticRegression()),
        {"columntransformer__text__max_features": grid},
        cv=cv,
    ).fit(X, y)
    assert_allclose(
        search.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"]
    )
    best = search.best_params_["modalityunion__text__max_features"]
    assert best == reference.best_params_["columntransformer__text__max_features"]
    text = search.best_estimator_.named_steps["modalityunion"].named_transformers_.text
    assert text.max_features == best
    # The captions separate the classes: text features must help.
    assert search.best_score_ > 0.9


def test_cross_val_score_matches_column_transformer(raw):
    X, y = raw
    cv = KFold(4, shuffle=True, random_state=0)
    scores = cross_val_score(make_pipeline(_union(), LogisticRegression()), X, y, cv=cv)
    reference = cross_val_score(
        make_pipeline(_column_transformer(), LogisticRegression()), X, y, cv=cv
    )
    assert_allclose(scores, reference)


def test_set_output_pandas_inside_a_pipeline(raw):
    X, _ = raw
    pipe = make_pipeline(_union(), StandardScaler()).set_output(transform="pandas")
    out = pipe.fit_transform(X)
    union = pipe.named_steps["modalityunion"]
    assert list(out.columns) == list(union.get_feature_names_out())
    assert list(split_modalities(out)) == ["text", "size", "ratio"]

    # "default" keeps the DataFrame: the block names are the output.
    union = _union().set_output(transform="default")
    assert isinstance(union.fit_transform(X), pd.DataFrame)
    with config_context(transform_output="pandas"):
        assert isinstance(_union().fit_transform(X), pd.DataFrame)
    with pytest.raises(ValueError, match="transform must be"):
        union.set_output(transform="xarray")


def test_n_jobs_gives_the_same_output(raw):
    X, _ = raw
    expected = _union().fit_transform(X)
    with joblib.parallel_backend("threading"):
        union = _union(n_jobs=2)
        pd.testing.assert_frame_equal(union.fit_transform(X), expected)
        pd.testing.assert_frame_equal(union.transform(X), expected)


def test_verbose_prints_one_line_per_transformer_to_stderr(raw, capsys):
    X, _ = raw
    union = _union(verbose=1).fit(X)
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    kinds = ["TfidfVectorizer", "Pipeline", "FunctionTransformer"]
    assert len(lines) == 3
    for k, (line, modality, kind) in enumerate(
        zip(lines, ["text", "size", "ratio"], kinds, strict=True), start=1
    ):
        assert re.fullmatch(
            rf"\[ModalityUnion\] fit {k}/3: modality '{modality}', {kind} "
            r"\(\d+\.\d s\)",
            line,
        )
    union.transform(X[["caption"]])
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert re.fullmatch(
        r"\[ModalityUnion\] transform 1/1: modality 'text', TfidfVectorizer "
        r"\(\d+\.\d s\)",
        lines[0],
    )
    _union().fit(X).transform(X)
    assert capsys.readouterr().err == ""


def test_metadata_routing_reaches_the_transformer(raw):
    X, _ = raw
    weights = np.random.default_rng(0).uniform(0.5, 2.0, size=len(X))
    with config_context(enable_metadata_routing=True):
        union = make_modality_union(
            size=(StandardScaler().set_fit_request(sample_weight=True), ["w", "h"]),
            text=(TfidfVectorizer(), "caption"),
        )
        out = union.fit_transform(X, sample_weight=weights)
    expected = StandardScaler().fit(X[["w", "h"]], sample_weight=weights)
    assert_allclose(split_modalities(out)["size"], expected.transform(X[["w", "h"]]))
    with pytest.raises(ValueError, match="enable_metadata_routing"):
        _union().fit(X, sample_weight=weights)


def test_tags_follow_the_transformers():
    assert get_tags(make_modality_union(t=(TfidfVectorizer(), "c"))).input_tags.string
    tags = get_tags(ModalityUnion([("a", StandardScaler(with_mean=False), [0])]))
    assert not tags.input_tags.string
    assert tags.input_tags.allow_nan and tags.input_tags.sparse
    union = make_modality_union(
        a=(StandardScaler(with_mean=False), [0]), b=(StandardScaler(), [1])
    )
    assert not get_tags(union).input_tags.sparse


# -- the estimator API on DataFrames ----------------------------------------


def test_clone_pickle_and_idempotent_fit(raw):
    X, _ = raw
    union = _union().fit(X)
    expected = union.transform(X)
    pd.testing.assert_frame_equal(
        pickle.loads(pickle.dumps(union)).transform(X), expected
    )
    cloned = clone(union)
    assert not hasattr(cloned, "transformers_")
    pd.testing.assert_frame_equal(cloned.fit_transform(X), expected)
    pd.testing.assert_frame_equal(union.fit(X).transform(X), expected)
    pd.testing.assert_frame_equal(union.fit_transform(X), expected)


def test_row_subset_and_order_invariance(raw):
    X, _ = raw
    union = _union().fit(X)
    full = union.transform(X)
    rows = np.random.default_rng(0).permutation(len(X))[:15]
    pd.testing.assert_frame_equal(union.transform(X.iloc[rows]), full.iloc[rows])


PARAMETRIZED_EXPECTED_FAILURES = {
    "check_transformer_preserve_dtypes": (
        "the output is always a DataFrame of modality blocks (docs/architecture.md §1), which "
        "has no single .dtype; float32 preservation is tested in "
        "test_float32_is_preserved"
    ),
}


@parametrize_with_checks(
    [
        ModalityUnion([("all", StandardScaler(), slice(None))]),
        ModalityUnion([("first", "passthrough", [0]), ("all", PCA(1), slice(None))]),
    ],
    expected_failed_checks=lambda estimator: PARAMETRIZED_EXPECTED_FAILURES,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_parameters_after_transformers_are_keyword_only():
    with pytest.raises(TypeError):
        ModalityUnion([("x", "passthrough", [0])], None)
    with pytest.raises(TypeError):
        make_modality_union(None, x=("passthrough", [0]))
