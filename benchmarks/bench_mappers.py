"""Fit time of the mappers against their peers, in the same run.

Sections (each a function; ``main`` runs those listed in ``SECTIONS``):

* ``kernel_cca``: KernelCCA, exact and Nyström, against cca-zoo's ``KCCA``
  (exact) and against cca-zoo's linear ``MCCA`` on scikit-learn ``Nystroem``
  features (what a cca-zoo user does at large n), for n = 1,000 .. 100,000.
  Two modalities (20 and 30 features) share a nonlinear 3-dimensional signal;
  the held-out mean canonical correlation (on 2,000 fresh rows) is printed
  beside the time, so speed is compared at equal quality.
* ``mcca``: MCCA against cca-zoo's ``MCCA`` on three synthetic modalities,
  n = 1,000 .. 100,000.
* ``mfeat``: MCCA's canonical correlations on the UCI mfeat views, and MCCA
  against CCA (and cca-zoo) on two views.
* ``ridge_mapper``: RidgeMapper choosing among 10 alphas by leave-one-out
  against ``RidgeCV(alpha_per_target=False)`` (same alpha, coefficients to
  1e-8 or better), n = 1,000 .. 100,000.
* ``knn_mapper``: KNNMapper against ``KNeighborsRegressor(algorithm="brute")``
  (same outputs), cosine and euclidean, n = 1,000 .. 100,000 training rows.

Times are medians of repeats. Usage:
``python benchmarks/bench_mappers.py [--quick] [--sections kernel_cca mcca ...]``
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import argparse
import time
import warnings
from itertools import combinations

import numpy as np

from skcrossmodal import make_frame
from skcrossmodal.mapping import CCA, MCCA, KernelCCA

N_TEST = 2_000
N_COMPONENTS = 5


# --- helpers shared by the sections -----------------------------------------


def median_time(fit, repeats):
    """Median wall time of ``fit()`` over ``repeats`` calls, and its last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fit()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def mean_correlation(variates):
    """Mean absolute Pearson correlation over components and pairs of modalities."""
    centred = [v - v.mean(axis=0) for v in variates]
    correlations = []
    for a, b in combinations(centred, 2):
        norms = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
        correlations.append(np.abs((a * b).sum(axis=0)) / norms)
    return float(np.mean(correlations))


def split_blocks(Z, n_modalities):
    return np.split(np.asarray(Z), n_modalities, axis=1)


def print_table(title, header, rows):
    print(f"\n{title}")
    widths = [
        max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)
    ]
    line = "  ".join(f"{{:>{w}}}" for w in widths)
    print(line.format(*header))
    for row in rows:
        print(line.format(*row))


def peer_available(module):
    try:
        __import__(module)
    except ImportError:
        print(f"({module} is not installed: peer columns left empty)")
        return False
    return True


# --- KernelCCA ----------------------------------------------------------------


def make_nonlinear_pair(n_samples, seed=0):
    """Two modalities sharing a nonlinear 3-dimensional signal; train + test rows."""
    rng = np.random.default_rng(seed)
    n = n_samples + N_TEST
    latent = rng.standard_normal((n, 3))
    text = np.hstack([latent, latent**2]) @ rng.standard_normal((6, 20))
    image = np.tanh(2 * latent) @ rng.standard_normal((3, 30))
    text += 0.5 * rng.standard_normal(text.shape)
    image += 0.5 * rng.standard_normal(image.shape)
    return (text[:n_samples], image[:n_samples]), (text[n_samples:], image[n_samples:])


def section_kernel_cca(quick):
    exact_sizes = [500, 1_000] if quick else [1_000, 2_000]
    nystroem_sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    n_landmarks = 300 if quick else 500
    reg = 0.01
    have_zoo = peer_available("cca_zoo")
    rows = []
    for n in sorted(set(exact_sizes) | set(nystroem_sizes)):
        repeats = 1 if quick or n > 1_000 else 3
        (text, image), (text_test, image_test) = make_nonlinear_pair(n)
        X, X_test = (
            make_frame(text=text, image=image),
            make_frame(text=text_test, image=image_test),
        )
        gammas = [1 / text.shape[1], 1 / image.shape[1]]
        results = {}
        if n in exact_sizes:
            t, model = median_time(
                lambda: KernelCCA(N_COMPONENTS, reg=reg).fit(X), repeats
            )
            results["ours exact"] = (t, model.score(X_test))
            if have_zoo:
                from cca_zoo.nonparametric import KCCA

                t, zoo = median_time(
                    lambda: KCCA(
                        N_COMPONENTS, kernel="rbf", gamma=gammas, shrinkage=reg
                    ).fit([text, image]),
                    repeats,
                )
                results["cca-zoo KCCA"] = (
                    t,
                    mean_correlation(zoo.transform([text_test, image_test])),
                )
        if n in nystroem_sizes:
            t, model = median_time(
                lambda: KernelCCA(
                    N_COMPONENTS, reg=reg, n_landmarks=n_landmarks, random_state=0
                ).fit(X),
                repeats,
            )
            results["ours Nystroem"] = (t, model.score(X_test))
            if have_zoo:
                from cca_zoo.linear import MCCA as ZooMCCA
                from sklearn.kernel_approximation import Nystroem

                def fit_zoo_nystroem():
                    maps = [
                        Nystroem(gamma=g, n_components=n_landmarks, random_state=0).fit(
                            v
                        )
                        for g, v in zip(gammas, (text, image), strict=True)
                    ]
                    features = [
                        m.transform(v) for m, v in zip(maps, (text, image), strict=True)
                    ]
                    # cca-zoo's shrinkage toward the identity is our reg.
                    return maps, ZooMCCA(N_COMPONENTS, shrinkage=reg).fit(features)

                t, (maps, zoo) = median_time(fit_zoo_nystroem, repeats)
                variates = zoo.transform(
                    [
                        m.transform(v)
                        for m, v in zip(maps, (text_test, image_test), strict=True)
                    ]
                )
                results["cca-zoo MCCA on Nystroem"] = (t, mean_correlation(variates))
        for method, (seconds, correlation) in results.items():
            peer = {
                "ours exact": "cca-zoo KCCA",
                "ours Nystroem": "cca-zoo MCCA on Nystroem",
            }.get(method)
            ratio = f"{results[peer][0] / seconds:.1f}x" if peer in results else ""
            rows.append((n, method, f"{seconds:.3f}", f"{correlation:.4f}", ratio))
    print_table(
        f"KernelCCA (rbf, reg={reg}, {N_COMPONENTS} components; Nystroem with "
        f"{n_landmarks} landmarks): fit seconds (median of 3 up to n = 1,000, "
        "then one fit), held-out mean correlation, peer time / our time",
        ("n", "method", "fit s", "test corr", "speed-up"),
        rows,
    )
    print(
        "Exact kernel CCA holds n x n kernel matrices (O(n^2) memory) and whitens "
        "them by eigendecomposition (O(n^3) time): it stops at a few thousand rows "
        f"(n = {max(exact_sizes)} here; n = 100,000 would need 80 GB per kernel "
        "matrix). Nystroem is O(n m^2 + m^3) time and O(n m) memory."
    )


# --- MCCA ---------------------------------------------------------------------


def make_views(n_samples, n_features=(50, 40, 30), seed=0):
    rng = np.random.default_rng(seed)
    n = n_samples + N_TEST
    latent = rng.standard_normal((n, N_COMPONENTS)) * np.linspace(
        2.0, 0.5, N_COMPONENTS
    )
    views = [
        latent @ rng.standard_normal((N_COMPONENTS, p))
        + 2.0 * rng.standard_normal((n, p))
        for p in n_features
    ]
    return [v[:n_samples] for v in views], [v[n_samples:] for v in views]


def section_mcca(quick):
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    repeats = 3 if quick else 5
    have_zoo = peer_available("cca_zoo")
    names = ("text", "image", "audio")
    rows = []
    for n in sizes:
        train, test = make_views(n)
        X = make_frame(**dict(zip(names, train, strict=True)))
        X_test = make_frame(**dict(zip(names, test, strict=True)))
        t_ours, ours = median_time(lambda: MCCA(N_COMPONENTS).fit(X), repeats)
        rows.append((n, "ours MCCA", f"{t_ours:.4f}", f"{ours.score(X_test):.4f}", ""))
        if have_zoo:
            from cca_zoo.linear import MCCA as ZooMCCA

            t_zoo, zoo = median_time(lambda: ZooMCCA(N_COMPONENTS).fit(train), repeats)
            rows.append(
                (
                    n,
                    "cca-zoo MCCA",
                    f"{t_zoo:.4f}",
                    f"{mean_correlation(zoo.transform(test)):.4f}",
                    f"{t_zoo / t_ours:.1f}x",
                )
            )
    print_table(
        f"MCCA, three modalities (50/40/30 features), {N_COMPONENTS} components: fit "
        f"seconds (median of {repeats}), held-out mean pairwise correlation, "
        "peer time / our time",
        ("n", "method", "fit s", "test corr", "speed-up"),
        rows,
    )


# --- MCCA on mfeat ------------------------------------------------------------


def section_mfeat(quick):
    from skcrossmodal.datasets import load_mfeat

    X, _ = load_mfeat(return_X_y=True)
    rows = []
    for views in (
        ("fou", "kar"),
        ("fou", "kar", "pix"),
        ("fou", "fac", "kar", "pix", "zer", "mor"),
    ):
        columns = [c for c in X.columns if c.split("__")[0] in views]
        mcca = MCCA(n_components=N_COMPONENTS, reg=0.0).fit(X[columns])
        rows.append(
            (
                "+".join(views),
                "MCCA",
                *(f"{c:.4f}" for c in mcca.canonical_correlations_),
            )
        )
        if len(views) == 2:
            cca = CCA(n_components=N_COMPONENTS).fit(X[columns])
            rows.append(
                (
                    "+".join(views),
                    "CCA",
                    *(f"{c:.4f}" for c in cca.canonical_correlations_),
                )
            )
            Z_mcca, Z_cca = mcca.transform(X[columns]), cca.transform(X[columns])
            difference = np.max(
                np.abs(np.abs(Z_mcca.to_numpy()) - np.abs(Z_cca.to_numpy()))
            )
    print_table(
        "MCCA on mfeat (2,000 digits): mean pairwise canonical correlation, "
        "per component",
        ("views", "model", *(f"comp {k}" for k in range(N_COMPONENTS))),
        rows,
    )
    print(
        "two views: MCCA and CCA variates differ by at most "
        f"{difference:.1e} (up to sign)"
    )
    if peer_available("cca_zoo"):
        from cca_zoo.linear import MCCA as ZooMCCA

        views = [X[[c for c in X.columns if c.startswith(f"{v}__")]].to_numpy()
                 for v in ("fou", "kar", "pix")]  # fmt: skip
        t_ours, ours = median_time(
            lambda: MCCA(N_COMPONENTS).fit(
                make_frame(fou=views[0], kar=views[1], pix=views[2])
            ),
            3,
        )
        t_zoo, zoo = median_time(lambda: ZooMCCA(N_COMPONENTS).fit(views), 3)
        Z = ours.transform(make_frame(fou=views[0], kar=views[1], pix=views[2]))
        print(
            f"fou+kar+pix: ours {t_ours:.3f} s, train corr "
            f"{mean_correlation(split_blocks(Z, 3)):.4f}; cca-zoo {t_zoo:.3f} s, train "
            f"corr {mean_correlation(zoo.transform(views)):.4f}"
        )


# The sections main() runs, in order. Another mapper adds its section by
# writing ``section_<name>(quick)`` above and appending it here.
# --- RidgeMapper and KNNMapper ----------------------------------------------


def make_regression_pair(n_samples, n_source=100, n_target=50, seed=0):
    rng = np.random.default_rng(seed)
    source = rng.standard_normal((n_samples, n_source))
    target = source[:, :20] @ rng.standard_normal((20, n_target))
    target += 3.0 * rng.standard_normal((n_samples, n_target))
    return source, target


def section_ridge_mapper(quick):
    from sklearn.linear_model import RidgeCV

    from skcrossmodal.mapping import RidgeMapper

    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    repeats = 3 if quick else 5
    alphas = np.logspace(-2, 4, 10)
    rows = []
    for n in sizes:
        source, target = make_regression_pair(n)
        X = make_frame(image=source, text=target)
        t_ours, ours = median_time(
            lambda: RidgeMapper("image", "text", alpha=alphas).fit(X), repeats
        )
        t_peer, peer = median_time(
            lambda: RidgeCV(alphas=alphas, alpha_per_target=False).fit(source, target),
            repeats,
        )
        rows.append(
            (
                n,
                f"{t_ours:.4f}",
                f"{t_peer:.4f}",
                f"{t_peer / t_ours:.1f}x",
                f"{ours.alpha_:.3g} / {peer.alpha_:.3g}",
                f"{np.max(np.abs(ours.coef_ - peer.coef_)):.1e}",
            )
        )
    print_table(
        f"RidgeMapper(alpha=10 values) vs RidgeCV(alpha_per_target=False), 100 -> 50 "
        f"features: fit seconds (median of {repeats})",
        (
            "n",
            "ours s",
            "RidgeCV s",
            "speed-up",
            "alpha ours/RidgeCV",
            "max |coef diff|",
        ),
        rows,
    )


def section_knn_mapper(quick):
    from sklearn.neighbors import KNeighborsRegressor

    from skcrossmodal.mapping import KNNMapper

    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    repeats = 3 if quick else 3
    n_queries = 2_000
    rows = []
    for n in sizes:
        source, target = make_regression_pair(n + n_queries, n_source=64, n_target=32)
        X = make_frame(image=source[:n], text=target[:n])
        queries = make_frame(image=source[n:])
        for metric in ("cosine", "euclidean"):
            # n_jobs=-1: scikit-learn's brute search runs on every core (OpenMP)
            # whatever its n_jobs; ours threads its query blocks when asked to.
            mapper = KNNMapper(
                "image", "text", n_neighbors=10, similarity=metric, n_jobs=-1
            ).fit(X)
            t_ours, ours = median_time(lambda: mapper.transform(queries), repeats)
            peer = KNeighborsRegressor(
                n_neighbors=10, metric=metric, algorithm="brute"
            ).fit(source[:n], target[:n])
            t_peer, expected = median_time(lambda: peer.predict(source[n:]), repeats)
            difference = np.max(np.abs(ours.to_numpy() - expected))
            rows.append(
                (
                    n,
                    metric,
                    f"{t_ours:.4f}",
                    f"{t_peer:.4f}",
                    f"{t_peer / t_ours:.1f}x",
                    f"{difference:.1e}",
                )
            )
    print_table(
        f"KNNMapper(n_jobs=-1) vs KNeighborsRegressor(algorithm='brute'), k=10, 64 -> 32 "
        f"features, {n_queries} queries: transform/predict seconds (median of "
        f"{repeats})",
        ("n fit", "metric", "ours s", "sklearn s", "speed-up", "max |diff|"),
        rows,
    )


SECTIONS = [
    section_kernel_cca,
    section_mcca,
    section_mfeat,
    section_ridge_mapper,
    section_knn_mapper,
]


def main(argv=None):
    names = {f.__name__.removeprefix("section_"): f for f in SECTIONS}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument(
        "--sections", nargs="+", choices=list(names), default=list(names),
        help="run only these sections",
    )  # fmt: skip
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)
    for name in args.sections:
        names[name](args.quick)


if __name__ == "__main__":
    main()
