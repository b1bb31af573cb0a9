"""The float64 reference of every exact search test, by the definition."""

import numpy as np
import pytest


def needs_backend(name):
    """Skip the test unless the optional library of a search backend is installed."""
    if name == "torch":
        pytest.importorskip("torch")
    elif name.startswith("faiss"):
        pytest.importorskip("faiss")


def brute_force(Q, G, similarity, k):
    """Top-``k`` of the whole gallery in float64: best first, ties by lower row."""
    Q = np.asarray(Q, dtype=np.float64)
    G = np.asarray(G, dtype=np.float64)
    if similarity == "cosine":
        Q = Q / np.maximum(np.linalg.norm(Q, axis=1, keepdims=True), 1e-300)
        G = G / np.maximum(np.linalg.norm(G, axis=1, keepdims=True), 1e-300)
    if similarity == "euclidean":
        S = -(((Q[:, None, :] - G[None, :, :]) ** 2).sum(axis=2))
    else:
        S = Q @ G.T
    rows = np.broadcast_to(np.arange(G.shape[0]), S.shape)
    order = np.lexsort((rows, -S), axis=-1)[:, :k]
    return np.take_along_axis(S, order, axis=1), order
