"""Mean-field (noise-averaged) chain dynamics and the finite-time phase transition they predict.

**Overdamped map (A).** The paper's map (Eq. 6) moves block ``i`` by
``dt * phi(F_i + eps_i)``. Averaging each step over the noise while treating the forces
as deterministic gives the mean-field map

    ``x_i <- x_i + dt * v(F_i(x))``,   ``v(F) = E phi(F + eps)``   (:func:`mean_drift`),

a deterministic system with no free parameter. Its exact properties: with no noise it
*is* the map (so it ends at Eq. 7); its fixed points have ``v(F_i) = 0`` for every
block, i.e. every ``F_i = c = (mu_plus - mu_minus)/2`` once the noise exceeds
``m = (mu_plus + mu_minus)/2`` (Eq. 8 with ``mu_bar = c``), and a force band around 0
for bounded noise below ``m``.

**Langevin variant (C).** Noise enters the velocity, ``dv = (F - gamma v - f(v)) dt +
s dW``. For a constant force the velocity relaxes (in a time ``1/gamma``) to a
stationary law whose mean :func:`langevin_drift` is known in closed form; the
mean-field dynamics move every block at that mean velocity,
``dx_i/dt = V(F_i(x))``, integrated with the kernel's step ``dt``. The same limits
hold: without noise ``V = phi(F)/gamma`` (the map with step ``dt/gamma``, ending at
Eq. 7), and ``V`` is odd about ``c``, so for strong noise every ``F_i -> c`` (Eq. 8).

**Inertial model (B).** The same, with ``V`` the stationary mean velocity of one block
under a constant force and noise held over each step (:func:`analysis.inertial_drift`,
computed on a velocity grid, tabulated over the forces once per noise level); the
model has no step limit, so the mean-field map takes as many sub-steps per step as
keep it stable. Same limits; constant noise only (no decay).

Why it is useful: at finite times Gaussian noise neither acts like bounded noise nor
has reached its large-noise limit. The load curve after ``T`` steps is governed by how
far the slow drift has carried the chain, which the mean-field dynamics compute
directly. Closing the average (``E v(F) ~ v(E F)``) neglects the fluctuations of the
forces, which are small when the noise is small against the friction -- exactly the
regime of the concave -> linear transition. Measured against the simulators in
``benchmarks/check_phase_transition.py``: on the overdamped map (L = 7 and 15,
T = 10**3 to 10**5 steps, dt = 0.01 and 0.1) the mean-field crossing sigma* agreed
with the simulated one to 0.2-1.2 %, while the expected-maximum rule of
:func:`analysis.critical_sigma` was low by a factor 1.5 to 8.4; see that script for
the Langevin variant. What sets the finite-time state is mostly the elapsed time
``T dt`` (the drift has to carry the chain), not the number of draws ``T``.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from ._checks import check_int, check_real
from .friction import _mean_drift, _noise_params, critical_sigma
from .inertial_drift import DriftTable
from .loads import load_curve, load_curve_metrics

__all__ = ["critical_sigma_mean_field", "langevin_drift", "mean_field_positions"]

#: the models whose mean-field dynamics are implemented
MODELS = ("overdamped", "langevin", "inertial")
#: synchronous-noise conventions of the Langevin variant: the velocity noise of each
#: block has intensity ``sigma`` ("shared") or ``sqrt(L) sigma`` ("sum", the paper's code)
SYNC_CONVENTIONS = ("shared", "sum")


def langevin_drift(F, mu_plus, mu_minus, gamma, intensity):
    """Stationary mean velocity of one block of the Langevin variant under a constant force.

    The velocity obeys ``dv = (F - gamma v - f(v)) dt + s dW`` (SM Eqs. 12-13) with
    ``f(v) = mu_plus`` for ``v > 0`` and ``-mu_minus`` for ``v < 0``. Its stationary
    density is ``p(v) ~ exp(-2 U(v) / s**2)``, ``U = gamma v**2 / 2 + mu_plus v_+ +
    mu_minus v_- - F v``: two half-Gaussians of variance ``tau**2 = s**2 / (2 gamma)``
    centred at ``a_+ = (F - mu_plus) / gamma`` and ``a_- = (F + mu_minus) / gamma``.
    Its mean is

    ``V = (a_+ A_+ + a_- A_-) / (A_+ + A_-)``,
    ``A_+ = erfcx(-a_+ / (tau sqrt 2))``, ``A_- = erfcx(a_- / (tau sqrt 2))``

    (``erfcx(z) = exp(z**2) erfc(z)``; the half-Gaussians' pdf terms cancel). Without
    noise ``V = phi(F) / gamma``; ``V`` is odd about ``F = c = (mu_plus - mu_minus)/2``
    and non-decreasing in ``F``.

    Parameters
    ----------
    F, mu_plus, mu_minus : float or array_like
        Force and the friction thresholds (``>= 0``); broadcast together.
    gamma : float
        Damping rate, ``> 0``.
    intensity : float or array_like
        ``s >= 0``, the standard deviation of the velocity's noise per unit of time
        (``sigma``, or ``sqrt(L) sigma`` in the "sum" convention).

    Returns
    -------
    ndarray or float
    """
    check_real("gamma", gamma, low=0.0, low_open=True)
    if np.any(np.asarray(intensity) < 0):
        raise ValueError("the noise intensity must be >= 0")
    return _langevin_drift(F, mu_plus, mu_minus, gamma, intensity)[()]


def _langevin_drift(F, mu_plus, mu_minus, gamma, intensity):
    """:func:`langevin_drift` without the argument checks (the mean-field loop's)."""
    F, mu_plus, mu_minus, s = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (F, mu_plus, mu_minus, intensity))
    )
    a_plus = (F - mu_plus) / gamma
    a_minus = (F + mu_minus) / gamma
    quiet = s == 0.0
    scale = np.where(quiet, 1.0, s) / math.sqrt(gamma)  # tau sqrt(2)
    # the weight of the left half, A_- / (A_+ + A_-), written so that one of the two
    # may overflow (a block far beyond a threshold slides one way only); np.where
    # evaluates both branches, the one not taken may overflow or divide inf by inf
    with np.errstate(over="ignore", invalid="ignore"):
        big_plus = special.erfcx(-a_plus / scale)
        big_minus = special.erfcx(a_minus / scale)
        left = np.where(
            big_minus >= big_plus,
            1.0 / (1.0 + big_plus / big_minus),
            big_minus / (big_plus + big_minus),
        )
    noisy = a_plus + (a_minus - a_plus) * left
    still = np.maximum(a_plus, 0.0) + np.minimum(a_minus, 0.0)
    return np.where(quiet, still, noisy)


def _noise_std(sigma, kind, bound):
    """Standard deviation of one draw ``eps`` of Gaussian, clipped or truncated noise."""
    sigma = np.asarray(sigma, dtype=float)
    if kind == "gaussian":
        return sigma
    s = np.where(sigma == 0.0, 1.0, sigma)
    alpha = bound / s
    inside = 1.0 - 2.0 * special.ndtr(-alpha)  # P(|X| <= a)
    tail = 2.0 * alpha * np.exp(-0.5 * alpha * alpha) / math.sqrt(2.0 * math.pi)
    if kind == "clipped":  # E[X^2; |X| <= a] + a^2 P(|X| > a)
        var = s * s * (inside - tail) + bound * bound * (1.0 - inside)
    else:  # truncated: E[X^2 | |X| <= a]
        var = s * s * (1.0 - tail / inside)
    return np.where(sigma == 0.0, 0.0, np.sqrt(var))


def _check_model(model, gamma, sync_convention):
    if model not in MODELS:
        raise ValueError(f"model={model!r}: choose one of {', '.join(MODELS)}")
    if sync_convention not in SYNC_CONVENTIONS:
        raise ValueError(
            f"sync_convention={sync_convention!r}: choose one of {', '.join(SYNC_CONVENTIONS)}"
        )
    if model != "overdamped":
        check_real("gamma", gamma, low=0.0, low_open=True)


def _velocity_scale(L, sync_convention):
    """How many times ``sigma`` the velocity noise of a block is (the "sum" convention)."""
    return math.sqrt(L) if sync_convention == "sum" else 1.0


def mean_field_positions(
    L, k, y, mu_plus, mu_minus, noise, dt, steps, sigmas=None, *,
    model="overdamped", gamma=1.0, sync_convention="shared", average_from=None,
):  # fmt: skip
    """Positions after ``steps`` steps of the mean-field dynamics, starting from rest.

    * ``model="overdamped"``: ``x_i <- x_i + dt * E phi(F_i(x) + eps)``, the exact mean
      drift of :func:`analysis.mean_drift`, all blocks updated synchronously from the
      old state like the map (paper Eq. 6);
    * ``model="langevin"``: ``x_i <- x_i + dt * V(F_i(x))`` with the stationary mean
      velocity ``V`` of :func:`langevin_drift` (SM Eqs. 12-13);
    * ``model="inertial"``: the same with ``V`` of :func:`analysis.inertial_drift`
      (Eqs. 4, 10-11), in ``ceil(4 dt k / gamma)`` sub-steps per step.

    The noise level of step ``n`` is ``sigma exp(-decay n dt)``, as in the simulators.
    See the module docstring.

    Parameters
    ----------
    L : int
        Number of blocks.
    k, y, mu_plus, mu_minus : float
        Chain parameters (stiffness, pull, friction thresholds).
    noise : fastspring.Noise-like, float or None
        The noise (level, kind, bound and decay).
    dt : float
        Step; ``dt * k < 1/2`` (``dt * k / gamma < 1/2`` for the Langevin variant; any
        for the inertial model).
    steps : int
        Number of steps.
    sigmas : array_like, optional
        A sweep of noise levels (same kind, bound and decay as ``noise``), integrated
        side by side; the result then has shape ``(len(sigmas), L)``.
    model : {"overdamped", "langevin", "inertial"}
    gamma : float
        Damping rate of the Langevin variant and the inertial model.
    sync_convention : {"shared", "sum"}
        For the Langevin variant: "sum" gives every block's velocity noise the intensity
        ``sqrt(L) sigma`` (the paper's code with synchronous noise).
    average_from : int, optional
        Return the positions averaged over the steps after ``average_from`` (the
        simulators' ``x_mean``: after steps ``average_from + 1`` to ``steps``) instead
        of the final positions.

    Returns
    -------
    ndarray, shape (L,) or (len(sigmas), L)
    """
    sigma, kind, bound, decay = _noise_params(noise)
    _check_model(model, gamma, sync_convention)
    L = check_int("L", L, low=1)
    steps = check_int("steps", steps, low=0)
    for name, value in (("k", k), ("dt", dt)):
        check_real(name, value, low=0.0, low_open=True)
    for name, value in (("mu_plus", mu_plus), ("mu_minus", mu_minus)):
        check_real(name, value, low=0.0)
    check_real("y", y)
    rate = dt * k / (1.0 if model == "overdamped" else gamma)
    # the inertial model has no step limit (exact integration): its mean field takes
    # as many sub-steps per step as keep the map stable
    substeps = max(math.ceil(rate / 0.25), 1) if model == "inertial" else 1
    if not 0 < rate / substeps < 0.5:
        name = "dt * k / gamma" if model == "langevin" else "dt * k"
        raise ValueError(f"{name} must lie in (0, 1/2) for a stable map, got {rate:g}")
    if model == "inertial" and decay > 0.0:
        raise ValueError("the inertial model's mean field takes constant noise (decay = 0)")
    start = steps if average_from is None else int(average_from)
    if not 0 <= start <= steps or (average_from is not None and start == steps):
        raise ValueError(f"average_from must lie in [0, steps), got {average_from}")
    single = sigmas is None
    sig = np.atleast_1d(np.asarray(sigma if single else sigmas, dtype=float))[:, None]
    if np.any(sig < 0):
        raise ValueError("noise levels must be >= 0")
    scale = _velocity_scale(L, sync_convention)
    if model == "inertial":
        table = DriftTable(sig[:, 0], mu_plus, mu_minus, gamma, dt, kind, bound)
    x = np.zeros((sig.shape[0], L + 2))
    x[:, -1] = y
    total = np.zeros_like(x)
    for n in range(steps):
        sig_n = sig * math.exp(-decay * n * dt) if decay > 0.0 else sig
        for _ in range(substeps):
            force = k * (x[:, 2:] - 2.0 * x[:, 1:-1] + x[:, :-2])
            if model == "inertial":
                drift = table(force)
            elif model == "langevin":
                s = scale * _noise_std(sig_n, kind, bound)
                drift = _langevin_drift(force, mu_plus, mu_minus, gamma, s)
            else:
                drift = _mean_drift(force, mu_plus, mu_minus, sig_n, kind, bound)
            x[:, 1:-1] += dt / substeps * drift
        if n >= start:
            total += x
    out = x[:, 1:-1] if average_from is None else total[:, 1:-1] / (steps - start)
    return out[0] if single else out


@dataclass(frozen=True)
class _Noise:
    sigma: float
    kind: str
    bound: float | None
    decay: float


def critical_sigma_mean_field(
    L, k, y, mu_plus, mu_minus, dt, steps, kind="gaussian", bound=None, grid=48, rounds=3,
    *, decay=0.0, model="overdamped", gamma=1.0, sync_convention="shared", average_from=None,
):  # fmt: skip
    """Noise level where the mean-field load curve after ``steps`` steps turns linear.

    The scale-free curvature ``c_rel`` (:func:`analysis.load_curve_metrics`) of
    :func:`mean_field_positions` (with ``model``, ``gamma``, ``sync_convention``,
    ``average_from`` and the noise's ``kind``, ``bound``, ``decay``) is evaluated on a
    log grid of ``grid`` noise levels spanning a factor 4096, the first sign change from
    concave to convex is bracketed, and the bracket is refined ``rounds`` times on a new
    grid; the crossing is then linearly interpolated in ``log sigma``. Cost:
    ``rounds * steps`` vectorised steps (for the inertial model also ``rounds * grid``
    drift tables, ~0.15 s each: ``grid=8, rounds=3`` is plenty there).

    Parameters
    ----------
    L, k, y, mu_plus, mu_minus : int, float
        The chain (as in :func:`mean_field_positions`).
    dt, steps : float, int
        The run: step and number of steps.
    kind, bound, decay
        The noise: "gaussian", "clipped" or "truncated", its bound, and the decay rate
        of ``sigma exp(-decay t)``.
    grid, rounds : int
        Noise levels per search grid, and number of refinements.
    model, gamma, sync_convention, average_from
        As in :func:`mean_field_positions`.

    Returns
    -------
    float
        ``sigma*``, or NaN if the curvature does not change sign in the searched range
        (e.g. the run is too short for the noise to relax the chain, or
        ``mu_minus < mu_plus``).
    """
    _check_model(model, gamma, sync_convention)
    if int(rounds) != rounds or rounds < 1 or int(grid) != grid or grid < 2:
        raise ValueError(f"rounds >= 1 and grid >= 2 must be integers, got {rounds}, {grid}")
    if mu_minus < mu_plus:
        return math.nan
    if mu_plus == 0.0:
        return 0.0
    if model == "langevin":
        # the velocity noise's spread tau = s / sqrt(2 gamma) against mu_plus / gamma
        guess = mu_plus * math.sqrt(2.0 / gamma) / _velocity_scale(L, sync_convention)
    else:
        guess = critical_sigma(mu_plus, mu_minus, window=max(int(steps), 2))
    lo, hi = guess / 64.0, guess * 64.0
    noise = _Noise(1.0, kind, bound, decay)
    for _ in range(int(rounds)):
        sigmas = np.geomspace(lo, hi, int(grid))
        x = mean_field_positions(
            L, k, y, mu_plus, mu_minus, noise, dt, steps, sigmas=sigmas, model=model,
            gamma=gamma, sync_convention=sync_convention, average_from=average_from,
        )  # fmt: skip
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
