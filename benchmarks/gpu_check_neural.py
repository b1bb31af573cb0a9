"""Check that the neural mappers train on the GPU and match their CPU quality.

Fits MLPMapper and ContrastiveMapper on synthetic paired data twice, with
``device="auto"`` (CUDA when present) and ``device="cpu"``, and prints the
device used, the fit time and the held-out quality of each. Exits 0 without
fitting (printing "no CUDA") when CUDA is not available.

Usage::

    python benchmarks/gpu_check_neural.py [--quick] [--device DEVICE]

``--device cpu`` runs the comparison without a GPU (a dry run of the script).
"""

# Authors: The skcrossmodal developers
# SPDX-License-Identifier: BSD-3-Clause

import argparse
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from skcrossmodal import make_frame
from skcrossmodal._torch import resolve_device
from skcrossmodal.mapping import ContrastiveMapper, MLPMapper


def _data(n_samples, seed=0):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n_samples, 16))
    image = np.tanh(latent @ rng.normal(size=(16, 128))) + 0.05 * rng.normal(
        size=(n_samples, 128)
    )
    text = np.sin(latent @ rng.normal(size=(16, 64)) / 2)
    return make_frame(image=image, text=text)


def _fit(make_mapper, device, train, test):
    mapper = make_mapper(device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        mapper.fit(train)
        if resolve_device(device).type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
    return elapsed, mapper.n_iter_, mapper.score(test)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data")
    parser.add_argument("--device", default="auto", help="device to compare with cpu")
    args = parser.parse_args(argv)
    if args.device == "auto" and not torch.cuda.is_available():
        print(
            "no CUDA: nothing to check (device='auto' resolves to "
            f"{resolve_device('auto')})."
        )
        return 0
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    print(
        f"device={args.device!r} resolves to {device} ({name}); "
        f"torch {torch.__version__}"
    )

    n_samples = 2000 if args.quick else 10000
    X = _data(n_samples + 1000)
    train, test = X.iloc[:n_samples], X.iloc[n_samples:]
    mappers = {
        "MLPMapper (test R²)": lambda device: MLPMapper(
            "image",
            "text",
            hidden_layer_sizes=(512, 512),
            batch_size=256,
            max_iter=30,
            random_state=0,
            device=device,
        ),
        "ContrastiveMapper (test recall@1)": lambda device: ContrastiveMapper(
            n_components=64,
            hidden_layer_sizes=(512,),
            batch_size=512,
            max_iter=30,
            random_state=0,
            device=device,
        ),
    }
    print(f"n_train={n_samples}, n_test=1000")
    header = f"{'mapper':36s} {'device':8s} {'fit s':>8s} {'epochs':>7s} {'score':>8s}"
    print(header)
    print("-" * len(header))
    failures = []
    for name, make_mapper in mappers.items():
        results = {}
        times = {}
        for label, run_on in (("gpu", args.device), ("cpu", "cpu")):
            # "gpu" is the device under test (args.device), "cpu" the reference.
            times[label], n_iter, results[label] = _fit(
                make_mapper, run_on, train, test
            )
            print(
                f"{name:36s} {label:8s} {times[label]:8.2f} {n_iter:7d} "
                f"{results[label]:8.3f}"
            )
        print(f"{'':36s} speed-up {times['cpu'] / times['gpu']:.1f}x")
        if abs(results["gpu"] - results["cpu"]) > 0.1 * max(abs(results["cpu"]), 0.1):
            failures.append(name)
    if failures:
        print(f"GPU and CPU quality differ by more than 10% for: {failures}")
        return 1
    print("GPU and CPU results agree (scores within 10%).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
