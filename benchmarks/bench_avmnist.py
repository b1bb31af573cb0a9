"""Audio-visual digits (make_avmnist): single modalities, early, late and neural fusion.

Builds the AV-MNIST-like set from ``../shared/data/avmnist_sources`` (MNIST test
images paired with FSDD recordings of the same digit; train and test disjoint in
images and recordings), extracts features with one ``ModalityUnion``
(image: pixels / 255 -> PCA(50); audio: ``MFCCExtractor``, mean and std of 13
MFCCs over time), and reports test accuracy of

* image only and audio only (the late-fusion members on their own block),
* early fusion (the concatenated features, one classifier),
* late fusion (weighted mean and product of the members' probabilities),
* neural fusion (``MLPFusionClassifier``, concat and gated, modality dropout),

then the accuracy curve when one modality is dropped at test time for 0-100% of
the rows (early fusion gets the training mean of the missing block; late and
neural fusion predict from the block present). The images here are clean, so
the numbers are NOT comparable with the published AV-MNIST (see DESCR).

Usage: python benchmarks/bench_avmnist.py [--quick] [--sources DIR]
(--quick: 1,000 train / 500 test rows instead of 4,000 / 2,000.)
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import SVC

from skcrossmodal.compose import make_modality_union
from skcrossmodal.datasets import make_avmnist
from skcrossmodal.feature_extraction import MFCCExtractor
from skcrossmodal.fusion import LateFusionClassifier, MLPFusionClassifier

DEFAULT_SOURCES = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "avmnist_sources"
)
DROP_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)


def flatten_images(images):
    return np.stack(
        [np.asarray(image, dtype=np.float64).ravel() / 255 for image in images]
    )


def member():
    svc = CalibratedClassifierCV(SVC(C=10.0), method="sigmoid", cv=3, ensemble=False)
    return make_pipeline(StandardScaler(), svc)


def drop_block(X, modality):
    return X.drop(columns=[c for c in X.columns if c.startswith(f"{modality}__")])


def predict_with_dropped_rows(predict, X, modality, rows, fill=None):
    """Predictions where ``rows`` lack ``modality`` (absent, or ``fill``-imputed)."""
    y_pred = predict(X)
    if rows.any():
        partial = X.iloc[rows]
        if fill is None:
            partial = drop_block(partial, modality)
        else:
            partial = partial.copy()
            columns = [c for c in X.columns if c.startswith(f"{modality}__")]
            partial.loc[:, columns] = np.broadcast_to(
                fill[columns].to_numpy(), (len(partial), len(columns))
            )
        y_pred[rows] = predict(partial)
    return y_pred


def main(quick=False, sources=DEFAULT_SOURCES):
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    n_train, n_test = (1000, 500) if quick else (4000, 2000)
    start = time.perf_counter()
    av = make_avmnist(
        sources / "fsdd",
        sources / "mnist",
        n_train=n_train,
        n_test=n_test,
        random_state=0,
    )
    train, test = av.subset == "train", av.subset == "test"
    union = make_modality_union(
        image=(
            make_pipeline(FunctionTransformer(flatten_images), PCA(50, random_state=0)),
            "image",
        ),
        audio=(MFCCExtractor(sample_rate=8000), "audio"),
    )
    X_train = union.fit_transform(av.data[train])
    X_test = union.transform(av.data[test])
    y_train, y_test = av.target[train], av.target[test]
    print(
        f"AV-MNIST-like: {n_train} train / {n_test} test rows, features "
        f"{X_train.shape[1]} "
        f"({time.perf_counter() - start:.0f} s to build and extract)",
        flush=True,
    )

    late = LateFusionClassifier({"image": member(), "audio": member()}).fit(
        X_train, y_train
    )
    early = member().fit(X_train, y_train)
    neural = {
        fusion: MLPFusionClassifier(
            fusion,
            hidden_layer_sizes=(128,),
            modality_dropout=0.3,
            dropout=0.2,
            max_iter=40 if quick else 100,
            random_state=0,
        ).fit(X_train, y_train)
        for fusion in ("concat", "gated")
    }
    accuracy = {
        "image only": late.named_estimators_["image"].score(
            X_test.filter(regex="^image__").to_numpy(), y_test
        ),
        "audio only": late.named_estimators_["audio"].score(
            X_test.filter(regex="^audio__").to_numpy(), y_test
        ),
        "early fusion (concatenation)": early.score(X_test, y_test),
        "late fusion: mean": late.score(X_test, y_test),
        "late fusion: product": late.set_params(rule="product").score(X_test, y_test),
    }
    late.set_params(rule="mean")
    for fusion, model in neural.items():
        accuracy[f"MLPFusionClassifier: {fusion}"] = model.score(X_test, y_test)
    print(f"\n{'method':36s} {'test accuracy %':>16s}")
    for name, value in accuracy.items():
        print(f"{name:36s} {100 * value:>16.2f}")
    best_single = max(accuracy["image only"], accuracy["audio only"])
    best_fused = max(v for k, v in accuracy.items() if "only" not in k)
    print(
        "best fusion - best single modality: "
        f"{100 * (best_fused - best_single):+.2f} points"
    )

    rng = np.random.default_rng(0)
    order = rng.permutation(n_test)
    train_mean = X_train.mean().to_frame().T
    models = {
        "early fusion (mean-imputed)": (early.predict, train_mean),
        "late fusion: mean": (lambda X: late.set_params(rule="mean").predict(X), None),
        "late fusion: product": (
            lambda X: late.set_params(rule="product").predict(X),
            None,
        ),
        **{f"MLPFusionClassifier: {f}": (m.predict, None) for f, m in neural.items()},
    }
    for dropped in ("audio", "image"):
        print(f"\naccuracy % when {dropped} is missing for a fraction of the test rows")
        print(f"{'method':36s} " + " ".join(f"{f:>7.0%}" for f in DROP_FRACTIONS))
        for name, (predict, fill) in models.items():
            row = []
            for fraction in DROP_FRACTIONS:
                rows = np.zeros(n_test, dtype=bool)
                rows[order[: int(round(fraction * n_test))]] = True
                y_pred = predict_with_dropped_rows(predict, X_test, dropped, rows, fill)
                row.append(100 * np.mean(y_pred == y_test))
            print(f"{name:36s} " + " ".join(f"{a:>7.2f}" for a in row), flush=True)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 / 500 rows")
    parser.add_argument("--sources", type=Path, default=DEFAULT_SOURCES)
    args = parser.parse_args()
    if not (args.sources / "fsdd").is_dir():
        raise SystemExit(
            f"AV-MNIST sources not found at {args.sources}; pass --sources."
        )
    main(quick=args.quick, sources=args.sources)
