"""Fit time of skcrossmodal's closed-form CCA against scikit-learn and cca-zoo.

Two modalities of 300 and 200 features share a planted 10-dimensional signal;
each estimator fits 10 components on n rows, and the held-out mean canonical
correlation (on 5,000 fresh rows) is printed beside the time so that speed is
compared at equal quality. Times are medians of repeats, in the same run.

Usage: ``python benchmarks/bench_cca.py [--quick] [--sizes N [N ...]]``
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import argparse
import time
import warnings

import numpy as np

from skcrossmodal import make_frame
from skcrossmodal.mapping import CCA

N_FEATURES = (300, 200)
N_COMPONENTS = 10
N_TEST = 5_000


def make_pair(n_samples, rng):
    """Two views sharing a latent signal of decreasing strength."""
    latent = rng.standard_normal((n_samples, N_COMPONENTS))
    latent *= np.linspace(2.0, 0.5, N_COMPONENTS)
    views = []
    for n_features in N_FEATURES:
        loadings = rng.standard_normal((N_COMPONENTS, n_features))
        views.append(
            latent @ loadings + 3.0 * rng.standard_normal((n_samples, n_features))
        )
    return views


def make_split(n_train, seed=0):
    # Same loadings for train and test: draw the rows together, then split.
    views = make_pair(n_train + N_TEST, np.random.default_rng(seed))
    train = [v[:n_train] for v in views]
    test = [v[n_train:] for v in views]
    return train, test


def mean_correlation(variates_a, variates_b):
    a = variates_a - variates_a.mean(axis=0)
    b = variates_b - variates_b.mean(axis=0)
    corr = (a * b).sum(axis=0) / np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    return float(np.mean(np.abs(corr)))


def run_ours(train, test):
    X_train = make_frame(a=train[0], b=train[1])
    X_test = make_frame(a=test[0], b=test[1])

    def fit():
        return CCA(n_components=N_COMPONENTS).fit(X_train)

    def heldout(model):
        Z = model.transform(X_test).to_numpy()
        return mean_correlation(Z[:, :N_COMPONENTS], Z[:, N_COMPONENTS:])

    return fit, heldout


def run_sklearn(train, test):
    from sklearn.cross_decomposition import CCA as SklearnCCA

    def fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return SklearnCCA(n_components=N_COMPONENTS).fit(*train)

    def heldout(model):
        return mean_correlation(*model.transform(*test))

    return fit, heldout


def run_ccazoo(train, test):
    from cca_zoo.linear import CCA as ZooCCA

    def fit():
        return ZooCCA(n_components=N_COMPONENTS).fit(train)

    def heldout(model):
        return mean_correlation(*model.transform(test))

    return fit, heldout


def time_fits(fits, repeats):
    """Median fit time of each estimator, repeats interleaved round-robin.

    Interleaving spreads any change in machine load evenly over the
    estimators compared.
    """
    times = {name: [] for name in fits}
    models = {}
    for name, fit in fits.items():
        if repeats[name] > 1:
            fit()  # warm-up: imports, BLAS threads, caches
    for round_ in range(max(repeats.values())):
        for name, fit in fits.items():
            if round_ < repeats[name]:
                start = time.perf_counter()
                models[name] = fit()
                times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}, models


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="n=5,000 only, fewer repeats"
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", help="training sizes (default 5000 20000)"
    )
    args = parser.parse_args()
    sizes = args.sizes or ((5_000,) if args.quick else (5_000, 20_000))
    runners = {
        "skcrossmodal": run_ours,
        "cca-zoo": run_ccazoo,
        "scikit-learn": run_sklearn,
    }
    print(
        f"CCA fit, {N_FEATURES[0]} + {N_FEATURES[1]} features, {N_COMPONENTS} "
        f"components, held-out mean |canonical correlation| on {N_TEST} rows"
    )
    header = (
        f"{'n':>7} {'estimator':<13} {'repeats':>7} {'median s':>9} "
        f"{'held-out r':>10} {'time / ours':>11}"
    )
    print(header)
    print("-" * len(header))
    for n_samples in sizes:
        train, test = make_split(n_samples)
        fits, heldouts = {}, {}
        for name, runner in runners.items():
            fits[name], heldouts[name] = runner(train, test)
        # scikit-learn's iterative CCA takes seconds per fit: fewer repeats.
        repeats = {"skcrossmodal": 9, "cca-zoo": 9, "scikit-learn": 3}
        if args.quick or n_samples > 5_000:
            repeats["scikit-learn"] = 1
        if args.quick:
            repeats.update({"skcrossmodal": 5, "cca-zoo": 5})
        seconds, models = time_fits(fits, repeats)
        ours = seconds["skcrossmodal"]
        for name in runners:
            quality = heldouts[name](models[name])
            print(
                f"{n_samples:>7} {name:<13} {repeats[name]:>7} {seconds[name]:>9.4f} "
                f"{quality:>10.4f} {seconds[name] / ours:>10.1f}x"
            )


if __name__ == "__main__":
    main()
