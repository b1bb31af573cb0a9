"""PLS, ProcrustesMapper and RidgeMapper at the numerical edges (issue #10)."""

import numpy as np
import pytest
from sklearn.cross_decomposition import PLSSVD

from skcrossmodal import make_frame
from skcrossmodal.mapping import PLS, ProcrustesMapper, RidgeMapper


# --- PLS(scale=True) and near-constant columns -------------------------------


def test_pls_treats_a_near_constant_column_as_constant():
    rng = np.random.default_rng(0)
    latent = rng.standard_normal((50, 2))
    A = latent @ rng.standard_normal((2, 3)) + 0.3 * rng.standard_normal((50, 3))
    B = latent @ rng.standard_normal((2, 2)) + 0.3 * rng.standard_normal((50, 2))
    # A constant 0.1 whose rounding leaves a standard deviation of ~1e-17.
    near_constant = np.full(50, 0.1)
    near_constant[::2] = np.nextafter(0.1, 1.0)
    assert 0 < near_constant.std() < 1e-16
    with_constant = np.column_stack([A[:, :1], near_constant, A[:, 1:]])
    pls = PLS(n_components=2, scale=True).fit(make_frame(a=with_constant, b=B))
    reference = PLSSVD(n_components=2, scale=True).fit(A, B)
    assert pls.scale_["a"][1] == 1.0
    np.testing.assert_allclose(pls.weights_["a"][1], 0.0, atol=1e-15)
    others = np.delete(pls.weights_["a"], 1, axis=0)
    signs = np.sign(np.sum(others * reference.x_weights_, axis=0))
    np.testing.assert_allclose(others * signs, reference.x_weights_, atol=1e-12)


# --- Clear errors instead of LAPACK's --------------------------------------


def test_procrustes_needs_as_many_rows_as_dimensions():
    rng = np.random.default_rng(0)
    X = make_frame(image=rng.standard_normal((3, 5)), text=rng.standard_normal((3, 4)))
    with pytest.raises(
        ValueError, match=r"ProcrustesMapper.*modality 'image'.*4 dimensions.*3 rows"
    ):
        ProcrustesMapper("image", "text").fit(X)


@pytest.mark.parametrize(
    "estimator",
    [
        ProcrustesMapper("image", "text"),
        ProcrustesMapper("text", "image"),
        RidgeMapper("image", "text"),
        RidgeMapper("text", "image"),
        PLS(),
    ],
    ids=repr,
)
def test_values_whose_squares_overflow_are_named(estimator):
    rng = np.random.default_rng(0)
    X = make_frame(image=1e300 * rng.standard_normal((30, 5)),
                   text=rng.standard_normal((30, 4)))  # fmt: skip
    with pytest.raises(ValueError, match=r"modality 'image'.*e\+300.*overflow"):
        estimator.fit(X)
