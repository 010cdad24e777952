"""Asymmetric dry friction under noise: activation, mean drift and effective friction.

The activation phi, its mean under noise, and the effective friction that sets the
shape of the load curve (paper Eq. 8).

Reference: Shi, Pan & Dokmanic, "A spring-block theory of feature learning in deep
neural networks", arXiv:2407.19353 (Phys. Rev. Lett. 2025), Eqs. 5-8 and SM S6.2.

The noise argument is duck-typed: any object with the attributes of
``fastspring.Noise`` (``sigma``, ``kind`` in {"gaussian", "clipped", "truncated"},
``bound``, ``decay``), a plain float (Gaussian noise of that standard deviation), or
``None`` (no noise). This module never imports ``fastspring``.

Summary of the theory implemented here
--------------------------------------
Write ``m = (mu_plus + mu_minus)/2`` and ``c = (mu_plus - mu_minus)/2``.

* ``phi(f) = S_m(f - c)`` with ``S_m`` the soft threshold, so ``phi`` is odd about
  ``c``; for any symmetric noise the mean drift ``E phi(F + eps)`` is odd about ``c``
  and vanishes there.
* Noise bounded by ``a <= m``: a block can only move while its force leaves the band
  ``[-mu_minus + a, mu_plus - a]``; a chain pulled from rest stops with every moved
  block at ``F = mu_plus - a`` (exactly, for clipped noise and ``a <= mu_minus``), so
  Eq. 7 holds with ``mu_bar = mu_plus - a``.
* Noise that exceeds ``m`` (``a > m``, or Gaussian noise waited on long enough): the
  dynamics of the deviation from the state with every ``F_l = c`` is symmetric under
  reflection, so the stationary mean positions are those of Eq. 8 with
  ``mu_bar = c`` for every noise level (no partial mobilisation).
* Together: ``mu_bar = mu_plus - min(a, m)``, continuous at ``a = m``. For
  ``mu_minus > mu_plus`` the load curve goes concave -> linear (at ``a = mu_plus``)
  -> convex as the noise grows; for ``mu_minus < mu_plus`` it stays concave.
* Gaussian noise has no bound. Over a finite window of ``T`` draws per block it acts
  like bounded noise with ``a`` about the largest draw, which we take to be the
  expected maximum of ``T`` draws (``rule="expected_max"``, computed exactly by
  quadrature; it is close to ``sigma sqrt(2 ln T)`` for huge ``T``, the cruder
  ``rule="sqrt2log"``). This finite-window rule is only a rough guide: measured on
  the overdamped map (``benchmarks/check_phase_transition.py``) it puts the linear
  point sigma* too low by a factor 1.5 to 8.4, because moving a block takes many
  small exceedances and the elapsed time ``T dt`` matters, not only ``T``. For a
  quantitative finite-time prediction use :func:`analysis.critical_sigma_mean_field`
  (the noise-averaged map; within about 1 % there).
"""

import math
import warnings

import numpy as np
from scipy import integrate, optimize, special

from ._checks import NOISE_KINDS, check_choice, check_real
from .equilibria import equilibrium
from .loads import DEFAULT_PHASE_TOL, load_curve_metrics

__all__ = [
    "critical_bound",
    "critical_sigma",
    "effective_bound",
    "effective_equilibrium",
    "effective_friction",
    "expected_max",
    "friction_activation",
    "mean_drift",
    "predicted_phase",
]

_SQRT_2PI = math.sqrt(2.0 * math.pi)
_RULES = ("expected_max", "sqrt2log")


# --------------------------------------------------------------------------- noise


def _noise_params(noise):
    """Return ``(sigma, kind, bound, decay)`` from a Noise-like object, float or None."""
    if noise is None:
        return 0.0, "gaussian", math.inf, 0.0
    if isinstance(noise, (int, float, np.floating, np.integer)) and not isinstance(noise, bool):
        sigma = float(noise)
        if not sigma >= 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        return sigma, "gaussian", math.inf, 0.0
    try:
        sigma = float(noise.sigma)
        kind = str(noise.kind)
    except AttributeError as err:
        raise TypeError(
            "noise must be None, a float sigma, or an object with attributes "
            f"sigma, kind, bound (like fastspring.Noise); got {noise!r}"
        ) from err
    bound = getattr(noise, "bound", None)
    decay = float(getattr(noise, "decay", 0.0) or 0.0)
    if kind == "gaussian":
        bound = math.inf
    elif kind in ("clipped", "truncated"):
        if bound is None or not float(bound) > 0:
            raise ValueError(f"{kind} noise needs a bound > 0, got {bound!r}")
        bound = float(bound)
    else:
        raise ValueError(f"unknown noise kind {kind!r}")
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    return sigma, kind, bound, decay


# ------------------------------------------------------------------ activation, drift


def friction_activation(f, mu_plus, mu_minus):
    """Friction activation ``phi`` (paper Eqs. 5-6): the velocity of a block under force f.

    ``phi(f) = f - mu_plus`` if ``f > mu_plus``; ``0`` if ``-mu_minus <= f <= mu_plus``;
    ``f + mu_minus`` if ``f < -mu_minus``. Computed as
    ``max(f - mu_plus, 0) + min(f + mu_minus, 0)``, identical for ``mu_plus, mu_minus >= 0``.

    Parameters
    ----------
    f, mu_plus, mu_minus : float or array_like
        Force and the two friction thresholds (``>= 0``); broadcast together.
    """
    f = np.asarray(f, dtype=float)
    mu_plus = np.asarray(mu_plus, dtype=float)
    mu_minus = np.asarray(mu_minus, dtype=float)
    return (np.maximum(f - mu_plus, 0.0) + np.minimum(f + mu_minus, 0.0))[()]


def _stop_loss_gaussian(u, sigma):
    """``E (sigma Z - u)_+`` for ``u >= 0`` (normal pdf/cdf closed form)."""
    v = u / sigma
    return sigma * (np.exp(-0.5 * v * v) / _SQRT_2PI - v * special.ndtr(-v))


def _stop_loss_positive(u, sigma, kind, bound):
    """``g(u) = E (eps - u)_+`` for ``u >= 0`` and the symmetric noise ``eps``.

    ``sigma`` may be an array broadcastable against ``u`` (rows of a noise sweep).
    """
    sigma = np.asarray(sigma, dtype=float)
    silent = sigma == 0.0
    if np.all(silent):
        return np.zeros(np.broadcast_shapes(np.shape(u), sigma.shape))
    s = np.where(silent, 1.0, sigma)
    if kind == "gaussian":
        val = _stop_loss_gaussian(u, s)
    else:
        a = bound
        inside = u < a
        ui = np.where(inside, u, 0.0)
        if kind == "clipped":
            # (min(X, a) - u)_+ = (X - u)_+ - (X - a)_+ for u < a; the lower clip never counts
            val = _stop_loss_gaussian(ui, s) - _stop_loss_gaussian(np.float64(a), s)
        else:
            # truncated: E[(X - u) 1{u < X <= a}] / P(|X| <= a)
            alpha = a / s
            v = ui / s
            num = s * (np.exp(-0.5 * v * v) - np.exp(-0.5 * alpha * alpha)) / _SQRT_2PI - ui * (
                special.ndtr(-v) - special.ndtr(-alpha)
            )
            val = num / (1.0 - 2.0 * special.ndtr(-alpha))
        val = np.where(inside, val, 0.0)
    return np.where(silent, 0.0, val)


def _stop_loss(t, sigma, kind, bound):
    """``g(t) = E (eps - t)_+`` for any real ``t``; uses ``g(t) = -t + g(-t)``."""
    t = np.asarray(t, dtype=float)
    return _stop_loss_positive(np.abs(t), sigma, kind, bound) + np.maximum(-t, 0.0)


def mean_drift(F, mu_plus, mu_minus, noise):
    """Mean drift ``E phi(F + eps)`` of a block under force ``F`` and noise ``eps``.

    Exact closed form for symmetric noise: with the stop-loss function
    ``g(t) = E (eps - t)_+``,

    ``E phi(F + eps) = g(mu_plus - F) - g(F + mu_minus) = g(m - h) - g(m + h)``,

    ``h = F - c``, so the drift is odd about ``c = (mu_plus - mu_minus)/2`` and
    non-decreasing in ``F``. For ``u >= 0`` (and ``g(t) = -t + g(-t)`` for ``t < 0``):

    * Gaussian ``eps = sigma Z``: ``g(u) = sigma pdf(u/sigma) - u Q(u/sigma)``, with
      ``Q = 1 - Phi`` the normal tail;
    * clipped to ``[-a, a]``: ``g(u) = g_gauss(u) - g_gauss(a)`` for ``u < a``, else 0;
    * truncated to ``[-a, a]`` (resampled): for ``u < a``,
      ``g(u) = [sigma (pdf(u/sigma) - pdf(a/sigma)) - u (Q(u/sigma) - Q(a/sigma))]
      / (1 - 2 Q(a/sigma))``, else 0;
    * no noise (``sigma = 0``): ``g(u) = 0``, and the drift is ``phi(F)``.

    The noise level is ``noise.sigma`` (a decay of sigma over time is not applied:
    this is the drift at ``t = 0``).

    Parameters
    ----------
    F, mu_plus, mu_minus : float or array_like
        Elastic force and friction thresholds (``>= 0``); broadcast together.
    noise : fastspring.Noise-like, float or None
        See the module docstring.

    Returns
    -------
    ndarray or float
    """
    sigma, kind, bound, _ = _noise_params(noise)
    return _mean_drift(F, mu_plus, mu_minus, sigma, kind, bound)[()]


def _mean_drift(F, mu_plus, mu_minus, sigma, kind, bound):
    """:func:`mean_drift` for unpacked noise; ``sigma`` may be an array broadcast with ``F``."""
    F = np.asarray(F, dtype=float)
    mu_plus = np.asarray(mu_plus, dtype=float)
    mu_minus = np.asarray(mu_minus, dtype=float)
    m = 0.5 * (mu_plus + mu_minus)
    h = F - 0.5 * (mu_plus - mu_minus)
    return _stop_loss(m - h, sigma, kind, bound) - _stop_loss(m + h, sigma, kind, bound)


# ------------------------------------------------------------- effective friction


def expected_max(window, kind="gaussian", bound=None):
    """Expected maximum of ``window`` independent draws of standardised noise.

    ``E max = int_0^inf (1 - F(x)^T) dx - int_-inf^0 F(x)^T dx`` by quadrature, where
    ``F`` is the cdf of one draw: the standard normal (``kind="gaussian"``), the
    normal clipped to ``[-bound, bound]`` (the maximum is then ``min(bound, max Z)``)
    or truncated to it (``F = (Phi(x) - Phi(-b)) / (1 - 2 Phi(-b))`` on
    ``[-b, b]``). ``bound`` is in units of sigma here.

    For Gaussian noise this is about ``sqrt(2 ln T)`` minus a correction of order
    ``ln ln T / sqrt(ln T)`` (e.g. 3.85 against 4.29 for ``T = 10**4``).
    """
    T = check_real("window", window, low=1.0)
    if kind == "gaussian":
        lo, hi = -math.inf, math.inf

        def log_cdf(x):
            return special.log_ndtr(x)
    else:
        b = float(bound)
        if not b > 0:
            raise ValueError(f"{kind} noise needs bound > 0, got {bound}")
        lo, hi = -b, b
        if kind == "clipped":

            def log_cdf(x):
                return special.log_ndtr(x)
        elif kind == "truncated":
            mass = 1.0 - 2.0 * special.ndtr(-b)

            def log_cdf(x):
                return math.log(max(special.ndtr(x) - special.ndtr(-b), 0.0) / mass or 1e-300)
        else:
            raise ValueError(f"unknown noise kind {kind!r}")

    def upper(x):
        return -math.expm1(T * log_cdf(x))

    def lower(x):
        return math.exp(T * log_cdf(x))

    # the maximum concentrates near sqrt(2 ln T): give quad that point
    peak = math.sqrt(2.0 * math.log(T)) if T > 1 else 0.0
    pos = 0.0
    for a_, b_ in ((0.0, min(peak, hi)), (min(peak, hi), hi)):
        if b_ > a_:
            pos += integrate.quad(upper, a_, b_, limit=200, epsabs=1e-12)[0]
    neg = integrate.quad(lower, lo, 0.0, limit=200, epsabs=1e-12)[0]
    return pos - neg


def effective_bound(noise, window=None, rule="expected_max"):
    """The bound ``a`` that the noise acts with (used by :func:`effective_friction`).

    * no noise or ``sigma = 0``: 0;
    * clipped / truncated noise, ``window=None`` (infinitely long run): the bound;
    * Gaussian noise, ``window=None``: infinite (it eventually exceeds any threshold);
    * any noise with ``window=T`` draws per block (``T`` steps): ``sigma`` times the
      expected maximum of ``T`` standardised draws (:func:`expected_max`, capped by
      the bound for bounded noise) for ``rule="expected_max"``, or
      ``min(bound, sigma sqrt(2 ln T))`` for ``rule="sqrt2log"``.

    The finite-window value is the approximation of SM S6.2 (a threshold is crossed
    about once in ``T`` draws); it is not exact, see the module docstring.
    """
    sigma, kind, bound, decay = _noise_params(noise)
    check_choice("rule", rule, _RULES)
    if decay > 0:
        raise NotImplementedError("effective friction for decaying noise is not modelled")
    if sigma == 0.0:
        return 0.0
    if window is None:
        return bound
    if rule == "sqrt2log":
        T = check_real("window", window, low=1.0)
        return min(bound, sigma * math.sqrt(2.0 * math.log(T)))
    if kind == "gaussian":
        return sigma * expected_max(window)
    return sigma * expected_max(window, kind, bound / sigma)


def effective_friction(mu_plus, mu_minus, noise, window=None, rule="expected_max"):
    """Effective friction ``mu_bar`` of paper Eq. 8: ``mu_plus - min(a, m)``.

    ``a`` is :func:`effective_bound` of the noise and ``m = (mu_plus + mu_minus)/2``:

    * ``sigma = 0``: ``mu_bar = mu_plus`` (Eq. 7);
    * bounded noise ``a <= m``: ``mu_bar = mu_plus - a`` (exact for clipped noise and a
      chain pulled from rest when also ``a <= mu_minus``; truncated noise approaches it
      more slowly);
    * large noise (``a >= m``; Gaussian noise with ``window=None``):
      ``mu_bar = c = (mu_plus - mu_minus)/2``, for every noise level;
    * Gaussian noise over a finite window of ``T`` steps: bounded noise with ``a`` the
      expected maximum of ``T`` draws -- a rough approximation that overestimates the
      effect of the noise (see the module docstring and
      :func:`analysis.critical_sigma_mean_field`).

    Parameters
    ----------
    mu_plus, mu_minus : float or array_like
        Friction thresholds (``>= 0``), broadcast together.
    noise : fastspring.Noise-like, float or None
    window : int, optional
        Number of noise draws per block (simulation steps); ``None`` for the long-time
        limit.
    rule : {"expected_max", "sqrt2log"}
        Finite-window rule (see :func:`effective_bound`).
    """
    a = effective_bound(noise, window, rule)
    mu_plus = np.asarray(mu_plus, dtype=float)
    mu_minus = np.asarray(mu_minus, dtype=float)
    m = 0.5 * (mu_plus + mu_minus)
    return (mu_plus - np.minimum(a, m))[()]


def effective_equilibrium(L, k, y, mu_plus, mu_minus, noise, window=None, rule="expected_max"):
    """Load curve predicted by paper Eq. 8: Eq. 7 with ``mu_bar`` for ``mu_plus``.

    The partial-mobilisation rule applies in the bounded regime (``a < m``), where blocks
    that never moved stay at 0; in the large-noise regime (``a >= m``) every block
    moves both ways and the plain formula holds (blocks may sit at negative positions).

    Between the two, ``mu_minus < a < m`` with a weak pull (fewer than ``L`` blocks
    mobilised), the noise also pushes the resting shallow blocks left (their force 0
    plus a draw below ``-mu_minus``), so where they end depends on the history and the
    prediction is not exact; a ``RuntimeWarning`` says so.

    Returns
    -------
    Equilibrium
        ``(x, d, m)`` as in :func:`analysis.equilibrium`.
    """
    a = effective_bound(noise, window, rule)
    mu_bar = effective_friction(mu_plus, mu_minus, noise, window, rule)
    m = 0.5 * (np.asarray(mu_plus, dtype=float) + np.asarray(mu_minus, dtype=float))
    if np.ndim(m):
        raise ValueError("effective_equilibrium takes scalar friction thresholds")
    eq = equilibrium(L, k, y, mu_bar, partial=bool(a < m))
    if float(mu_minus) < a < m and eq.m < L:
        warnings.warn(
            f"noise bound a={a:g} exceeds mu_minus={float(mu_minus):g} while only {int(eq.m)} "
            f"of {L} blocks are mobilised: the resting blocks are pushed left too, so Eq. 8 "
            "is not exact here (the state depends on the history)",
            RuntimeWarning,
            stacklevel=2,
        )
    return eq


def predicted_phase(
    L, k, y, mu_plus, mu_minus, noise, window=None, tol=DEFAULT_PHASE_TOL, rule="expected_max"
):
    """Phase label of the load curve predicted by Eq. 8 (:func:`effective_equilibrium`).

    The label is that of :func:`analysis.load_curve_metrics` with the same ``tol``, so
    predicted and measured phases are comparable. ``mu_bar > 0`` gives "concave",
    ``mu_bar < 0`` "convex", ``mu_bar`` near 0 "linear". Exact in the limits (no
    noise, clipped noise, long runs); with Gaussian noise and a finite ``window`` it
    inherits the roughness of the finite-window rule (see :func:`critical_sigma`).
    """
    eq = effective_equilibrium(L, k, y, mu_plus, mu_minus, noise, window, rule)
    return load_curve_metrics(eq.d, tol=tol)["phase"]


def critical_bound(mu_plus, mu_minus):
    """Noise bound ``a*`` at which the load curve turns linear: ``mu_bar(a*) = 0``.

    ``a* = mu_plus`` when ``mu_minus >= mu_plus`` (then ``mu_plus <= m``); beyond it the
    curve is convex (linear for ``mu_minus = mu_plus``). For ``mu_minus < mu_plus``,
    ``mu_bar >= c > 0`` for every noise, the curve never turns linear: ``inf``.
    """
    mu_plus = np.asarray(mu_plus, dtype=float)
    mu_minus = np.asarray(mu_minus, dtype=float)
    return np.where(mu_minus >= mu_plus, mu_plus, np.inf)[()]


def critical_sigma(mu_plus, mu_minus, window, kind="gaussian", bound=None, rule="expected_max"):
    """Noise level ``sigma*`` at which the load curve turns linear over ``window`` steps.

    Solves ``effective_bound(sigma*) = mu_plus`` (:func:`critical_bound`): for Gaussian
    noise ``sigma* = mu_plus / E[max of T standard normals]`` (``rule="expected_max"``)
    or ``mu_plus / sqrt(2 ln T)`` (``rule="sqrt2log"``); for clipped / truncated noise of
    a fixed ``bound`` it is found by root bracketing, and is ``inf`` when
    ``bound <= mu_plus``. ``inf`` when ``mu_minus < mu_plus`` (never linear).

    This is the finite-window rule of the module docstring: on the overdamped map the
    simulated sigma* was 1.5 to 8.4 times larger (more for short runs and small dt).
    :func:`analysis.critical_sigma_mean_field` is the accurate finite-time prediction.

    Parameters
    ----------
    mu_plus, mu_minus : float
    window : int
        Steps (draws per block), ``>= 2``.
    kind : {"gaussian", "clipped", "truncated"}
    bound : float, optional
        Absolute bound of clipped / truncated noise.
    rule : {"expected_max", "sqrt2log"}
        How Gaussian noise over ``window`` draws is turned into a bound (see above).
    """
    mu_plus = check_real("mu_plus", mu_plus, low=0.0)
    mu_minus = check_real("mu_minus", mu_minus, low=0.0)
    check_choice("kind", kind, NOISE_KINDS)
    if window is None:
        raise ValueError("critical_sigma needs a finite window of at least 2 steps")
    check_real("window", window, low=2.0)
    if kind != "gaussian" and bound is not None:
        check_real("bound", bound, low=0.0, low_open=True)
    if not np.isfinite(critical_bound(mu_plus, mu_minus)):
        return math.inf
    if mu_plus == 0.0:
        return 0.0

    class _N:  # a minimal Noise-like object
        def __init__(self, sigma):
            self.sigma, self.kind, self.bound, self.decay = sigma, kind, bound, 0.0

    if kind == "gaussian":
        return mu_plus / effective_bound(_N(1.0), window, rule)
    if bound is None or float(bound) <= mu_plus:
        return math.inf  # a bound equal to mu_plus is approached only as sigma -> inf

    def excess(log_sigma):
        return effective_bound(_N(math.exp(log_sigma)), window, rule) - mu_plus

    guess = math.log(mu_plus / effective_bound(1.0, window, rule))
    lo, hi = guess - 1.0, guess + 1.0
    while excess(hi) < 0:
        hi += 2.0
    while excess(lo) > 0:
        lo -= 2.0
    return math.exp(optimize.brentq(excess, lo, hi, xtol=1e-12, rtol=1e-12))
