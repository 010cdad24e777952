"""Numba's compile options for fastspring's kernels: see :mod:`analysis._jit`.

Defined in the lowest layer so that the vector-width preference is set before Numba
loads, whichever package is imported first; re-exported here for the kernels.
"""

from analysis._jit import device, jit, parallel_chunksize, pjit, prange

__all__ = ["device", "jit", "parallel_chunksize", "pjit", "prange"]
