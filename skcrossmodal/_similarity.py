"""Similarity between query and gallery embeddings, computed in bounded blocks.

The one implementation of cosine / dot / euclidean scoring used by
:mod:`skcrossmodal.metrics` and :mod:`skcrossmodal.retrieval`.
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import numpy as np

SIMILARITY_METRICS = ("cosine", "dot", "euclidean")

# Upper bound on the entries of one query x gallery score block (64 MiB of float64).
DEFAULT_BLOCK_ENTRIES = 2**23


def check_similarity_metric(metric):
    if metric not in SIMILARITY_METRICS:
        raise ValueError(
            f"metric must be one of {SIMILARITY_METRICS}, got {metric!r}."
        )


def prepare(A, metric):
    """Return ``A`` (and its squared norms) ready for :func:`similarity`.

    Cosine rows are L2-normalised once (a zero row stays zero); euclidean keeps
    the squared norms so that a block costs one matrix product.
    """
    check_similarity_metric(metric)
    A = np.asarray(A)
    if A.dtype.kind != "f":
        A = A.astype(np.float64)
    if metric == "cosine":
        norms = np.linalg.norm(A, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return A / norms, None
    if metric == "euclidean":
        return A, np.einsum("ij,ij->i", A, A)
    return A, None


def similarity(
    Q, G, metric="cosine", *, prepared=False, q_sq=None, g_sq=None, out=None
):
    """Similarity of every query row to every gallery row (higher is closer).

    ``"euclidean"`` returns the negative squared distance, which ranks exactly
    as the negative distance does. ``out``, if given, receives the result
    (shape ``(len(Q), len(G))``), so that a tile loop can reuse one buffer.
    """
    if not prepared:
        Q, q_sq = prepare(Q, metric)
        G, g_sq = prepare(G, metric)
    S = np.matmul(Q, G.T, out=out)
    if metric == "euclidean":
        S *= 2.0
        S -= q_sq[:, None]
        S -= g_sq[None, :]
    return S


def batch_rows(n_columns, batch_size="auto", max_entries=DEFAULT_BLOCK_ENTRIES):
    """Number of query rows per block so that a block holds at most ``max_entries``."""
    if batch_size == "auto":
        return max(1, max_entries // max(1, n_columns))
    return int(batch_size)


def iter_similarity_blocks(Q, G, metric="cosine", batch_size="auto"):
    """Yield ``(start, stop, S)`` with ``S = similarity(Q[start:stop], G)``.

    Memory is bounded by one block of ``batch_size`` query rows (by default
    about 64 MiB), never the full ``n_queries x n_gallery`` matrix.
    """
    Q, q_sq = prepare(Q, metric)
    G, g_sq = prepare(G, metric)
    if Q.shape[1] != G.shape[1]:
        raise ValueError(
            f"Queries have {Q.shape[1]} features but the gallery has {G.shape[1]}; "
            "both must live in the same space."
        )
    step = batch_rows(G.shape[0], batch_size)
    for start in range(0, Q.shape[0], step):
        stop = min(start + step, Q.shape[0])
        yield start, stop, similarity(
            Q[start:stop],
            G,
            metric,
            prepared=True,
            q_sq=None if q_sq is None else q_sq[start:stop],
            g_sq=g_sq,
        )
