"""BlockScaler: StandardScaler per block, keeping the blocks and partial rows."""

import numpy as np
import pandas as pd
import pytest
from _tolerance import FLOAT32
from sklearn import config_context
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcrossmodal import ModalityNamesError, make_frame, select_modalities
from skcrossmodal.mapping import CCA
from skcrossmodal.preprocessing import BlockScaler


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    text = rng.normal(loc=3.0, scale=5.0, size=(60, 4))
    image = rng.normal(loc=-2.0, scale=0.1, size=(60, 3))
    image[:, 1] = 0.1  # constant, with a mean that is not representable
    return make_frame(text=text, image=image, index=np.arange(100, 160))


@pytest.mark.parametrize("with_mean", [True, False])
@pytest.mark.parametrize("with_std", [True, False])
def test_matches_standard_scaler(table, with_mean, with_std):
    scaler = BlockScaler(with_mean=with_mean, with_std=with_std).fit(table)
    reference = StandardScaler(with_mean=with_mean, with_std=with_std).fit(
        table.to_numpy()
    )
    out = scaler.transform(table)
    assert list(out.columns) == list(table.columns)
    assert list(out.index) == list(table.index)
    np.testing.assert_allclose(
        out.to_numpy(), reference.transform(table.to_numpy()), rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        np.concatenate([scaler.scale_[m] for m in scaler.modalities_]),
        reference.scale_ if with_std else np.ones(7),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        np.concatenate([scaler.var_[m] for m in scaler.modalities_]),
        np.var(table.to_numpy(), axis=0),
        rtol=1e-12,
        atol=1e-30,
    )
    back = scaler.inverse_transform(out)
    np.testing.assert_allclose(back.to_numpy(), table.to_numpy(), rtol=1e-12)


def test_constant_feature_is_left_unscaled(table):
    scaler = BlockScaler().fit(table)
    assert scaler.scale_["image"][1] == 1.0
    np.testing.assert_allclose(scaler.transform(table)["image__1"], 0.0, atol=1e-15)


def test_partial_rows_are_scaled_block_by_block(table):
    scaler = BlockScaler().fit(table)
    full = scaler.transform(table)
    image_only = scaler.transform(select_modalities(table, "image"))
    assert list(image_only.columns) == ["image__0", "image__1", "image__2"]
    pd.testing.assert_frame_equal(image_only, full[list(image_only.columns)])


def test_float32_stays_float32(table):
    table32 = table.astype(np.float32)
    out = BlockScaler().fit(table32).transform(table32)
    assert all(dtype == np.float32 for dtype in out.dtypes)
    reference = StandardScaler().fit_transform(table.to_numpy())
    np.testing.assert_allclose(out.to_numpy(), reference, **FLOAT32)


def test_modalities_choose_blocks(table):
    scaler = BlockScaler(modalities=["image"]).fit(table)
    assert scaler.modalities_ == ["image"]
    assert list(scaler.get_feature_names_out()) == ["image__0", "image__1", "image__2"]
    # The unused block of the training table is ignored at transform time.
    assert list(scaler.transform(table).columns) == ["image__0", "image__1", "image__2"]


def test_errors(table):
    with pytest.raises(NotFittedError):
        BlockScaler().transform(table)
    with pytest.raises(ModalityNamesError):
        BlockScaler().fit(table.to_numpy())
    bad = table.copy()
    bad.iloc[5, 2] = np.nan
    with pytest.raises(ValueError, match=r"row 5, column 'text__2'"):
        BlockScaler().fit(bad)
    with config_context(assume_finite=True):
        BlockScaler().fit(bad)
    scaler = BlockScaler().fit(table)
    with pytest.raises(ValueError, match="not fitted on"):
        scaler.transform(make_frame(audio=np.zeros((2, 2))))


def test_recipe_scaler_then_mapper_keeps_missing_modality_queries(table):
    # The docs/mappers.md recipe: a text-only query after a BlockScaler.
    pipeline = make_pipeline(BlockScaler(), CCA(n_components=2)).fit(table)
    query = select_modalities(table, "text")
    out = pipeline.transform(query)
    assert list(out.columns) == ["text__cca0", "text__cca1"]
    full = pipeline.transform(table)
    np.testing.assert_allclose(out.to_numpy(), full[list(out.columns)].to_numpy())
    # Scaling then CCA is CCA(scale=True) (the same canonical variates).
    scaled = CCA(n_components=2, scale=True).fit(table).transform(table)
    np.testing.assert_allclose(
        np.abs(full.to_numpy()), np.abs(scaled.to_numpy()), rtol=1e-7, atol=1e-9
    )
