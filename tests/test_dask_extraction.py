"""Feature extraction on Dask DataFrames of raw columns, on a real LocalCluster.

Every Dask result is compared with the in-memory transform of the same rows by
the same fitted extractor (itself tested against numpy/scipy references in
test_audio.py and test_text.py).
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from gensim.models import KeyedVectors
from scipy.io import wavfile
from sklearn.preprocessing import StandardScaler

dd = pytest.importorskip("dask.dataframe")
dask = pytest.importorskip("dask")

import _dask_extract_helpers  # noqa: E402
from _tolerance import FLOAT32  # noqa: E402

from skcrossmodal.compose import make_modality_union  # noqa: E402
from skcrossmodal.feature_extraction import (  # noqa: E402
    KeyedVectorsVectorizer,
    LogMelExtractor,
    MFCCExtractor,
    Word2VecVectorizer,
)

SOURCES = Path(__file__).resolve().parents[2] / "shared/data/avmnist_sources"
FSDD = SOURCES / "fsdd/recordings"
needs_fsdd = pytest.mark.skipif(
    not FSDD.is_dir(), reason="AV-MNIST sources not on this machine"
)

CAPTIONS = [
    "a man says zero",
    "the woman says one",
    "two is spoken slowly",
    "three three three",
    "a child says four",
    "five is the digit",
    "six spoken by a man",
    "seven said twice seven",
    "eight in a quiet room",
    "nine and nothing else",
]


def _paths(n=24):
    # Every digit and speaker, in a fixed order.
    return [str(p) for p in sorted(FSDD.glob("*.wav"))[::125][:n]]


def _uneven(frame, sizes):
    """A Dask DataFrame whose partitions have the given sizes (0 allowed)."""
    edges = np.cumsum([0, *sizes])
    parts = [
        frame.iloc[start:stop]
        for start, stop in zip(edges[:-1], edges[1:], strict=True)
    ]
    return dd.from_delayed([dask.delayed(p) for p in parts], meta=frame.iloc[:0])


def _keyed_vectors():
    words = sorted({word for caption in CAPTIONS for word in caption.split()})
    rng = np.random.default_rng(0)
    kv = KeyedVectors(vector_size=5)
    kv.add_vectors(words, rng.standard_normal((len(words), 5)).astype(np.float32))
    return kv


def _assert_same_frame(lazy, expected):
    """``lazy`` computes to ``expected``: same columns, dtypes, index, values.

    Values to the last bits only: a worker process runs BLAS on another
    number of threads, which sums in another order.
    """
    assert list(lazy.columns) == list(expected.columns)
    assert dict(lazy.dtypes) == dict(expected.dtypes)
    computed = lazy.compute()
    pd.testing.assert_index_equal(computed.index, expected.index)
    for column, dtype in expected.dtypes.items():
        tolerance = FLOAT32 if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
        np.testing.assert_allclose(
            computed[column].to_numpy(), expected[column].to_numpy(), **tolerance
        )


@needs_fsdd
@pytest.mark.parametrize(
    "extractor",
    [MFCCExtractor(), LogMelExtractor(n_mels=20, pooling="frames", n_frames=30)],
    ids=["mfcc", "logmel_frames"],
)
def test_audio_files_on_dask_equal_in_memory(dask_client, extractor):
    paths = _paths()
    extractor.fit(paths)
    expected = pd.DataFrame(
        extractor.transform(paths), columns=extractor.get_feature_names_out()
    )
    frame = pd.DataFrame({"audio": paths})
    ddf = dd.from_pandas(frame, npartitions=4)
    _assert_same_frame(extractor.transform(ddf), expected)
    # A Series is one raw column too.
    _assert_same_frame(extractor.transform(ddf["audio"]), expected)


@needs_fsdd
def test_avmnist_waveforms_on_dask_equal_in_memory(dask_client):
    from skcrossmodal.datasets import make_avmnist

    av = make_avmnist(FSDD, SOURCES / "mnist", n_train=30, n_test=10)
    audio = av.data[["audio"]]
    extractor = MFCCExtractor(sample_rate=av.sample_rate).fit(audio["audio"])
    expected = pd.DataFrame(
        extractor.transform(audio["audio"]), columns=extractor.get_feature_names_out()
    )
    # Dask turns object columns into strings unless told not to.
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = dd.from_pandas(audio, npartitions=3)
    _assert_same_frame(extractor.transform(ddf), expected)


@pytest.mark.parametrize("pooling", ["mean", "tfidf", "sif"])
def test_text_pooling_on_dask_equal_in_memory(dask_client, pooling):
    vectorizer = KeyedVectorsVectorizer(_keyed_vectors(), pooling=pooling)
    vectorizer.fit(CAPTIONS)
    frame = pd.DataFrame({"caption": CAPTIONS * 3}, index=np.arange(100, 130))
    expected = pd.DataFrame(
        vectorizer.transform(frame["caption"]),
        columns=vectorizer.get_feature_names_out(),
        index=frame.index,
    )
    ddf = dd.from_pandas(frame, npartitions=3)
    _assert_same_frame(vectorizer.transform(ddf), expected)


def test_word2vec_transform_on_dask_and_fit_refused(dask_client):
    vectorizer = Word2VecVectorizer(vector_size=6, epochs=2, random_state=0)
    ddf = dd.from_pandas(pd.DataFrame({"caption": CAPTIONS}), npartitions=2)
    with pytest.raises(TypeError, match=r"cannot be fitted on a Dask.*sample"):
        vectorizer.fit(ddf)
    with pytest.raises(TypeError, match=r"cannot be fitted on a Dask"):
        vectorizer.fit_transform(ddf["caption"])
    assert not hasattr(vectorizer, "keyed_vectors_")
    vectorizer.fit(CAPTIONS)
    expected = pd.DataFrame(
        vectorizer.transform(CAPTIONS), columns=vectorizer.get_feature_names_out()
    )
    _assert_same_frame(vectorizer.transform(ddf), expected)


@needs_fsdd
def test_audio_fit_on_dask_checks_on_the_workers(dask_client, tmp_path):
    paths = _paths(12)
    # The first partition holds bare waveforms only: the rate comes from the
    # first partition with a file.
    rate, samples = wavfile.read(paths[0])
    frame = pd.DataFrame({"audio": pd.Series([samples, *paths], dtype=object)})
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = _uneven(frame, [1, 0, 6, 6])
    fitted = MFCCExtractor().fit(ddf)
    assert fitted.sample_rate_ == rate == MFCCExtractor().fit(paths).sample_rate_
    in_memory = MFCCExtractor().fit(frame["audio"].tolist())
    np.testing.assert_array_equal(fitted.filterbank_, in_memory.filterbank_)
    _assert_same_frame(
        fitted.transform(ddf),
        pd.DataFrame(
            in_memory.transform(frame["audio"].tolist()),
            columns=in_memory.get_feature_names_out(),
        ),
    )
    missing = str(tmp_path / "missing.wav")
    bad = _uneven(pd.DataFrame({"audio": [*paths[:5], missing]}), [3, 3])
    with pytest.raises(
        FileNotFoundError,
        match=r"In partition 1 \(rows with index labels 3..5\): Audio file .*"
        r"missing\.wav' in row with index label 5 does not exist",
    ):
        fitted.fit(bad)
    assert fitted.sample_rate_ == rate  # the failed fit changed nothing


@needs_fsdd
def test_modality_union_on_dask_raw_table_equals_in_memory(dask_client):
    paths = _paths(20)
    frame = pd.DataFrame(
        {
            "caption": (CAPTIONS * 2)[:20],
            "audio": paths,
            "duration": np.linspace(0.2, 2.0, 20),
            "speaker_id": np.arange(20) % 6,
        },
        index=pd.RangeIndex(1000, 1020),
    )
    union = make_modality_union(
        text=(KeyedVectorsVectorizer(_keyed_vectors(), pooling="tfidf"), "caption"),
        audio=(MFCCExtractor(n_mfcc=8), "audio"),
        meta=(StandardScaler(), ["duration"]),
        speaker=("passthrough", ["speaker_id"]),
    ).fit(frame)
    ddf = dd.from_pandas(frame, npartitions=3)
    _assert_same_frame(union.transform(ddf), union.transform(frame))
    # A partial table: the blocks of the modalities present, as in memory.
    partial = ["caption", "duration"]
    _assert_same_frame(union.transform(ddf[partial]), union.transform(frame[partial]))
    with pytest.raises(ValueError, match=r"column\(s\) \['wav'\]"):
        union.transform(ddf.rename(columns={"audio": "wav"}))
    with pytest.raises(TypeError, match=r"cannot be fitted on a Dask DataFrame"):
        union.fit(ddf)
    # The failed fit left the fitted union as it was.
    _assert_same_frame(union.transform(ddf), union.transform(frame))


@needs_fsdd
def test_corrupt_file_named_with_partition_and_row(dask_client, tmp_path):
    paths = _paths(9)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF not a wave file")
    frame = pd.DataFrame({"audio": [*paths[:7], str(corrupt), paths[8]]})
    extractor = MFCCExtractor().fit(paths)
    ddf = dd.from_pandas(frame, npartitions=3)  # rows 0-2, 3-5, 6-8
    with pytest.raises(
        ValueError,
        match=r"In partition 2 \(rows with index labels 6..8\): Could not read audio "
        r"file .*corrupt\.wav' in row with index label 7 as WAV",
    ):
        extractor.transform(ddf).compute()
    union = make_modality_union(audio=(extractor, "audio")).fit(
        pd.DataFrame({"audio": paths})
    )
    # Through the union, the row is the position within the partition.
    with pytest.raises(
        ValueError,
        match=r"In partition 2 \(rows with index labels 6..8\): Could not read audio "
        r"file .*corrupt\.wav' in row 1 as WAV",
    ):
        union.transform(ddf).compute()


@needs_fsdd
def test_zero_row_partitions(dask_client):
    paths = _paths(8)
    frame = pd.DataFrame({"audio": paths, "caption": CAPTIONS[:8]})
    ddf = _uneven(frame, [0, 3, 0, 5, 0])
    extractor = LogMelExtractor(n_mels=12).fit(paths)
    expected = pd.DataFrame(
        extractor.transform(paths), columns=extractor.get_feature_names_out()
    )
    lazy = extractor.transform(ddf[["audio"]])
    assert [len(part) for part in dask.compute(*lazy.to_delayed())] == [0, 3, 0, 5, 0]
    _assert_same_frame(lazy, expected)
    vectorizer = KeyedVectorsVectorizer(_keyed_vectors()).fit(CAPTIONS)
    _assert_same_frame(
        vectorizer.transform(ddf["caption"]),
        pd.DataFrame(
            vectorizer.transform(CAPTIONS[:8]),
            columns=vectorizer.get_feature_names_out(),
        ),
    )
    union = make_modality_union(
        audio=(extractor, "audio"), text=(vectorizer, "caption")
    ).fit(frame)
    _assert_same_frame(union.transform(ddf), union.transform(frame))


def _model_keys(lazy, kind):
    """Keys of the graph whose value is an instance of ``kind``."""
    return [
        key
        for key, node in dict(lazy.__dask_graph__()).items()
        if isinstance(getattr(node, "value", None), kind)
    ]


@needs_fsdd
def test_model_shipped_once_per_worker(dask_client):
    paths = _paths(32)
    extractor = _dask_extract_helpers.CountedMFCC().fit(paths)
    ddf = dd.from_pandas(pd.DataFrame({"audio": paths}), npartitions=16)
    lazy = extractor.transform(ddf)
    # One key holds the model; every partition's task refers to it.
    assert len(_model_keys(lazy, MFCCExtractor)) == 1
    assert lazy.npartitions == 16
    before = dask_client.run(_dask_extract_helpers.loads_in_this_process)
    computed = lazy.compute()
    after = dask_client.run(_dask_extract_helpers.loads_in_this_process)
    loads = {worker: after[worker] - before.get(worker, 0) for worker in after}
    assert 1 <= sum(loads.values()) and max(loads.values()) <= 1, loads
    np.testing.assert_allclose(
        computed.to_numpy(), extractor.transform(paths), rtol=1e-12, atol=1e-12
    )

    union = make_modality_union(audio=(extractor, "audio")).fit(
        pd.DataFrame({"audio": paths})
    )
    lazy = union.transform(ddf)
    assert len(_model_keys(lazy, type(union))) == 1
    before = dask_client.run(_dask_extract_helpers.loads_in_this_process)
    lazy.compute()
    after = dask_client.run(_dask_extract_helpers.loads_in_this_process)
    loads = {worker: after[worker] - before.get(worker, 0) for worker in after}
    # The union holds two extractors, its parameter and the fitted clone: a
    # worker that receives the union once unpickles two.
    assert sum(loads.values()) >= 2 and set(loads.values()) <= {0, 2}, loads


def test_one_raw_column_expected(dask_client):
    vectorizer = KeyedVectorsVectorizer(_keyed_vectors()).fit(CAPTIONS)
    ddf = dd.from_pandas(
        pd.DataFrame({"caption": CAPTIONS, "other": CAPTIONS}), npartitions=2
    )
    with pytest.raises(ValueError, match=r"one raw column.*\['caption', 'other'\]"):
        vectorizer.transform(ddf)
    with pytest.raises(TypeError, match="takes a Dask DataFrame"):
        vectorizer.transform(ddf["caption"].to_dask_array())


def test_importing_skcrossmodal_does_not_import_dask():
    code = (
        "import sys, skcrossmodal.compose, skcrossmodal.feature_extraction\n"
        "from skcrossmodal.feature_extraction import MFCCExtractor\n"
        "import numpy as np\n"
        "MFCCExtractor(8000).fit_transform([np.ones(400)])\n"
        "assert 'dask' not in sys.modules, 'dask was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@needs_fsdd
def test_set_output_pandas_keeps_the_dask_output_lazy(dask_client):
    paths = _paths(6)
    ddf = dd.from_pandas(pd.DataFrame({"audio": paths}), npartitions=2)
    extractor = MFCCExtractor().set_output(transform="pandas")
    lazy = extractor.fit_transform(ddf)  # fit checks on the workers
    assert dask.is_dask_collection(lazy)
    expected = MFCCExtractor().set_output(transform="pandas").fit_transform(paths)
    _assert_same_frame(lazy, expected)
    vectorizer = KeyedVectorsVectorizer(_keyed_vectors()).set_output(transform="pandas")
    vectorizer.fit(CAPTIONS)
    texts = dd.from_pandas(pd.DataFrame({"caption": CAPTIONS}), npartitions=2)
    lazy = vectorizer.transform(texts)
    assert dask.is_dask_collection(lazy)
    _assert_same_frame(lazy, vectorizer.transform(CAPTIONS))


def test_missing_dask_names_the_extra(monkeypatch):
    from skcrossmodal import _distributed_extract

    vectorizer = KeyedVectorsVectorizer(_keyed_vectors()).fit(CAPTIONS)
    monkeypatch.setitem(sys.modules, "dask", None)
    with pytest.raises(
        ImportError,
        match=r"KeyedVectorsVectorizer needs 'dask'.*"
        r"skcrossmodal\[dask\]",
    ):
        _distributed_extract.transform_dask(vectorizer, object())


def test_keyed_vectors_fit_on_dask_refused():
    vectorizer = KeyedVectorsVectorizer(_keyed_vectors())
    ddf = dd.from_pandas(pd.DataFrame({"caption": CAPTIONS}), npartitions=2)
    with pytest.raises(TypeError, match=r"KeyedVectorsVectorizer cannot be fitted"):
        vectorizer.fit(ddf)
    assert not hasattr(vectorizer, "keyed_vectors_")
