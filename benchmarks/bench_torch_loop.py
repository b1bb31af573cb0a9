"""Overhead of the shared training loop against a hand-written torch loop.

Trains the same MLP (same initial weights, optimizer, batches and epochs) with
:func:`skcrossmodal._torch.fit_module` and with the plain loop one would write
by hand, and prints the median fit times and their ratio. The two must also
reach the same final loss (same seed, same batch order).

Usage::

    python benchmarks/bench_torch_loop.py [--quick] [--device DEVICE] [--threads N]
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import argparse
import copy
import statistics
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from skcrossmodal._torch import fit_module, make_mlp, resolve_device, torch_seed


def _mse(module, batch):
    return ((module(batch[0]) - batch[1]) ** 2).mean()


def plain_loop(module, X, y, *, max_iter, batch_size, learning_rate, seed, device):
    """What fit_module replaces: Adam over seeded shuffled mini-batches."""
    generator = torch.Generator().manual_seed(seed)
    module.to(device)
    X, y = torch.as_tensor(X).to(device), torch.as_tensor(y).to(device)
    optimizer = torch.optim.Adam(module.parameters(), lr=learning_rate)
    n_samples = X.shape[0]
    for _ in range(max_iter):
        module.train()
        order = torch.randperm(n_samples, generator=generator).to(device)
        total = 0.0
        for start in range(0, n_samples, batch_size):
            rows = order[start : start + batch_size]
            loss = _mse(module, (X[rows], y[rows]))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * rows.shape[0]
    module.to("cpu")
    return float(total) / n_samples


def _timed(function):
    start = time.perf_counter()
    result = function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller problem")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)

    rng = np.random.default_rng(0)
    n_samples, max_iter = (2000, 5) if args.quick else (10000, 10)
    X = rng.normal(size=(n_samples, 64)).astype(np.float32)
    y = np.tanh(X @ rng.normal(size=(64, 32))).astype(np.float32)
    params = dict(max_iter=max_iter, batch_size=64, learning_rate=1e-3)
    with torch_seed(0):
        initial = make_mlp(64, (256,), 32)
    seed = 1234

    def ours():
        module = copy.deepcopy(initial)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            history = fit_module(
                module,
                _mse,
                (X, y),
                **params,
                weight_decay=0.0,
                tol=0.0,
                seed=seed,
                device=device,
            )
        return history["train_loss"][-1]

    def theirs():
        # fit_module's shuffling generator is seeded with the fit's seed.
        return plain_loop(
            copy.deepcopy(initial), X, y, **params, seed=seed, device=device
        )

    ours()  # warm-up: torch's lazy imports happen on the first optimizer
    timings = {"fit_module": [], "plain loop": []}
    losses = {}
    for _ in range(args.repeats):
        for name, function in (("fit_module", ours), ("plain loop", theirs)):
            elapsed, losses[name] = _timed(function)
            timings[name].append(elapsed)

    n_steps = max_iter * -(-n_samples // 64)
    print(
        f"MLP 64-256-32, n={n_samples}, batch 64, {max_iter} epochs ({n_steps} steps), "
        f"device={device}, torch threads={torch.get_num_threads()}, "
        f"median of {args.repeats}"
    )
    header = (
        f"{'loop':12s} {'fit s':>8s} {'ms/step':>8s} {'final loss':>11s} {'ratio':>6s}"
    )
    print(header)
    print("-" * len(header))
    reference = statistics.median(timings["plain loop"])
    for name, values in timings.items():
        median = statistics.median(values)
        print(
            f"{name:12s} {median:8.3f} {1000 * median / n_steps:8.3f} "
            f"{losses[name]:11.6f} {median / reference:6.2f}"
        )


if __name__ == "__main__":
    main()
