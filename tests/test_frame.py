"""Tests of the modality-table contract (_frame.py; docs/architecture.md §1)."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from sklearn import config_context
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import make_pipeline

from skcrossmodal import make_frame, make_modality_selector, split_modalities
from skcrossmodal._frame import (
    SEPARATOR,
    BlockOutputMixin,
    check_finite,
    check_n_components,
    modality_slices,
    validate_blocks,
)


@pytest.fixture
def blocks():
    rng = np.random.default_rng(0)
    return {"text": rng.normal(size=(6, 3)), "image": rng.normal(size=(6, 2))}


class Recorder:
    """A stand-in estimator: validate_blocks records its fitted state on it."""


# -- make_frame ---------------------------------------------------------------


def test_make_frame_names_and_values(blocks):
    X = make_frame(**blocks)
    assert SEPARATOR == "__"
    assert list(X.columns) == [
        "text__0",
        "text__1",
        "text__2",
        "image__0",
        "image__1",
    ]
    assert_array_equal(X.to_numpy(), np.hstack([blocks["text"], blocks["image"]]))
    assert isinstance(X.index, pd.RangeIndex)


def test_make_frame_keeps_the_given_order_and_index(blocks):
    X = make_frame(index=list("abcdef"), image=blocks["image"], text=blocks["text"])
    assert list(split_modalities(X)) == ["image", "text"]
    assert list(X.index) == list("abcdef")


def test_make_frame_one_dimensional_block_is_one_feature(blocks):
    X = make_frame(text=blocks["text"], label=np.arange(6))
    assert list(X.columns)[-1] == "label__0"
    assert split_modalities(X)["label"].shape == (6, 1)
    assert_array_equal(split_modalities(X)["label"].ravel(), np.arange(6))


def test_make_frame_mixed_dtypes_keep_each_dtype(blocks):
    counts = np.arange(12).reshape(6, 2)
    X = make_frame(text=blocks["text"], counts=counts)
    assert list(X.dtypes) == [np.float64] * 3 + [np.int64] * 2
    split = split_modalities(X)
    assert split["counts"].dtype == np.int64
    assert_array_equal(split["counts"], counts)
    assert_array_equal(split["text"], blocks["text"])
    assert split_modalities(X, dtype=np.float32)["counts"].dtype == np.float32


def test_make_frame_needs_a_block():
    with pytest.raises(ValueError, match="at least one block"):
        make_frame()


@pytest.mark.parametrize("name", ["", "my__text"])
def test_make_frame_rejects_bad_modality_names(name):
    with pytest.raises(ValueError, match="non-empty strings without '__'"):
        make_frame(**{name: np.ones((2, 1))})


def test_make_frame_rejects_mismatched_lengths(blocks):
    with pytest.raises(ValueError, match="'image' has 4 rows but block 'text' has 6"):
        make_frame(text=blocks["text"], image=blocks["image"][:4])


def test_make_frame_rejects_three_dimensional_blocks():
    with pytest.raises(ValueError, match=r"'image' must be 1-D or 2-D.*\(2, 3, 4\)"):
        make_frame(image=np.ones((2, 3, 4)))


# -- split_modalities / modality_slices ---------------------------------------


def test_round_trip(blocks):
    split = split_modalities(make_frame(**blocks))
    assert list(split) == ["text", "image"]
    for modality, values in blocks.items():
        assert_array_equal(split[modality], values)


def test_single_dtype_frame_splits_into_views(blocks):
    X = make_frame(**blocks)
    split = split_modalities(X)
    data = X.to_numpy()
    assert np.shares_memory(split["text"], data)
    assert np.shares_memory(split["image"], data)
    assert not np.shares_memory(split["text"], split["image"])


def test_non_contiguous_blocks(blocks):
    X = make_frame(**blocks)
    X = X[["text__0", "image__0", "text__1", "image__1", "text__2"]]
    slices = modality_slices(X.columns)
    assert list(slices) == ["text", "image"]
    assert_array_equal(slices["text"], [0, 2, 4])
    assert_array_equal(slices["image"], [1, 3])
    split = split_modalities(X)
    assert_array_equal(split["text"], blocks["text"])
    assert_array_equal(split["image"], blocks["image"])


def test_contiguous_blocks_are_slices(blocks):
    assert modality_slices(make_frame(**blocks).columns) == {
        "text": slice(0, 3),
        "image": slice(3, 5),
    }


def test_modality_is_the_text_before_the_first_separator():
    X = pd.DataFrame(np.ones((2, 3)), columns=["a__x__y", "a__z", "b__0"])
    assert {m: b.shape[1] for m, b in split_modalities(X).items()} == {"a": 2, "b": 1}


def test_bare_array_error_says_how_to_name_blocks(blocks):
    with pytest.raises(
        ValueError, match="bare array has no modality names.*make_frame"
    ):
        split_modalities(blocks["text"])


@pytest.mark.parametrize(
    "columns, match",
    [
        (["text__0", "caption"], "'caption' is not named '<modality>__<feature>'"),
        (["text__0", 3], "3 is not named"),
        (["__0", "text__0"], "'__0' has an empty modality name"),
    ],
)
def test_bad_column_names(columns, match):
    with pytest.raises(ValueError, match=match):
        split_modalities(pd.DataFrame(np.ones((2, 2)), columns=columns))


# -- check_finite / check_n_components ---------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_finite_names_row_and_column(bad):
    block = np.zeros((4, 3))
    block[2, 1] = bad
    with pytest.raises(
        ValueError, match=r"'image'.*\(" + str(bad) + r"\) in row 2, column 'image__1'"
    ):
        check_finite(block, "image")
    with pytest.raises(ValueError, match="column 'image__green'"):
        check_finite(block, "image", ["image__red", "image__green", "image__blue"])


def test_check_finite_accepts_finite_and_integer_blocks():
    check_finite(np.zeros((2, 2)), "text")
    check_finite(np.arange(4).reshape(2, 2), "text")


def test_check_n_components():
    check_n_components(Recorder(), 2, 3, "reason")
    with pytest.raises(ValueError, match="positive integer"):
        check_n_components(Recorder(), 0, 3, "reason")
    with pytest.raises(
        ValueError, match=r"Recorder can find at most 3 components \(min"
    ):
        check_n_components(Recorder(), 4, 3, "min of the block widths")


# -- validate_blocks ---------------------------------------------------------


def test_validate_blocks_records_the_fitted_state(blocks):
    X = make_frame(**blocks)
    est = Recorder()
    split = validate_blocks(est, X, reset=True)
    assert list(split) == ["text", "image"]
    assert est.modalities_ == ["text", "image"]
    assert est.n_features_in_ == 5
    assert_array_equal(est.feature_names_in_, X.columns)
    assert est.feature_names_in_.dtype == object
    assert_array_equal(
        est.feature_names_per_modality_["image"], ["image__0", "image__1"]
    )
    assert all(block.dtype == np.float64 for block in split.values())


def test_validate_blocks_converts_to_the_requested_dtype(blocks):
    X = make_frame(text=np.arange(6), image=blocks["image"])
    split = validate_blocks(Recorder(), X, reset=True)
    assert split["text"].dtype == np.float64
    split = validate_blocks(Recorder(), X, reset=True, dtype=np.float32)
    assert split["image"].dtype == np.float32


def test_validate_blocks_required_subset(blocks):
    X = make_frame(**blocks, audio=np.ones((6, 2)))
    est = Recorder()
    split = validate_blocks(est, X, reset=True, required=["image", "text"])
    assert list(split) == ["image", "text"]
    assert est.modalities_ == ["image", "text"]
    assert est.n_features_in_ == 5
    # A block that was in the fit table but not used is ignored later.
    assert list(validate_blocks(est, X, reset=False)) == ["image", "text"]
    assert list(validate_blocks(Recorder(), X, reset=True, required="audio")) == [
        "audio"
    ]
    with pytest.raises(
        ValueError, match=r"needs modalities \['video'\] but X has blocks"
    ):
        validate_blocks(Recorder(), X, reset=True, required=["text", "video"])


def test_validate_blocks_minimum_modalities_and_samples(blocks):
    X = make_frame(text=blocks["text"])
    with pytest.raises(ValueError, match="at least 2 modality blocks, but X has 1"):
        validate_blocks(Recorder(), X, reset=True, min_modalities=2)
    with pytest.raises(ValueError, match="at least 7 samples, got 6"):
        validate_blocks(Recorder(), X, reset=True, ensure_min_samples=7)


def test_validate_blocks_bare_array_error_names_estimator_and_make_frame(blocks):
    with pytest.raises(
        ValueError, match="Recorder needs modality blocks.*ndarray.*make_frame"
    ):
        validate_blocks(Recorder(), blocks["text"], reset=True)


def test_validate_blocks_non_finite_names_row_and_column(blocks):
    X = make_frame(**blocks)
    X.iloc[4, 3] = np.inf
    with pytest.raises(ValueError, match=r"'image'.*row 4, column 'image__0'"):
        validate_blocks(Recorder(), X, reset=True)
    est = Recorder()
    validate_blocks(est, make_frame(**blocks), reset=True)
    X = make_frame(**blocks)
    X.iloc[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"'text'.*\(nan\) in row 1, column 'text__2'"):
        validate_blocks(est, X, reset=False)


def test_validate_blocks_rejects_non_numeric_columns(blocks):
    X = make_frame(**blocks).assign(text__3="word")
    with pytest.raises(
        TypeError, match="column 'text__3' of modality 'text' holds text"
    ):
        validate_blocks(Recorder(), X, reset=True)


def test_validate_blocks_reads_object_numbers_and_refuses_sparse(blocks):
    X = make_frame(**blocks)
    as_object = X.astype(object)
    expected = validate_blocks(Recorder(), X, reset=True)
    got = validate_blocks(Recorder(), as_object, reset=True)
    assert list(got) == list(expected)
    for modality in expected:
        assert got[modality].dtype == np.float64
        assert_array_equal(got[modality], expected[modality])
    sparse = X.astype(pd.SparseDtype("float64", 0.0))
    with pytest.raises(TypeError, match="sparse"):
        validate_blocks(Recorder(), sparse, reset=True)


def test_validate_blocks_skips_finite_check_under_assume_finite(blocks):
    X = make_frame(**blocks)
    X.iloc[1, 0] = np.nan
    with config_context(assume_finite=True):
        validate_blocks(Recorder(), X, reset=True)
    with pytest.raises(ValueError, match="nan"):
        validate_blocks(Recorder(), X, reset=True)


def test_validate_blocks_absent_modality_allowed_at_transform(blocks):
    X = make_frame(**blocks)
    est = Recorder()
    validate_blocks(est, X, reset=True)
    split = validate_blocks(est, make_frame(image=blocks["image"]), reset=False)
    assert list(split) == ["image"]
    assert_array_equal(split["image"], blocks["image"])
    # Blocks come back in fitted order whatever the order in X.
    reordered = make_frame(image=blocks["image"], text=blocks["text"])
    assert list(validate_blocks(est, reordered, reset=False)) == ["text", "image"]


def test_validate_blocks_unknown_modality_at_transform(blocks):
    est = Recorder()
    validate_blocks(est, make_frame(**blocks), reset=True)
    with pytest.raises(
        ValueError, match=r"modalities \['audio'\] that Recorder was not fitted"
    ):
        validate_blocks(est, make_frame(**blocks, audio=np.ones(6)), reset=False)


def test_validate_blocks_no_fitted_modality_at_transform(blocks):
    est = Recorder()
    validate_blocks(est, make_frame(**blocks), reset=True, required=["text"])
    with pytest.raises(
        ValueError,
        match=r"none of the modalities Recorder was fitted on \(\['text'\]\)",
    ):
        validate_blocks(est, make_frame(image=blocks["image"]), reset=False)


@pytest.mark.parametrize(
    "columns",
    [
        ["text__0", "text__1"],  # a missing column
        ["text__0", "text__1", "text__2", "text__3"],  # an extra column
        ["text__1", "text__0", "text__2"],  # reordered
    ],
)
def test_validate_blocks_wrong_columns_in_a_present_block(blocks, columns):
    est = Recorder()
    validate_blocks(est, make_frame(**blocks), reset=True)
    X = pd.DataFrame(np.ones((6, len(columns))), columns=columns)
    with pytest.raises(
        ValueError, match="[Bb]lock 'text' has columns .* but Recorder was fitted with"
    ):
        validate_blocks(est, X, reset=False)


# -- BlockOutputMixin --------------------------------------------------------


class KeepFirstBlock(BlockOutputMixin, TransformerMixin, BaseEstimator):
    """Returns the first fitted block present: fewer columns than fitted."""

    def fit(self, X, y=None):
        validate_blocks(self, X, reset=True)
        return self

    def transform(self, X):
        split = validate_blocks(self, X, reset=False)
        modality = next(iter(split))
        frame = X[list(self.feature_names_per_modality_[modality])]
        return self._finish_output(frame)

    def get_feature_names_out(self, input_features=None):
        return self.feature_names_in_


def test_block_output_is_never_rewrapped(blocks):
    X = make_frame(**blocks)
    est = KeepFirstBlock().set_output(transform="pandas")
    out = est.fit(X).transform(X)
    assert list(out.columns) == ["text__0", "text__1", "text__2"]
    # sklearn's auto-wrapping would try to set all five fitted names here.
    with config_context(transform_output="pandas"):
        out = KeepFirstBlock().fit_transform(X)
        assert list(out.columns) == ["text__0", "text__1", "text__2"]
    pipe = make_pipeline(KeepFirstBlock()).set_output(transform="pandas")
    assert list(pipe.fit_transform(X).columns) == list(out.columns)


def test_block_output_set_output_values(blocks):
    est = KeepFirstBlock()
    assert est.set_output(transform=None) is est
    assert not hasattr(est, "_sklearn_output_config")
    assert est.set_output(transform="default") is est
    assert isinstance(est.fit_transform(make_frame(**blocks)), pd.DataFrame)
    with pytest.raises(ValueError, match="'default', 'pandas', 'polars' or None"):
        est.set_output(transform="numpy")


def test_block_output_polars(blocks):
    pl = pytest.importorskip("polars")
    X = make_frame(**blocks)
    out = KeepFirstBlock().set_output(transform="polars").fit(X).transform(X)
    assert isinstance(out, pl.DataFrame)
    assert out.columns == ["text__0", "text__1", "text__2"]


def test_modality_names_error_is_a_typed_value_error():
    from skcrossmodal import ModalityNamesError
    from skcrossmodal.mapping import CCA

    for call in (
        lambda: split_modalities(np.zeros((2, 2))),
        lambda: split_modalities(pd.DataFrame(np.zeros((2, 2)), columns=["a", "b"])),
        lambda: CCA().fit(np.zeros((5, 2))),
    ):
        with pytest.raises(ModalityNamesError):
            call()
    assert issubclass(ModalityNamesError, ValueError)


def test_select_modalities_matches_whole_names_only():
    from skcrossmodal import make_modality_selector, select_modalities

    X = make_frame(
        text=np.ones((3, 2)), pretext=np.zeros((3, 1)), image=np.ones((3, 1))
    )
    assert list(X.filter(like="text__").columns) == ["text__0", "text__1", "pretext__0"]
    assert list(select_modalities(X, "text").columns) == ["text__0", "text__1"]
    assert list(select_modalities(X, "image", "text").columns) == [
        "image__0",
        "text__0",
        "text__1",
    ]
    assert make_modality_selector("pretext")(X) == ["pretext__0"]
    with pytest.raises(ValueError, match=r"no block for the modalities \['audio'\]"):
        select_modalities(X, "audio")
    with pytest.raises(ValueError, match="at least one modality"):
        make_modality_selector()


def test_modality_selector_pickles_and_hashes(blocks):
    import pickle

    import joblib

    selector = make_modality_selector("image", "text")
    X = make_frame(**blocks)
    restored = pickle.loads(pickle.dumps(selector))
    assert restored(X) == selector(X)
    assert joblib.hash(selector) == joblib.hash(make_modality_selector("image", "text"))
    assert repr(selector) == "make_modality_selector('image', 'text')"
