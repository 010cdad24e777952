"""The one place where kernel compilation options are set, for the whole project.

It lives in the lowest layer, ``analysis``, so that whichever of ``analysis``,
``fastspring`` or ``dnn`` a user imports first, the vector-width preference below is
set before Numba loads (``fastspring._jit`` re-exports these names).

Every kernel and device function is compiled with
``njit(cache=True, nogil=True, error_model="numpy")`` and no ``fastmath``:
results must not depend on the compiler's freedom to reassociate.  (The numpy
error model only removes the zero-division check that would block
vectorisation; IEEE semantics are unchanged.)  Functions compiled this way
can also be called from ``numba.cuda`` kernels, which is how the CPU and CUDA
backends share one source for the random-number generator and step functions.

Vector width: LLVM's tuning for AVX-512 processors prefers 256-bit vectors.
The kernels here are compute-bound (Philox and Box--Muller) and run about a
third faster with 512-bit vectors, so when this module is imported before
Numba, on a processor with AVX-512, it asks Numba for the host processor with
that preference lifted.  Results are bit-for-bit the same (vector width does
not change IEEE arithmetic).  Set ``FASTSPRING_WIDE_VECTORS=0`` (or your own
``NUMBA_CPU_FEATURES``) to keep Numba's defaults.
"""

import os
import sys


def _prefer_wide_vectors():
    if os.environ.get("FASTSPRING_WIDE_VECTORS", "1") == "0":
        return
    if "numba" in sys.modules or "NUMBA_CPU_FEATURES" in os.environ:
        return
    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features()
    if features.get("avx512f"):
        os.environ["NUMBA_CPU_NAME"] = llvm.get_host_cpu_name()
        os.environ["NUMBA_CPU_FEATURES"] = features.flatten() + ",-prefer-256-bit"


_prefer_wide_vectors()

from numba import njit, parallel_chunksize, prange  # noqa: E402

jit = njit(cache=True, nogil=True, error_model="numpy")
#: small functions called from kernels: inlined at the Numba IR level so that
#: the loops that call them stay straight-line code LLVM can vectorise
device = njit(cache=True, nogil=True, error_model="numpy", inline="always")
pjit = njit(cache=True, nogil=True, error_model="numpy", parallel=True)

__all__ = ["device", "jit", "parallel_chunksize", "pjit", "prange"]
