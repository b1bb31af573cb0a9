"""A fit that fails or is interrupted midway leaves the estimator as it was.

Every estimator's ``fit``/``partial_fit`` is interrupted by a
``KeyboardInterrupt`` raised at the N-th call of a skcrossmodal function
during the call (N at 10%, 50% and 90% of the calls a complete refit makes,
counted by a trace function), so the failure lands in validation, in the
middle of the solver or training loop, and while the new state is being
assigned. Afterwards every attribute must be the very object it was before,
the predictions must be unchanged, and a new fit must work.
"""

import copy
import os
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

import skcrossmodal
from skcrossmodal import make_frame
from skcrossmodal.compose import ModalityUnion
from skcrossmodal.feature_extraction import (
    KeyedVectorsVectorizer,
    LogMelExtractor,
    MFCCExtractor,
    Word2VecVectorizer,
)
from skcrossmodal.fusion import (
    LateFusionClassifier,
    LateFusionRegressor,
    WeightedSumFusion,
)
from skcrossmodal.mapping import (
    CCA,
    MCCA,
    PLS,
    KernelCCA,
    KNNMapper,
    ProcrustesMapper,
    RidgeMapper,
    SemanticMapper,
)
from skcrossmodal.preprocessing import BlockScaler
from skcrossmodal.retrieval import CrossModalRetriever

PACKAGE_DIR = os.path.dirname(skcrossmodal.__file__)


class _InterruptAt:
    """Trace function raising KeyboardInterrupt at the n-th skcrossmodal call."""

    def __init__(self, n=None):
        self.n = n
        self.calls = 0

    def __call__(self, frame, event, arg):
        if event == "call" and frame.f_code.co_filename.startswith(PACKAGE_DIR):
            self.calls += 1
            if self.calls == self.n:
                raise KeyboardInterrupt(f"injected at call {self.n}")


def _traced(function, tracer):
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        return function()
    finally:
        sys.settrace(previous)


def _paired(seed, n=60):
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, 2))
    return make_frame(
        text=shared @ rng.normal(size=(2, 4)) + 0.1 * rng.normal(size=(n, 4)),
        image=shared @ rng.normal(size=(2, 3)) + 0.1 * rng.normal(size=(n, 3)),
    )


def _three(seed, n=60):
    rng = np.random.default_rng(seed)
    shared = rng.normal(size=(n, 1))
    return make_frame(
        **{m: shared + 0.2 * rng.normal(size=(n, 3)) for m in ("a", "b", "c")}
    )


def _labels(seed, n=60):
    return np.random.default_rng(seed).integers(0, 3, size=n)


def _documents(seed):
    rng = np.random.default_rng(seed)
    words = ["cat", "dog", "sat", "mat", "log", "sun", "sky", "red"]
    return [" ".join(rng.choice(words, size=5)) for _ in range(30)]


def _waves(seed):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-0.5, 0.5, 800) for _ in range(6)]


def _keyed_vectors():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=3)
    words = ["cat", "dog", "sat", "mat", "log", "sun", "sky", "red"]
    kv.add_vectors(words, np.random.default_rng(0).normal(size=(8, 3)))
    return kv


def _transform(X):
    return lambda est: np.asarray(est.transform(X))


def _predict_proba(X):
    return lambda est: est.predict_proba(X)


def _predict(X):
    return lambda est: est.predict(X)


def _search(X):
    return lambda est: np.concatenate(est.search(X), axis=1)


def _raw_table(seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "caption": _documents(seed),
            "w": rng.normal(size=30),
            "h": rng.normal(size=30),
        }
    )


def _cases():
    """(id, make estimator, fit arguments A, fit arguments B, probe, method)."""
    A, B = _paired(0), _paired(1)
    y_A, y_B = _labels(0), _labels(1)
    three_A, three_B = _three(0), _three(1)
    cases = [
        ("CCA", lambda: CCA(), (A,), (B,), _transform(A), "fit"),
        (
            "CCA-auto",
            lambda: CCA(reg="auto", scale=True),
            (A,),
            (B,),
            _transform(A),
            "fit",
        ),
        ("CCA-partial", lambda: CCA(), (A,), (B,), _transform(A), "partial_fit"),
        (
            "KernelCCA-exact",
            lambda: KernelCCA(reg=0.1),
            (A,),
            (B,),
            _transform(A),
            "fit",
        ),
        (
            "KernelCCA-nystroem",
            lambda: KernelCCA(reg=0.1, n_landmarks=20, random_state=0),
            (A,),
            (B,),
            _transform(A),
            "fit",
        ),
        ("MCCA", lambda: MCCA(), (three_A,), (three_B,), _transform(three_A), "fit"),
        ("PLS", lambda: PLS(scale=True), (A,), (B,), _transform(A), "fit"),
        ("BlockScaler", lambda: BlockScaler(), (A,), (B,), _transform(A), "fit"),
        (
            "RidgeMapper",
            lambda: RidgeMapper("image", "text", alpha=[0.1, 1.0]),
            (A,),
            (B,),
            _transform(A),
            "fit",
        ),
        (
            "ProcrustesMapper",
            lambda: ProcrustesMapper("image", "text"),
            (A,),
            (B,),
            _transform(A),
            "fit",
        ),
        (
            "KNNMapper",
            lambda: KNNMapper("image", "text", n_neighbors=3),
            (A,),
            (B,),
            _transform(A),
            "fit",
        ),
        (
            "SemanticMapper",
            lambda: SemanticMapper(),
            (A, y_A),
            (B, y_B),
            _transform(A),
            "fit",
        ),
        (
            "LateFusionClassifier-mean",
            lambda: LateFusionClassifier(
                {"text": LogisticRegression(), "image": LogisticRegression()}
            ),
            (A, y_A),
            (B, y_B),
            _predict_proba(A),
            "fit",
        ),
        (
            "LateFusionClassifier-stacking",
            lambda: LateFusionClassifier(
                {"text": LogisticRegression(), "image": LogisticRegression()},
                rule="stacking",
                cv=3,
            ),
            (A, y_A),
            (B, y_B),
            _predict_proba(A),
            "fit",
        ),
        (
            "LateFusionRegressor",
            lambda: LateFusionRegressor({"text": Ridge(), "image": Ridge()}),
            (A, y_A.astype(float)),
            (B, y_B.astype(float)),
            _predict(A),
            "fit",
        ),
        (
            "WeightedSumFusion",
            lambda: WeightedSumFusion(weights=[1.0, 2.0]),
            (CCA().fit_transform(A),),
            (CCA().fit_transform(B).rename(columns=lambda c: c),),
            _transform(CCA().fit_transform(A)),
            "fit",
        ),
        (
            "CrossModalRetriever",
            lambda: CrossModalRetriever(query="text", target="image", n_neighbors=3),
            (CCA().fit_transform(A),),
            (CCA().fit_transform(B),),
            _search(CCA().fit_transform(A)),
            "fit",
        ),
        (
            "CrossModalRetriever-partial",
            lambda: CrossModalRetriever(query="text", target="image", n_neighbors=3),
            (CCA().fit_transform(A),),
            (CCA().fit_transform(B),),
            _search(CCA().fit_transform(A)),
            "partial_fit",
        ),
        (
            "ModalityUnion",
            lambda: ModalityUnion(
                [
                    ("text", CountVectorizer(), "caption"),
                    ("size", StandardScaler(), ["w", "h"]),
                ]
            ),
            (_raw_table(0),),
            (_raw_table(1),),
            _transform(_raw_table(0)),
            "fit",
        ),
        (
            "Word2VecVectorizer",
            lambda: Word2VecVectorizer(vector_size=4, epochs=2, random_state=0),
            (_documents(0),),
            (_documents(1),),
            _transform(_documents(0)),
            "fit",
        ),
        (
            "KeyedVectorsVectorizer",
            lambda: KeyedVectorsVectorizer(_keyed_vectors(), pooling="sif"),
            (_documents(0),),
            (_documents(1),),
            _transform(_documents(0)),
            "fit",
        ),
        (
            "LogMelExtractor",
            lambda: LogMelExtractor(sample_rate=8000, n_mels=8),
            (_waves(0),),
            (_waves(1),),
            _transform(_waves(0)),
            "fit",
        ),
        (
            "MFCCExtractor",
            lambda: MFCCExtractor(sample_rate=8000, n_mels=8, n_mfcc=4),
            (_waves(0),),
            (_waves(1),),
            _transform(_waves(0)),
            "fit",
        ),
    ]
    cases += _torch_cases(A, B, y_A, y_B)
    return cases


def _torch_cases(A, B, y_A, y_B):
    try:
        import torch  # noqa: F401
    except ImportError:
        return []
    from skcrossmodal.feature_extraction import CNNFeatureExtractor
    from skcrossmodal.fusion import MLPFusionClassifier
    from skcrossmodal.mapping import ContrastiveMapper, MLPMapper

    images = list(
        np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    )
    training = {"max_iter": 4, "random_state": 0, "device": "cpu"}
    return [
        (
            "MLPMapper",
            lambda: MLPMapper("image", "text", hidden_layer_sizes=(8,), **training),
            (A,),
            (B,),
            _transform(A),
            "fit",
        ),
        (
            "ContrastiveMapper",
            lambda: ContrastiveMapper(
                n_components=3, hidden_layer_sizes=(8,), batch_size=16, **training
            ),
            (A,),
            (B,),
            _transform(A),
            "fit",
        ),
        (
            "MLPFusionClassifier",
            lambda: MLPFusionClassifier(hidden_layer_sizes=(8,), **training),
            (A, y_A),
            (B, y_B),
            _predict_proba(A),
            "fit",
        ),
        (
            "CNNFeatureExtractor",
            lambda: CNNFeatureExtractor(
                arch="squeezenet1_1", checkpoint=None, device="cpu", random_state=0
            ),
            (images,),
            (images[:2],),
            _transform(images),
            "fit",
        ),
    ]


CASES = _cases()


def _quietly(function):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function()


def _count_calls(make, fitted_on, refit_on, method):
    estimator = make()
    if fitted_on is not None:
        _quietly(lambda: getattr(estimator, method)(*fitted_on))
    counter = _InterruptAt()
    _quietly(lambda: _traced(lambda: getattr(estimator, method)(*refit_on), counter))
    return counter.calls


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
@pytest.mark.parametrize(
    "make, first, second, probe, method",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_interrupted_refit_keeps_the_fitted_state(
    make, first, second, probe, method, fraction
):
    n_calls = _count_calls(make, first, second, method)
    assert n_calls > 10, "the trace function did not see the fit"
    estimator = make()
    _quietly(lambda: getattr(estimator, method)(*first))
    before = dict(vars(estimator))
    expected = _quietly(lambda: probe(estimator))

    at = max(1, int(fraction * n_calls))
    with pytest.raises(KeyboardInterrupt, match=f"injected at call {at}"):
        _quietly(
            lambda: _traced(
                lambda: getattr(estimator, method)(*second), _InterruptAt(at)
            )
        )

    after = vars(estimator)
    assert after.keys() == before.keys()
    changed = [name for name in before if after[name] is not before[name]]
    assert not changed, f"attributes replaced by the failed fit: {changed}"
    np.testing.assert_array_equal(_quietly(lambda: probe(estimator)), expected)
    # Nothing global was left broken: the estimator fits again.
    _quietly(lambda: getattr(estimator, method)(*second))
    check_is_fitted(estimator)


@pytest.mark.parametrize(
    "make, first, second, probe, method",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_interrupted_first_fit_leaves_it_unfitted(make, first, second, probe, method):
    n_calls = _count_calls(make, None, first, method)
    estimator = make()
    params = copy.deepcopy(vars(estimator)) if not _holds_models(estimator) else None
    keys = set(vars(estimator))
    with pytest.raises(KeyboardInterrupt):
        _quietly(
            lambda: _traced(
                lambda: getattr(estimator, method)(*first), _InterruptAt(n_calls // 2)
            )
        )
    assert set(vars(estimator)) == keys
    if params is not None:
        assert repr(vars(estimator)) == repr(params)
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)


def _holds_models(estimator):
    # A KeyedVectors parameter has no meaningful repr comparison.
    return isinstance(estimator, KeyedVectorsVectorizer)
