"""The noise-averaged (mean-field) overdamped map, and the finite-time phase transition
it predicts.

The paper's map (Eq. 6) moves block ``i`` by ``dt * phi(F_i + eps_i)``. Averaging each
step over the noise while treating the forces as deterministic gives the mean-field map

    ``x_i <- x_i + dt * v(F_i(x))``,   ``v(F) = E phi(F + eps)``   (:func:`mean_drift`),

a deterministic system with no free parameter. Its exact properties: with no noise it
*is* the map (so it ends at Eq. 7); its fixed points have ``v(F_i) = 0`` for every
block, i.e. every ``F_i = c = (mu_plus - mu_minus)/2`` once the noise exceeds
``m = (mu_plus + mu_minus)/2`` (Eq. 8 with ``mu_bar = c``), and a force band around 0
for bounded noise below ``m``.

Why it is useful: at finite times Gaussian noise neither acts like bounded noise nor
has reached its large-noise limit. The load curve after ``T`` steps is governed by how
far the slow drift ``v`` has carried the chain, which the mean-field map computes
directly. Closing the average (``E v(F) ~ v(E F)``) neglects the fluctuations of the
forces, which are small when the noise is small against the friction -- exactly the
regime of the concave -> linear transition. Measured against the simulator in
``benchmarks/check_phase_transition.py`` (L = 7 and 15, T = 10**3 to 10**5 steps,
dt = 0.01 and 0.1): the mean-field crossing sigma* agreed with the simulated one to
0.2-1.2 %, while the expected-maximum rule of :func:`analysis.critical_sigma` was low
by a factor 1.5 to 8.4. What sets the finite-time state is mostly the elapsed time
``T dt`` (the drift has to carry the chain), not the number of draws ``T``.
"""

import math

import numpy as np

from .friction import _noise_params, _stop_loss
from .loads import load_curve, load_curve_metrics

__all__ = ["critical_sigma_mean_field", "mean_field_positions"]


def mean_field_positions(L, k, y, mu_plus, mu_minus, noise, dt, steps, sigmas=None):
    """Positions after ``steps`` steps of the mean-field map, starting from rest.

    ``x_i <- x_i + dt * E phi(F_i(x) + eps)`` with the exact mean drift of
    :func:`analysis.mean_drift`, all blocks updated synchronously from the old state
    like the overdamped map (paper Eq. 6); see the module docstring.

    Parameters
    ----------
    L : int
        Number of blocks.
    k, y, mu_plus, mu_minus : float
        Chain parameters (stiffness, pull, friction thresholds).
    noise : fastspring.Noise-like, float or None
        The noise; its decay, if any, is ignored.
    dt : float
        Step of the map (``dt * k < 1/2``).
    steps : int
        Number of steps.
    sigmas : array_like, optional
        A sweep of noise levels (same kind and bound as ``noise``), integrated side by
        side; the result then has shape ``(len(sigmas), L)``.

    Returns
    -------
    ndarray, shape (L,) or (len(sigmas), L)
    """
    sigma, kind, bound, _ = _noise_params(noise)
    L = int(L)
    steps = int(steps)
    if L < 1 or steps < 0:
        raise ValueError("L must be >= 1 and steps >= 0")
    if not 0 < dt * k < 0.5:
        raise ValueError(f"dt * k must lie in (0, 1/2) for a stable map, got {dt * k:g}")
    single = sigmas is None
    sig = np.atleast_1d(np.asarray(sigma if single else sigmas, dtype=float))[:, None]
    if np.any(sig < 0):
        raise ValueError("noise levels must be >= 0")
    m = 0.5 * (mu_plus + mu_minus)
    c = 0.5 * (mu_plus - mu_minus)
    x = np.zeros((sig.shape[0], L + 2))
    x[:, -1] = y
    for _ in range(steps):
        h = k * (x[:, 2:] - 2.0 * x[:, 1:-1] + x[:, :-2]) - c
        x[:, 1:-1] += dt * (
            _stop_loss(m - h, sig, kind, bound) - _stop_loss(m + h, sig, kind, bound)
        )
    out = x[:, 1:-1]
    return out[0] if single else out


def critical_sigma_mean_field(
    L, k, y, mu_plus, mu_minus, dt, steps, kind="gaussian", bound=None, grid=48, rounds=3
):
    """Noise level where the mean-field load curve after ``steps`` steps turns linear.

    The scale-free curvature ``c_rel`` (:func:`analysis.load_curve_metrics`) of
    :func:`mean_field_positions` is evaluated on a log grid of ``grid`` noise levels
    spanning a factor 4096, the first sign change from concave to convex is bracketed,
    and the bracket is refined ``rounds`` times on a new grid; the crossing is then
    linearly interpolated in ``log sigma``. Cost: ``rounds * steps`` vectorised steps.

    Returns
    -------
    float
        ``sigma*``, or NaN if the curvature does not change sign in the searched range
        (e.g. the run is too short for the noise to relax the chain, or
        ``mu_minus < mu_plus``).
    """
    from .friction import critical_sigma

    if mu_minus < mu_plus:
        return math.nan
    if mu_plus == 0.0:
        return 0.0

    class _N:
        def __init__(self):
            self.sigma, self.kind, self.bound, self.decay = 1.0, kind, bound, 0.0

    guess = critical_sigma(mu_plus, mu_minus, window=max(int(steps), 2))
    lo, hi = guess / 64.0, guess * 64.0
    for _ in range(int(rounds)):
        sigmas = np.geomspace(lo, hi, int(grid))
        x = mean_field_positions(L, k, y, mu_plus, mu_minus, _N(), dt, steps, sigmas=sigmas)
        c_rel = load_curve_metrics(load_curve(x, y))["c_rel"]
        sign = np.sign(c_rel)
        idx = np.flatnonzero((sign[:-1] < 0) & (sign[1:] >= 0))
        if idx.size == 0:
            return math.nan
        i = idx[0]
        lo, hi = sigmas[i], sigmas[i + 1]
        v0, v1 = c_rel[i], c_rel[i + 1]
    if v1 == 0:
        return float(hi)
    lx0, lx1 = math.log(lo), math.log(hi)
    return float(math.exp(lx0 - v0 * (lx1 - lx0) / (v1 - v0)))
