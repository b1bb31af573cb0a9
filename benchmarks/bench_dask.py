"""skcrossmodal on a Dask cluster against single-process runs, in the same run.

(a) CCA fit on rows generated chunk by chunk on the workers (never materialised
    on the client), 300 + 200 float32 features, at n = 1e6, 1e7 and 3e7 rows
    (the last is 60 GB as float32, far over this machine's memory), against an in-memory
    fit at 1e6 and a single-process ``partial_fit`` loop over the same chunks.
    Reported: seconds, rows per second, the client's and each worker's peak
    resident memory, and the largest difference of the canonical correlations
    from the single-process result.
(b) Exact top-10 cosine search of 1,000 queries in a sharded gallery of 1e7
    items (d = 128, float32) generated on the workers, against the
    single-process retriever on the same gallery where it fits in memory, with
    the result sets compared.

The cluster is a ``LocalCluster`` of 2 worker processes with one thread each
(this machine has 2 cores); the single-process peers of (a) run in a fresh
child process each, with 1 BLAS thread (``--threads``: 2 oversubscribe a
shared 2-core machine). Times are medians of ``--repeats`` interleaved runs.
``--quick`` runs (a) at 1e5 rows in chunks of 1e4, for ``make bench``.

Usage: ``python benchmarks/bench_dask.py [--quick] [--only cca|search]
[--sizes 1e6 1e7] [--repeats 3]``
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from skcrossmodal.mapping import CCA

N_FEATURES = (300, 200)
N_COMPONENTS = 10
CHUNK_ROWS = 100_000
D_SEARCH = 128
N_QUERIES = 1_000
K = 10


def _columns(prefix, n):
    return [f"{prefix}__{j}" for j in range(n)]


CCA_COLUMNS = _columns("text", N_FEATURES[0]) + _columns("image", N_FEATURES[1])


def cca_chunk(seed, n_rows=CHUNK_ROWS):
    """One chunk of two views sharing a planted 10-d signal (float32)."""
    loadings = np.random.default_rng(12345).standard_normal(
        (N_COMPONENTS, sum(N_FEATURES))
    )
    rng = np.random.default_rng(seed)
    latent = rng.standard_normal((n_rows, N_COMPONENTS), dtype=np.float32)
    latent *= np.linspace(2.0, 0.5, N_COMPONENTS, dtype=np.float32)
    data = latent @ loadings.astype(np.float32)
    data += 3.0 * rng.standard_normal(data.shape, dtype=np.float32)
    return pd.DataFrame(data, columns=CCA_COLUMNS, copy=False)


def gallery_chunk(seed, n_rows=CHUNK_ROWS):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((n_rows, D_SEARCH), dtype=np.float32)
    return pd.DataFrame(data, columns=_columns("image", D_SEARCH), copy=False)


def peak_rss_mib():
    """Peak resident memory of this process so far (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(function, repeats=1):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def dask_frame(make_chunk, n_rows, chunk_rows=CHUNK_ROWS):
    """A Dask DataFrame whose partitions ``make_chunk`` generates on the workers."""
    import dask.dataframe as dd

    seeds = list(range(n_rows // chunk_rows))
    meta = make_chunk(0, n_rows=0)
    return dd.from_map(make_chunk, seeds, n_rows=chunk_rows, meta=meta)


# Part (a): the single-process peers run in a fresh child process each, so that
# each reports its own peak memory and the client's stays that of the Dask fit.


def _single_process(method, n_rows, chunk_rows, threads):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads):
        n_chunks = n_rows // chunk_rows
        start = time.perf_counter()
        if method == "partial_fit":
            cca = CCA(n_components=N_COMPONENTS)
            for seed in range(n_chunks):
                cca.partial_fit(cca_chunk(seed, n_rows=chunk_rows))
        else:
            frame = pd.concat(
                [cca_chunk(seed, n_rows=chunk_rows) for seed in range(n_chunks)]
            )
            start = time.perf_counter()  # the fit alone, not the generation
            cca = CCA(n_components=N_COMPONENTS).fit(frame)
        seconds = time.perf_counter() - start
    return seconds, cca.canonical_correlations_, peak_rss_mib()


def _in_child(*args):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn")
    ) as pool:
        return pool.submit(_single_process, *args).result()


def _worker_peak_rss_mib():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _dask_fit(client, n_rows, chunk_rows):
    ddf = dask_frame(cca_chunk, n_rows, chunk_rows)
    start = time.perf_counter()
    cca = CCA(n_components=N_COMPONENTS).fit(ddf)
    seconds = time.perf_counter() - start
    workers = client.run(_worker_peak_rss_mib)
    return seconds, cca.canonical_correlations_, peak_rss_mib(), list(workers.values())


def bench_cca(client, sizes, *, chunk_rows, repeats, threads, in_memory_max, loop_max):
    """Part (a): CCA fit from a Dask DataFrame generated on the workers."""
    print(
        f"(a) CCA fit, {N_FEATURES[0]} + {N_FEATURES[1]} float32 features, "
        f"{N_COMPONENTS} components, chunks of {chunk_rows:,} rows; Dask: 2 worker "
        f"processes x 1 thread; single process: {threads} BLAS threads. Median of "
        f"{repeats}, interleaved."
    )
    print(
        "| rows | method | seconds | rows/s | client peak MiB | worker peak MiB "
        "| max abs dcorr | vs partial_fit loop |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    # Warm-up: the workers import skcrossmodal once. Peak memory is each
    # process's peak since it started (ru_maxrss), over all sizes so far: it
    # stays flat with n when memory is bounded by a few chunks.
    CCA(n_components=N_COMPONENTS).fit(
        dask_frame(cca_chunk, 2 * chunk_rows, chunk_rows)
    )
    for n_rows in sizes:
        runs = {"Dask, 2 workers": []}
        if n_rows <= loop_max:
            runs["partial_fit loop, 1 process"] = []
        if n_rows <= in_memory_max:
            runs["fit in memory, 1 process"] = []
        for _ in range(repeats):
            if "partial_fit loop, 1 process" in runs:
                runs["partial_fit loop, 1 process"].append(
                    _in_child("partial_fit", n_rows, chunk_rows, threads)
                )
            runs["Dask, 2 workers"].append(_dask_fit(client, n_rows, chunk_rows))
            if "fit in memory, 1 process" in runs:
                runs["fit in memory, 1 process"].append(
                    _in_child("fit", n_rows, chunk_rows, threads)
                )
        median = {
            method: float(np.median([r[0] for r in results]))
            for method, results in runs.items()
        }
        # Without the loop (past --loop-max) there is no reference to compare.
        loop = runs.get("partial_fit loop, 1 process")
        reference = loop[0][1] if loop else None
        peer = median.get("partial_fit loop, 1 process")
        for method, results in runs.items():
            seconds = median[method]
            gap = (
                "-"
                if reference is None
                else f"{max(np.abs(r[1] - reference).max() for r in results):.1e}"
            )
            ratio = "-" if peer is None else f"{seconds / peer:.2f}x"
            if method.startswith("Dask"):
                client_mib = f"{max(r[2] for r in results):.0f}"
                worker_mib = " / ".join(
                    f"{v:.0f}" for v in np.max([r[3] for r in results], axis=0)
                )
            else:
                client_mib, worker_mib = f"{max(r[2] for r in results):.0f}", "-"
            print(
                f"| {n_rows:,} | {method} | {seconds:.1f} | {n_rows / seconds:,.0f} "
                f"| {client_mib} | {worker_mib} | {gap} | {ratio} |",
                flush=True,
            )


def bench_search(args):
    """Part (b): ``bench_dask_search.py``, run in its own process and cluster."""
    script = Path(__file__).with_name("bench_dask_search.py")
    command = [sys.executable, str(script)] + (["--quick"] if args.quick else [])
    print(f"\n(b) sharded search: {' '.join(command[1:])}", flush=True)
    subprocess.run(command, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e5 rows, seconds")
    parser.add_argument("--only", choices=["cca", "search"])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--sizes", type=float, nargs="+", help="rows of (a), default 1e6 1e7 3e7"
    )
    parser.add_argument("--chunk-rows", type=int, help="default 1e5, 1e4 with --quick")
    parser.add_argument(
        "--threads", type=int, default=1, help="BLAS threads of the single process"
    )
    parser.add_argument(
        "--in-memory-max", type=float, default=1e6, help="largest in-memory fit"
    )
    parser.add_argument(
        "--loop-max",
        type=float,
        default=float("inf"),
        help="largest single-process partial_fit loop",
    )
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        memory_limit="10GiB",
    )
    client = Client(cluster)
    try:
        if args.only in (None, "cca"):
            if args.sizes:
                sizes = [int(n) for n in args.sizes]
            else:
                sizes = [100_000] if args.quick else [1_000_000, 10_000_000, 30_000_000]
            chunk_rows = args.chunk_rows or (10_000 if args.quick else CHUNK_ROWS)
            bench_cca(
                client,
                sizes,
                chunk_rows=chunk_rows,
                repeats=args.repeats,
                threads=args.threads,
                in_memory_max=args.in_memory_max,
                loop_max=args.loop_max,
            )
        if args.only in (None, "search"):
            bench_search(args)
    finally:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
