"""CNNFeatureExtractor on CUDA: same features as on the CPU, and images/s.

Runs resnet18 (one random initialisation, shared by both devices) on 256
synthetic images of mixed sizes, on the CPU and on CUDA, and prints the largest
difference between the two and the images/s of each. Prints "no CUDA" and
exits 0 when no GPU is present.

Usage::

    python benchmarks/gpu_check_image.py [--n-images 256] [--batch-size 64]
"""

import argparse
import pickle
import sys
import time
import warnings

import numpy as np
import torch

from skcrossmodal.feature_extraction import CNNFeatureExtractor


def synthetic_images(n_images, seed=0):
    rng = np.random.default_rng(seed)
    sizes = [(64, 48, 3), (96, 96, 3), (300, 240, 3), (28, 28)]
    return [
        rng.integers(0, 256, sizes[k % len(sizes)], dtype=np.uint8)
        for k in range(n_images)
    ]


def images_per_second(extractor, images, repeats=3):
    extractor.transform(images[: extractor.batch_size])  # warm-up
    times = []
    for _ in range(repeats):
        if extractor.device_.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        extractor.transform(images)
        times.append(time.perf_counter() - start)
    return len(images) / float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA")
        return 0
    images = synthetic_images(args.n_images)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # random initialisation
        cpu = CNNFeatureExtractor(
            batch_size=args.batch_size, device="cpu", random_state=0
        ).fit(images)
        cuda = CNNFeatureExtractor(
            batch_size=args.batch_size, device="auto", random_state=0
        ).fit(images)
    assert cuda.device_.type == "cuda", cuda.device_
    cpu_features = cpu.transform(images)
    cuda_features = cuda.transform(images)
    difference = np.abs(cpu_features - cuda_features).max()
    scale = np.abs(cpu_features).max()
    print(f"device: {torch.cuda.get_device_name()}")
    print(
        f"max |cuda - cpu| = {difference:.3e}, max |cpu| = {scale:.3e}, "
        f"relative {difference / scale:.3e}"
    )
    # A pickled CUDA extractor comes back on CUDA with the same features.
    restored = pickle.loads(pickle.dumps(cuda))
    restored_difference = np.abs(
        restored.transform(images[:8]) - cuda_features[:8]
    ).max()
    print(
        f"pickle round trip on {restored.device_}: "
        f"max difference {restored_difference:.3e}"
    )
    workers = CNNFeatureExtractor(batch_size=args.batch_size, n_jobs=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        workers.fit(images)
    print(f"{'setting':<32} {'images/s':>9}")
    print(f"{'cpu':<32} {images_per_second(cpu, images[:64], repeats=1):>9.1f}")
    print(f"{'cuda, n_jobs=1':<32} {images_per_second(cuda, images):>9.1f}")
    print(f"{'cuda, n_jobs=4':<32} {images_per_second(workers, images):>9.1f}")
    # Preprocessing runs on the GPU without workers, on the CPU with them: the
    # two differ by resampling rounding only.
    ok = difference <= 1e-2 * scale and restored_difference <= 1e-5 * scale
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
