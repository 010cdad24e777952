r"""Model (A): the paper's overdamped stick--slip map (paper Eqs. 5--6).

.. math::  x_i \leftarrow x_i + \eta\, \varphi\big(F_i(x) + \varepsilon_i\big),
           \qquad F_i = k(x_{i+1} - x_i) - k(x_i - x_{i-1}),

a synchronous update of all blocks from the old state, with friction acting on
the noisy force.  Stable for :math:`\eta k < 1/2`.

Layout: chains are processed in tiles of :data:`TILE` side by side, the loop
over the chains of a tile innermost, so the update and the random-number
generation vectorise.  Every chain draws from its own Philox stream keyed by
``(seed, chain)``; the result of a chain does not depend on the tile it is
in, the number of threads or the other chains.
"""

import math

import numpy as np

from .._jit import device, jit, pjit, prange
from ..rng import fill_normals
from .friction import TRUNCATED, clip, phi, redraw_truncated

#: chains per tile (vector lanes side by side)
TILE = 256
#: a tile's lanes are padded to a multiple of this, the width of an AVX-512
#: vector of doubles, so that no chain falls into the slow scalar remainder loop
#: (padding lanes are computed and thrown away; they cost at most 7 chains)
LANES = 8


@device
def block_update(x_left, x, x_right, k, eta, mu_plus, mu_minus, eps):
    """One block's step of the map: ``x + eta * phi(F + eps)`` (Eq. 6)."""
    force = k * (x_right - x) - k * (x - x_left)
    return x + eta * phi(force + eps, mu_plus, mu_minus)


#: columns of the per-cell parameter table the kernel takes
PARAMS = ("k", "y", "mu_plus", "mu_minus", "dt", "sigma", "bound", "decay")
#: columns of the per-cell integer table: noise kind code, synchronous flag
FLAGS = ("kind", "synchronous")


@jit
def _run_tile(
    x_out, mean_out, rec, steps_taken, converged, params, flags, seed, chain0, steps,
    record_every, rtol, average_from, given, use_given,
):  # fmt: skip
    """Integrate one tile of chains of one cell; arrays are views of the tile's chains."""
    # indexed one by one: tuple-unpacking the array costs 1.6x in the loops below
    k, y, mu_plus, mu_minus = params[0], params[1], params[2], params[3]
    eta, sigma, bound, decay = params[4], params[5], params[6], params[7]
    kind = flags[0]
    sync = flags[1] != 0
    chains, L = x_out.shape
    # (spelled so that LLVM cannot infer the multiple of 8: when it does, it
    # vectorises fill_normals worse, 1.6x slower)
    lanes = chains + (-chains) % LANES
    rows = 1 if sync else L
    pos = np.zeros((L + 2, lanes))
    pos[L + 1, :] = y
    z = np.zeros((4 * ((rows + 3) // 4), lanes))
    words = np.empty(z.shape, dtype=np.uint64)
    left_old = np.empty(lanes)
    before = np.empty((L + 2, lanes)) if rtol >= 0.0 else pos
    active = np.zeros(lanes, dtype=np.bool_)
    active[:chains] = True
    n_active = chains
    mean_out[:] = 0.0
    rec[0] = 0.0
    n_rec = rec.shape[0]
    next_rec = 1
    for n in range(steps):
        step = np.uint64(n)
        sig = sigma * math.exp(-decay * (n * eta)) if decay > 0.0 else sigma
        if use_given:
            for i in range(rows):
                for c in range(chains):
                    z[i, c] = given[n, c, i]
        elif sig > 0.0:  # a noiseless cell needs no draws (z stays 0)
            fill_normals(z, words, seed, chain0, step, np.uint64(0))
            if kind == TRUNCATED:
                redraw_truncated(z, sig, bound, seed, chain0, step, sync)
        if rtol >= 0.0:
            before[:] = pos
        for c in range(lanes):
            left_old[c] = 0.0
        for i in range(1, L + 1):
            zi = 0 if sync else i - 1
            for c in range(lanes):
                old = pos[i, c]
                eps = clip(sig * z[zi, c], bound)
                new = block_update(left_old[c], old, pos[i + 1, c], k, eta, mu_plus, mu_minus, eps)
                left_old[c] = old
                pos[i, c] = new if active[c] else old
        if n >= average_from:
            for c in range(chains):
                if active[c]:
                    for i in range(L):
                        mean_out[c, i] += pos[i + 1, c]
        if rtol >= 0.0:
            for c in range(chains):
                dmax = 0.0
                xmax = 0.0
                for i in range(1, L + 1):
                    dmax = max(dmax, abs(pos[i, c] - before[i, c]))
                    xmax = max(xmax, abs(pos[i, c]))
                if active[c] and dmax <= rtol * xmax:
                    active[c] = False
                    converged[c] = True
                    steps_taken[c] = n + 1
                    n_active -= 1
        done = n + 1 == steps or n_active == 0
        if (n + 1) % record_every == 0 or done:
            last = n_rec if done else next_rec + 1
            for j in range(next_rec, last):
                for c in range(chains):
                    for i in range(L):
                        rec[j, c, i] = pos[i + 1, c]
            next_rec = last
        if n_active == 0:
            break
    for c in range(chains):
        if active[c]:
            steps_taken[c] = steps
        averaged = steps_taken[c] - average_from
        for i in range(L):
            x_out[c, i] = pos[i + 1, c]
            mean_out[c, i] = mean_out[c, i] / averaged if averaged > 0 else np.nan


@pjit
def run_overdamped(
    x_out, mean_out, rec, steps_taken, converged, params, flags, seed, chain0, steps,
    record_every, rtol, average_from, given, use_given,
):  # fmt: skip
    """Integrate the map (Eq. 6) for ``cells x chains`` chains, tiles in parallel.

    Arrays and scalars only (validated by the caller).  Per cell ``j``:
    ``params[j]`` holds the columns :data:`PARAMS` (``bound`` is inf for
    Gaussian noise; ``decay`` the rate of ``sigma * exp(-decay t)``) and
    ``flags[j]`` the columns :data:`FLAGS`.  Outputs: ``x_out (cells, chains,
    L)`` final positions; ``mean_out`` the same shape, positions averaged over
    the steps after ``average_from`` (NaN if none); ``rec (cells, n_rec,
    chains, L)`` records every ``record_every`` steps (``rec[:, 0]`` the
    initial state; records after a chain stops repeat its final state);
    ``steps_taken`` (int64) and ``converged`` (bool), shape (cells, chains).
    ``seed`` and ``chain0`` (uint64) key the RNG: chain ``c`` of every cell
    draws from stream ``(seed, chain0 + c)``.  ``rtol < 0`` disables the
    relative-change stop.  ``given (steps, chains, rows)`` holds standard-normal
    draws used instead of the generator when ``use_given``.
    """
    cells, chains = x_out.shape[:2]
    n_tiles = (chains + TILE - 1) // TILE
    for job in prange(cells * n_tiles):
        j = job // n_tiles
        lo = (job % n_tiles) * TILE
        hi = min(lo + TILE, chains)
        g = given[:, lo:hi, :] if use_given else given
        _run_tile(
            x_out[j, lo:hi], mean_out[j, lo:hi], rec[j, :, lo:hi, :], steps_taken[j, lo:hi],
            converged[j, lo:hi], params[j], flags[j], seed, chain0 + np.uint64(lo), steps,
            record_every, rtol, average_from, g, use_given,
        )  # fmt: skip
