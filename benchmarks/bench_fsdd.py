"""Spoken-digit accuracy of MFCC / log-mel features on the Free Spoken Digit Dataset.

Official FSDD split (its README): clip index 0-4 test, 5-49 train
(300 test and 2,700 train clips, six speakers, 8 kHz). Features from
``MFCCExtractor`` / ``LogMelExtractor`` (mean and std over time), then a
scikit-learn classifier. Also times ``MFCCExtractor.transform`` against the
straightforward peer, a Python loop over frames (one ``numpy.fft.rfft`` and one
DCT per frame, same filterbank), on the same waveforms in the same run, and
checks that both give the same features.

With ``--dask``, also times the extraction of the clips' files on a Dask
DataFrame of paths (a two-process LocalCluster, 8 partitions) against the
in-memory transform of the same paths with ``n_jobs=1`` (the peer) and
``n_jobs=2`` (joblib), interleaved, in the same run, and checks that the
features agree.

Usage: python benchmarks/bench_fsdd.py [--quick] [--dask] [--data PATH]
"""

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.fft import dct
from scipy.io import wavfile
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skcrossmodal.feature_extraction import LogMelExtractor, MFCCExtractor

DEFAULT_DATA = (
    Path(__file__).resolve().parents[1].parent
    / "shared/data/avmnist_sources/fsdd/recordings"
)


def load_split(recordings, quick):
    paths = sorted(recordings.glob("*.wav"))
    if not paths:
        raise SystemExit(f"No .wav files under {recordings}")
    train, test = [], []
    for path in paths:
        digit, speaker, index = path.stem.split("_")
        if quick and int(index) % 5:
            continue
        (test if int(index) < 5 else train).append((str(path), int(digit)))
    return train, test


def per_frame_mfcc(extractor, samples):
    """The peer: mean and std of MFCCs computed one frame at a time."""
    frame, hop = extractor.frame_samples_, extractor.hop_samples_
    padded = np.pad(samples, (frame // 2, frame // 2))
    rows = []
    for start in range(0, len(padded) - frame + 1, hop):
        spectrum = np.fft.rfft(
            padded[start : start + frame] * extractor.window_, n=extractor.n_fft_
        )
        mel = extractor.filterbank_ @ (np.abs(spectrum) ** 2)
        log_mel = np.log(np.maximum(mel, extractor.log_floor))
        rows.append(dct(log_mel, type=2, norm="ortho")[: extractor.n_mfcc])
    rows = np.array(rows)
    return np.concatenate([rows.mean(axis=0), rows.std(axis=0)])


def speed(paths, repeats=3):
    waveforms = [wavfile.read(path)[1] / 32768.0 for path in paths]
    extractor = MFCCExtractor(sample_rate=8000).fit(waveforms[:1])
    times, peer_times = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        X = extractor.transform(waveforms)
        times.append(time.perf_counter() - start)
        start = time.perf_counter()
        expected = np.array([per_frame_mfcc(extractor, w) for w in waveforms])
        peer_times.append(time.perf_counter() - start)
    ours, peer = np.median(times), np.median(peer_times)
    n = len(waveforms)
    print(f"\nMFCC extraction of {n} in-memory clips, median of {repeats}:")
    print(f"{'method':34s} {'clips/s':>9s} {'ratio':>6s}")
    print(f"{'per-frame loop (peer)':34s} {n / peer:9.0f} {1.0:5.1f}x")
    print(
        f"{'MFCCExtractor (framed, batched)':34s} {n / ours:9.0f} {peer / ours:5.1f}x"
    )
    print(f"max |difference| = {np.abs(X - expected).max():.1e}")


def dask_speed(paths, repeats=5):
    import dask.dataframe as dd
    import pandas as pd
    from distributed import Client, LocalCluster

    extractor = MFCCExtractor().fit(paths[:1])
    frame = pd.DataFrame({"audio": paths})
    methods = {
        "in memory, n_jobs=1 (peer)": lambda: extractor.transform(paths),
        "in memory, n_jobs=2 (joblib)": lambda: extractor.set_params(
            n_jobs=2
        ).transform(paths),
        "Dask, 2 worker processes": lambda: (
            extractor.transform(dd.from_pandas(frame, npartitions=8))
            .compute()
            .to_numpy()
        ),
    }
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        outputs, times = {}, {name: [] for name in methods}
        methods["Dask, 2 worker processes"]()  # workers import the library once
        for _ in range(repeats):
            for name, method in methods.items():
                extractor.set_params(n_jobs=None)
                start = time.perf_counter()
                outputs[name] = method()
                times[name].append(time.perf_counter() - start)
    peer = np.median(times["in memory, n_jobs=1 (peer)"])
    n = len(paths)
    print(f"\nMFCC extraction of {n} .wav files, median of {repeats} interleaved:")
    print(f"{'method':34s} {'files/s':>9s} {'ratio':>6s}")
    for name, seconds in times.items():
        median = np.median(seconds)
        print(f"{name:34s} {n / median:9.0f} {peer / median:5.2f}x")
    reference = outputs["in memory, n_jobs=1 (peer)"]
    difference = max(np.abs(out - reference).max() for out in outputs.values())
    print(f"max |difference| = {difference:.1e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 clip in 5")
    parser.add_argument("--dask", action="store_true", help="time Dask extraction")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    train, test = load_split(args.data, args.quick)
    train_paths, y_train = map(list, zip(*train, strict=True))
    test_paths, y_test = map(list, zip(*test, strict=True))
    print(f"FSDD: {len(train_paths)} train clips, {len(test_paths)} test clips")

    classifiers = {
        "LogisticRegression": lambda: LogisticRegression(C=1.0, max_iter=2000),
        "SVC(rbf)": lambda: SVC(C=10.0, gamma="scale"),
    }
    extractors = {
        "MFCC (13, mean+std)": MFCCExtractor(n_mfcc=13),
        "MFCC (20 of 40 mels, mean+std)": MFCCExtractor(n_mfcc=20),
        "log-mel (40, mean+std)": LogMelExtractor(n_mels=40),
    }
    header = f"{'features':34s} {'classifier':20s} {'test accuracy':>13s}"
    print(f"\n{header} {'extract s':>10s}")
    for feature_name, extractor in extractors.items():
        start = time.perf_counter()
        X_train = extractor.fit_transform(train_paths)
        X_test = extractor.transform(test_paths)
        seconds = time.perf_counter() - start
        for classifier_name, make in classifiers.items():
            model = make_pipeline(StandardScaler(), make()).fit(X_train, y_train)
            accuracy = model.score(X_test, y_test)
            row = f"{feature_name:34s} {classifier_name:20s} {accuracy:13.3f}"
            print(f"{row} {seconds:10.2f}")
    speed(test_paths)
    if args.dask:
        dask_speed(train_paths + test_paths)


if __name__ == "__main__":
    main()
