"""The force noise of one chain at one step, for the one-chain-per-thread kernels.

The inertial and Langevin kernels integrate one chain at a time (their event
logic and branches do not vectorise over chains), so they draw the noise of a
chain directly instead of a tile at a time.  The numbers are exactly those of
the overdamped kernel: draw ``i`` of step ``n`` of chain ``c`` is component
``i % 4`` of ``normals4(seed, c, n, i // 4, 0)``, truncated noise redraws
from streams 1, 2, ... (as :func:`fastspring.models.friction.redraw_truncated`),
and synchronous noise uses draw 0 for every block.  So ``(seed, chain)`` gives
the same noise on every model and backend.
"""

import math

from .._jit import device
from ..rng import box_muller, normal, words4
from .friction import TRUNCATED, clip


@device
def chain_noise(eps, rows, sig, bound, kind, seed, chain, step, given_row, use_given):
    """Write the noise ``eps[0:rows]`` of one chain at one step.

    Parameters
    ----------
    eps : 1-D float64 array, length >= rows
        Output: ``clip(sig * z_i, bound)`` (docs/theory.md, "Noise options").
    rows : int
        Number of draws: ``L``, or 1 for synchronous noise.
    sig : float
        The standard deviation at this step, ``sigma * exp(-decay * t)``.
    bound : float
        The bound ``a`` (``inf`` for Gaussian noise); draws with
        ``|sig z| > a`` are clipped, or redrawn when ``kind`` is truncated.
    kind : int
        Noise-kind code (:mod:`fastspring.models.friction`).
    seed, chain, step : uint64
        The Philox key and counter (:mod:`fastspring.rng`).
    given_row : 1-D float64 array
        Standard-normal draws of this step, used instead of the generator
        when ``use_given`` (never redrawn).
    use_given : bool
    """
    for g in range(0 if use_given else (rows + 3) // 4):
        # normals4 (seed, chain, step, g, 0), its second pair only when needed
        w0, w1, w2, w3 = words4(seed, chain, step, g, 0)
        i = 4 * g
        eps[i], z1 = box_muller(w0, w1)
        if i + 1 < rows:
            eps[i + 1] = z1
        if i + 2 < rows:
            eps[i + 2], z3 = box_muller(w2, w3)
            if i + 3 < rows:
                eps[i + 3] = z3
    for i in range(rows):
        z = given_row[i] if use_given else eps[i]
        if kind == TRUNCATED and not use_given:
            attempt = 1
            while abs(sig * z) > bound:
                z = normal(seed, chain, step, i, attempt)
                attempt += 1
        eps[i] = clip(sig * z, bound)


@device
def step_noise(eps, L, sync, sigma, decay, t, bound, kind, seed, chain, step, given_row,
               use_given):  # fmt: skip
    """The noise ``eps[0:L]`` of all blocks of one chain at step ``step`` (time ``t``).

    ``sigma`` decays as ``sigma * exp(-decay * t)``; with ``sync`` one draw
    (:func:`chain_noise` with one row) is shared by every block.
    """
    sig = sigma * math.exp(-decay * t) if decay > 0.0 else sigma
    chain_noise(eps, 1 if sync else L, sig, bound, kind, seed, chain, step, given_row, use_given)
    if sync:
        for i in range(1, L):
            eps[i] = eps[0]
