"""Images/s of CNNFeatureExtractor against a plain NCHW torchvision loop.

Both run the same network (resnet18, one random initialisation), the same
preprocessing (torchvision's ImageNet preset: resize 256, centre crop 224,
ImageNet mean/std), the same MNIST test images (28 x 28 grayscale, repeated to
three channels), the same batch size, under ``torch.inference_mode()`` on the
CPU. The peer is the loop torchvision's documentation shows: the preset on each
image tensor, ``torch.stack``, ``model(batch)`` in the default NCHW layout.

Usage::

    python benchmarks/bench_image.py [--quick] [--threads N] [--arch resnet18]
"""

import argparse
import gzip
import statistics
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torchvision
from torchvision.transforms._presets import ImageClassification

from skcrossmodal.feature_extraction import CNNFeatureExtractor

MNIST = (
    Path(__file__).resolve().parents[2]
    / "shared/data/avmnist_sources/mnist/t10k-images-idx3-ubyte.gz"
)
if not MNIST.exists():  # the checkout beside shared/, as in CI
    MNIST = Path("/work/shared/data/avmnist_sources/mnist/t10k-images-idx3-ubyte.gz")


def load_mnist_images(n_images):
    """The first ``n_images`` MNIST test images, uint8 of shape (n, 28, 28)."""
    with gzip.open(MNIST, "rb") as f:
        data = f.read()
    magic, n, rows, cols = np.frombuffer(data[:16], dtype=">i4")
    if magic != 2051:
        raise ValueError(f"{MNIST} is not an idx3 image file (magic {magic}).")
    images = np.frombuffer(data[16:], dtype=np.uint8).reshape(n, rows, cols)
    return list(images[:n_images].copy())


def plain_loop(model, images, batch_size):
    """The peer: per-image preset, NCHW batches, inference mode."""
    preset = ImageClassification(crop_size=224)
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            tensors = [
                preset(torch.from_numpy(image).unsqueeze(0).expand(3, -1, -1))
                for image in images[start : start + batch_size]
            ]
            outputs.append(model(torch.stack(tensors)).numpy())
    return np.concatenate(outputs)


def seconds(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 images, 3 repeats")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    n_images, repeats = (64, 3) if args.quick else (128, 5)
    images = load_mnist_images(n_images)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # random initialisation
        ours = {
            "CNNFeatureExtractor": CNNFeatureExtractor(
                arch=args.arch, batch_size=args.batch_size, device="cpu", random_state=0
            ).fit(images),
            "  same, channels_last=False": CNNFeatureExtractor(
                arch=args.arch,
                batch_size=args.batch_size,
                device="cpu",
                channels_last=False,
                random_state=0,
            ).fit(images),
        }
    # The peer runs the very same weights, in the default NCHW layout.
    peer = torchvision.models.get_model(args.arch)
    peer.load_state_dict(
        {
            k: v.contiguous()
            for k, v in ours["  same, channels_last=False"]
            .module_.network.state_dict()
            .items()
        },
        strict=False,
    )
    *_, head = (
        name for name, m in peer.named_modules() if isinstance(m, torch.nn.Linear)
    )
    parent, _, child = head.rpartition(".")
    setattr(peer.get_submodule(parent) if parent else peer, child, torch.nn.Identity())
    peer.eval()

    runs = {
        "plain torchvision loop (NCHW)": lambda: plain_loop(
            peer, images, args.batch_size
        ),
        **{name: (lambda e=e: e.transform(images)) for name, e in ours.items()},
    }
    reference = plain_loop(peer, images, args.batch_size)
    for name, extractor in ours.items():
        difference = np.abs(extractor.transform(images) - reference).max()
        scale = np.abs(reference).max()
        print(
            f"{name.strip()}: max |ours - plain| = {difference:.2e} "
            f"(max |plain| {scale:.2e})"
        )

    # Interleave the methods, so that load from elsewhere hits all alike.
    all_times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            all_times[name].append(seconds(run))
    peer_median = statistics.median(all_times["plain torchvision loop (NCHW)"])

    print(
        f"\n{args.arch}, {n_images} MNIST images, batch {args.batch_size}, "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, "
        f"median of {repeats}"
    )
    print(f"{'method':<32} {'median s':>9} {'images/s':>9} {'speed-up':>9}")
    for name, times in all_times.items():
        median = statistics.median(times)
        print(
            f"{name:<32} {median:>9.3f} {n_images / median:>9.1f} "
            f"{peer_median / median:>8.2f}x"
        )


if __name__ == "__main__":
    main()
