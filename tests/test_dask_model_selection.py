"""Model selection of skcrossmodal pipelines on a real two-process Dask cluster.

Under ``joblib.parallel_backend("dask")`` the fits and scorings of
``GridSearchCV`` and ``cross_val_score`` run on the workers (the estimators are
pickled there); the reference is the same search on the default backend.
"""

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

distributed = pytest.importorskip("distributed")

from skcrossmodal import make_modality_selector, select_modalities
from skcrossmodal.compose import ModalityUnion
from skcrossmodal.datasets import load_mfeat
from skcrossmodal.mapping import CCA
from skcrossmodal.metrics import make_retrieval_scorer
from skcrossmodal.retrieval import CrossModalRetriever

# Scores are computed by the same code on the same folds in other processes;
# only the thread count of the BLAS differs (one per Dask worker).
RTOL = 1e-10


@pytest.fixture(scope="module")
def mfeat():
    bunch = load_mfeat()
    X = select_modalities(bunch.data, "fou", "kar").iloc[::5]
    return X, bunch.target[::5]


def _union(n_jobs):
    return ModalityUnion(
        [
            ("fou", StandardScaler(), make_modality_selector("fou")),
            ("kar", StandardScaler(), make_modality_selector("kar")),
        ],
        n_jobs=n_jobs,
    )


def _search(pipeline, X):
    return pipeline[-1].search(pipeline[:-1].transform(X))


def _on_workers(client, function):
    """``function()`` and the number of tasks the cluster ran meanwhile."""
    with distributed.get_task_stream(client) as stream:
        result = function()
    return result, len(stream.data)


def test_grid_search_of_a_retrieval_pipeline_matches_the_default_backend(
    dask_client, mfeat
):
    X, y = mfeat
    # n_jobs=2 in the union: a nested joblib call inside each worker task.
    pipeline = make_pipeline(
        _union(n_jobs=2), CCA(), CrossModalRetriever(query="fou", target="kar")
    )
    scoring = {
        "map": make_retrieval_scorer("map", query="fou", target="kar"),
        "recall": make_retrieval_scorer("recall", query="fou", target="kar", k=5),
    }
    grid = {"cca__n_components": [2, 6], "cca__reg": [0.1]}
    cv = KFold(3, shuffle=True, random_state=0)

    def search():
        return GridSearchCV(
            pipeline, grid, scoring=scoring, refit="map", cv=cv, n_jobs=-1
        ).fit(X, y)

    # The reference runs the union serially: n_jobs never changes its result.
    serial = clone(pipeline).set_params(modalityunion__n_jobs=None)
    reference = GridSearchCV(serial, grid, scoring=scoring, refit="map", cv=cv).fit(
        X, y
    )
    with joblib.parallel_backend("dask"):
        result, n_tasks = _on_workers(dask_client, search)
    assert n_tasks >= len(grid["cca__n_components"]) * len(grid["cca__reg"]) * 3
    assert result.best_params_ == reference.best_params_
    for key in ("map", "recall"):
        for split in range(3):
            name = f"split{split}_test_{key}"
            np.testing.assert_allclose(
                result.cv_results_[name], reference.cv_results_[name], rtol=RTOL
            )
    np.testing.assert_allclose(result.best_score_, reference.best_score_, rtol=RTOL)
    # The refitted pipeline came back from a worker and searches as the reference.
    best = result.best_estimator_.set_params(modalityunion__n_jobs=None)  # no loky here
    scores, ids = _search(best, X.iloc[:7])
    expected_scores, expected_ids = _search(reference.best_estimator_, X.iloc[:7])
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-8, atol=1e-12)


def test_cross_val_score_of_a_mapper_matches_the_default_backend(dask_client, mfeat):
    X, y = mfeat
    pipeline = make_pipeline(_union(n_jobs=None), CCA(n_components=4, reg=0.1))
    scorer = make_retrieval_scorer("map", query="kar", target="fou")
    cv = KFold(4, shuffle=True, random_state=1)
    reference = cross_val_score(pipeline, X, y, scoring=scorer, cv=cv)
    with joblib.parallel_backend("dask"):
        scores, n_tasks = _on_workers(
            dask_client,
            lambda: cross_val_score(pipeline, X, y, scoring=scorer, cv=cv, n_jobs=-1),
        )
    assert n_tasks >= 4
    np.testing.assert_allclose(scores, reference, rtol=RTOL)
    # Category-level mAP of a 10-class problem is far above chance (about 0.1).
    assert scores.min() > 0.2
