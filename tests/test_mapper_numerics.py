"""PLS, ProcrustesMapper and RidgeMapper at the numerical edges (issue #10)."""

import numpy as np
import pytest
from _tolerance import FLOAT32
from sklearn import config_context
from sklearn.cross_decomposition import PLSSVD

from skcrossmodal import make_frame
from skcrossmodal.mapping import (
    CCA,
    MCCA,
    PLS,
    KernelCCA,
    ProcrustesMapper,
    RidgeMapper,
    SemanticMapper,
)

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


# --- float32 kept, one score, assume_finite (issue #12) ---------------------


def _float32_mappers():
    return [
        CCA(n_components=2),
        CCA(n_components=2, reg="auto", scale=True),
        CCA(n_components=2, reg=0.3, solver="gram"),
        MCCA(n_components=2),
        MCCA(n_components=2, reg=0.1, scale=True),
        PLS(n_components=2, scale=True),
        KernelCCA(n_components=2, kernel="linear", reg=0.1),
        KernelCCA(n_components=2, reg=0.1, n_landmarks=40, random_state=0),
        RidgeMapper("a", "b", alpha=[0.1, 1.0]),
        ProcrustesMapper("a", "b"),
    ]


@pytest.fixture
def paired32():
    rng = np.random.default_rng(0)
    latent = rng.standard_normal((120, 2))
    A = latent @ rng.standard_normal((2, 5)) + 0.5 * rng.standard_normal((120, 5)) + 3
    B = latent @ rng.standard_normal((2, 4)) + 0.5 * rng.standard_normal((120, 4)) - 1
    return make_frame(a=A, b=B)


@pytest.mark.parametrize("mapper", _float32_mappers(), ids=repr)
def test_float32_input_stays_float32_and_matches_float64(mapper, paired32):
    X32 = paired32.astype(np.float32)
    # The float64 reference sees the very same (float32-rounded) values.
    X64 = X32.astype(np.float64)
    out32 = mapper.fit(X32).transform(X32)
    assert all(dtype == np.float32 for dtype in out32.dtypes)
    assert mapper.__sklearn_tags__().transformer_tags.preserves_dtype == [
        "float64",
        "float32",
    ]
    score32 = mapper.score(X32)
    out64 = mapper.fit(X64).transform(X64)
    assert all(dtype == np.float64 for dtype in out64.dtypes)
    np.testing.assert_allclose(out32.to_numpy(), out64.to_numpy(), **FLOAT32)
    np.testing.assert_allclose(score32, mapper.score(X64), **FLOAT32)


def test_semantic_mapper_requires_y_and_keeps_float32(paired32):
    mapper = SemanticMapper()
    assert mapper.__sklearn_tags__().target_tags.required
    y = (paired32["a__0"] > paired32["a__0"].median()).to_numpy().astype(int)
    out = mapper.fit(paired32.astype(np.float32), y).transform(
        paired32.astype(np.float32)
    )
    assert all(dtype == np.float32 for dtype in out.dtypes)


@pytest.mark.parametrize("mapper", [CCA(), MCCA(), PLS(), KernelCCA(reg=0.1)], ids=repr)
def test_paired_mappers_share_one_score(mapper, paired32):
    # The score of every paired mapper is the mean Pearson correlation of the
    # paired variates, computed here with numpy.corrcoef.
    mapper.fit(paired32)
    Z = mapper.transform(paired32).to_numpy()
    k = mapper.n_components_
    expected = np.mean([np.corrcoef(Z[:, j], Z[:, k + j])[0, 1] for j in range(k)])
    np.testing.assert_allclose(mapper.score(paired32), expected, rtol=1e-12)
    assert type(mapper).score is CCA.score


@pytest.mark.parametrize("Mapper", [CCA, MCCA])
def test_finite_check_honours_assume_finite(Mapper, paired32, monkeypatch):
    from skcrossmodal.mapping import _linalg

    calls = []

    def check_finite(block, modality, columns):
        calls.append(modality)
        raise ValueError("the finite check ran")

    monkeypatch.setattr(_linalg, "check_finite", check_finite)
    bad = paired32.copy()
    bad.iloc[3, 1] = np.nan
    with config_context(assume_finite=True):
        try:
            Mapper(n_components=1).fit(bad)
        except (ValueError, np.linalg.LinAlgError) as error:  # NaN reached LAPACK
            assert "the finite check ran" not in str(error)
    assert calls == []
    # Otherwise the fused check finds the chunk with a NaN and names it.
    with pytest.raises(ValueError, match="the finite check ran"):
        Mapper(n_components=1).fit(bad)
    assert calls == ["a"]
