"""The one place where kernel compilation options are set.

Every kernel and device function in fastspring is compiled with :data:`jit`
(``njit(cache=True, nogil=True)``, no ``fastmath``: results must not depend on
the compiler's freedom to reassociate).  Functions compiled this way can also be
called from ``numba.cuda`` kernels, which is how the CPU and CUDA backends share
one source for the random-number generator and the step functions.
"""

from numba import njit, prange

jit = njit(cache=True, nogil=True, error_model="numpy")
#: small functions called from kernels: inlined at the Numba IR level so that
#: the loops that call them stay straight-line code LLVM can vectorise
device = njit(cache=True, nogil=True, error_model="numpy", inline="always")
pjit = njit(cache=True, nogil=True, error_model="numpy", parallel=True)

__all__ = ["device", "jit", "pjit", "prange"]
