"""Chain helpers shared by the one-chain-per-thread kernels (inertial, Langevin).

A chain's positions sit in a row of a 2-D scratch array, column ``i`` for
block ``i`` and columns 0 and ``L + 1`` for the fixed ends ``x_0 = 0`` and
``x_{L+1} = y``.
"""

from .._jit import device, jit


@device
def cell_params(params):
    """A cell's row of the table ``(k, y, mu_plus, mu_minus, dt, sigma, bound, decay,
    gamma)`` (the ``PARAMS`` of the inertial and Langevin models) as scalars.

    Indexed one by one: tuple-unpacking an array is much slower in Numba.
    """
    return (params[0], params[1], params[2], params[3], params[4], params[5], params[6],
            params[7], params[8])  # fmt: skip


@device
def force(work, row, i, k):
    """Spring force ``F_i = k (x_{i+1} - x_i) - k (x_i - x_{i-1})`` from ``work[row]``."""
    return k * (work[row, i + 1] - work[row, i]) - k * (work[row, i] - work[row, i - 1])


@jit
def settled(work, row, old, L, rtol):
    """The stop rule of every model: ``max_i |x_i - x_i(old)| <= rtol max_i |x_i|``."""
    change = 0.0
    size = 0.0
    for i in range(1, L + 1):
        change = max(change, abs(work[row, i] - work[old, i]))
        size = max(size, abs(work[row, i]))
    return change <= rtol * size
