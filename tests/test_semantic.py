"""Tests of skcrossmodal.mapping.SemanticMapper (semantic matching, SM/SCM)."""

import pickle

import numpy as np
import pytest
from _mapping_data import make_labelled
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier

from skcrossmodal import make_frame
from skcrossmodal.mapping import CCA, SemanticMapper


def test_semantic_mapper_is_per_modality_predict_proba():
    X, y = make_labelled()
    mapper = SemanticMapper(LogisticRegression(C=0.5)).fit(X, y)
    out = mapper.transform(X)
    assert out.shape == (60, 6)
    assert list(out.columns) == list(mapper.get_feature_names_out())
    for modality, columns in (
        ("image", ["image__0", "image__1"]),
        ("text", [f"text__{j}" for j in range(4)]),
    ):
        reference = LogisticRegression(C=0.5).fit(X[columns].to_numpy(), y)
        block = out[[f"{modality}__semanticmapper{k}" for k in range(3)]].to_numpy()
        np.testing.assert_allclose(
            block, reference.predict_proba(X[columns].to_numpy())
        )
        np.testing.assert_allclose(block.sum(axis=1), 1.0)
        text_only = mapper.transform(X[columns])
        np.testing.assert_allclose(text_only.to_numpy(), block)
    assert mapper.estimators_["image"] is not mapper.estimators_["text"]
    assert mapper.score(X, y) == pytest.approx(
        np.mean(
            [
                mapper.estimators_[m].score(X[c].to_numpy(), y)
                for m, c in (
                    ("image", ["image__0", "image__1"]),
                    ("text", [f"text__{j}" for j in range(4)]),
                )
            ]
        )
    )


def test_semantic_mapper_default_and_string_labels():
    X, y = make_labelled()
    labels = np.array(["art", "music", "sport"])[y]
    mapper = SemanticMapper().fit(X, labels)
    np.testing.assert_array_equal(mapper.classes_, ["art", "music", "sport"])
    assert mapper.estimator is None
    assert isinstance(mapper.estimators_["image"], LogisticRegression)


def test_semantic_mapper_modalities_subset():
    X, y = make_labelled()
    mapper = SemanticMapper(modalities=["text"]).fit(X, y)
    assert mapper.modalities_ == ["text"]
    assert mapper.transform(X).shape == (60, 3)


def test_scm_pipeline():
    X, y = make_labelled()
    scm = make_pipeline(CCA(n_components=2), SemanticMapper()).fit(X, y)
    out = scm.transform(X)
    assert out.shape == (60, 6)
    assert scm.score(X, y) > 0.8


def test_semantic_mapper_errors():
    X, y = make_labelled()
    with pytest.raises(ValueError, match="needs the categories y"):
        SemanticMapper().fit(X)
    with pytest.raises(ValueError, match="needs the categories y"):
        SemanticMapper().fit(X, None)
    with pytest.raises(ValueError, match="2 classes"):
        SemanticMapper().fit(X, np.zeros(60))
    with pytest.raises(ValueError, match="y has 10 entries"):
        SemanticMapper().fit(X, y[:10])
    with pytest.raises(ValueError, match=r"needs modalities \['audio'\]"):
        SemanticMapper(modalities=["audio"]).fit(X, y)
    with pytest.raises(ValueError, match="at least 2 samples"):
        SemanticMapper().fit(X.iloc[:1], y[:1])
    with pytest.raises(ValueError, match="bare"):
        SemanticMapper().fit(X.to_numpy(), y)
    with pytest.raises(ValueError, match="Unknown label type"):
        SemanticMapper().fit(X, np.linspace(0, 1, 60))
    fitted = SemanticMapper().fit(X, y)
    with pytest.raises(ValueError, match=r"\['audio'\]"):
        fitted.transform(make_frame(audio=np.ones((2, 2))))


@pytest.mark.parametrize("missing", [None, np.nan])
def test_semantic_mapper_missing_label_names_its_row(missing):
    X, y = make_labelled()
    for labels in (y.astype(object), np.array(["cat", "dog", "fox"])[y].astype(object)):
        labels[7] = missing
        message = r"SemanticMapper: y has a missing label \((None|nan)\) in row 7"
        with pytest.raises(ValueError, match=message):
            SemanticMapper().fit(X, labels)
    # A float y with NaN, as pandas gives for a column with gaps.
    with pytest.raises(ValueError, match=r"missing label \(nan\) in row 3"):
        SemanticMapper().fit(X, np.where(np.arange(60) == 3, np.nan, y))


def test_clone_pickle_idempotent_and_subset_invariant():
    mapper, needs_y = (
        SemanticMapper(DecisionTreeClassifier(max_depth=2, random_state=0)),
        True,
    )
    X, y = make_labelled()
    fit_args = (X, y) if needs_y else (X,)
    first = clone(mapper).fit(*fit_args)
    expected = first.transform(X).to_numpy()
    np.testing.assert_array_equal(
        first.fit(*fit_args).transform(X).to_numpy(), expected
    )
    restored = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(restored.transform(X).to_numpy(), expected)
    np.testing.assert_allclose(
        first.transform(X.iloc[10:20]).to_numpy(), expected[10:20]
    )
    np.testing.assert_allclose(first.transform(X.iloc[::-1]).to_numpy(), expected[::-1])
    assert first.n_features_in_ == 6
