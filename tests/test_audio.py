"""Tests of skcrossmodal.feature_extraction.audio."""

import inspect
import math
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.io import wavfile
from scipy.signal import resample_poly
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from skcrossmodal.feature_extraction import LogMelExtractor, MFCCExtractor
from skcrossmodal.feature_extraction.audio import mel_filterbank

FSDD = (
    Path(__file__).resolve().parents[2] / "shared/data/avmnist_sources/fsdd/recordings"
)


def _reference_filterbank(sample_rate, n_fft, n_mels, fmin=0.0, fmax=None):
    """Textbook triangular HTK filterbank, one bin and one filter at a time."""
    fmax = sample_rate / 2 if fmax is None else fmax
    low, high = (2595 * math.log10(1 + f / 700) for f in (fmin, fmax))
    edges = [
        700 * (10 ** ((low + i * (high - low) / (n_mels + 1)) / 2595) - 1)
        for i in range(n_mels + 2)
    ]
    bank = np.zeros((n_mels, n_fft // 2 + 1))
    for m in range(n_mels):
        left, center, right = edges[m], edges[m + 1], edges[m + 2]
        for k in range(n_fft // 2 + 1):
            f = k * sample_rate / n_fft
            if left <= f <= center:
                bank[m, k] = (f - left) / (center - left)
            elif center < f <= right:
                bank[m, k] = (right - f) / (right - center)
    return bank


def _reference_log_mel(
    x, sample_rate, n_mels, frame_length=0.025, hop_length=0.01, floor=1e-10
):
    """Per-frame loop with np.fft.fft and an explicit periodic Hann window."""
    frame = round(frame_length * sample_rate)
    hop = round(hop_length * sample_rate)
    n_fft = 1
    while n_fft < frame:
        n_fft *= 2
    window = np.array(
        [0.5 - 0.5 * math.cos(2 * math.pi * n / frame) for n in range(frame)]
    )
    padded = np.concatenate([np.zeros(frame // 2), x, np.zeros(frame // 2)])
    bank = _reference_filterbank(sample_rate, n_fft, n_mels)
    rows = []
    start = 0
    while start + frame <= len(padded):
        segment = np.zeros(n_fft)
        segment[:frame] = padded[start : start + frame] * window
        spectrum = np.fft.fft(segment)[: n_fft // 2 + 1]
        power = np.abs(spectrum) ** 2
        rows.append(np.log(np.maximum(bank @ power, floor)))
        start += hop
    return np.array(rows)


def _dct_matrix(n):
    """Orthonormal DCT-II matrix, from its definition."""
    matrix = np.empty((n, n))
    for k in range(n):
        scale = math.sqrt(1 / n) if k == 0 else math.sqrt(2 / n)
        for i in range(n):
            matrix[k, i] = scale * math.cos(math.pi * k * (2 * i + 1) / (2 * n))
    return matrix


def _waves(n=4, length=4000, rate=8000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(length) / rate
    return [
        0.5 * np.sin(2 * np.pi * rng.uniform(200, 2000) * t)
        + 0.05 * rng.standard_normal(length)
        for _ in range(n)
    ]


@pytest.mark.parametrize(
    "sample_rate, n_fft, n_mels, fmin, fmax",
    [
        (8000, 256, 40, 0.0, None),
        (16000, 512, 64, 20.0, 7600.0),
        (22050, 1024, 26, 0, None),
    ],
)
def test_mel_filterbank_matches_reference(sample_rate, n_fft, n_mels, fmin, fmax):
    bank = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax)
    expected = _reference_filterbank(sample_rate, n_fft, n_mels, fmin, fmax)
    np.testing.assert_allclose(bank, expected, atol=1e-12)
    assert (bank.max(axis=1) > 0).all()


def test_log_mel_and_mfcc_match_per_frame_loop():
    rate, n_mels, n_mfcc = 8000, 40, 13
    x = _waves(1, length=3000)[0]
    reference = _reference_log_mel(x, rate, n_mels)
    extractor = LogMelExtractor(sample_rate=rate, n_mels=n_mels).fit([x])
    log_mel = extractor._log_mel(x)
    np.testing.assert_allclose(log_mel, reference, rtol=1e-9, atol=1e-9)
    expected = np.concatenate([reference.mean(axis=0), reference.std(axis=0)])
    np.testing.assert_allclose(extractor.transform([x])[0], expected, atol=1e-9)

    mfcc = reference @ _dct_matrix(n_mels).T[:, :n_mfcc]
    extractor = MFCCExtractor(sample_rate=rate, n_mels=n_mels, n_mfcc=n_mfcc).fit([x])
    expected = np.concatenate([mfcc.mean(axis=0), mfcc.std(axis=0)])
    np.testing.assert_allclose(extractor.transform([x])[0], expected, atol=1e-9)


def test_frames_pooling_pads_and_crops():
    rate = 8000
    short, long = _waves(2, length=800)[0], _waves(1, length=16000, seed=1)[0]
    extractor = MFCCExtractor(sample_rate=rate, pooling="frames", n_frames=20).fit(
        [short]
    )
    X = extractor.transform([short, long])
    assert X.shape == (2, 20 * 13)
    dct = _dct_matrix(40).T[:, :13]
    short_frames = _reference_log_mel(short, rate, 40)
    assert short_frames.shape[0] == 11  # 1 + (800 + 2 * 100 - 200) // 80
    silence = np.full(40, np.log(1e-10)) @ dct
    expected_short = np.vstack([short_frames @ dct, np.tile(silence, (9, 1))])
    np.testing.assert_allclose(X[0].reshape(20, 13), expected_short, atol=1e-8)
    np.testing.assert_allclose(
        X[1].reshape(20, 13), _reference_log_mel(long, rate, 40)[:20] @ dct, atol=1e-8
    )
    names = extractor.get_feature_names_out()
    assert names[0] == "mfcc_t0_0" and names[-1] == "mfcc_t19_12"


def test_wav_reading_formats(tmp_path):
    rng = np.random.default_rng(0)
    rate = 8000
    pcm = (rng.uniform(-0.5, 0.5, 2000) * 32767).astype(np.int16)
    stereo = (rng.uniform(-0.5, 0.5, (2000, 2)) * 32767).astype(np.int16)
    floats = rng.uniform(-0.5, 0.5, 2000).astype(np.float32)
    unsigned = rng.integers(0, 256, 2000).astype(np.uint8)
    for name, data in [
        ("pcm", pcm),
        ("stereo", stereo),
        ("float", floats),
        ("u8", unsigned),
    ]:
        wavfile.write(tmp_path / f"{name}.wav", rate, data)
    extractor = LogMelExtractor().fit([str(tmp_path / "pcm.wav")])
    assert extractor.sample_rate_ == rate
    X = extractor.transform(
        [
            tmp_path / "pcm.wav",
            str(tmp_path / "stereo.wav"),
            str(tmp_path / "float.wav"),
            str(tmp_path / "u8.wav"),
        ]
    )
    as_arrays = [
        pcm / 32768.0,
        stereo.mean(axis=1) / 32768.0,
        floats.astype(np.float64),
        (unsigned.astype(np.float64) - 128) / 128,
    ]
    np.testing.assert_allclose(X, extractor.transform(as_arrays), atol=1e-9)
    # Integer arrays are scaled as PCM too.
    np.testing.assert_allclose(extractor.transform([pcm]), X[:1], atol=1e-9)


def test_resampling(tmp_path):
    x16 = _waves(1, length=16000, rate=16000)[0]
    wavfile.write(tmp_path / "high.wav", 16000, x16.astype(np.float32))
    extractor = MFCCExtractor(sample_rate=8000).fit([np.zeros(100)])
    stored = x16.astype(np.float32).astype(np.float64)
    expected = extractor.transform([resample_poly(stored, 1, 2)])
    np.testing.assert_allclose(
        extractor.transform([str(tmp_path / "high.wav")]), expected, atol=1e-9
    )
    np.testing.assert_allclose(
        extractor.transform([(x16.astype(np.float32), 16000)]), expected, atol=1e-9
    )
    pair = extractor.transform([(x16, 11025)])
    np.testing.assert_allclose(
        pair, extractor.transform([resample_poly(x16, 320, 441)]), atol=1e-9
    )


def test_sample_rate_from_first_input(tmp_path):
    x = _waves(1)[0]
    fitted = MFCCExtractor().fit([(x, 8000), (x, 16000)])
    assert fitted.sample_rate_ == 8000
    with pytest.raises(ValueError, match="cannot tell the sample rate"):
        MFCCExtractor().fit([x])


def test_two_d_batch_and_series_equal_list():
    waves = _waves(3)
    extractor = MFCCExtractor(sample_rate=8000).fit(waves)
    expected = extractor.transform(waves)
    np.testing.assert_allclose(extractor.transform(np.vstack(waves)), expected)
    np.testing.assert_allclose(extractor.transform(pd.Series(waves)), expected)
    np.testing.assert_allclose(extractor.transform(tuple(waves)), expected)


def test_errors_name_the_file_or_row(tmp_path):
    good = _waves(2)
    extractor = MFCCExtractor(sample_rate=8000).fit(good)
    missing = tmp_path / "missing.wav"
    with pytest.raises(FileNotFoundError, match=r"missing\.wav.*row 1"):
        extractor.transform([good[0], str(missing)])
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x01garbage" * 10)
    with pytest.raises(ValueError, match=r"corrupt\.wav.*row 0"):
        extractor.transform([str(corrupt)])
    with pytest.raises(ValueError, match=r"corrupt\.wav"):
        MFCCExtractor(sample_rate=8000).fit([good[0], str(corrupt)])
    with pytest.raises(ValueError, match="row 1 is empty"):
        extractor.transform([good[0], np.array([])])
    with pytest.raises(ValueError, match="row 2 contains NaN"):
        extractor.transform([good[0], good[1], np.array([0.0, np.nan])])
    with pytest.raises(ValueError, match="Row 0 must be a 1-D"):
        extractor.transform([np.zeros((10, 2))])
    with pytest.raises(ValueError, match="Row 1 must be a 1-D"):
        extractor.transform([good[0], None])
    with pytest.raises(ValueError, match="Row 0 is a tuple"):
        extractor.transform([(good[0], 8000, 1)])
    with pytest.raises(ValueError, match="single str"):
        extractor.transform("a.wav")
    with pytest.raises(ValueError, match="no waveform"):
        extractor.transform([])
    with pytest.raises(ValueError, match="n_mfcc=41 cannot exceed n_mels=40"):
        MFCCExtractor(sample_rate=8000, n_mfcc=41).fit(good)
    with pytest.raises(ValueError, match="fmax"):
        MFCCExtractor(sample_rate=8000, fmax=5000).fit(good)


def test_integer_waveforms_keep_their_pcm_scale():
    # The rule: int8/16/32 (and uint8/16/32, offset binary) are PCM of their
    # dtype's width; int64 and Python ints carry no bit depth and are read as
    # the smallest of 16-, 24- and 32-bit PCM that holds their values.
    rng = np.random.default_rng(0)
    pcm16 = (rng.uniform(-0.5, 0.5, 2000) * 32767).astype(np.int16)
    extractor = LogMelExtractor(sample_rate=8000).fit([pcm16])
    expected = extractor.transform([pcm16.astype(np.float64) / 2**15])
    silence = extractor.transform([np.zeros(2000)])
    for waveform in [pcm16, list(pcm16), pcm16.tolist(), pcm16.astype(np.int64)]:
        features = extractor.transform([waveform])
        np.testing.assert_allclose(features, expected, rtol=1e-12)
        # Real audio: mean log-mel energies far above silence's floor.
        assert (features[0, :40] - silence[0, :40]).min() > 10
    # One row per waveform of a 2-D batch of Python ints too.
    np.testing.assert_allclose(
        extractor.transform([pcm16.tolist(), pcm16.tolist()]),
        np.vstack([expected, expected]),
        rtol=1e-12,
    )
    # 24-bit values in an int64 array are read as 24-bit PCM.
    pcm24 = pcm16.astype(np.int64) * 256 + 300
    np.testing.assert_allclose(
        extractor.transform([pcm24]),
        extractor.transform([pcm24 / 2**23]),
        rtol=1e-12,
    )
    pcm32 = pcm16.astype(np.int32) * 65536
    np.testing.assert_allclose(
        extractor.transform([pcm32, pcm32.astype(np.int64)]),
        np.vstack([expected, expected]),
        rtol=1e-12,
    )
    with pytest.raises(
        ValueError, match=r"row 1 has values in \[0, 4294967296\].*32-bit"
    ):
        extractor.transform([pcm16, [0, 2**32]])


def test_amplitude_overflowing_the_power_spectrum_raises(tmp_path):
    wave = _waves(1)[0]
    extractor = MFCCExtractor(sample_rate=8000).fit([wave])
    assert np.isfinite(extractor.transform([wave * 1e150])).all()
    with pytest.raises(
        ValueError, match=r"row 1 overflows float64: its largest amplitude is 6.3"
    ):
        extractor.transform([wave, wave * 1e200])
    path = tmp_path / "loud.wav"
    wavfile.write(path, 8000, wave * 1e200)
    with pytest.raises(ValueError, match=r"loud\.wav' \(row 0\) overflows"):
        extractor.transform([str(path)])
    with pytest.raises(ValueError, match="row 0 overflows"):
        LogMelExtractor(sample_rate=8000, pooling="frames").fit_transform(
            [wave * 1e200]
        )


def test_truncated_wav_raises_naming_the_file_and_row(tmp_path):
    wave = (_waves(1)[0] * 20000).astype(np.int16)
    complete = tmp_path / "complete.wav"
    wavfile.write(complete, 8000, wave)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(complete.read_bytes()[:-1000])
    extractor = MFCCExtractor().fit([str(complete)])
    with pytest.raises(
        ValueError,
        match=r"truncated\.wav' in row 1 is truncated: its data chunk declares "
        r"8000 bytes of audio but the file holds 7000",
    ):
        extractor.transform([str(complete), str(truncated)])
    with pytest.raises(ValueError, match=r"truncated\.wav' in row 0 is truncated"):
        MFCCExtractor().fit([str(truncated)])


def test_streamed_wav_with_unknown_size_is_read_whole(tmp_path):
    # Writers that stream to a pipe put 0xFFFFFFFF in the size fields.
    wave = (_waves(1)[0] * 20000).astype(np.int16)
    complete = tmp_path / "complete.wav"
    wavfile.write(complete, 8000, wave)
    raw = bytearray(complete.read_bytes())
    assert raw[36:40] == b"data"
    raw[4:8] = raw[40:44] = b"\xff\xff\xff\xff"
    streamed = tmp_path / "streamed.wav"
    streamed.write_bytes(bytes(raw))
    extractor = MFCCExtractor().fit([str(complete)])
    with pytest.warns(wavfile.WavFileWarning):
        features = extractor.transform([str(streamed)])
    np.testing.assert_array_equal(features, extractor.transform([str(complete)]))


def test_directory_as_wav_path_says_so(tmp_path):
    extractor = MFCCExtractor(sample_rate=8000).fit(_waves(1))
    with pytest.raises(ValueError, match=r"row 0 is a directory, expected a \.wav"):
        extractor.transform([str(tmp_path)])


def test_short_waveform_gives_one_frame():
    extractor = LogMelExtractor(sample_rate=8000).fit([np.ones(3)])
    assert extractor._log_mel(np.ones(3)).shape == (1, 40)
    assert np.isfinite(extractor.transform([np.ones(3)])).all()


def test_clone_pickle_idempotent():
    waves = _waves(3)
    extractor = MFCCExtractor(sample_rate=8000, n_mfcc=8)
    first = extractor.fit(waves).transform(waves)
    np.testing.assert_array_equal(extractor.fit(waves).transform(waves), first)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(extractor)).transform(waves), first
    )
    np.testing.assert_array_equal(clone(extractor).fit_transform(waves), first)
    np.testing.assert_array_equal(extractor.transform(waves[1:]), first[1:])
    frame = extractor.set_output(transform="pandas").transform(waves)
    assert list(frame.columns[:2]) == ["mfcc_mean0", "mfcc_mean1"]
    assert frame.shape == (3, 16)


EXPECTED_FAILED = {
    "check_n_features_in": (
        "a waveform's length is free (waveforms of any length are accepted), "
        "so there is no n_features_in_"
    ),
    "check_n_features_in_after_fitting": (
        "a waveform's length is free, so transform accepts any number of columns"
    ),
    "check_transformer_general": (
        "part of it requires an error when transform gets a different number of "
        "columns than fit; a waveform's length is free (its other parts are "
        "covered in test_clone_pickle_idempotent and test_two_d_batch_*)"
    ),
    "check_transformer_general(readonly_memmap=True)": (
        "same as check_transformer_general: waveform length is free"
    ),
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED


@parametrize_with_checks(
    [
        LogMelExtractor(sample_rate=8000, n_mels=8),
        MFCCExtractor(sample_rate=8000, n_mels=8, n_mfcc=4),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_mfcc_in_modality_union_grid_search():
    compose = pytest.importorskip("skcrossmodal.compose")
    rng = np.random.default_rng(0)
    t = np.arange(2000) / 8000
    waves, labels = [], []
    for i in range(40):
        label = i % 2
        frequency = (300 if label else 1500) * rng.uniform(0.9, 1.1)
        waves.append(
            np.sin(2 * np.pi * frequency * t) + 0.1 * rng.standard_normal(t.size)
        )
        labels.append(label)
    X = pd.DataFrame({"audio": pd.Series(waves, dtype=object), "id": np.arange(40)})
    pipeline = make_pipeline(
        compose.make_modality_union(audio=(MFCCExtractor(sample_rate=8000), "audio")),
        StandardScaler(),
        SVC(),
    )
    grid = GridSearchCV(pipeline, {"modalityunion__audio__n_mfcc": [5, 13]}, cv=2)
    grid.fit(X, np.array(labels))
    assert grid.best_score_ > 0.9
    features = grid.best_estimator_[0].transform(X)
    assert features.columns[0] == "audio__mfcc_mean0"


def test_log_mel_in_modality_union_with_paths(tmp_path):
    compose = pytest.importorskip("skcrossmodal.compose")
    paths = []
    for i, wave in enumerate(_waves(3)):
        paths.append(str(tmp_path / f"{i}.wav"))
        wavfile.write(paths[-1], 8000, wave.astype(np.float32))
    X = pd.DataFrame({"audio": paths})
    union = compose.make_modality_union(audio=(LogMelExtractor(n_mels=10), "audio"))
    features = union.fit_transform(X)
    expected = LogMelExtractor(n_mels=10).fit_transform(paths)
    np.testing.assert_allclose(features.to_numpy(), expected)
    assert features.columns[-1] == "audio__logmel_std9"


@pytest.mark.skipif(not FSDD.is_dir(), reason="FSDD recordings not on this machine")
def test_fsdd_digit_accuracy():
    # Real data: official split test clips (index 0-4), a reduced train set
    # (index 5-14) to stay fast; the full benchmark is benchmarks/bench_fsdd.py.
    paths = sorted(FSDD.glob("*.wav"))
    index = np.array([int(p.stem.split("_")[2]) for p in paths])
    digit = np.array([int(p.stem.split("_")[0]) for p in paths])
    train, test = (index >= 5) & (index < 15), index < 5
    assert train.sum() == 600 and test.sum() == 300
    model = make_pipeline(MFCCExtractor(), StandardScaler(), SVC(C=10))
    model.fit([str(p) for p in np.array(paths)[train]], digit[train])
    accuracy = model.score([str(p) for p in np.array(paths)[test]], digit[test])
    assert model[0].sample_rate_ == 8000
    assert accuracy > 0.9


def test_n_jobs_gives_the_same_features_and_row_numbers(tmp_path):
    waves = _waves(5)
    extractor = MFCCExtractor(sample_rate=8000).fit(waves)
    expected = extractor.transform(waves)
    parallel = clone(extractor).set_params(n_jobs=2).fit(waves)
    np.testing.assert_allclose(parallel.transform(waves), expected)
    with pytest.raises(ValueError, match="row 4 is empty"):
        parallel.transform([*waves[:4], np.array([])])


def test_keyword_only_and_shared_parameter_names():
    # MFCCExtractor(8000, 40, 0.025) once meant n_mels=40 for MFCC but
    # something else for LogMel: every parameter after sample_rate is keyword.
    for cls in (LogMelExtractor, MFCCExtractor):
        with pytest.raises(TypeError, match="positional"):
            cls(8000, 40)
        assert cls(8000).sample_rate == 8000
    log_mel, mfcc = LogMelExtractor().get_params(), MFCCExtractor().get_params()
    assert set(mfcc) - set(log_mel) == {"n_mfcc"}
    assert all(mfcc[name] == value for name, value in log_mel.items())
    order = [p for p in inspect.signature(MFCCExtractor).parameters if p != "n_mfcc"]
    assert order == list(inspect.signature(LogMelExtractor).parameters)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_verbose_reports_checking_and_extracting(n_jobs, capsys, monkeypatch):
    from skcrossmodal.feature_extraction import audio

    monkeypatch.setattr(audio, "_PROGRESS_INPUTS", 2)
    waves = _waves(5, length=800)
    quiet = MFCCExtractor(sample_rate=8000, n_jobs=n_jobs).fit(waves)
    expected = quiet.transform(waves)
    assert capsys.readouterr() == ("", "")
    loud = MFCCExtractor(sample_rate=8000, n_jobs=n_jobs, verbose=1).fit(waves)
    np.testing.assert_array_equal(loud.transform(waves), expected)
    captured = capsys.readouterr()
    assert captured.out == ""
    steps = [
        re.fullmatch(r"\[MFCCExtractor\] (.*) \(\d+\.\d s\)", line)[1]
        for line in captured.err.splitlines()
    ]
    # Three chunks of at most two inputs.
    assert steps == [
        "check inputs: 5 inputs",
        "extract: 2/5 inputs",
        "extract: 4/5 inputs",
        "extract: 5/5 inputs",
    ]


def test_raw_input_tags():
    from sklearn.utils import get_tags

    tags = get_tags(MFCCExtractor())
    assert tags.input_tags.string and tags.input_tags.two_d_array
    assert tags.transformer_tags.preserves_dtype == ["float64"]


def test_waveform_turned_into_text_is_explained():
    extractor = MFCCExtractor(sample_rate=8000).fit(_waves(1))
    with pytest.raises(FileNotFoundError, match="convert-string"):
        extractor.transform([str(np.zeros(5))])
