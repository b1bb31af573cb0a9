"""Data and expected-failure tables shared by the fusion test files."""

import numpy as np

from skcrossmodal import make_frame


def make_views(n_samples=90, n_classes=3, seed=0):
    """Three noisy views of the same classes, each informative on its own."""
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % n_classes
    centers = rng.normal(size=(n_classes, 4))
    blocks = {
        name: centers[y][:, :width] * scale + rng.normal(size=(n_samples, width))
        for name, width, scale in [
            ("text", 4, 1.0),
            ("image", 3, 0.8),
            ("audio", 2, 0.6),
        ]
    }
    return make_frame(**blocks), y


def _two_view_task(seed=0, n_samples=200):
    """Two views mixing one shared latent (fixed mixing, samples drawn by seed)."""
    mixing = np.random.default_rng(42).normal(size=(2, 9))
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % 2
    latent = (2 * y - 1)[:, None] * np.array([[1.5, 0.0]]) + rng.normal(
        size=(n_samples, 2)
    )
    views = latent @ mixing + 0.3 * rng.normal(size=(n_samples, 9))
    return make_frame(text=views[:, :5], image=views[:, 5:]), y
