"""Mean velocity of one block of the inertial model (B) under a constant force.

Model (B) (paper Eqs. 4, 10-11) with unit mass: ``dv/dt = G - gamma v - f``, friction
``f = mu_plus`` sliding right, ``-mu_minus`` sliding left, static while stuck and
``-mu_minus <= G <= mu_plus``; the force ``G = F + eps_n`` holds one noise draw per step
``[n dt, (n+1) dt)``. For a constant ``F`` the velocity at the step boundaries, ``v_n``,
is a Markov chain: over one step the motion is known in closed form
(:func:`_step_motion`: exponential relaxation to the terminal velocity, a stop when the
velocity reaches 0, then sticking or reversing). The stationary mean velocity is

    ``V(F) = E[dx over one step] / dt``

with the expectation over the stationary law of ``v_n`` and the step's draw. That law
has an atom at ``v = 0`` (stuck) and a density elsewhere; we compute it on a grid of
velocities (a sinh-spaced grid, dense near 0, holding 0 exactly) with the noise
integrated over cells of exact probability, the mass that lands between two velocity
nodes split linearly between them (which keeps the mean velocity of each step exact),
and the stationary vector found by one linear solve per force.

Exact properties (tested): with no noise ``V = phi(F) / gamma``; ``V(2 c - F) = -V(F)``
with ``c = (mu_plus - mu_minus)/2`` (the model is symmetric under that reflection);
``V = (F - mu_plus) / gamma`` once ``F - mu_plus`` exceeds the noise's reach (the block
never stops); ``V = 0`` while ``F +- eps`` stays inside the static band. Discretisation
error: about 0.3 % of ``V`` near the band's edge with the default grid (measured against
Monte Carlo of the same step map and against the event-driven simulator).
"""

import math

import numpy as np
from scipy import interpolate, special

from ._checks import check_int, check_real
from ._jit import device, pjit, prange
from .friction import _noise_params, friction_activation

#: noise draws further out than this many sigma are neglected (probability 1.2e-15)
REACH = 8.0
#: default sizes: velocity nodes, noise cells, force nodes of the table
VELOCITY_NODES = 200
NOISE_CELLS = 256
FORCE_NODES = 49


@device
def _step_motion(v, G, mu_plus, mu_minus, gamma, dt):
    """Velocity at the end of one step and the distance moved, for a constant force ``G``.

    Exact for model (B) with ``gamma > 0``: at most two phases, a slide (or a
    break-away from rest) relaxing to the terminal velocity ``a``, and, if the velocity
    reaches 0 before the step ends, rest (``G`` inside the band) or a slide the other
    way, which never stops.
    """
    moved = 0.0
    left = dt  # time left in the step
    for _ in range(2):
        if v != 0.0:
            sign = 1.0 if v > 0.0 else -1.0
        else:  # at rest: break away only if G leaves the band
            sign = 1.0 if G > mu_plus else (-1.0 if G < -mu_minus else 0.0)
        if sign == 0.0 or left <= 0.0:
            break
        a = (G - (mu_plus if sign > 0.0 else -mu_minus)) / gamma  # terminal velocity
        t_stop = math.log1p(v / -a) / gamma if a * sign < 0.0 else math.inf
        tau = min(left, t_stop)
        relaxed = -math.expm1(-gamma * tau)  # 1 - exp(-gamma tau)
        moved += a * tau + (v - a) * relaxed / gamma
        if t_stop <= left:
            v = 0.0
            left -= t_stop
        else:
            v = a + (v - a) * (1.0 - relaxed)
            left = 0.0
    return v, moved


@pjit
def _transitions(F, eps, prob, v, mu_plus, mu_minus, gamma, dt, P, moved):
    """Fill the one-step transition probabilities ``P`` and mean displacements ``moved``.

    ``P[f, j, i]`` is the probability of going from node ``j`` to node ``i`` in one step
    under force ``F[f]``, and ``moved[f, j]`` the mean distance moved from ``j``.

    A step that ends between two nodes is split between them linearly, which keeps the
    mean velocity exact.
    """
    last = v.size - 2
    for f in prange(F.size):
        for j in range(v.size):
            mean = 0.0
            for m in range(eps.size):
                v_end, dx = _step_motion(v[j], F[f] + eps[m], mu_plus, mu_minus, gamma, dt)
                mean += prob[m] * dx
                i = min(max(np.searchsorted(v, v_end, side="right") - 1, 0), last)
                frac = min(max((v_end - v[i]) / (v[i + 1] - v[i]), 0.0), 1.0)
                P[f, j, i] += prob[m] * (1.0 - frac)
                P[f, j, i + 1] += prob[m] * frac
            moved[f, j] = mean


def _reach(sigma, bound):
    """How far the noise reaches: draws beyond it are impossible or neglected."""
    return np.minimum(REACH * sigma, bound)


def _noise_cells(sigma, kind, bound, cells):
    """Quadrature of one noise draw: values and probabilities (they sum to 1).

    The range ``[-e, e]``, ``e = min(REACH sigma, bound)``, is cut into ``cells`` equal
    cells, each represented by its midpoint with its exact probability; clipped noise
    adds atoms at ``+-bound``, truncated noise is renormalised on ``[-bound, bound]``.
    """
    reach = _reach(sigma, bound) / sigma
    edges = np.linspace(-reach, reach, cells + 1)
    mass = np.diff(special.ndtr(edges))
    values = sigma * 0.5 * (edges[1:] + edges[:-1])
    tail = special.ndtr(-reach)
    if kind == "clipped" and reach < REACH:
        values = np.r_[-bound, values, bound]
        mass = np.r_[tail, mass, tail]
    elif kind == "truncated":
        mass = mass / mass.sum()
    else:  # the neglected far tails go to the outer cells
        mass[[0, -1]] += tail
    return values, mass


def _velocity_nodes(lo, hi, scale, nodes):
    """``nodes`` velocities on ``[lo, hi]`` (``lo <= 0 <= hi``), sinh-spaced, 0 among them."""
    u_lo, u_hi = np.arcsinh(lo / scale), np.arcsinh(hi / scale)
    if u_lo == 0.0 or u_hi == 0.0:
        u = np.linspace(u_lo, u_hi, nodes)
    else:
        below = min(max(round((nodes - 1) * -u_lo / (u_hi - u_lo)), 1), nodes - 2)
        u = np.r_[np.linspace(u_lo, 0.0, below + 1)[:-1], np.linspace(0.0, u_hi, nodes - below)]
    return scale * np.sinh(u)


def _stationary_drift(F, mu_plus, mu_minus, gamma, dt, sigma, kind, bound,
                      nodes=VELOCITY_NODES, cells=NOISE_CELLS):  # fmt: skip
    """``V(F)`` for a 1-D array of forces ``F >= c`` and ``sigma > 0`` (unchecked).

    The velocity grid depends on the noise and the chain, not on ``F``, so that the
    discretisation error varies smoothly with ``F``: it spans every velocity a block
    can reach with ``c <= F <= mu_plus + e`` (``e`` the noise's reach), beyond which
    :func:`_drift` needs no grid.
    """
    eps, prob = _noise_cells(sigma, kind, bound, cells)
    reach = _reach(sigma, bound)
    spread = math.sqrt(float(prob @ eps**2))
    lo, hi = min(0.5 * (mu_plus + mu_minus) - reach, 0.0) / gamma, 2.0 * reach / gamma
    # the velocity one step's draw gives (at least 1e-9 of the range: tiny bounds)
    scale = max(spread * -math.expm1(-gamma * dt) / gamma, 1e-9 * (hi - lo))
    v = _velocity_nodes(lo, hi, scale, nodes)
    F = np.ascontiguousarray(F, dtype=float)
    P = np.zeros((F.size, nodes, nodes))
    moved = np.empty((F.size, nodes))
    _transitions(F, eps, prob, v, mu_plus, mu_minus, gamma, dt, P, moved)
    # the stationary row vector pi: pi (P - I) = 0, with sum(pi) = 1 for the last equation
    system = P.transpose(0, 2, 1) - np.eye(nodes)
    system[:, -1, :] = 1.0
    rhs = np.zeros((F.size, nodes, 1))
    rhs[:, -1] = 1.0
    pi = np.linalg.solve(system, rhs)[..., 0]
    return np.einsum("fn,fn->f", pi, moved) / dt


def _by_range(F, mu_plus, mu_minus, gamma, start, end, inside):
    """``V(F)`` from its exact values outside ``[start, end]`` and ``inside`` within.

    ``F < c`` is reflected (``V(2 c - F) = -V(F)``, and ``V(c) = 0``); for ``c < F <
    start`` the block never leaves the band (``V = 0``), for ``F > end`` it never stops
    (``V = (F - mu_plus) / gamma``, and ``(F + mu_minus) / gamma`` on the reflected
    side). ``inside(G, mask)`` gives ``V`` at the reflected forces ``G`` where ``mask``
    holds. ``start`` and ``end`` broadcast with ``F``.
    """
    F = np.asarray(F, dtype=float)
    c = 0.5 * (mu_plus - mu_minus)
    mirrored = F < c
    G = np.where(mirrored, 2.0 * c - F, F)
    V = np.zeros(np.broadcast_shapes(F.shape, np.shape(start), np.shape(end)))
    mask = (G > c) & (G >= start) & (G <= end)
    if mask.any():
        V[mask] = inside(G, mask)
    V = np.where(mirrored, -V, V)
    sliding = np.where(mirrored, (F + mu_minus) / gamma, (F - mu_plus) / gamma)
    return np.where(G > end, sliding, V)


def _range(c, mu_plus, reach):
    """Where ``V`` must be computed: ``[max(c, mu_plus - reach), mu_plus + reach]``."""
    return np.maximum(c, mu_plus - reach), mu_plus + reach


def inertial_drift(F, mu_plus, mu_minus, gamma, dt, noise, *,
                   nodes=VELOCITY_NODES, cells=NOISE_CELLS):  # fmt: skip
    """Stationary mean velocity of one block of the inertial model under a constant force.

    See the module docstring for the model and the method.

    Parameters
    ----------
    F : float or array_like
        Constant force(s) on the block.
    mu_plus, mu_minus : float
        Friction thresholds, ``>= 0``.
    gamma : float
        Damping rate, ``> 0`` (without damping a block beyond the band accelerates
        forever and has no stationary velocity).
    dt : float
        Length of the steps over which one noise draw holds, ``> 0``.
    noise : fastspring.Noise-like, float or None
        The draw's level, kind and bound (its decay is not used: constant noise).
    nodes, cells : int
        Velocity nodes and noise cells of the discretisation.

    Returns
    -------
    ndarray or float
    """
    sigma, kind, bound, _ = _noise_params(noise)
    for name, value in (("mu_plus", mu_plus), ("mu_minus", mu_minus)):
        check_real(name, value, low=0.0)
    for name, value in (("gamma", gamma), ("dt", dt)):
        check_real(name, value, low=0.0, low_open=True)
    nodes, cells = check_int("nodes", nodes, low=4), check_int("cells", cells, low=2)
    F = np.asarray(F, dtype=float)
    if not np.all(np.isfinite(F)):
        raise ValueError("F must be finite")
    reach = _reach(sigma, bound)
    if reach == 0.0:  # no noise
        return (friction_activation(F, mu_plus, mu_minus) / gamma)[()]

    def inside(G, mask):
        return _stationary_drift(G[mask], mu_plus, mu_minus, gamma, dt, sigma, kind, bound,
                                 nodes, cells)  # fmt: skip

    c = 0.5 * (mu_plus - mu_minus)
    return _by_range(F, mu_plus, mu_minus, gamma, *_range(c, mu_plus, reach), inside)[()]


class DriftTable:
    """``V(F)`` of :func:`inertial_drift` for several noise levels, fast to evaluate.

    For each level the drift is computed at ``FORCE_NODES`` forces across the only
    range where it is not known exactly, ``[max(c, mu_plus - e), mu_plus + e]`` with
    ``e`` the noise's reach, and interpolated by a cubic spline; below it ``V = 0``,
    above it ``V = (F - mu_plus) / gamma``, and ``V(2 c - F) = -V(F)`` gives ``F < c``.
    The nodes crowd around ``mu_plus`` (``F = mu_plus + w sinh(u)``, ``u`` uniform),
    where ``V`` bends from 0 to the terminal velocity over a width ``w = sigma
    min(1, sqrt(gamma dt / 2))``: the velocity's spread times ``gamma``, small when the
    noise averages over many steps per relaxation time.
    """

    def __init__(self, sigmas, mu_plus, mu_minus, gamma, dt, kind="gaussian",
                 bound=math.inf, force_nodes=FORCE_NODES):  # fmt: skip
        self.mu_plus, self.mu_minus, self.gamma = mu_plus, mu_minus, gamma
        sig = np.asarray(sigmas, dtype=float)
        reach = _reach(sig, bound)
        start, end = _range(0.5 * (mu_plus - mu_minus), mu_plus, reach)
        noisy = end > start
        self.start, self.end = start, end
        width = np.minimum(sig, reach) * min(1.0, math.sqrt(0.5 * gamma * dt))
        self.width = np.where(noisy, width, 1.0)
        self.u0 = np.arcsinh((start - mu_plus) / self.width)
        self.du = np.where(noisy, np.arcsinh((end - mu_plus) / self.width) - self.u0, 1.0)
        t = np.linspace(0.0, 1.0, force_nodes)
        table = np.zeros((force_nodes, sig.size))
        for s in np.flatnonzero(noisy):
            F = mu_plus + self.width[s] * np.sinh(self.u0[s] + t * self.du[s])
            table[:, s] = _stationary_drift(F, mu_plus, mu_minus, gamma, dt, sig[s], kind, bound)
        # V(c) = 0 exactly (the grid gives ~1e-9 there), so V stays continuous at c
        table[0, start == 0.5 * (mu_plus - mu_minus)] = 0.0
        self.coef = interpolate.CubicSpline(t, table, axis=0).c  # (4, nodes - 1, levels)
        self.intervals = force_nodes - 1

    def __call__(self, F):
        """``V`` at forces ``F`` of shape ``(levels, ...)``, one row per noise level."""
        F = np.asarray(F, dtype=float)
        shape = (-1,) + (1,) * (F.ndim - 1)
        per_level = [np.broadcast_to(a.reshape(shape), F.shape)
                     for a in (self.width, self.u0, self.du, np.arange(F.shape[0]))]  # fmt: skip

        def inside(G, mask):
            width, u0, du, level = (a[mask] for a in per_level)
            t = np.clip((np.arcsinh((G[mask] - self.mu_plus) / width) - u0) / du, 0.0, 1.0)
            i = np.minimum(np.floor(t * self.intervals).astype(int), self.intervals - 1)
            h = t - i / self.intervals
            c = self.coef[:, i, level]
            return ((c[0] * h + c[1]) * h + c[2]) * h + c[3]

        start, end = self.start.reshape(shape), self.end.reshape(shape)
        return _by_range(F, self.mu_plus, self.mu_minus, self.gamma, start, end, inside)
