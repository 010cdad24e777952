"""Two-argument ``max`` and ``min`` of numbers for Numba's CUDA target.

Numba 0.66--0.68 route ``max(a, b)`` through a ``*args`` overload that the CUDA
target cannot compile ("Signature mismatch: 2 argument types given, but function
takes 1 arguments", numba/numba#10753), so any device function using them fails
on a GPU while it works on the CPU.  These overloads restore them on the CUDA
target only, with the CPU's semantics: Numba lowers ``max(a, b)`` to
``b if b > a else a`` and ``min(a, b)`` to ``b if b < a else a``.  Importing this
module registers them (the CUDA backend does).
"""

from numba.core import types
from numba.core.extending import overload


def _numbers(a, b):
    return isinstance(a, types.Number) and isinstance(b, types.Number)


@overload(max, target="cuda")
def _max2(a, b):
    if _numbers(a, b):
        return lambda a, b: b if b > a else a
    return None


@overload(min, target="cuda")
def _min2(a, b):
    if _numbers(a, b):
        return lambda a, b: b if b < a else a
    return None
