"""Benchmark: mean average precision against a per-query scikit-learn loop.

Category-level mAP of 5,000 queries over 20,000 targets (10 classes, 128-d
embeddings with a planted class structure), computed by
``skcrossmodal.metrics.mean_average_precision`` and by the usual loop of
``sklearn.metrics.average_precision_score`` over the rows of the similarity
matrix. The scikit-learn loop is timed on a subset of the queries and
extrapolated to all of them (its cost is the same for every query); the
similarity matrix it needs is timed in full, block by block, with the one
implementation both sides use.

Rows of the table:

* ``end-to-end``: from embeddings to mAP. Ours: ``mean_average_precision``;
  peer: similarity blocks + the per-query loop.
* ``from scores``: AP from a given score matrix only. Ours:
  ``average_precision_from_scores``; peer: the per-query loop.
* ``retrieved@100``, ``MAP@R``: the mAP@k options, ``k=100,
  normalize="retrieved"`` and ``k="R"``, end to end (float64). The peer is the
  same per-query scikit-learn loop (full AP); the values are checked against
  a per-query loop of their definitions (DSCMR's ``fx_calc_map_label``,
  Musgrave et al.'s MAP@R) on the timed subset.
* ``unique``: the 5-captions-per-image protocol, text -> image. Ours:
  ``mean_average_precision(captions, images, ids, ids, unique="target")`` on
  a table of ``n_queries / 5`` images repeated on their 5 caption rows; peer:
  the per-query loop over the distinct images.

Values are checked to agree with their reference to 1e-10, query by query.

Run ``python benchmarks/bench_metrics.py`` (``--quick`` for a smaller problem).
"""

import argparse
import os
import time

import numpy as np
from sklearn.metrics import average_precision_score

from skcrossmodal._similarity import iter_similarity_blocks, pairwise_similarity
from skcrossmodal.metrics import average_precision_from_scores, mean_average_precision


def make_data(n_queries, n_targets, n_features, n_classes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, n_features))
    query_labels = rng.integers(n_classes, size=n_queries)
    target_labels = rng.integers(n_classes, size=n_targets)
    queries = 0.3 * centres[query_labels] + rng.standard_normal((n_queries, n_features))
    targets = 0.3 * centres[target_labels] + rng.standard_normal(
        (n_targets, n_features)
    )
    return queries.astype(dtype), targets.astype(dtype), query_labels, target_labels


def median_time(function, repeats):
    """Median wall-clock and CPU seconds (all threads) of ``function()``."""
    times = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return np.median(times, axis=0), result


def sklearn_loop(scores, relevance):
    return np.array(
        [average_precision_score(relevance[i], scores[i]) for i in range(len(scores))]
    )


def similarity_only(queries, targets):
    for _ in iter_similarity_blocks(queries, targets, "cosine"):
        pass


def loop_average_precision_at_k(relevance_row, scores_row, k, normalize):
    """AP@k of one query from its definition (no ties in these data)."""
    ranked = relevance_row[np.argsort(-scores_row, kind="stable")]
    n_relevant = int(ranked.sum())
    cutoff = n_relevant if k == "R" else k
    hits = np.cumsum(ranked[:cutoff])
    total = np.sum((hits / np.arange(1, cutoff + 1))[ranked[:cutoff]])
    divisor = min(cutoff, n_relevant) if normalize == "relevant" else hits[-1]
    return total / divisor if divisor else 0.0


def time_peer_loop(scores_of, relevance_of, n_subset, repeats, reference=None):
    """Per-query seconds of the scikit-learn loop, and the max |difference|
    between ``reference(rows)`` (default: the loop) and our per-query values."""
    loop_times, max_difference = [], 0.0
    for repeat in range(repeats):
        rows = slice(repeat * n_subset, (repeat + 1) * n_subset)
        scores, relevance = scores_of(rows), relevance_of(rows)
        loop_time, expected = median_time(lambda: sklearn_loop(scores, relevance), 1)
        loop_times.append(loop_time / n_subset)
        if repeat == 0 and reference is not None:
            max_difference = reference(rows, scores, relevance, expected)
    return np.median(loop_times, axis=0), max_difference


def run_options(n_queries, n_targets, n_subset, repeats):
    """Rows of the new options, float64 end to end."""
    queries, targets, query_labels, target_labels = make_data(
        n_queries, n_targets, 128, 10, np.float64
    )
    similarity_time, _ = median_time(lambda: similarity_only(queries, targets), repeats)

    def scores_of(rows):
        return pairwise_similarity(queries[rows], targets, "cosine")

    def relevance_of(rows):
        return query_labels[rows, None] == target_labels[None, :]

    rows_out = []
    for case, k, normalize in (
        ("retrieved@100", 100, "retrieved"),
        ("MAP@R", "R", "relevant"),
    ):

        def reference(rows, scores, relevance, _expected, k=k, normalize=normalize):
            ours = mean_average_precision(
                queries[rows],
                targets,
                query_labels[rows],
                target_labels,
                k=k,
                normalize=normalize,
            )
            loop = np.mean(
                [
                    loop_average_precision_at_k(relevance[i], scores[i], k, normalize)
                    for i in range(len(scores))
                ]
            )
            return abs(ours - loop)

        ours_time, ours_map = median_time(
            lambda k=k, normalize=normalize: mean_average_precision(
                queries, targets, query_labels, target_labels, k=k, normalize=normalize
            ),
            repeats,
        )
        per_query, difference = time_peer_loop(
            scores_of, relevance_of, n_subset, repeats, reference
        )
        peer = similarity_time + per_query * n_queries
        rows_out.append((f"float64 {case}", ours_time, peer, difference, ours_map))

    # 5 captions per image: n_queries / 5 images, each on its 5 caption rows.
    rng = np.random.default_rng(1)
    n_images = n_queries // 5
    distinct = rng.standard_normal((n_images, 128))
    images = np.repeat(distinct, 5, axis=0)
    captions = images + 3.0 * rng.standard_normal(images.shape)
    ids = np.repeat(np.arange(n_images), 5)
    ours_time, ours_map = median_time(
        lambda: mean_average_precision(captions, images, ids, ids, unique="target"),
        repeats,
    )
    distinct_time, _ = median_time(lambda: similarity_only(captions, distinct), repeats)

    def caption_scores(rows):
        return pairwise_similarity(captions[rows], distinct, "cosine")

    def caption_relevance(rows):
        return ids[rows, None] == np.arange(n_images)[None, :]

    def reference(rows, _scores, _relevance, expected):
        ours = mean_average_precision(
            captions[rows], images, ids[rows], ids, unique="target"
        )
        return abs(ours - expected.mean())

    per_query, difference = time_peer_loop(
        caption_scores, caption_relevance, n_subset, repeats, reference
    )
    peer = distinct_time + per_query * n_queries
    rows_out.append(("float64 unique", ours_time, peer, difference, ours_map))
    return rows_out


def run(n_queries, n_targets, n_subset, repeats, dtype):
    queries, targets, query_labels, target_labels = make_data(
        n_queries, n_targets, 128, 10, dtype
    )
    ours_time, ours_map = median_time(
        lambda: mean_average_precision(queries, targets, query_labels, target_labels),
        repeats,
    )
    similarity_time, _ = median_time(lambda: similarity_only(queries, targets), repeats)

    # The peer loop on subsets of queries, one subset per repeat.
    loop_times, from_scores_times, max_difference = [], [], 0.0
    for repeat in range(repeats):
        rows = slice(repeat * n_subset, (repeat + 1) * n_subset)
        scores = pairwise_similarity(queries[rows], targets, "cosine")
        relevance = query_labels[rows, None] == target_labels[None, :]
        loop_time, expected = median_time(lambda: sklearn_loop(scores, relevance), 1)
        scores_time, result = median_time(
            lambda: average_precision_from_scores(relevance, scores, average=False), 1
        )
        loop_times.append(loop_time / n_subset)
        from_scores_times.append(scores_time / n_subset)
        max_difference = max(max_difference, float(np.max(np.abs(result - expected))))
        if repeat == 0:
            subset_map = mean_average_precision(
                queries[rows], targets, query_labels[rows], target_labels
            )
            max_difference = max(max_difference, abs(subset_map - expected.mean()))
    per_query_loop = np.median(loop_times, axis=0)
    per_query_from_scores = np.median(from_scores_times, axis=0)
    peer_end_to_end = similarity_time + per_query_loop * n_queries
    name = np.dtype(dtype).name
    return [
        (f"{name} end-to-end", ours_time, peer_end_to_end, max_difference, ours_map),
        (
            f"{name} from scores",
            per_query_from_scores * n_queries,
            per_query_loop * n_queries,
            max_difference,
            None,
        ),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller problem")
    args = parser.parse_args()
    if args.quick:
        n_queries, n_targets, n_subset, repeats = 1_000, 5_000, 50, 3
    else:
        n_queries, n_targets, n_subset, repeats = 5_000, 20_000, 100, 3

    print(
        f"mAP, {n_queries:,} queries x {n_targets:,} targets, 10 classes, d=128, cosine "
        f"(unique: {n_queries:,} captions x {n_queries // 5:,} images); "
        f"scikit-learn loop timed on {repeats} x {n_subset} queries and extrapolated "
        f"to {n_queries:,}; median of {repeats} repeats; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}."
    )
    header = (
        f"{'':<22}{'---------- wall-clock seconds ----------':>42}"
        f"{'----------- CPU seconds -----------':>38}\n"
        f"{'case':<22}{'skcrossmodal':>14}{'sklearn loop':>14}{'ratio':>14}"
        f"{'skcrossmodal':>14}{'sklearn loop':>14}{'ratio':>10}"
        f"{'max |diff|':>12}{'mAP':>9}"
    )
    print(header)
    print("-" * len(header.splitlines()[-1]))
    rows = [
        *run(n_queries, n_targets, n_subset, repeats, np.float64),
        *run(n_queries, n_targets, n_subset, repeats, np.float32),
        *run_options(n_queries, n_targets, n_subset, repeats),
    ]
    for case, ours, peer, difference, value in rows:
        shown = "" if value is None else f"{value:.4f}"
        ratio = peer / ours
        print(
            f"{case:<22}{ours[0]:>14.3f}{peer[0]:>14.2f}{ratio[0]:>13.1f}x"
            f"{ours[1]:>14.3f}{peer[1]:>14.2f}{ratio[1]:>9.1f}x"
            f"{difference:>12.1e}{shown:>9}"
        )
        assert difference <= 1e-10, f"{case}: results differ by {difference}"


if __name__ == "__main__":
    main()
