"""An audio-visual digit set built from MNIST test images and FSDD recordings."""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import gzip
import hashlib
import numbers
import os
import re
import tempfile
import warnings
import wave
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._base import load_descr

FSDD_SAMPLE_RATE = 8000
FSDD_TEST_CLIPS = range(0, 5)  # official FSDD split: clip indices 0-4 test, 5-49 train
_CLIP_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")
_MNIST_IMAGES = "t10k-images-idx3-ubyte"
_MNIST_LABELS = "t10k-labels-idx1-ubyte"
# Part of the cache key: a change of what is cached or how invalidates old files.
_CACHE_FORMAT = 2
_CACHED_ARRAYS = (
    "audio",
    "audio_lengths",
    "images",
    "target",
    "subset",
    "mnist_index",
    "audio_file",
)


@validate_params(
    {
        "fsdd_dir": [str, Path],
        "mnist_dir": [str, Path],
        "n_train": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "n_test": [Interval(numbers.Integral, 1, None, closed="left")],
        "subset": [StrOptions({"train", "test", "all"})],
        "random_state": ["random_state"],
        "data_home": [str, Path, None],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_avmnist(
    fsdd_dir,
    mnist_dir,
    *,
    n_train=None,
    n_test=2000,
    subset="all",
    random_state=0,
    data_home=None,
    return_X_y=False,
):
    """Build an audio-visual digit set: MNIST images paired with spoken digits.

    Each row pairs one MNIST test image with one recording of the same digit
    from the Free Spoken Digit Dataset (FSDD). The MNIST rows are shuffled
    with ``random_state`` and split into ``n_test`` test rows and ``n_train``
    train rows; test images are paired with FSDD clips 0-4 and train images
    with clips 5-49 (the official FSDD split), so train and test share
    neither an image nor a recording. Within each split and digit the clips
    are dealt round-robin in a random order, so every clip is used about
    equally often. Read ``DESCR`` for how this differs from the AV-MNIST of
    Vielzeuf et al. (2018) and MultiBench.

    Parameters
    ----------
    fsdd_dir : str or pathlib.Path
        Folder of the FSDD ``{digit}_{speaker}_{index}.wav`` files (or its
        parent holding ``recordings/``).
    mnist_dir : str or pathlib.Path
        Folder holding ``t10k-images-idx3-ubyte[.gz]`` and
        ``t10k-labels-idx1-ubyte[.gz]``.
    n_train : int, default=None
        Number of train rows; None uses every MNIST test image not used for
        the test rows.
    n_test : int, default=2000
        Number of test rows.
    subset : {"train", "test", "all"}, default="all"
        Which rows to return; ``"all"`` is train then test.
    random_state : int, RandomState instance or None, default=0
        Seeds the MNIST split and the pairing.
    data_home : str or pathlib.Path, default=None
        Folder in which to cache the built set; None builds it in memory
        every time (about a second). One ``.npz`` per set of arguments and
        sources: the key hashes ``n_train``, ``n_test``, ``random_state``
        (an integer; other seeds are not cached), the resolved source folders
        and the name, size and modification time of every file read, so a
        changed or other source folder is built afresh. A cache file that
        cannot be read (e.g. truncated) is rebuilt, with a warning; files are
        written to a temporary name and then renamed, so a reader never sees
        a partial one.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        data : pandas.DataFrame of shape (n_samples, 2)
            Raw columns: ``image`` (28x28 uint8 arrays) and ``audio``
            (1-D float32 waveforms in [-1, 1) at 8 kHz), both of object dtype.
        target : ndarray of shape (n_samples,)
            The digit 0..9, shared by the image and the recording.
        target_names : ndarray of shape (10,)
            ``"0"`` .. ``"9"``.
        subset : ndarray of shape (n_samples,)
            ``"train"`` or ``"test"`` for each row.
        mnist_index : ndarray of shape (n_samples,)
            Row of the image in the MNIST test file.
        audio_file, speaker : ndarray of shape (n_samples,)
            The FSDD file name and speaker of each recording.
        sample_rate : int
            8000.
        DESCR : str
            Construction, sources and licenses.

    (data, target) : tuple if ``return_X_y`` is True

    Examples
    --------
    >>> from skcrossmodal.datasets import make_avmnist
    >>> av = make_avmnist("fsdd/recordings", "mnist", n_train=500, n_test=100)
    ... # doctest: +SKIP
    >>> av.data.columns.tolist()  # doctest: +SKIP
    ['image', 'audio']
    """
    fsdd_dir, mnist_dir = Path(fsdd_dir), Path(mnist_dir)
    if (fsdd_dir / "recordings").is_dir():
        fsdd_dir = fsdd_dir / "recordings"
    clips = _list_fsdd(fsdd_dir)
    mnist_files = [
        _idx_path(mnist_dir, stem) for stem in (_MNIST_IMAGES, _MNIST_LABELS)
    ]
    cache = built = None
    if data_home is not None:
        cache = _cache_path(
            data_home,
            n_train,
            n_test,
            random_state,
            [fsdd_dir / name for name in clips] + mnist_files,
        )
    if cache is not None:
        built = _read_cache(cache)
    if built is None:
        built = _build(fsdd_dir, clips, mnist_files, n_train, n_test, random_state)
        if cache is not None:
            _write_cache(cache, built)

    keep = np.ones(len(built["target"]), dtype=bool)
    if subset != "all":
        keep = built["subset"] == subset
    images = built["images"][keep]
    waveforms = [w for w, k in zip(built["waveforms"], keep, strict=True) if k]
    data = pd.DataFrame(
        {"image": _object_column(images), "audio": _object_column(waveforms)}
    )
    target = built["target"][keep]
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        target_names=np.asarray([str(k) for k in range(10)]),
        subset=built["subset"][keep],
        mnist_index=built["mnist_index"][keep],
        audio_file=built["audio_file"][keep],
        speaker=np.asarray(
            [_CLIP_NAME.match(f).group(2) for f in built["audio_file"][keep]]
        ),
        sample_rate=FSDD_SAMPLE_RATE,
        DESCR=load_descr("avmnist"),
    )


def _object_column(arrays):
    column = np.empty(len(arrays), dtype=object)
    for i, array in enumerate(arrays):
        column[i] = array
    return column


def _build(fsdd_dir, clips, mnist_files, n_train, n_test, random_state):
    images, labels = _read_mnist(*mnist_files)
    n_images = len(labels)
    if n_train is None:
        n_train = n_images - n_test
    if n_train < 1 or n_train + n_test > n_images:
        raise ValueError(
            f"n_train + n_test must be at most the {n_images} MNIST test images "
            f"in {mnist_files[0].parent}, got n_train={n_train}, n_test={n_test}."
        )
    rng = check_random_state(random_state)
    order = rng.permutation(n_images)
    rows = {"train": order[n_test : n_test + n_train], "test": order[:n_test]}

    mnist_index, audio_file, subset = [], [], []
    for part in ("train", "test"):
        part_rows = rows[part]
        paired = np.empty(len(part_rows), dtype=object)
        for digit in range(10):
            at = np.flatnonzero(labels[part_rows] == digit)
            pool = [
                name
                for name, (d, index) in clips.items()
                if d == digit and (index in FSDD_TEST_CLIPS) == (part == "test")
            ]
            if not pool:
                raise ValueError(
                    f"{fsdd_dir} has no {part} recording of digit {digit} "
                    "(FSDD clip indices 0-4 are test, 5-49 train)."
                )
            pool = rng.permutation(pool)
            paired[at] = pool[np.arange(len(at)) % len(pool)]
        mnist_index.append(part_rows)
        audio_file.append(paired.astype(str))
        subset.append(np.full(len(part_rows), part))
    mnist_index = np.concatenate(mnist_index)
    audio_file = np.concatenate(audio_file)
    waveforms = {name: _read_wav(fsdd_dir / name) for name in np.unique(audio_file)}
    return {
        "images": images[mnist_index],
        "waveforms": [waveforms[name] for name in audio_file],
        "target": labels[mnist_index].astype(np.int64),
        "subset": np.concatenate(subset),
        "mnist_index": mnist_index,
        "audio_file": audio_file,
    }


def _idx_path(mnist_dir, stem):
    """The MNIST file ``stem``, gzipped or not, in ``mnist_dir``."""
    for name in (f"{stem}.gz", stem):
        path = mnist_dir / name
        if path.exists():
            return path
    raise FileNotFoundError(
        f"Neither {stem}.gz nor {stem} is in {mnist_dir}; make_avmnist needs the "
        "MNIST test images and labels."
    )


def _read_idx(path):
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as file:
        return file.read()


def _read_mnist(images_path, labels_path):
    path, raw = images_path, _read_idx(images_path)
    magic, n, rows, cols = np.frombuffer(raw[:16], dtype=">u4")
    if magic != 2051 or len(raw) != 16 + n * rows * cols:
        raise ValueError(f"{path} is not an MNIST idx3 image file.")
    images = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows, cols)
    path, raw = labels_path, _read_idx(labels_path)
    magic, n_labels = np.frombuffer(raw[:8], dtype=">u4")
    if magic != 2049 or len(raw) != 8 + n_labels or n_labels != n:
        raise ValueError(
            f"{path} is not an MNIST idx1 label file with one label per image."
        )
    return images.copy(), np.frombuffer(raw, dtype=np.uint8, offset=8).copy()


def _list_fsdd(fsdd_dir):
    if not fsdd_dir.is_dir():
        raise FileNotFoundError(f"FSDD folder {fsdd_dir} does not exist.")
    clips = {}
    for path in sorted(fsdd_dir.glob("*.wav")):
        match = _CLIP_NAME.match(path.name)
        if match is None:
            raise ValueError(
                f"FSDD file {path} is not named '{{digit}}_{{speaker}}_{{index}}.wav'."
            )
        clips[path.name] = (int(match.group(1)), int(match.group(3)))
    if not clips:
        raise FileNotFoundError(f"No .wav files in the FSDD folder {fsdd_dir}.")
    return clips


def _read_wav(path):
    try:
        with wave.open(str(path), "rb") as file:
            shape = (file.getnchannels(), file.getsampwidth(), file.getframerate())
            n_frames = file.getnframes()
            frames = file.readframes(n_frames)
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"Cannot read the audio file {path}: {exc}") from exc
    if shape != (1, 2, FSDD_SAMPLE_RATE):
        raise ValueError(
            f"{path} has (channels, bytes per sample, rate) = {shape}; expected "
            f"mono 16-bit PCM at {FSDD_SAMPLE_RATE} Hz."
        )
    if len(frames) != 2 * n_frames:
        raise ValueError(
            f"{path} is truncated: its header declares {n_frames} frames but it "
            f"holds {len(frames) // 2}."
        )
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def _cache_path(data_home, n_train, n_test, random_state, sources):
    """Cache file of a build from these arguments and the files ``sources``."""
    if not isinstance(random_state, numbers.Integral):
        return None  # an unseeded build cannot be reused
    arguments = (_CACHE_FORMAT, n_train, n_test, int(random_state))
    key = hashlib.sha256(repr(arguments).encode())
    folders = {}
    for path in sources:
        if path.parent not in folders:
            folders[path.parent] = str(path.parent.resolve())
        stat = path.stat()
        key.update(
            f"\0{folders[path.parent]}\0{path.name}\0{stat.st_size}\0"
            f"{stat.st_mtime_ns}".encode()
        )
    home = Path(data_home).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home / f"avmnist_{key.hexdigest()[:16]}.npz"


def _write_cache(path, built):
    """Write ``built`` to ``path`` atomically: a temporary file, then a rename."""
    lengths = np.asarray([len(w) for w in built["waveforms"]])
    arrays = {k: v for k, v in built.items() if k != "waveforms"}
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as file:
            np.savez(
                file,
                audio=np.concatenate(built["waveforms"]),
                audio_lengths=lengths,
                **arrays,
            )
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _read_cache(path):
    """The cached build at ``path``; None if it is missing or cannot be read."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            built = {key: npz[key] for key in _CACHED_ARRAYS}
        lengths = built.pop("audio_lengths")
        audio = built.pop("audio")
        n_rows = {len(lengths), *(len(built[key]) for key in built)}
        if len(n_rows) != 1 or lengths.sum() != len(audio):
            raise ValueError("its arrays have inconsistent lengths")
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        warnings.warn(
            f"The make_avmnist cache file {path} is corrupt "
            f"({type(exc).__name__}: {exc}); rebuilding it.",
            UserWarning,
            stacklevel=3,
        )
        return None
    built["waveforms"] = np.split(audio, np.cumsum(lengths)[:-1])
    return built
