"""Chain helpers shared by the one-chain-per-thread kernels (inertial, Langevin).

A chain's positions sit in a row of a 2-D scratch array, column ``i`` for
block ``i`` and columns 0 and ``L + 1`` for the fixed ends ``x_0 = 0`` and
``x_{L+1} = y``.
"""

import math

from .._jit import device, jit


@device
def cell_params(params):
    """A cell's row of the parameter table as scalars.

    The table's columns are ``(k, y, mu_plus, mu_minus, dt, sigma, bound, decay, gamma)``,
    the ``PARAMS`` of the inertial and Langevin models.

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


@device
def keep_positions(work, row, old, L, rtol):
    """Copy ``work[row]`` into ``work[old]`` before a step, if the stop rule is on."""
    if rtol >= 0.0:
        for i in range(1, L + 1):
            work[old, i] = work[row, i]


@device
def after_step(work, row, old, L, mean_out, n, average_from, rtol):
    """Bookkeeping after step ``n``; returns whether the chain has settled.

    Adds the positions to ``mean_out`` from step ``average_from`` on; settled is
    :func:`settled` (never for ``rtol < 0``).
    """
    if n >= average_from:
        for i in range(L):
            mean_out[i] += work[row, i + 1]
    return rtol >= 0.0 and settled(work, row, old, L, rtol)


@device
def finish_mean(mean_out, taken, average_from):
    """Divide the summed positions by the steps summed, ``taken - average_from`` (NaN if none)."""
    averaged = taken - average_from
    for i in range(mean_out.shape[0]):
        mean_out[i] = mean_out[i] / averaged if averaged > 0 else math.nan
