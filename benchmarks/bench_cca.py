"""Fit time of skcrossmodal's closed-form CCA against scikit-learn and cca-zoo.

Two modalities of 300 and 200 features share a planted 10-dimensional signal;
each estimator fits 10 components on n rows, and the held-out mean canonical
correlation (on 5,000 fresh rows) is printed beside the time so that speed is
compared at equal quality. Times are medians of repeats, in the same run.

A second table has more features than rows (4096 + 300 features, n = 100 and
400): ``CCA(reg=0.1, scale=True)`` with its automatic solver (``"gram"``, the
eigendecomposition of each block's n x n Gram matrix), the same model with
``solver="covariance"`` (eigendecomposition of the 4096 x 4096 covariance) and
cca-zoo's ridge CCA (``RidgeCCA``, the former ``rCCA``, ``shrinkage=0.1``) on
the standardised views, the same objective; held-out correlation on 1,000
fresh rows.

A third table (``hardware``) measures how close ``CCA.fit`` comes to the
machine: at n = 100,000 rows of 300 + 200 features its median fit time is
printed against the "covariance-GEMM bound", the time of the one product
``Z.T @ Z`` of the centred joint data that any covariance solver has to form
(float64, as the statistics are; timed in the same run, interleaved), and
the peak of the memory it allocates (``tracemalloc``) against the size of
the input, for float64 and float32 input. A fourth
(``square``) times a fit of 3200 + 3200 features against cca-zoo's ``CCA``.

Usage: ``python benchmarks/bench_cca.py [--quick] [--sizes N [N ...]]
[--wide-sizes N [N ...]] [--only {narrow,wide,hardware,square}]``
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import argparse
import time
import tracemalloc
import warnings

import numpy as np

from skcrossmodal import make_frame
from skcrossmodal.mapping import CCA

N_FEATURES = (300, 200)
N_COMPONENTS = 10
N_TEST = 5_000

WIDE_FEATURES = (4096, 300)
WIDE_REG = 0.1
WIDE_TEST = 1_000


def make_pair(n_samples, rng, n_features=N_FEATURES):
    """Two views sharing a latent signal of decreasing strength."""
    latent = rng.standard_normal((n_samples, N_COMPONENTS))
    latent *= np.linspace(2.0, 0.5, N_COMPONENTS)
    views = []
    for width in n_features:
        loadings = rng.standard_normal((N_COMPONENTS, width))
        views.append(latent @ loadings + 3.0 * rng.standard_normal((n_samples, width)))
    return views


def make_split(n_train, seed=0, n_features=N_FEATURES, n_test=N_TEST):
    # Same loadings for train and test: draw the rows together, then split.
    views = make_pair(n_train + n_test, np.random.default_rng(seed), n_features)
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


def run_ours_wide(train, test, solver):
    X_train = make_frame(a=train[0], b=train[1])
    X_test = make_frame(a=test[0], b=test[1])

    def fit():
        return CCA(
            n_components=N_COMPONENTS, reg=WIDE_REG, scale=True, solver=solver
        ).fit(X_train)

    def heldout(model):
        Z = model.transform(X_test).to_numpy()
        return mean_correlation(Z[:, :N_COMPONENTS], Z[:, N_COMPONENTS:])

    return fit, heldout


def run_ccazoo_wide(train, test):
    """cca-zoo's ridge CCA shrinks toward the identity: give it standardised views.

    Standardising (with the training statistics, as ``scale=True`` does) is
    part of the timed fit.
    """
    from cca_zoo.linear import RidgeCCA

    def standardise(views, reference):
        return [
            (v - r.mean(axis=0)) / r.std(axis=0, ddof=1)
            for v, r in zip(views, reference, strict=True)
        ]

    def fit():
        return RidgeCCA(n_components=N_COMPONENTS, shrinkage=WIDE_REG).fit(
            standardise(train, train)
        )

    def heldout(model):
        return mean_correlation(*model.transform(standardise(test, train)))

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


def print_rows(n_samples, names, repeats, seconds, models, heldouts, reference):
    for name in names:
        quality = heldouts[name](models[name])
        print(
            f"{n_samples:>7} {name:<22} {repeats[name]:>7} {seconds[name]:>9.4f} "
            f"{quality:>10.4f} {seconds[name] / seconds[reference]:>10.1f}x"
        )


def narrow_table(sizes, quick):
    runners = {
        "skcrossmodal": run_ours,
        "cca-zoo": run_ccazoo,
        "scikit-learn": run_sklearn,
    }
    print(
        f"CCA fit, {N_FEATURES[0]} + {N_FEATURES[1]} features, {N_COMPONENTS} "
        f"components, held-out mean |canonical correlation| on {N_TEST} rows"
    )
    print_header()
    for n_samples in sizes:
        train, test = make_split(n_samples)
        fits, heldouts = {}, {}
        for name, runner in runners.items():
            fits[name], heldouts[name] = runner(train, test)
        # scikit-learn's iterative CCA takes seconds per fit: fewer repeats.
        repeats = {"skcrossmodal": 9, "cca-zoo": 9, "scikit-learn": 3}
        if quick or n_samples > 5_000:
            repeats["scikit-learn"] = 1
        if quick:
            repeats.update({"skcrossmodal": 5, "cca-zoo": 5})
        seconds, models = time_fits(fits, repeats)
        print_rows(
            n_samples, runners, repeats, seconds, models, heldouts, "skcrossmodal"
        )


def wide_table(sizes, quick):
    print(
        f"\nCCA fit, more features than rows: {WIDE_FEATURES[0]} + "
        f"{WIDE_FEATURES[1]} features, reg={WIDE_REG}, scale=True, {N_COMPONENTS} "
        f"components, held-out mean |canonical correlation| on {WIDE_TEST} rows"
    )
    print_header()
    for n_samples in sizes:
        train, test = make_split(n_samples, n_features=WIDE_FEATURES, n_test=WIDE_TEST)
        fits, heldouts = {}, {}
        fits["skcrossmodal (gram)"], heldouts["skcrossmodal (gram)"] = run_ours_wide(
            train, test, "auto"
        )
        fits["cca-zoo RidgeCCA"], heldouts["cca-zoo RidgeCCA"] = run_ccazoo_wide(
            train, test
        )
        name = "skcrossmodal covariance"
        fits[name], heldouts[name] = run_ours_wide(train, test, "covariance")
        # The covariance path eigendecomposes a 4096 x 4096 matrix: seconds.
        repeats = {"skcrossmodal (gram)": 9, "cca-zoo RidgeCCA": 9, name: 3}
        if quick:
            repeats = {"skcrossmodal (gram)": 5, "cca-zoo RidgeCCA": 5, name: 1}
        seconds, models = time_fits(fits, repeats)
        assert models["skcrossmodal (gram)"].solver_ == "gram"
        print_rows(
            n_samples, fits, repeats, seconds, models, heldouts, "skcrossmodal (gram)"
        )


def hardware_table(n_samples, quick):
    """CCA fit against the covariance-GEMM bound, and its peak memory."""
    repeats = 3 if quick else 7
    rng = np.random.default_rng(0)
    views = make_pair(n_samples, rng)
    print(
        f"\nCCA fit at n={n_samples}, {N_FEATURES[0]} + {N_FEATURES[1]} features, "
        f"{N_COMPONENTS} components, against the covariance-GEMM bound "
        f"(Z.T @ Z of the centred joint data), medians of {repeats} interleaved "
        "repeats"
    )
    header = (
        f"{'dtype':>8} {'fit s':>8} {'GEMM s':>8} {'fit/GEMM':>9} "
        f"{'peak MiB':>9} {'input MiB':>10} {'peak/input':>11}"
    )
    print(header)
    print("-" * len(header))
    for dtype in (np.float64, np.float32):
        X = make_frame(a=views[0].astype(dtype), b=views[1].astype(dtype))
        # The statistics are float64 whatever the input: so is the bound.
        joint = np.hstack(views)
        joint -= joint.mean(axis=0)
        joint = np.asfortranarray(joint)

        def fit():
            return CCA(n_components=N_COMPONENTS).fit(X)

        def gemm():
            return joint.T @ joint

        seconds, _ = time_fits(
            {"fit": fit, "gemm": gemm}, {"fit": repeats, "gemm": repeats}
        )
        joint = None  # freed before memory is measured
        tracemalloc.start()
        fit()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        size = X.memory_usage(index=False, deep=False).sum()
        print(
            f"{np.dtype(dtype).name:>8} {seconds['fit']:>8.4f} {seconds['gemm']:>8.4f} "
            f"{seconds['fit'] / seconds['gemm']:>8.2f}x {peak / 2**20:>9.1f} "
            f"{size / 2**20:>10.1f} {peak / size:>10.2f}x"
        )


def square_table(n_samples, quick):
    """CCA fit of 3200 + 3200 features against cca-zoo's CCA."""
    n_features = (3200, 3200)
    train, test = make_split(n_samples, n_features=n_features, n_test=1_000)
    print(
        f"\nCCA fit, {n_features[0]} + {n_features[1]} features, {N_COMPONENTS} "
        "components, held-out mean |canonical correlation| on 1000 rows"
    )
    print_header()
    fits, heldouts = {}, {}
    fits["skcrossmodal"], heldouts["skcrossmodal"] = run_ours(train, test)
    fits["cca-zoo"], heldouts["cca-zoo"] = run_ccazoo(train, test)
    repeats = {"skcrossmodal": 3, "cca-zoo": 3}
    if quick:
        repeats = {"skcrossmodal": 1, "cca-zoo": 1}
    seconds, models = time_fits(fits, repeats)
    print_rows(n_samples, fits, repeats, seconds, models, heldouts, "skcrossmodal")


def print_header():
    header = (
        f"{'n':>7} {'estimator':<22} {'repeats':>7} {'median s':>9} "
        f"{'held-out r':>10} {'time / ours':>11}"
    )
    print(header)
    print("-" * len(header))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="n=5,000 only, fewer repeats"
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", help="training sizes (default 5000 20000)"
    )
    parser.add_argument(
        "--wide-sizes",
        type=int,
        nargs="+",
        default=[100, 400],
        help="training sizes of the 4096 + 300 feature table (default 100 400)",
    )
    parser.add_argument(
        "--hardware-size",
        type=int,
        default=100_000,
        help="training size of the hardware table (default 100000)",
    )
    parser.add_argument(
        "--square-size",
        type=int,
        default=5_000,
        help="training size of the 3200 + 3200 feature table (default 5000)",
    )
    parser.add_argument(
        "--only",
        choices=["narrow", "wide", "hardware", "square"],
        help="run one of the tables",
    )
    args = parser.parse_args()
    sizes = args.sizes or ((5_000,) if args.quick else (5_000, 20_000))
    if args.only in (None, "narrow"):
        narrow_table(sizes, args.quick)
    if args.only in (None, "wide"):
        wide_table(args.wide_sizes, args.quick)
    if args.only in (None, "hardware"):
        hardware_table(args.hardware_size, args.quick)
    if args.only in (None, "square"):
        square_table(args.square_size, args.quick)


if __name__ == "__main__":
    main()
