"""Tests of the multi-view datasets: load_mfeat, load_nutrimouse, make_avmnist."""

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from scipy.io import wavfile

from skcrossmodal import split_modalities
from skcrossmodal.datasets import load_mfeat, load_nutrimouse, make_avmnist

AVMNIST_SOURCES = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "avmnist_sources"
)
needs_avmnist_sources = pytest.mark.skipif(
    not (AVMNIST_SOURCES / "fsdd" / "recordings").is_dir()
    or not (AVMNIST_SOURCES / "mnist").is_dir(),
    reason=f"the FSDD and MNIST sources are not at {AVMNIST_SOURCES} (../shared/data)",
)


def test_load_mfeat():
    bunch = load_mfeat()
    blocks = split_modalities(bunch.data)
    assert {m: b.shape[1] for m, b in blocks.items()} == {
        "fou": 76,
        "fac": 216,
        "kar": 64,
        "pix": 240,
        "zer": 47,
        "mor": 6,
    }
    assert bunch.data.shape == (2000, 649)
    assert_array_equal(np.bincount(bunch.target), np.full(10, 200))
    assert_array_equal(bunch.target[:200], 0)
    assert list(bunch.target_names) == [str(k) for k in range(10)]
    assert "van Breukelen" in bunch.DESCR and "98.51" in bunch.DESCR
    views, target = load_mfeat(return_X_y=True, as_frame=False)
    assert views["pix"].dtype.kind == "i"
    assert_array_equal(views["fac"], blocks["fac"])
    assert_array_equal(target, bunch.target)


def test_load_nutrimouse():
    bunch = load_nutrimouse()
    assert bunch.data.shape == (40, 141)
    assert bunch.data.columns[0] == "gene__X36b4"
    assert bunch.data.columns[120] == "lipid__C14.0"
    blocks = split_modalities(bunch.data)
    assert [b.shape[1] for b in blocks.values()] == [120, 21]
    # fatty-acid percentages: each mouse sums to about 100
    assert np.allclose(blocks["lipid"].sum(axis=1), 100, atol=2)
    assert_array_equal(bunch.target, bunch.diet)
    assert bunch.target_names.tolist() == ["coc", "fish", "lin", "ref", "sun"]
    # balanced design: 4 mice per genotype x diet cell
    cells = pd.crosstab(bunch.genotype, bunch.diet)
    assert (cells.to_numpy() == 4).all()
    assert_array_equal(bunch.genotype[:20], 1)
    X, genotype = load_nutrimouse(target="genotype", return_X_y=True)
    assert_array_equal(genotype, bunch.genotype)
    assert "González" in bunch.DESCR and "0.9605" in bunch.DESCR
    views = load_nutrimouse(as_frame=False).data
    assert views["gene"].shape == (40, 120)
    with pytest.raises(ValueError, match="target"):
        load_nutrimouse(target="sex")


def test_nutrimouse_shrinkage_cca_matches_published_correlations():
    """Jendoubi & Strimmer (2019): scca(gene, lipid), lambda.cor = 0.1599767."""
    views = load_nutrimouse(as_frame=False).data
    joint = np.corrcoef(np.hstack([views["gene"], views["lipid"]]), rowvar=False)
    shrunk = (1 - 0.1599767) * joint + 0.1599767 * np.eye(len(joint))
    p = views["gene"].shape[1]

    def inverse_sqrt(matrix):
        values, vectors = np.linalg.eigh(matrix)
        return vectors @ np.diag(values**-0.5) @ vectors.T

    whitened = (
        inverse_sqrt(shrunk[:p, :p]) @ shrunk[:p, p:] @ inverse_sqrt(shrunk[p:, p:])
    )
    correlations = np.linalg.svd(whitened, compute_uv=False)
    np.testing.assert_allclose(
        correlations[:5],
        [0.9605275617, 0.9476499457, 0.9264858941, 0.8660390307, 0.8591510518],
        atol=1e-6,
    )


@needs_avmnist_sources
def test_make_avmnist(tmp_path):
    av = make_avmnist(
        AVMNIST_SOURCES / "fsdd",
        AVMNIST_SOURCES / "mnist",
        n_train=300,
        n_test=100,
        random_state=0,
        data_home=tmp_path,
    )
    assert list(av.data.columns) == ["image", "audio"]
    assert len(av.data) == 400 and av.data["image"].dtype == object
    assert av.data["image"].iloc[0].shape == (28, 28)
    assert av.data["image"].iloc[0].dtype == np.uint8
    waveform = av.data["audio"].iloc[0]
    assert waveform.ndim == 1 and waveform.dtype == np.float32
    assert np.abs(waveform).max() <= 1 and av.sample_rate == 8000
    # every image is paired with a recording of the same digit
    spoken = np.array([int(name[0]) for name in av.audio_file])
    assert_array_equal(spoken, av.target)
    # train and test share neither an MNIST row nor a recording
    train, test = av.subset == "train", av.subset == "test"
    assert (train.sum(), test.sum()) == (300, 100)
    assert not set(av.mnist_index[train]) & set(av.mnist_index[test])
    assert len(set(av.mnist_index)) == 400
    clip_index = np.array([int(name.rsplit("_", 1)[1][:-4]) for name in av.audio_file])
    assert clip_index[test].max() <= 4 and clip_index[train].min() >= 5
    assert "Vielzeuf" in av.DESCR and "CC BY-SA" in av.DESCR
    # cached and deterministic; subsets are slices of the same set
    again = make_avmnist(
        AVMNIST_SOURCES / "fsdd",
        AVMNIST_SOURCES / "mnist",
        n_train=300,
        n_test=100,
        random_state=0,
        data_home=tmp_path,
        subset="test",
    )
    assert len(list(tmp_path.glob("avmnist_*.npz"))) == 1
    assert_array_equal(again.mnist_index, av.mnist_index[test])
    np.testing.assert_array_equal(
        again.data["audio"].iloc[3], av.data["audio"][test].iloc[3]
    )
    X, y = make_avmnist(
        AVMNIST_SOURCES / "fsdd" / "recordings",
        AVMNIST_SOURCES / "mnist",
        n_train=50,
        n_test=20,
        random_state=1,
        return_X_y=True,
    )
    assert X.shape == (70, 2) and y.shape == (70,)


def test_make_avmnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_avmnist(tmp_path / "nowhere", tmp_path)
    (tmp_path / "fsdd").mkdir()
    with pytest.raises(FileNotFoundError, match="No .wav files"):
        make_avmnist(tmp_path / "fsdd", tmp_path)
    (tmp_path / "fsdd" / "hello.wav").write_bytes(b"")
    with pytest.raises(ValueError, match="hello.wav.*digit"):
        make_avmnist(tmp_path / "fsdd", tmp_path)
    (tmp_path / "fsdd" / "hello.wav").rename(tmp_path / "fsdd" / "3_anna_7.wav")
    with pytest.raises(FileNotFoundError, match="t10k-images"):
        make_avmnist(tmp_path / "fsdd", tmp_path)


@needs_avmnist_sources
def test_make_avmnist_too_many_rows():
    with pytest.raises(ValueError, match="at most the 10000 MNIST test images"):
        make_avmnist(
            AVMNIST_SOURCES / "fsdd",
            AVMNIST_SOURCES / "mnist",
            n_train=9000,
            n_test=2000,
        )


def _write_sources(root, seed=0, n_images=40):
    """Tiny MNIST idx files and FSDD clips (one test, one train clip per digit)."""
    rng = np.random.default_rng(seed)
    mnist, fsdd = root / "mnist", root / "fsdd"
    mnist.mkdir(parents=True)
    fsdd.mkdir()
    images = rng.integers(0, 256, (n_images, 28, 28), dtype=np.uint8)
    labels = (np.arange(n_images) % 10).astype(np.uint8)
    header = np.array([2051, n_images, 28, 28], dtype=">u4").tobytes()
    (mnist / "t10k-images-idx3-ubyte").write_bytes(header + images.tobytes())
    header = np.array([2049, n_images], dtype=">u4").tobytes()
    (mnist / "t10k-labels-idx1-ubyte").write_bytes(header + labels.tobytes())
    clips = {}
    for digit in range(10):
        for clip in (0, 5):
            name = f"{digit}_anna_{clip}.wav"
            clips[name] = rng.integers(-3000, 3000, 160).astype(np.int16)
            wavfile.write(fsdd / name, 8000, clips[name])
    return fsdd, mnist, images, clips


def _check_built_from(av, images, clips):
    """Every row holds the MNIST image and FSDD clip it names (the sources)."""
    for row in range(len(av.target)):
        assert_array_equal(av.data["image"].iloc[row], images[av.mnist_index[row]])
        assert_array_equal(
            av.data["audio"].iloc[row], clips[av.audio_file[row]] / np.float32(32768)
        )


def _touch_later(path):
    """Give ``path`` a later modification time (a rewrite of the same size)."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


def test_make_avmnist_cache_is_keyed_on_its_sources(tmp_path):
    cache = tmp_path / "cache"
    fsdd, mnist, images, clips = _write_sources(tmp_path / "a", seed=0)
    options = dict(n_train=20, n_test=10, random_state=0, data_home=cache)
    first = make_avmnist(fsdd, mnist, **options)
    _check_built_from(first, images, clips)
    # Other source folders, same arguments: their data, not the cached set.
    other_fsdd, other_mnist, other_images, other_clips = _write_sources(
        tmp_path / "b", seed=1
    )
    other = make_avmnist(other_fsdd, other_mnist, **options)
    _check_built_from(other, other_images, other_clips)
    # A source file rewritten in place (same size, later time) is read again.
    changed = np.flip(images, axis=0).copy()
    idx = mnist / "t10k-images-idx3-ubyte"
    idx.write_bytes(idx.read_bytes()[:16] + changed.tobytes())
    _touch_later(idx)
    _check_built_from(make_avmnist(fsdd, mnist, **options), changed, clips)
    clip = fsdd / "3_anna_5.wav"
    clips["3_anna_5.wav"] = -clips["3_anna_5.wav"]
    wavfile.write(clip, 8000, clips["3_anna_5.wav"])
    _touch_later(clip)
    _check_built_from(make_avmnist(fsdd, mnist, **options), changed, clips)
    # A renamed folder with the same files is another source, so another entry;
    # the unchanged sources hit their entries (no new file).
    moved = tmp_path / "moved"
    shutil.copytree(tmp_path / "a", moved)
    make_avmnist(moved / "fsdd", moved / "mnist", **options)
    n_entries = len(list(cache.glob("avmnist_*.npz")))
    again = make_avmnist(other_fsdd, other_mnist, **options)
    _check_built_from(again, other_images, other_clips)
    assert len(list(cache.glob("avmnist_*.npz"))) == n_entries
    assert sorted(p.suffix for p in cache.iterdir()) == [".npz"] * n_entries


@pytest.mark.parametrize("keep", [0, 100, 0.5])
def test_make_avmnist_rebuilds_a_corrupt_cache(tmp_path, keep):
    fsdd, mnist, images, clips = _write_sources(tmp_path)
    options = dict(n_train=20, n_test=10, random_state=0, data_home=tmp_path / "c")
    built = make_avmnist(fsdd, mnist, **options)
    (cache_file,) = (tmp_path / "c").glob("avmnist_*.npz")
    raw = cache_file.read_bytes()
    cache_file.write_bytes(raw[: int(keep * len(raw)) if keep < 1 else keep])
    with pytest.warns(UserWarning, match=f"{cache_file.name}.*corrupt.*rebuilding"):
        rebuilt = make_avmnist(fsdd, mnist, **options)
    _check_built_from(rebuilt, images, clips)
    assert_array_equal(rebuilt.mnist_index, built.mnist_index)
    assert cache_file.read_bytes() == raw  # replaced by a complete file
    assert [p.name for p in (tmp_path / "c").iterdir()] == [cache_file.name]


def test_make_avmnist_refuses_a_truncated_recording(tmp_path):
    fsdd, mnist, _, _ = _write_sources(tmp_path)
    for clip in fsdd.glob("7_*.wav"):  # every image is used: so is a clip of 7
        clip.write_bytes(clip.read_bytes()[:-100])
    with pytest.raises(
        ValueError,
        match=r"7_anna_[05].wav is truncated: .* 160 frames but it holds 110",
    ):
        make_avmnist(fsdd, mnist, n_train=30, n_test=10)
