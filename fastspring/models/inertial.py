r"""Model (B): inertial stick--slip with exact static/sliding switching (paper Eqs. 4, 10--11).

Equations (unit masses; numbered for reference from the code)::

    (B1)  x_i' = v_i,   v_i' = G_i - gamma v_i - f_i,   G_i = F_i + eps_i,
          F_i = k (x_{i+1} - x_i) - k (x_i - x_{i-1}),  x_0 = 0,  x_{L+1} = y.
    (B2)  f_i = +mu_plus (v_i > 0),  -mu_minus (v_i < 0);  a block at rest
          (stuck) stays at rest while -mu_minus <= G_i <= mu_plus, otherwise
          it breaks away with v_i' = phi(G_i).

The noise ``eps_i`` is constant on each interval ``[n dt, (n+1) dt)``, so
``dt`` is part of the model (the correlation time of the noise), not a step
of an approximation: for a given forcing the solution does not depend on how
the intervals are split (to round-off), and a smooth force sampled at the
interval starts converges at first order in ``dt``, the only discretisation.

**Exact solution inside an interval.**  Stuck blocks do not move, so they cut
the chain into *runs* of consecutive sliding blocks, each held between two
fixed points (a stuck block, the wall or the pulled end).  A run of ``m``
blocks ``lo..hi`` with sliding directions fixed obeys the linear system with
constant forcing

    (B3)  x'' + gamma x' + k A_m x = c,     c_i = eps_i - f_i + k x_{lo-1} [i = lo]
                                                       + k x_{hi+1} [i = hi],

``A_m`` the Dirichlet Laplacian ``tridiag(-1, 2, -1)``.  Its normal modes are
sines, the same for every ``k`` and ``gamma``:

    (B4)  S_{jl} = sqrt(2/(m+1)) sin(j l pi/(m+1))  (symmetric, S S = I),
          omega_j^2 = k lambda_j,  lambda_j = 4 sin^2(j pi / (2(m+1))).

In modal coordinates ``z = S (x - x*)`` (``x*`` the run's equilibrium) each
mode is a damped oscillator ``z'' + gamma z' + omega^2 z = 0``. Written as the
change from the segment start, with the modal force ``A = S (a + gamma v)``
(``a = x''`` at the start: the force residual, so ``z(0) = -A / omega^2``), the
exact solution is

    (B5)  z(tau)  - z(0)  = A q(tau) + z'(0) w(tau),
          z'(tau) - z'(0) = A w(tau) + z'(0) (w'(tau) - 1),

``w`` the solution with ``w(0) = 0, w'(0) = 1`` and ``q = int_0^tau w``
(:func:`propagator`; oscillatory, critical and overdamped cases, free of
overflow for any ``gamma >= 0``).  Neither needs the distance to equilibrium
``z(0)``, which is huge for a slow mode (weak springs, long runs): the form
``z(0) (u - 1)`` with ``u = w' + gamma w`` loses ``eps / (omega tau)^2`` of
the step to cancellation (8 % at ``omega^2 tau^2 = 1e-15``).  ``q`` itself is a
power series when ``tau`` is short against every time scale, and closed forms
without cancellation otherwise.

    (B6)  positions advance as ``x(tau) = x(0) + S (z(tau) - z(0))`` (likewise
          ``v``),

so a run is advanced by two sine transforms and, for a whole
interval, propagators cached per run length.  Stuck blocks are never written:
their position and zero velocity are unchanged to the bit.

**Events.**  Within a segment the discrete state (which blocks stick, which
way the others slide) is fixed until the first of

* a sliding block's velocity reaching 0 (then it sticks if
  ``-mu_minus <= G_i <= mu_plus``, else it reverses), or
* a stuck block's force ``G_i`` leaving ``[-mu_minus, mu_plus]`` (break-away;
  only possible when a neighbour slides).

Each is a *watch function* ``h(tau)``, positive until the event.  Derivatives
of a run's motion follow from

    (B7)  x^(n+2) = -k A_m x^(n) - gamma x^(n+1),  n >= 1,

and, since ``|u| <= 1`` and ``|w(tau)| <= tau`` for ``gamma >= 0`` (the mode
energy ``(z'^2 + omega^2 z^2)/2`` never grows), every derivative of every
block of the run obeys

    (B8)  |x_i^(n)(tau)| <= ||x^(n)(0)||_2 + tau ||x^(n+1)(0)||_2,   n >= 1.

With ``M >= sup |h'''|`` on ``[0, H]`` from (B8), the cubic

    (B9)  P(tau) = h(0) + h'(0) tau + h''(0) tau^2/2 - M tau^3/6 <= h(tau)

proves a window root-free when ``P > 0`` on ``(0, H]`` (checked exactly: the
minimum of a cubic whose derivative is a concave quadratic).  The search
advances through proven windows, shrinks a window that fails, and once a
window holds a sign change with ``h' < 0`` proven throughout (a unique root,
and the first, as everything before is root-free) it refines the root with a
bracketed Newton iteration to ``2**-50 dt``.  No event is missed, and the
iteration stops on the far side of the root, so that a released block has a
strictly positive acceleration and a stopped block is certain to have
stopped.  All watch functions are first tested on the whole segment; those
not proven root-free are searched in the order of their estimated root, each
only up to the earliest event found so far.  Several events in one interval
are processed in time order, each restarting the segment from the new state.

Round-off: the velocity of a block that starts slowly inside a fast run is
known only to the round-off of the run's transform, so a sliding block whose
acceleration is not against its motion is never taken to stop.  Where the
proof cannot progress (a watch function within round-off of zero over a
stretch, e.g. exact ties of force and threshold without noise), the search
falls back to the first sign change among 32 samples and counts it in the
``unresolved_events`` diagnostic; more than :data:`MAX_EVENTS` events in
one interval freeze the discrete state for its rest (``capped_intervals``).
Measured on the paper's chain with noise: a few fallbacks per million
events, no capped interval.

**Energy ledger.**  With ``E = sum v^2/2 + (k/2) sum_{i=1}^{L+1} (x_i - x_{i-1})^2``,

    (B10) E(t) = E(0) - W_damping - W_friction + W_noise,
          W_damping  = gamma int |v|^2 = sum over segments and modes of the
                       drop of (z'^2 + omega^2 z^2)/2,
          W_friction = sum over segments of f_i (x_i(end) - x_i(start)),
          W_noise    = sum over segments of eps_i (x_i(end) - x_i(start)),

all exact for the piecewise-constant forcing.

Memory: a chain's state lives in one float64 scratch array ``work (ROWS,
L + 2)`` and one int64 array ``iwork (IROWS, L + 2)`` (column ``i`` is block
``i``, columns 0 and ``L + 1`` the fixed ends), plus the shared tables of
:func:`mode_tables` and :func:`fill_interval_cache`.  The per-chain functions
take only arrays and scalars and allocate nothing, so the same code can run
as one CUDA thread per chain.
"""

import math

import numpy as np

from .._jit import device, jit, pjit, prange
from .chain import after_step, cell_params, finish_mean, force, keep_positions
from .noise import step_noise

# rows of the float scratch ``work``
X, V, DIR, EPS = 0, 1, 2, 3  # state: position, velocity, direction (-1, 0 stuck, +1), noise
FM, ZP, OM2 = 4, 5, 6  # modal force and velocity at the segment start, omega^2
DZ, DZP, TMP = 7, 8, 9  # scratch for transforms
XT, VT = 10, 11  # positions and velocities at a trial time
XOLD = 12  # positions at the start of the interval (for the stop rule)
SEG, TRIAL = 13, 20  # derivative blocks: at the segment start, at a trial time
EST = 27  # two rows: estimated root time of each block's watch functions (event search)
# offsets inside a derivative block: x'' .. x^(5) per block, ||x'''||, ||x''''||, ||x^(5)||
D2, D3, D4, D5, N3, N4, N5 = 0, 1, 2, 3, 4, 5, 6
ROWS = 29
# rows of the int scratch ``iwork``: first and last block of the run holding block i
RLO, RHI = 0, 1
IROWS = 2

# watch-function kinds
VELOCITY, UPPER, LOWER = 0, 1, 2
# rows of the per-block event counts
STICKS, BREAKAWAYS, REVERSALS = 0, 1, 2
# columns of the energy record
KINETIC, ELASTIC, W_DAMPING, W_FRICTION, W_NOISE = 0, 1, 2, 3, 4
ENERGY_TERMS = ("kinetic", "elastic", "work_damping", "work_friction", "work_noise")
# columns of the per-chain diagnostics
CAPPED, UNRESOLVED = 0, 1

#: events handled exactly per interval and chain; beyond, the rest of the
#: interval runs with the discrete state frozen and the interval is counted
MAX_EVENTS = 256
#: proof windows per event search before the sampled fallback (counted as unresolved)
MAX_TRIALS = 64
#: root tolerance and smallest window, in units of dt
ROOT_TOL = 2.0**-50
MIN_WINDOW = 2.0**-46

#: columns of the per-cell parameter table the kernel takes
PARAMS = ("k", "y", "mu_plus", "mu_minus", "dt", "sigma", "bound", "decay", "gamma")
#: columns of the per-cell integer table: noise kind code, synchronous flag
FLAGS = ("kind", "synchronous")


def mode_tables(L):
    """The sine modes (B4) of every run length ``m = 1..L``.

    Returns
    -------
    sines : ndarray, shape (L + 1, 2 L + 2)
        ``sines[m, p] = sqrt(2/(m+1)) sin(p pi/(m+1))`` for ``p < 2(m+1)``, so
        ``S_{jl} = sines[m, (j l) mod 2(m+1)]``; exact zeros at multiples of pi.
    unit_eig : ndarray, shape (L + 1, L + 1)
        ``unit_eig[m, j] = lambda_j = 4 sin^2(j pi/(2(m+1)))``, ``j = 1..m``.
    """
    sines = np.zeros((L + 1, 2 * L + 2))
    unit_eig = np.zeros((L + 1, L + 1))
    for m in range(1, L + 1):
        p = np.arange(2 * (m + 1))
        q = p % (m + 1)
        q = np.minimum(q, m + 1 - q)  # sin(q pi/(m+1)) with q <= (m+1)/2: symmetric, exact 0
        sign = np.where(p > m + 1, -1.0, 1.0)
        sines[m, : 2 * (m + 1)] = sign * np.sqrt(2.0 / (m + 1)) * np.sin(q * np.pi / (m + 1))
        j = np.arange(1, m + 1)
        unit_eig[m, 1 : m + 1] = 4.0 * np.sin(j * np.pi / (2 * (m + 1))) ** 2
    return sines, unit_eig


#: below this ``tau max(gamma, omega)`` the propagator's ``q`` is a power series
SERIES_LIMIT = 0.25
#: terms of that series (the last one is below 1e-17 of the sum)
SERIES_TERMS = 18


@device
def _phi1(z):
    """``(e^z - 1) / z``, 1 at 0."""
    return math.expm1(z) / z if z != 0.0 else 1.0


@device
def propagator(om2, gamma, tau):
    """``(q, w, w')`` of (B5) for one mode, ``omega^2 = om2 > 0``, ``gamma >= 0``.

    ``w`` solves ``w'' + gamma w' + om2 w = 0`` with ``w(0) = 0, w'(0) = 1``;
    ``q = int_0^tau w``.  Oscillatory modes use ``exp(-gamma tau/2)`` times
    ``cos`` and ``sin(beta tau)/beta``; overdamped modes the two real roots
    ``r1 = -om2/(gamma/2 + b)`` (the slow one, without cancellation) and
    ``r2 = -gamma/2 - b`` with ``w = e^{r1 tau} (1 - e^{-2 b tau})/(2 b)``
    through ``expm1``, so nothing overflows and both branches meet smoothly at
    critical damping.  ``q``: the Taylor series of ``q'' + gamma q' + om2 q = 1``
    while ``tau max(gamma, omega) < 1/4``; else ``(1 - u) / om2`` (``u = w' +
    gamma w``, then ``om2 tau^2 > 0.01``), except for overdamped modes with
    ``b >= gamma / 4``, where ``q = tau (phi1(r1 tau) - phi1(r2 tau)) / (2 b)``.
    """
    half = 0.5 * gamma
    disc = half * half - om2
    b = 0.0  # sqrt(disc) for overdamped modes
    if disc < 0.0:
        beta = math.sqrt(-disc)
        decay = math.exp(-half * tau)
        s = decay * (math.sin(beta * tau) / beta)
        c = decay * math.cos(beta * tau)
        u, w, wp = c + half * s, s, c - half * s
    elif disc == 0.0:
        decay = math.exp(-half * tau)
        u, w, wp = decay * (1.0 + half * tau), decay * tau, decay * (1.0 - half * tau)
    else:
        b = math.sqrt(disc)
        r1 = -om2 / (half + b)
        w = math.exp(r1 * tau) * (-math.expm1(-2.0 * b * tau)) / (2.0 * b)
        u, wp = math.exp(r1 * tau) - r1 * w, math.exp(-(half + b) * tau) + r1 * w
    g, o = gamma * tau, om2 * tau * tau
    if max(g * g, o) < SERIES_LIMIT * SERIES_LIMIT:
        # q = sum of t_n = c_n tau^n, (n+2)(n+1) c_(n+2) + gamma (n+1) c_(n+1) + om2 c_n = [n = 0]
        before, last = 0.0, 0.5 * tau * tau
        q = last
        for n in range(1, SERIES_TERMS):
            term = -(g * (n + 1) * last + o * before) / ((n + 2) * (n + 1))
            q += term
            before, last = last, term
    elif b > 0.0 and b >= 0.5 * half:
        q = tau * (_phi1(-om2 / (half + b) * tau) - _phi1(-(half + b) * tau)) / (2.0 * b)
    else:
        q = (1.0 - u) / om2
    return q, w, wp


@jit
def fill_interval_cache(cache, unit_eig, k, gamma, dt):
    """``cache[m, j] = propagator(k lambda_j, gamma, dt)`` for every run length ``m``.

    A run that slides through a whole interval uses these instead of
    evaluating exponentials and sines (same function, so the same bits).
    ``cache`` has shape ``(L + 1, L + 1, 3)``.
    """
    for m in range(1, cache.shape[0]):
        for j in range(1, m + 1):
            q, w, wp = propagator(k * unit_eig[m, j], gamma, dt)
            cache[m, j, 0] = q
            cache[m, j, 1] = w
            cache[m, j, 2] = wp


@device
def sliding_friction(direction, mu_plus, mu_minus):
    """``f_i`` of (B2) for a block sliding in ``direction`` (+1 or -1)."""
    return mu_plus if direction > 0.0 else -mu_minus


@jit
def sine_transform(work, src, dst, lo, m, sines):
    """``work[dst, lo:lo+m] = S work[src, lo:lo+m]`` with ``S`` of (B4); ``src != dst``."""
    period = 2 * (m + 1)
    for j in range(1, m + 1):
        acc = 0.0
        idx = 0
        for l in range(1, m + 1):
            idx += j
            if idx >= period:
                idx -= period
            acc += sines[m, idx] * work[src, lo + l - 1]
        work[dst, lo + j - 1] = acc


@jit
def _recurrence(work, dst, lower, upper, lo, hi, k, gamma):
    """One step of (B7): ``dst = -k A_m lower - gamma upper`` on the run ``lo..hi``."""
    for i in range(lo, hi + 1):
        right = work[lower, i + 1] if i < hi else 0.0
        left = work[lower, i - 1] if i > lo else 0.0
        work[dst, i] = k * (right - 2.0 * work[lower, i] + left) - gamma * work[upper, i]


@jit
def run_derivatives(work, xr, vr, base, lo, hi, k, gamma, mu_plus, mu_minus):
    """Derivatives x'' .. x^(5) of the run ``lo..hi`` and their norms, into block ``base``.

    ``x''`` from (B1) with the positions ``work[xr]`` (fixed ends included)
    and velocities ``work[vr]``; the higher ones by (B7); rows
    ``base + N3..N5`` hold the run's 2-norms of ``x''', x'''', x^(5)`` at every
    block of the run (for the bound (B8)).
    """
    for i in range(lo, hi + 1):
        drive = force(work, xr, i, k) + work[EPS, i]
        friction = sliding_friction(work[DIR, i], mu_plus, mu_minus)
        work[base + D2, i] = drive - friction - gamma * work[vr, i]
    _recurrence(work, base + D3, vr, base + D2, lo, hi, k, gamma)
    _recurrence(work, base + D4, base + D2, base + D3, lo, hi, k, gamma)
    _recurrence(work, base + D5, base + D3, base + D4, lo, hi, k, gamma)
    n3 = 0.0
    n4 = 0.0
    n5 = 0.0
    for i in range(lo, hi + 1):
        n3 += work[base + D3, i] ** 2
        n4 += work[base + D4, i] ** 2
        n5 += work[base + D5, i] ** 2
    for i in range(lo, hi + 1):
        work[base + N3, i] = math.sqrt(n3)
        work[base + N4, i] = math.sqrt(n4)
        work[base + N5, i] = math.sqrt(n5)


@jit
def modal_setup(work, lo, hi, k, gamma, sines, unit_eig):
    """Modal state (B6) of the run ``lo..hi`` at the segment start (needs ``SEG + D2``)."""
    m = hi - lo + 1
    for i in range(lo, hi + 1):
        work[TMP, i] = work[SEG + D2, i] + gamma * work[V, i]
    sine_transform(work, TMP, FM, lo, m, sines)
    sine_transform(work, V, ZP, lo, m, sines)
    for j in range(1, m + 1):
        work[OM2, lo + j - 1] = k * unit_eig[m, j]


@jit
def advance_run(work, lo, hi, tau, gamma, mu_plus, mu_minus, sines, cache, use_cache, xdst, vdst):
    """Positions and velocities of the run ``lo..hi`` at ``tau`` after the segment start (B5).

    Writes ``work[xdst]``, ``work[vdst]`` (may be ``X``, ``V``: the state is
    then advanced in place).  ``use_cache``: ``tau`` is the interval length and
    the propagators come from ``cache``.  Returns the segment's work of
    damping, friction and noise on the run (B10).
    """
    m = hi - lo + 1
    damping = 0.0
    for j in range(1, m + 1):
        i = lo + j - 1
        if use_cache:
            q, w, wp = cache[m, j, 0], cache[m, j, 1], cache[m, j, 2]
        else:
            q, w, wp = propagator(work[OM2, i], gamma, tau)
        fm, zp, om2 = work[FM, i], work[ZP, i], work[OM2, i]
        dz = fm * q + zp * w
        dzp = fm * w + zp * (wp - 1.0)
        work[DZ, i] = dz
        work[DZP, i] = dzp
        # the drop of (z'^2 + om2 z^2) / 2 with z(0) = -fm / om2
        damping -= 0.5 * (dzp * (2.0 * zp + dzp) + dz * (om2 * dz - 2.0 * fm))
    sine_transform(work, DZ, TMP, lo, m, sines)
    friction = 0.0
    noise = 0.0
    for i in range(lo, hi + 1):
        dx = work[TMP, i]
        friction += sliding_friction(work[DIR, i], mu_plus, mu_minus) * dx
        noise += work[EPS, i] * dx
        work[xdst, i] = work[X, i] + dx
    sine_transform(work, DZP, TMP, lo, m, sines)
    for i in range(lo, hi + 1):
        work[vdst, i] = work[V, i] + work[TMP, i]
    return damping, friction, noise


@device
def is_sliding(work, i, L):
    """Block ``i`` is a block (not a fixed end) and slides."""
    return i >= 1 and i <= L and work[DIR, i] != 0.0


@jit
def _trial_run(work, iwork, j, tau, L, k, gamma, mu_plus, mu_minus, sines, cache, dt):
    """Advance the run holding block ``j`` to ``tau`` into the trial rows, with derivatives."""
    lo = iwork[RLO, j]
    hi = iwork[RHI, j]
    work[XT, lo - 1] = work[X, lo - 1]
    work[XT, hi + 1] = work[X, hi + 1]
    advance_run(work, lo, hi, tau, gamma, mu_plus, mu_minus, sines, cache, tau == dt, XT, VT)
    run_derivatives(work, XT, VT, TRIAL, lo, hi, k, gamma, mu_plus, mu_minus)


@jit
def trial_state(work, iwork, kind, i, tau, L, k, gamma, mu_plus, mu_minus, sines, cache, dt):
    """Fill the trial rows with what watch function ``(kind, i)`` needs at ``tau``."""
    if kind == VELOCITY:
        _trial_run(work, iwork, i, tau, L, k, gamma, mu_plus, mu_minus, sines, cache, dt)
        return
    work[XT, i] = work[X, i]
    for j in (i - 1, i + 1):
        if is_sliding(work, j, L):
            _trial_run(work, iwork, j, tau, L, k, gamma, mu_plus, mu_minus, sines, cache, dt)
        else:
            work[XT, j] = work[X, j]


@jit
def watch(work, kind, i, L, xr, vr, base, k, mu_plus, mu_minus):
    """Taylor data of watch function ``(kind, i)`` from rows ``xr``, ``vr``, block ``base``.

    Returns ``(h, h', h'', m0, m1)`` with ``sup |h'''| <= m0 + H m1`` on a
    window of length ``H`` (B8).  ``VELOCITY``: ``h = d v_i`` for a block
    sliding in direction ``d``; ``UPPER``: ``h = mu_plus - G_i``; ``LOWER``:
    ``h = G_i + mu_minus`` for a stuck block.

    Round-off rule: a sliding block whose acceleration is not against its
    motion (``h' >= 0``) cannot be stopping, so a computed ``h < 0`` (the
    velocity of a slowly starting block is resolved only to the round-off of
    its run's transform) is read as 0.  A stop therefore always has ``h' < 0``.
    """
    if kind == VELOCITY:
        d = work[DIR, i]
        h0 = d * work[vr, i]
        h1 = d * work[base + D2, i]
        if h1 >= 0.0:  # not decelerating: a negative computed velocity is round-off
            h0 = max(h0, 0.0)
        return h0, h1, d * work[base + D3, i], work[base + N4, i], work[base + N5, i]
    g = force(work, xr, i, k) + work[EPS, i]
    gv = 0.0
    ga = 0.0
    m0 = 0.0
    m1 = 0.0
    for j in (i - 1, i + 1):
        if is_sliding(work, j, L):
            gv += work[vr, j]
            ga += work[base + D2, j]
            m0 += work[base + N3, j]
            m1 += work[base + N4, j]
    if kind == UPPER:
        return mu_plus - g, -k * gv, -k * ga, k * m0, k * m1
    return g + mu_minus, k * gv, k * ga, k * m0, k * m1


@device
def _cubic(h0, h1, h2, m, t):
    return h0 + t * (h1 + t * (0.5 * h2 - t * m / 6.0))


@device
def root_free(h0, h1, h2, m, window):
    """True if the lower bound (B9) is positive on ``(0, window]``."""
    if h0 < 0.0:
        return False
    if h0 == 0.0 and not (h1 > 0.0 or (h1 == 0.0 and h2 > 0.0)):
        return False
    if _cubic(h0, h1, h2, m, window) <= 0.0:
        return False
    if h1 >= 0.0 or h2 <= 0.0:
        return True  # P' concave with P'(0) >= 0, or P' < 0 on (0, inf): minimum at an end
    disc = h2 * h2 + 2.0 * m * h1
    if disc <= 0.0:
        return True  # P' < 0 everywhere
    t_min = -2.0 * h1 / (h2 + math.sqrt(disc))  # where P' turns from - to +
    return t_min >= window or _cubic(h0, h1, h2, m, t_min) > 0.0


@device
def crosses_now(h0, h1, h2):
    """The watch function is negative now or just after (an event at the segment start)."""
    return h0 < 0.0 or (h0 == 0.0 and (h1 < 0.0 or (h1 == 0.0 and h2 < 0.0)))


@jit
def _refine(work, iwork, kind, i, a, b, ha, ha1, L, k, gamma, mu_p, mu_m, sines, cache, dt):
    """The root of ``h`` in ``[a, b]`` (``h(a) >= 0 > h(b)``, ``h' < 0``): bracketed Newton.

    Returns a point within ``ROOT_TOL * dt`` of the first point where the
    computed ``h`` is negative.  Where ``h`` rounds to exactly 0 over a
    stretch, the Newton step vanishes; the probe then moves on by doubling
    steps, so the stretch is crossed in logarithmically many evaluations.
    """
    tol = ROOT_TOL * dt
    x = a
    hx = ha
    hx1 = ha1
    probe = 0.5 * tol
    for _ in range(200):
        if b - a <= tol:
            break
        c = x - hx / hx1 if hx1 < 0.0 else 0.5 * (a + b)
        if abs(c - x) < probe:
            c = x + (probe if hx >= 0.0 else -probe)
            probe *= 2.0
        else:
            probe = 0.5 * tol
        if not (a < c < b):
            c = 0.5 * (a + b)
        trial_state(work, iwork, kind, i, c, L, k, gamma, mu_p, mu_m, sines, cache, dt)
        hc, hc1, _, _, _ = watch(work, kind, i, L, XT, VT, TRIAL, k, mu_p, mu_m)
        if hc < 0.0:
            b = c
        else:
            a = c
        x = c
        hx = hc
        hx1 = hc1
    return b


@jit
def _sampled_search(work, iwork, kind, i, lo, h0, h1, limit, L, k, gamma, mu_p, mu_m, sines,
                    cache, dt):  # fmt: skip
    """Fallback of :func:`first_event`: the first sign change among 32 equal samples."""
    for s in range(1, 33):
        t = lo + (limit - lo) * s / 32.0 if s < 32 else limit
        trial_state(work, iwork, kind, i, t, L, k, gamma, mu_p, mu_m, sines, cache, dt)
        ht, ht1, _, _, _ = watch(work, kind, i, L, XT, VT, TRIAL, k, mu_p, mu_m)
        if ht < 0.0:
            return _refine(
                work, iwork, kind, i, lo, t, h0, h1, L, k, gamma, mu_p, mu_m, sines, cache, dt
            )
        lo, h0, h1 = t, ht, ht1
    return math.inf


@jit
def first_event(work, iwork, kind, i, limit, L, k, gamma, mu_p, mu_m, sines, cache, dt, diag):
    """First time in ``(0, limit]`` where watch function ``(kind, i)`` turns negative.

    Returns ``inf`` when there is none.  Walks through windows proven
    root-free by (B9), shrinking a window that is not; refines the root once a
    window holds a sign change with ``h'`` proven negative throughout.  Only
    where the proof cannot progress (a function that stays within round-off
    of zero, or touches it, for a stretch) does it fall back, after
    :data:`MAX_TRIALS` windows, to the first sign change among equally spaced
    samples; such searches are counted in ``diag[UNRESOLVED]``.
    """
    h0, h1, h2, m0, m1 = watch(work, kind, i, L, X, V, SEG, k, mu_p, mu_m)
    if crosses_now(h0, h1, h2):
        return 0.0
    lo = 0.0
    window = limit
    min_window = MIN_WINDOW * dt
    for _ in range(MAX_TRIALS):
        m = m0 + window * m1
        if root_free(h0, h1, h2, m, window):
            lo += window
            if lo >= limit:
                return math.inf
            window = min(2.0 * window, limit - lo)
            trial_state(work, iwork, kind, i, lo, L, k, gamma, mu_p, mu_m, sines, cache, dt)
            h0, h1, h2, m0, m1 = watch(work, kind, i, L, XT, VT, TRIAL, k, mu_p, mu_m)
            if h0 < 0.0:  # below the proven bound only by round-off
                return lo
            continue
        end = lo + window
        trial_state(work, iwork, kind, i, end, L, k, gamma, mu_p, mu_m, sines, cache, dt)
        he, he1, he2, me0, me1 = watch(work, kind, i, L, XT, VT, TRIAL, k, mu_p, mu_m)
        if he < 0.0:
            if h1 + max(h2, 0.0) * window + 0.5 * m * window * window < 0.0:
                return _refine(
                    work, iwork, kind, i, lo, end, h0, h1, L, k, gamma, mu_p, mu_m, sines,
                    cache, dt,
                )  # fmt: skip
            if window <= min_window:
                return end
        elif window <= min_window:  # non-negative at both ends of a round-off-wide window
            lo = end
            if lo >= limit:
                return math.inf
            h0, h1, h2, m0, m1 = he, he1, he2, me0, me1
            window = min(2.0 * window, limit - lo)
            continue
        shrunk = 0.5 * window
        if h1 < 0.0 and h0 > 0.0:
            shrunk = min(shrunk, 2.0 * h0 / -h1)  # about twice the linear root estimate
        window = max(shrunk, min_window)
    diag[UNRESOLVED] += 1
    return _sampled_search(
        work, iwork, kind, i, lo, h0, h1, limit, L, k, gamma, mu_p, mu_m, sines, cache, dt
    )


@jit
def mark_runs(work, iwork, L):
    """Record in ``iwork`` the run of every sliding block; returns the number sliding."""
    n = 0
    i = 1
    while i <= L:
        if work[DIR, i] == 0.0:
            i += 1
            continue
        lo = i
        while i + 1 <= L and work[DIR, i + 1] != 0.0:
            i += 1
        for j in range(lo, i + 1):
            iwork[RLO, j] = lo
            iwork[RHI, j] = i
        n += i - lo + 1
        i += 1
    return n


@jit
def release_stuck(work, L, k, mu_plus, mu_minus, counts):
    """At an interval start: stuck blocks whose force is outside the band break away (B2)."""
    for i in range(1, L + 1):
        if work[DIR, i] == 0.0:
            g = force(work, X, i, k) + work[EPS, i]
            if g > mu_plus:
                work[DIR, i] = 1.0
                counts[BREAKAWAYS, i - 1] += 1
            elif g < -mu_minus:
                work[DIR, i] = -1.0
                counts[BREAKAWAYS, i - 1] += 1


@jit
def apply_event(work, kind, i, k, mu_plus, mu_minus, time, counts, last_stick):
    """The transition of (B2) at an event of watch function ``(kind, i)`` at ``time``.

    A stopping block reverses if its force is beyond the threshold on the
    other side, and otherwise sticks (a block sliding right stops with
    ``G <= mu_plus`` in exact arithmetic, so continuing is never right); a
    stuck block breaks away in the direction of the threshold it crossed.
    """
    if kind != VELOCITY:
        work[DIR, i] = 1.0 if kind == UPPER else -1.0
        counts[BREAKAWAYS, i - 1] += 1
        return
    work[V, i] = 0.0
    d = work[DIR, i]
    g = force(work, X, i, k) + work[EPS, i]
    if (d > 0.0 and g < -mu_minus) or (d < 0.0 and g > mu_plus):
        work[DIR, i] = -d
        counts[REVERSALS, i - 1] += 1
    else:
        work[DIR, i] = 0.0
        counts[STICKS, i - 1] += 1
        last_stick[i - 1] = time


@device
def _watch_kind(work, row, i):
    """The watch function of candidate row ``row`` (0 or 1) at block ``i``."""
    if work[DIR, i] != 0.0:
        return VELOCITY
    return UPPER if row == 0 else LOWER


@jit
def _next_event(work, iwork, remaining, L, k, gamma, mu_p, mu_m, sines, cache, dt, diag):
    """The earliest event of the segment: ``(tau, kind, block)``, block -1 if none.

    First every watch function is tested on the whole segment with (B9);
    those not proven root-free become candidates, ordered by the linear
    estimate ``h/(-h')`` of their root, and are searched in that order, each
    only up to the earliest event found so far (so the refinement is mostly
    spent on the event that happens).  An event exactly at the end of the
    interval counts (``<=``): it is handled now, not rediscovered at the start
    of the next interval.
    """
    n = 0
    for i in range(1, L + 1):
        work[EST, i] = math.inf
        work[EST + 1, i] = math.inf
        sliding = work[DIR, i] != 0.0
        moving = is_sliding(work, i - 1, L) or is_sliding(work, i + 1, L)
        for row in range(1 if sliding else 2):
            kind = _watch_kind(work, row, i)
            h0, h1, h2, m0, m1 = watch(work, kind, i, L, X, V, SEG, k, mu_p, mu_m)
            if crosses_now(h0, h1, h2):
                return 0.0, kind, i
            if not (sliding or moving) or root_free(h0, h1, h2, m0 + remaining * m1, remaining):
                continue
            work[EST + row, i] = min(h0 / -h1, remaining) if h1 < 0.0 else remaining
            n += 1
    best = remaining
    who = -1
    what = VELOCITY
    for _ in range(n):
        row, i, est = 0, 0, math.inf
        for j in range(1, L + 1):
            for r in range(2):
                if work[EST + r, j] < est:
                    row, i, est = r, j, work[EST + r, j]
        work[EST + row, i] = math.inf
        kind = _watch_kind(work, row, i)
        t = first_event(work, iwork, kind, i, best, L, k, gamma, mu_p, mu_m, sines, cache, dt,
                        diag)  # fmt: skip
        if t <= best:
            best, who, what = t, i, kind
    return best, what, who


@jit
def interval(work, iwork, sines, unit_eig, cache, L, k, gamma, mu_p, mu_m, dt, t0, counts,
             last_stick, ledger, diag):  # fmt: skip
    """Advance one chain exactly through one interval of constant noise (B1--B10).

    ``work[EPS]`` must hold the interval's noise; ``t0`` is its start time.
    Adds the interval's work of damping, friction and noise to
    ``ledger[0:3]`` and event counts to ``counts``.
    """
    release_stuck(work, L, k, mu_p, mu_m, counts)
    t = 0.0
    events = 0
    while True:
        if mark_runs(work, iwork, L) == 0:
            return  # every block stuck: nothing moves until the noise changes
        for i in range(1, L + 1):
            if is_sliding(work, i, L) and iwork[RLO, i] == i:
                hi = iwork[RHI, i]
                run_derivatives(work, X, V, SEG, i, hi, k, gamma, mu_p, mu_m)
                modal_setup(work, i, hi, k, gamma, sines, unit_eig)
        remaining = dt - t
        tau = remaining
        what = VELOCITY
        who = -1
        if events < MAX_EVENTS:
            tau, what, who = _next_event(
                work, iwork, remaining, L, k, gamma, mu_p, mu_m, sines, cache, dt, diag
            )
        else:
            diag[CAPPED] += 1
        for i in range(1, L + 1):
            if is_sliding(work, i, L) and iwork[RLO, i] == i:
                wd, wf, wn = advance_run(
                    work, i, iwork[RHI, i], tau, gamma, mu_p, mu_m, sines, cache, tau == dt, X, V
                )
                ledger[0] += wd
                ledger[1] += wf
                ledger[2] += wn
        if who < 0:
            return
        t += tau
        apply_event(work, what, who, k, mu_p, mu_m, t0 + t, counts, last_stick)
        events += 1


@jit
def energies(work, L, k):
    """Kinetic and elastic energy of the chain (B10)."""
    kinetic = 0.0
    elastic = 0.0
    for i in range(1, L + 1):
        kinetic += 0.5 * work[V, i] ** 2
    for i in range(1, L + 2):
        elastic += 0.5 * k * (work[X, i] - work[X, i - 1]) ** 2
    return kinetic, elastic


@jit
def _record(work, L, k, ledger, x_rec, v_rec, e_rec, j):
    for i in range(L):
        x_rec[j, i] = work[X, i + 1]
        v_rec[j, i] = work[V, i + 1]
    kinetic, elastic = energies(work, L, k)
    e_rec[j, KINETIC] = kinetic
    e_rec[j, ELASTIC] = elastic
    e_rec[j, W_DAMPING] = ledger[0]
    e_rec[j, W_FRICTION] = ledger[1]
    e_rec[j, W_NOISE] = ledger[2]


@jit
def inertial_chain(work, iwork, ledger, sines, unit_eig, cache, params, flags, seed, chain, steps,
                   record_every, rtol, average_from, given, use_given, x_rec, v_rec, e_rec,
                   mean_out, counts, last_stick, diag):  # fmt: skip
    """Integrate one chain of model (B) from rest for ``steps`` intervals.

    Arrays and scalars only, nothing allocated (callable from a CUDA thread).

    Parameters
    ----------
    work, iwork, ledger : scratch
        float64 ``(ROWS, L + 2)``, int64 ``(IROWS, L + 2)``, float64 ``(3,)``
    sines, unit_eig : tables of :func:`mode_tables`
    cache : float64 ``(L + 1, L + 1, 3)`` filled by :func:`fill_interval_cache` for this cell
    params, flags : this cell's rows of :data:`PARAMS` and :data:`FLAGS`
    seed, chain : uint64 RNG key; ``steps``, ``record_every``, ``average_from`` : int
    rtol : float
        Stop once ``max_i |x_i(n+1) - x_i(n)| <= rtol max_i |x_i(n+1)|`` (< 0: never).
    given : float64 ``(steps, rows)`` standard-normal draws, used if ``use_given``
    x_rec, v_rec : float64 ``(n_rec, L)`` positions and velocities every
        ``record_every`` intervals (row 0 the initial state, the last row the
        final state; rows after an early stop repeat it)
    e_rec : float64 ``(n_rec, 5)`` the columns of :data:`ENERGY_TERMS`
    mean_out : float64 ``(L,)`` positions averaged over the intervals after ``average_from``
    counts : int64 ``(3, L)`` sticks, break-aways, reversals per block
    last_stick : float64 ``(L,)`` time of each block's last stick (NaN if none)
    diag : int64 ``(4,)`` out: capped intervals, unresolved searches, steps taken, converged
    """
    k, y, mu_p, mu_m, dt, sigma, bound, decay, gamma = cell_params(params)
    kind = flags[0]
    sync = flags[1] != 0
    L = work.shape[1] - 2
    for r in range(ROWS):
        for i in range(L + 2):
            work[r, i] = 0.0
    work[X, L + 1] = y
    work[XT, L + 1] = y
    for r in range(3):
        ledger[r] = 0.0
        for i in range(L):
            counts[r, i] = 0
    for i in range(L):
        last_stick[i] = math.nan
        mean_out[i] = 0.0
    for r in range(4):
        diag[r] = 0
    _record(work, L, k, ledger, x_rec, v_rec, e_rec, 0)
    n_rec = x_rec.shape[0]
    next_rec = 1
    taken = steps
    for n in range(steps):
        step_noise(work[EPS, 1:], L, sync, sigma, decay, n * dt, bound, kind, seed, chain,
                   np.uint64(n), given[n] if use_given else given[0], use_given)  # fmt: skip
        keep_positions(work, X, XOLD, L, rtol)
        interval(work, iwork, sines, unit_eig, cache, L, k, gamma, mu_p, mu_m, dt, n * dt,
                 counts, last_stick, ledger, diag)  # fmt: skip
        stop = after_step(work, X, XOLD, L, mean_out, n, average_from, rtol)
        if stop:
            taken = n + 1
            diag[3] = 1
        done = stop or n + 1 == steps
        if n + 1 == next_rec * record_every or done:
            last = n_rec if done else next_rec + 1
            for j in range(next_rec, last):
                _record(work, L, k, ledger, x_rec, v_rec, e_rec, j)
            next_rec = last
        if stop:
            break
    diag[2] = taken
    finish_mean(mean_out, taken, average_from)


@pjit
def run_inertial(x_rec, v_rec, e_rec, mean_out, counts, last_stick, diag, params, flags, sines,
                 unit_eig, seed, chain0, steps, record_every, rtol, average_from, given,
                 use_given):  # fmt: skip
    """Integrate model (B) for ``cells x chains`` chains, one chain per parallel task.

    Per cell ``j``: ``params[j]`` holds :data:`PARAMS` (``bound`` inf for
    Gaussian noise), ``flags[j]`` :data:`FLAGS`.  Outputs with leading dims
    ``(cells, ...)``: ``x_rec, v_rec (cells, n_rec, chains, L)``, ``e_rec
    (cells, n_rec, chains, 5)``, ``mean_out (cells, chains, L)``, ``counts
    (cells, chains, 3, L)``, ``last_stick (cells, chains, L)``, ``diag (cells,
    chains, 4)`` (see :func:`inertial_chain`).  Chain ``c`` draws from the
    stream ``(seed, chain0 + c)``; ``given (steps, chains, rows)`` replaces
    the generator when ``use_given``.
    """
    cells, chains, L = mean_out.shape
    cache = np.empty((cells, L + 1, L + 1, 3))
    for j in range(cells):
        fill_interval_cache(cache[j], unit_eig, params[j, 0], params[j, 8], params[j, 4])
    for job in prange(cells * chains):
        j = job // chains
        c = job % chains
        work = np.empty((ROWS, L + 2))
        iwork = np.zeros((IROWS, L + 2), dtype=np.int64)
        ledger = np.empty(3)
        g = given[:, c, :] if use_given else given[:, 0, :]
        inertial_chain(
            work, iwork, ledger, sines, unit_eig, cache[j], params[j], flags[j], seed,
            chain0 + np.uint64(c), steps, record_every, rtol, average_from, g, use_given,
            x_rec[j, :, c, :], v_rec[j, :, c, :], e_rec[j, :, c, :], mean_out[j, c],
            counts[j, c], last_stick[j, c], diag[j, c],
        )  # fmt: skip
