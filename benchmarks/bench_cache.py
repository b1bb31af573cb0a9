"""ModalityUnion's feature cache in a grid search (issue #12, point 2).

GridSearchCV over ``Pipeline(ModalityUnion(image=CNN, audio=MFCC) -> CCA)``,
4 candidates (CCA ``reg``) x 3 folds, on 150 AV-MNIST rows built from the raw
sources in ``../shared/data/avmnist_sources`` (MNIST images, FSDD recordings).
Four ways to run the same search, timed in the same process:

* ``no cache``: every fit and score extracts its rows again (25 union calls);
* ``Pipeline(memory)``: scikit-learn's cache of whole ``fit_transform`` calls;
* ``ModalityUnion(memory)``: the content-keyed row cache (skcrossmodal._cache);
* ``extract once``: ``union.fit_transform`` on the 150 rows, then the grid over
  CCA on the features (the lower bound; valid here because both extractors
  learn nothing from the data).

The cache and extract-once runs are repeated and interleaved (medians); the
slow runs once each unless ``--repeats-slow`` says otherwise. Each run uses a
fresh cache folder and an empty in-process store. Prints the medians of the
wall-clock and of the process's CPU time (all its threads; less sensitive than
the wall clock to other processes on a shared machine), their ratios against
``extract once``, the median of the per-repeat ratios (each cached run against
the extract-once run just before it), and checks that the best parameters
agree and the scores match (the largest absolute difference is printed).
``--threads N`` limits torch and the BLAS to N threads.

Usage: python benchmarks/bench_cache.py [--repeats 3] [--repeats-slow 1]
       [--threads N] [--arch squeezenet1_1] [--sources DIR]
"""

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline

from skcrossmodal import _cache
from skcrossmodal.compose import make_modality_union
from skcrossmodal.datasets import make_avmnist
from skcrossmodal.feature_extraction import CNNFeatureExtractor, MFCCExtractor
from skcrossmodal.mapping import CCA

DEFAULT_SOURCES = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "avmnist_sources"
)
GRID = {"reg": [0.1, 0.3, 0.6, 0.9]}
CV = KFold(3, shuffle=True, random_state=0)


def union(arch, memory=None):
    return make_modality_union(
        memory=memory,
        image=(CNNFeatureExtractor(arch=arch, random_state=0), "image"),
        audio=(MFCCExtractor(sample_rate=8000), "audio"),
    )


def pipeline_grid(arch, union_memory=None, pipeline_memory=None):
    pipeline = Pipeline(
        [("union", union(arch, union_memory)), ("cca", CCA(n_components=4))],
        memory=pipeline_memory,
    )
    grid = {f"cca__{key}": values for key, values in GRID.items()}
    return GridSearchCV(pipeline, grid, cv=CV)


def run(kind, X, arch):
    _cache._STORES.clear()
    _cache._FITS.clear()
    with tempfile.TemporaryDirectory() as folder:
        start, start_cpu = time.perf_counter(), time.process_time()
        if kind == "extract once":
            features = union(arch).fit_transform(X)
            search = GridSearchCV(CCA(n_components=4), GRID, cv=CV).fit(features)
            best = {f"cca__{k}": v for k, v in search.best_params_.items()}
        else:
            search = pipeline_grid(
                arch,
                union_memory=folder if kind == "ModalityUnion(memory)" else None,
                pipeline_memory=folder if kind == "Pipeline(memory)" else None,
            ).fit(X)
            best = search.best_params_
        elapsed = time.perf_counter() - start, time.process_time() - start_cpu
    return elapsed, best, search.cv_results_["mean_test_score"]


def main(
    repeats=3,
    repeats_slow=1,
    arch="squeezenet1_1",
    sources=DEFAULT_SOURCES,
    threads=None,
):
    warnings.filterwarnings("ignore", message=".*random.*", category=UserWarning)
    if threads is not None:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(threads)
        threadpool_limits(threads)
    av = make_avmnist(
        sources / "fsdd",
        sources / "mnist",
        n_train=150,
        n_test=10,
        subset="train",
        random_state=0,
    )
    X = av.data
    print(
        f"{len(X)} rows, CNN {arch} (random weights, seed 0) + MFCC, "
        f"{len(GRID['reg'])} candidates x {CV.get_n_splits()} folds"
    )
    union(arch).fit(X.iloc[:2])  # imports and first-call set-up, not timed

    times = {}
    results = {}
    plan = []
    for r in range(max(repeats, repeats_slow)):
        if r < repeats:
            plan += ["extract once", "ModalityUnion(memory)"]
        if r < repeats_slow:
            plan += ["no cache", "Pipeline(memory)"]
    for kind in plan:
        elapsed, best, scores = run(kind, X, arch)
        times.setdefault(kind, []).append(elapsed)
        results[kind] = (best, scores)
        print(
            f"  {kind:<22} {elapsed[0]:7.2f} s wall {elapsed[1]:7.2f} s CPU", flush=True
        )

    times = {kind: np.asarray(values) for kind, values in times.items()}
    reference = np.median(times["extract once"], axis=0)
    best_ref, scores_ref = results["extract once"]
    print(
        f"\n{'run':<22} {'wall s':>7} {'CPU s':>7} {'runs':>5} "
        f"{'vs extract once (wall, CPU)':>28} {'best params':>26} "
        f"{'max |score diff|':>17}"
    )
    for kind, values in times.items():
        best, scores = results[kind]
        median = np.median(values, axis=0)
        ratio = median / reference
        print(
            f"{kind:<22} {median[0]:7.2f} {median[1]:7.2f} {len(values):5d} "
            f"{ratio[0]:13.2f}x {ratio[1]:13.2f}x {best!s:>26} "
            f"{np.max(np.abs(scores - scores_ref)):17.2e}"
        )
        assert best == best_ref, (kind, best, best_ref)
    cached = times["ModalityUnion(memory)"]
    paired = cached / times["extract once"][: len(cached)]
    print(
        "\nModalityUnion(memory) / extract once, median of the per-repeat ratios: "
        f"wall {np.median(paired[:, 0]):.2f}x, CPU {np.median(paired[:, 1]):.2f}x "
        f"(wall ratios {np.round(np.sort(paired[:, 0]), 2).tolist()})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--repeats-slow", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--arch", default="squeezenet1_1")
    parser.add_argument("--sources", type=Path, default=DEFAULT_SOURCES)
    parser.add_argument(
        "--quick", action="store_true", help="one repeat, no slow variants"
    )
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.repeats_slow = 1, 0
    main(args.repeats, args.repeats_slow, args.arch, args.sources, args.threads)
