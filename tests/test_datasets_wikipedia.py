from pathlib import Path

import numpy as np
import pytest

from skcrossmodal import split_modalities
from skcrossmodal.datasets import load_wikipedia

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "wikipedia"


@pytest.mark.parametrize(
    "subset, n_samples", [("train", 2173), ("test", 693), ("all", 2866)]
)
def test_load_wikipedia_shapes(subset, n_samples):
    wiki = load_wikipedia(subset=subset)
    blocks = split_modalities(wiki.data)
    assert list(blocks) == ["text", "image"]
    assert blocks["text"].shape == (n_samples, 10)
    assert blocks["image"].shape == (n_samples, 128)
    assert wiki.target.shape == (n_samples,)
    assert wiki.text_ids.shape == wiki.image_ids.shape == (n_samples,)
    assert set(np.unique(wiki.target)) == set(range(10))


def test_load_wikipedia_matches_published_class_counts():
    # Rasiwasia et al. 2010, Table 1 (train / test per category).
    expected = {
        "art": (138, 34), "biology": (272, 88), "geography": (244, 96),
        "history": (248, 85), "literature": (202, 65), "media": (178, 58),
        "music": (186, 51), "royalty": (144, 41), "sport": (214, 71),
        "warfare": (347, 104),
    }  # fmt: skip
    train, test = load_wikipedia(subset="train"), load_wikipedia(subset="test")
    for code, name in enumerate(train.target_names):
        assert (
            np.sum(train.target == code),
            np.sum(test.target == code),
        ) == expected[name]


def test_load_wikipedia_rows_are_distributions():
    blocks = split_modalities(load_wikipedia(subset="all").data)
    np.testing.assert_allclose(blocks["text"].sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(blocks["image"].sum(axis=1), 1.0, atol=1e-5)


def test_load_wikipedia_all_is_train_then_test():
    all_, train = load_wikipedia(subset="all"), load_wikipedia(subset="train")
    np.testing.assert_array_equal(all_.data.iloc[:2173].to_numpy(), train.data)
    assert list(all_.subset[[0, -1]]) == ["train", "test"]


def test_load_wikipedia_return_X_y_and_descr():
    X, y = load_wikipedia(subset="test", return_X_y=True)
    assert X.shape == (693, 138) and y.shape == (693,)
    descr = load_wikipedia().DESCR
    assert "Rasiwasia" in descr and "0.249" in descr


@pytest.mark.skipif(not SHARED.exists(), reason="shared data folder not beside repo")
def test_bundled_copy_equals_shared_data():
    bundled = load_wikipedia(subset="test")
    with np.load(SHARED / "wikipedia.npz") as npz:
        np.testing.assert_array_equal(
            split_modalities(bundled.data)["image"], npz["image_test"]
        )
        np.testing.assert_array_equal(bundled.target, npz["label_test"])


def test_load_wikipedia_bad_subset():
    with pytest.raises(ValueError, match="subset"):
        load_wikipedia(subset="validation")
