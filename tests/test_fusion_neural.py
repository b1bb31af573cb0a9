"""Tests of skcrossmodal.fusion.MLPFusionClassifier (neural fusion)."""

import pickle

import numpy as np
import pytest
from _fusion_data import (
    _two_view_task,
    make_views,
)
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError


def _mlp(**params):
    from skcrossmodal.fusion import MLPFusionClassifier

    defaults = dict(
        hidden_layer_sizes=(16,),
        max_iter=40,
        batch_size=32,
        learning_rate=1e-2,
        random_state=0,
        device="cpu",
    )
    return MLPFusionClassifier(**{**defaults, **params})


@pytest.fixture
def needs_torch():
    pytest.importorskip("torch")


@pytest.mark.parametrize("fusion", ["concat", "gated", "lowrank_tensor"])
def test_mlp_fusion_learns_and_predicts_from_either_modality(fusion, needs_torch):
    X, y = _two_view_task(n_samples=160)
    X_test, y_test = _two_view_task(seed=1, n_samples=160)
    clf = _mlp(fusion=fusion, modality_dropout=0.3).fit(X, y)
    assert clf.n_iter_ >= 1 and len(clf.loss_curve_) == clf.n_iter_
    assert clf.score(X_test, y_test) > 0.85
    # One modality alone (chance 0.5): over seeds 0-5 its accuracy spans
    # 0.69-0.93 (lowrank_tensor, image), so the bound leaves room for the seed.
    for modality in ("text", "image"):
        only = X_test.filter(like=f"{modality}__")
        assert clf.score(only, y_test) > 0.75, modality
    proba = clf.predict_proba(X_test)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert_array_equal(clf.predict(X_test), clf.classes_[proba.argmax(axis=1)])
    assert clf.decision_function(X_test).shape == (160,)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mlp_fusion_reproducible_clone_pickle(needs_torch):
    X, y = make_views(n_samples=60)
    labels = np.array(["a", "b", "c"])[y]
    first = _mlp(fusion="gated", max_iter=5, dropout=0.1, modality_dropout=0.2).fit(
        X, labels
    )
    second = clone(first).fit(X, labels)
    assert_allclose(first.predict_proba(X), second.predict_proba(X), rtol=1e-5)
    restored = pickle.loads(pickle.dumps(first))
    assert_allclose(restored.predict_proba(X), first.predict_proba(X), rtol=1e-6)
    assert set(first.predict(X)) <= {"a", "b", "c"}
    assert first.decision_function(X).shape == (60, 3)
    # absent modality: inputs missing, not zero-imputed by the caller
    assert first.predict_proba(X.filter(like="audio__")).shape == (60, 3)


def test_mlp_fusion_errors(needs_torch):
    X, y = make_views(n_samples=30)
    with pytest.raises(ValueError, match="make_frame"):
        _mlp().fit(X.to_numpy(), y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        _mlp().fit(X, np.zeros(30))
    with pytest.raises(ValueError, match="at least one hidden layer"):
        _mlp(hidden_layer_sizes=()).fit(X, y)
    with pytest.raises(ValueError, match="fusion"):
        _mlp(fusion="sum").fit(X, y)
    with pytest.raises(NotFittedError):
        _mlp().predict(X)


def test_modality_dropout_keeps_one_modality_per_row(needs_torch):
    import torch

    from skcrossmodal._nn import ModalityDropout

    def _drop_modalities(mask, rate):
        return ModalityDropout(rate).train()(mask)

    torch.manual_seed(0)
    mask = torch.ones(2000, 3)
    kept = _drop_modalities(mask, 0.5)
    # like nn.Dropout, nothing is dropped in eval mode
    assert ModalityDropout(0.5).eval()(mask) is mask
    assert (kept.sum(dim=1) >= 1).all()
    assert set(kept.unique().tolist()) <= {0.0, 1.0}
    # each modality survives with probability about 1 - rate (plus rescues)
    assert 0.45 < kept.mean().item() < 0.65
    partial = torch.tensor([[1.0, 0.0, 0.0]]).repeat(500, 1)
    assert_array_equal(_drop_modalities(partial, 0.9).numpy(), partial.numpy())


@pytest.mark.parametrize("missing", [None, np.nan])
def test_mlp_fusion_missing_label_names_its_row(missing, needs_torch):
    X, y = make_views(n_samples=30)
    labels = y.astype(object)
    labels[5] = missing
    message = r"MLPFusionClassifier: y has a missing label \((None|nan)\) in row 5"
    with pytest.raises(ValueError, match=message):
        _mlp().fit(X, labels)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mlp_fusion_early_stopping_with_too_few_rows_per_class(needs_torch):
    X, y = make_views(n_samples=20)  # 3 classes of 7, 7 and 6 rows
    message = (
        r"MLPFusionClassifier has 20 samples of 3 classes: too few to hold out "
        r"validation_fraction=0.1 \(2 samples\) for early stopping with every class "
        r"on both sides.*early_stopping=False"
    )
    with pytest.raises(ValueError, match=message):
        _mlp(early_stopping=True).fit(X, y)
    # Four held-out rows hold every class; so does no early stopping.
    assert (
        _mlp(early_stopping=True, validation_fraction=0.2, max_iter=3).fit(X, y).n_iter_
        >= 1
    )
    assert _mlp(early_stopping=False, max_iter=3).fit(X, y).n_iter_ == 3


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mlp_fusion_refuses_values_beyond_float32(needs_torch):
    X, y = make_views(n_samples=30)
    clf = _mlp(max_iter=3).fit(X, y)
    huge = X.copy()
    huge.iloc[4, 0] = 1e300  # finite in float64, standardised beyond float32
    # This used to predict from NaN logits.
    message = (
        r"Modality 'text', standardised with the training mean and scale, has "
        r"the value [0-9.]+e\+300 at row 4, beyond float32"
    )
    with pytest.raises(ValueError, match=message):
        clf.predict(huge)
    overflowing = X.copy()
    overflowing.iloc[:, 0] = np.linspace(-1e200, 1e200, 30)
    message = (
        r"Modality 'text' cannot be standardised: the variance of column "
        r"'text__0'.*overflows float64"
    )
    with pytest.raises(ValueError, match=message):
        _mlp().fit(overflowing, y)
