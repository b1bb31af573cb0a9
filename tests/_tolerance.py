"""Tolerances for comparing floating-point results (see docs/contributing.md).

A float32 result is only reproducible to its last bits on the CPU and BLAS
kernel that computed it: other kernels sum in another order and fuse
multiply-adds differently. Compare float32 results with ``FLOAT32`` (about
100 float32 ulps relative, plus an absolute floor for values near zero), never
with ``assert_allclose``'s default ``rtol=1e-7``.
"""

FLOAT32 = {"rtol": 1e-5, "atol": 1e-6}
