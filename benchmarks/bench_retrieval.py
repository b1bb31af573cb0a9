"""Exact top-k retrieval: CrossModalRetriever vs faiss vs scikit-learn.

Runs, in one process and interleaved (so that a shared, busy CPU hits every
contender alike, with a pause before each call so that one contender's
spinning BLAS/OpenMP threads do not run into the next one's time), the
search of 1,000 and 5,000 queries in galleries of 10,000 and 100,000 items
(and 1,000,000 with ``--big``; d = 128, float32, top-10 cosine) by

* ``CrossModalRetriever`` with ``backend="auto"`` (numpy) and ``"torch"``,
* faiss ``IndexFlatIP`` on L2-normalised vectors,
* scikit-learn ``NearestNeighbors(algorithm="brute", metric="cosine")`` (one
  size),

on every core and on one thread, prints the ratio of the medians ours /
faiss, and checks the result sets against a float64 brute-force ranking. Then
a 1,000,000-item gallery in a subprocess (time, peak memory) and the recall of
the approximate IVF index against the exact search.

Usage: ``python benchmarks/bench_retrieval.py [--quick] [--big] [--repeats R]
[--only sweep|main|large|ivf|pickle]``.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from skcrossmodal import make_frame
from skcrossmodal.retrieval import CrossModalRetriever

# Pause before each timed call of the interleaved comparison (see there).
SETTLE_S = 0.2


def median_time(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), times


def normalised(A):
    return A / np.linalg.norm(A, axis=1, keepdims=True)


def brute_force_top_k(Q, G, k, batch=256):
    """Float64 reference: full ranking by cosine, ties to the lower row."""
    Q64, G64 = normalised(Q.astype(np.float64)), normalised(G.astype(np.float64))
    scores = np.empty((Q.shape[0], k + 1))
    indices = np.empty((Q.shape[0], k + 1), dtype=np.int64)
    for start in range(0, Q.shape[0], batch):
        S = Q64[start : start + batch] @ G64.T
        top = np.argpartition(-S, k, axis=1)[:, : k + 1]
        top_scores = np.take_along_axis(S, top, axis=1)
        order = np.lexsort((top, -top_scores), axis=-1)
        indices[start : start + batch] = np.take_along_axis(top, order, axis=1)
        scores[start : start + batch] = np.take_along_axis(top_scores, order, axis=1)
    return scores, indices


def compare_sets(indices, reference_indices, reference_scores, k):
    """Queries whose top-k set differs from the reference, and whether each such
    difference is a float32 near-tie at the cut-off of the float64 ranking."""
    same = np.array(
        [
            set(a[:k]) == set(b[:k])
            for a, b in zip(indices, reference_indices, strict=True)
        ]
    )
    gaps = reference_scores[:, k - 1] - reference_scores[:, k]
    near_tie = gaps[~same] < 1e-6
    return int(same.sum()), int((~same).sum()), int(near_tie.sum())


def main_comparison(m, n, d, k, repeats, include_sklearn, threads="all"):
    """Ours vs faiss (and scikit-learn) on one problem, interleaved repeats.

    ``threads="all"``: ours with ``n_jobs=-1``, faiss on its default OpenMP
    threads (every core). ``threads=1``: both on one thread (``n_jobs=1``
    under ``threadpool_limits(1)``, ``faiss.omp_set_num_threads(1)``), which a
    busy shared machine disturbs least.
    """
    import faiss
    from sklearn.neighbors import NearestNeighbors
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    Q = rng.standard_normal((m, d), dtype=np.float32)
    G = rng.standard_normal((n, d), dtype=np.float32)
    queries, gallery = make_frame(text=Q), make_frame(image=G)
    n_jobs = -1 if threads == "all" else 1

    ours = {
        "ours (auto = numpy)": CrossModalRetriever(
            "text", "image", n_neighbors=k, n_jobs=n_jobs
        ),
        "ours (torch)": CrossModalRetriever(
            "text", "image", n_neighbors=k, backend="torch", n_jobs=n_jobs
        ),
    }
    for retriever in ours.values():
        retriever.fit(gallery)
    index = faiss.IndexFlatIP(d)
    index.add(normalised(G))
    Qn = normalised(Q)
    contenders = {
        name: (lambda r=retriever: r.search(queries))
        for name, retriever in ours.items()
    }
    contenders["faiss IndexFlatIP"] = lambda: index.search(Qn, k)
    if include_sklearn:
        knn = NearestNeighbors(n_neighbors=k, algorithm="brute", metric="cosine").fit(G)
        contenders["sklearn NearestNeighbors brute"] = lambda: knn.kneighbors(Q)

    previous_omp = faiss.omp_get_max_threads()
    if threads != "all":
        faiss.omp_set_num_threads(1)
    try:
        with threadpool_limits(None if threads == "all" else 1):
            results = {
                name: function() for name, function in contenders.items()
            }  # warm-up
            times = {name: [] for name in contenders}
            for _ in range(repeats):  # interleaved, so that load spikes hit everyone
                for name, function in contenders.items():
                    # BLAS and OpenMP worker threads spin for a while after a
                    # call (OpenBLAS's THREAD_TIMEOUT, 2**28 cycles by default);
                    # without a pause, faiss's would run on into the time of the
                    # contender after it.
                    time.sleep(SETTLE_S)
                    start = time.perf_counter()
                    function()
                    times[name].append(time.perf_counter() - start)
    finally:
        faiss.omp_set_num_threads(previous_omp)
    medians = {name: float(np.median(t)) for name, t in times.items()}

    reference_scores, reference_indices = brute_force_top_k(Q, G, k)
    faiss_time = medians["faiss IndexFlatIP"]
    print(
        f"\n## {m:,} queries x {n:,} gallery, d={d}, float32, top-{k} cosine, "
        f"threads: {threads}, medians of {repeats}; load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'method':34s} {'median s':>9s} {'x faiss':>8s}  "
        f"{'same set as float64 brute force':s}"
    )
    for name in contenders:
        indices = results[name][1]
        same, differ, near = compare_sets(
            indices, reference_indices, reference_scores, k
        )
        check = f"{same}/{m}"
        if differ:
            check += f" ({differ} differ, {near} of them float32 near-ties)"
        print(
            f"{name:34s} {medians[name]:9.3f} {medians[name] / faiss_time:8.2f}  {check}"
        )
    ours_time = medians["ours (auto = numpy)"]
    print(
        f"ours / faiss: {ours_time / faiss_time:.2f}; raw times: "
        + json.dumps({name: [round(x, 3) for x in t] for name, t in times.items()})
    )
    return ours_time / faiss_time


def size_sweep(sizes, d, k, repeats):
    """The ratio ours / faiss at every size, for both thread settings."""
    ratios = {}
    for n, m in sizes:
        for threads in ("all", 1):
            ratios[n, m, threads] = main_comparison(
                m, n, d, k, repeats, include_sklearn=False, threads=threads
            )
    print("\n## ours / faiss (median time ratio, same run; < 1: ours faster)")
    print(f"{'gallery':>9s} {'queries':>8s} {'all threads':>12s} {'1 thread':>9s}")
    for n, m in sizes:
        print(f"{n:9,d} {m:8,d} {ratios[n, m, 'all']:12.2f} {ratios[n, m, 1]:9.2f}")


def large_gallery_child(n, m, d, k):
    """Run in a subprocess: time and peak memory of searching a large gallery."""
    import resource

    def rss(field):
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
        return 0

    rng = np.random.default_rng(0)
    gallery = make_frame(image=rng.standard_normal((n, d), dtype=np.float32))
    queries = make_frame(text=rng.standard_normal((m, d), dtype=np.float32))
    start = time.perf_counter()
    retriever = CrossModalRetriever("text", "image", n_neighbors=k, n_jobs=-1).fit(
        gallery
    )
    fit_time = time.perf_counter() - start
    del gallery
    retriever.search(queries.iloc[:8])  # warm-up
    before = rss("VmRSS:")
    with open("/proc/self/clear_refs", "w") as clear:  # reset the peak (VmHWM)
        clear.write("5")
    start = time.perf_counter()
    retriever.search(queries)
    search_time = time.perf_counter() - start
    peak = rss("VmHWM:")
    print(
        json.dumps(
            {
                "fit_s": fit_time,
                "search_s": search_time,
                "gallery_bytes": retriever.gallery_.nbytes,
                "rss_before_search": before,
                "peak_rss_during_search": peak,
                "ru_maxrss_whole_run": resource.getrusage(
                    resource.RUSAGE_SELF
                ).ru_maxrss
                * 1024,
            }
        )
    )


def large_gallery(n, m, d, k):
    output = subprocess.run(
        [sys.executable, __file__, "--child", str(n), str(m), str(d), str(k)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    r = json.loads(output.strip().splitlines()[-1])
    mib = 2**20
    print(
        f"\n## {n:,}-item gallery, {m:,} queries, d={d}, float32, top-{k} cosine (subprocess)"
    )
    print(
        f"fit {r['fit_s']:.2f} s, search {r['search_s']:.2f} s "
        f"({m / r['search_s']:.0f} queries/s)"
    )
    print(
        f"gallery {r['gallery_bytes'] / mib:.0f} MiB; RSS before search "
        f"{r['rss_before_search'] / mib:.0f} MiB; peak RSS during search "
        f"{r['peak_rss_during_search'] / mib:.0f} MiB (+"
        f"{(r['peak_rss_during_search'] - r['rss_before_search']) / mib:.0f} MiB: a "
        f"score tile per thread, the queries and the results); peak of the whole run "
        f"(input frame + normalised copy at fit) {r['ru_maxrss_whole_run'] / mib:.0f} MiB"
    )


def ivf_recall(m, n, d, k, nlist, nprobes):
    """Recall@k of the IVF index against the exact search, on two gallery kinds."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((nlist, d), dtype=np.float32)
    kinds = {
        "gaussian (worst case)": (
            rng.standard_normal((n, d), dtype=np.float32),
            rng.standard_normal((m, d), dtype=np.float32),
        ),
    }
    # Clustered gallery; queries are noisy copies of the first m items (paired rows).
    clustered = centres[rng.integers(0, nlist, n)] + 0.5 * rng.standard_normal(
        (n, d), dtype=np.float32
    )
    kinds["clustered, paired queries"] = (
        clustered,
        clustered[:m] + 0.5 * rng.standard_normal((m, d), dtype=np.float32),
    )
    print(
        f"\n## IVF (faiss IndexIVFFlat, nlist={nlist}) vs exact, {m:,} queries x "
        f"{n:,} gallery, d={d}, top-{k} cosine"
    )
    print(
        f"{'data':28s} {'nprobe':>6s} {'search s':>9s} {'recall@k':>9s} "
        f"{'paired hit@k':>12s} {'paired MRR@k':>12s}"
    )
    for kind, (G, Q) in kinds.items():
        gallery, queries = make_frame(image=G), make_frame(text=Q)
        exact = CrossModalRetriever("text", "image", n_neighbors=k).fit(gallery)
        start = time.perf_counter()
        _, exact_indices = exact.search(queries)
        exact_time = time.perf_counter() - start
        paired = kind.startswith("clustered")

        def summary(indices):
            recall = np.mean(
                [
                    len(set(a) & set(b)) / k
                    for a, b in zip(indices, exact_indices, strict=True)
                ]
            )
            if not paired:
                return recall, "", ""
            hit = indices == np.arange(m)[:, None]
            ranks = np.argmax(hit, axis=1) + 1
            mrr = np.where(hit.any(axis=1), 1.0 / ranks, 0.0).mean()
            return recall, f"{hit.any(axis=1).mean():.3f}", f"{mrr:.3f}"

        recall, hit, mrr = summary(exact_indices)
        print(
            f"{kind:28s} {'exact':>6s} {exact_time:9.3f} {recall:9.3f} {hit:>12s} {mrr:>12s}"
        )
        ivf = CrossModalRetriever(
            "text",
            "image",
            n_neighbors=k,
            backend="faiss",
            index="ivf",
            nlist=nlist,
            random_state=0,
        ).fit(gallery)
        for nprobe in nprobes:
            ivf.set_params(nprobe=nprobe)
            start = time.perf_counter()
            _, indices = ivf.search(queries)
            elapsed = time.perf_counter() - start
            recall, hit, mrr = summary(indices)
            print(
                f"{kind:28s} {nprobe:6d} {elapsed:9.3f} {recall:9.3f} {hit:>12s} {mrr:>12s}"
            )


def pickled_size(n, d):
    import pickle

    rng = np.random.default_rng(0)
    G = rng.standard_normal((n, d), dtype=np.float32)
    print(
        f"\n## pickled size, {n:,} x {d} float32 gallery "
        f"({G.nbytes / 2**20:.1f} MiB of vectors)"
    )
    for label, params in (
        ("auto (numpy)", {}),
        ("faiss flat", {"backend": "faiss"}),
        ("faiss ivf nlist=64", {"backend": "faiss", "index": "ivf", "nlist": 64}),
    ):
        retriever = CrossModalRetriever("text", "image", **params)
        retriever.fit(make_frame(image=G), ids=np.arange(n))
        size = len(pickle.dumps(retriever))
        print(
            f"{label:22s} {size / 2**20:7.1f} MiB ({size / G.nbytes:.2f}x the vectors, ids "
            f"{n * 8 / 2**20:.1f} MiB included)"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--child", nargs=4, type=int, help=argparse.SUPPRESS)
    parser.add_argument(
        "--only", choices=["sweep", "main", "large", "ivf", "pickle"], default=None
    )
    parser.add_argument(
        "--big", action="store_true", help="add a 1e6 gallery to the sweep"
    )
    args = parser.parse_args()
    if args.child:
        large_gallery_child(*args.child)
        return
    d, k = 128, 10
    if args.quick:
        m, n, big_n, big_m, repeats = 500, 20_000, 100_000, 200, args.repeats or 3
        sizes = [(10_000, 500), (20_000, 1_000)]
        ivf = dict(m=500, n=20_000, nlist=64, nprobes=[1, 8])
    else:
        m, n, big_n, big_m, repeats = (
            5_000,
            100_000,
            1_000_000,
            1_000,
            args.repeats or 5,
        )
        sizes = [(10_000, 1_000), (10_000, 5_000), (100_000, 1_000), (100_000, 5_000)]
        if args.big:
            sizes.append((1_000_000, 1_000))
        ivf = dict(m=2_000, n=100_000, nlist=1024, nprobes=[1, 8, 32, 128])
    print(f"CPU cores: {os.cpu_count()}, load average: {os.getloadavg()}")
    if args.only in (None, "sweep"):
        size_sweep(sizes, d, k, repeats)
    if args.only in (None, "main"):
        main_comparison(m, n, d, k, repeats, include_sklearn=True)
    if args.only in (None, "large"):
        large_gallery(big_n, big_m, d, k)
    if args.only in (None, "ivf"):
        ivf_recall(d=d, k=k, **ivf)
    if args.only in (None, "pickle"):
        pickled_size(n // 10, d)
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
