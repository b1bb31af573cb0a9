"""Data shared by the mapper test files."""

import numpy as np

from skcrossmodal import make_frame


def make_labelled(n_per_class=20, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], n_per_class)
    means = np.array([[2.0, 0.0], [0.0, 2.0], [-2.0, -2.0]])
    image = means[y] + rng.standard_normal((len(y), 2))
    text = np.hstack([means[y], -means[y]]) + rng.standard_normal((len(y), 4))
    return make_frame(image=image, text=text), y
