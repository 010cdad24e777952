"""Independent references for the inertial stick--slip model (B).

* :func:`single_block` -- the textbook piecewise closed form of one block with
  Coulomb friction between a wall and the pulled end (no noise).
* :func:`linear_chain` -- a chain whose blocks all slide one way, through the
  matrix exponential of the full first-order system (SciPy ``expm``).
* :func:`event_driven` -- the same stick--slip logic driven by
  ``scipy.integrate.solve_ivp`` with terminal events, in plain Python.
"""

import math

import numpy as np
from scipy.integrate import solve_ivp
from scipy.linalg import expm


def single_block(k, y, mu_plus, mu_minus, gamma, times):
    """Position and velocity of one block (L = 1) at ``times``, and its stop time.

    From rest the block obeys ``x'' + gamma x' + 2k x = k y - f`` with ``f`` the
    sliding friction of its direction.  Underdamped, it comes to rest again
    after half a damped period ``pi/beta`` at
    ``x_eq - (x0 - x_eq) exp(-gamma pi/(2 beta))``; there it sticks when the
    force ``k y - 2 k x`` is inside ``[-mu_minus, mu_plus]``, and starts
    again the other way otherwise.  Critically or over-damped, it never comes
    to rest.  Returns ``x, v, stop`` with ``stop`` the time it sticks for
    good (``inf`` if not by the last of ``times``).
    """
    times = np.asarray(times, dtype=float)
    x_out = np.full(times.shape, np.nan)
    v_out = np.full(times.shape, np.nan)
    omega2 = 2.0 * k
    t0, x0 = 0.0, 0.0
    while True:
        g = k * y - 2.0 * k * x0
        if -mu_minus <= g <= mu_plus:  # at rest for good
            later = times >= t0
            x_out[later], v_out[later] = x0, 0.0
            return x_out, v_out, t0
        f = mu_plus if g > mu_plus else -mu_minus
        x_eq = (k * y - f) / omega2
        a = x0 - x_eq
        s = times - t0
        disc = gamma**2 / 4 - omega2
        if disc < 0:
            beta = math.sqrt(-disc)
            env = np.exp(-gamma * s / 2)
            x = x_eq + a * env * (np.cos(beta * s) + gamma / (2 * beta) * np.sin(beta * s))
            v = -a * omega2 / beta * env * np.sin(beta * s)
            end = t0 + math.pi / beta
        elif disc == 0:
            env = np.exp(-gamma * s / 2)
            x = x_eq + a * env * (1 + gamma * s / 2)
            v = -a * omega2 * s * env
            end = math.inf
        else:
            b = math.sqrt(disc)
            r1, r2 = -gamma / 2 + b, -gamma / 2 - b
            x = x_eq + a * (r2 * np.exp(r1 * s) - r1 * np.exp(r2 * s)) / (r2 - r1)
            v = a * r1 * r2 * (np.exp(r1 * s) - np.exp(r2 * s)) / (r2 - r1)
            end = math.inf
        inside = (times >= t0) & (times < end)
        x_out[inside], v_out[inside] = x[inside], v[inside]
        if end == math.inf:
            return x_out, v_out, math.inf
        if end > times.max():
            return x_out, v_out, math.inf
        t0 = end
        x0 = x_eq - a * math.exp(-gamma * math.pi / (2 * beta))


def chain_matrix(L, k, gamma):
    """The first-order system ``d(x, v)/dt = M (x, v) + b`` of a sliding chain."""
    lap = 2 * np.eye(L) - np.eye(L, k=1) - np.eye(L, k=-1)
    return np.block([[np.zeros((L, L)), np.eye(L)], [-k * lap, -gamma * np.eye(L)]])


def linear_chain(L, k, y, forcing, gamma, times):
    """Positions and velocities from rest of a chain where every block feels the
    constant extra force ``forcing`` (shape (L,)) and no friction switches.

    Solved with the augmented matrix exponential ``expm([[M, b], [0, 0]] t)``.
    Returns ``x, v`` of shape ``(len(times), L)``.
    """
    b = np.zeros(2 * L)
    b[L:] = forcing
    b[2 * L - 1] += k * y
    aug = np.zeros((2 * L + 1, 2 * L + 1))
    aug[: 2 * L, : 2 * L] = chain_matrix(L, k, gamma)
    aug[: 2 * L, 2 * L] = b
    start = np.zeros(2 * L + 1)
    start[-1] = 1.0
    states = np.array([expm(aug * t) @ start for t in times])
    return states[:, :L], states[:, L : 2 * L]


def _forces(x, k, y):
    full = np.concatenate([[0.0], x, [y]])
    return k * (full[2:] - full[1:-1]) - k * (full[1:-1] - full[:-2])


def event_driven(
    L, k, y, mu_plus, mu_minus, gamma, dt, eps, rtol=1e-12, atol=1e-14, max_step=1 / 64
):
    """Model (B) with ``solve_ivp`` (DOP853) and terminal events, interval by interval.

    ``eps`` has shape ``(intervals, L)``: the force noise of each interval.
    The friction law (B2) is applied at every event: a block whose velocity
    reaches 0 sticks if its force is in the band and reverses otherwise; a
    stuck block breaks away when its force leaves the band.  Returns the
    positions at the interval ends, shape ``(intervals + 1, L)``.

    ``solve_ivp`` sees an event only as a sign change between the ends of a
    step, so steps are capped at ``max_step * dt`` (a velocity that dips below
    zero and back within one step would be missed), and the first step is
    tiny (a block just started from ``v = 0`` has its watch function at
    exactly 0: a first step over a short excursion would read as an event at
    the start).
    """
    x = np.zeros(L)
    v = np.zeros(L)
    direction = np.zeros(L)
    out = [x.copy()]
    for n in range(eps.shape[0]):
        noise = eps[n]
        t, end = n * dt, (n + 1) * dt
        g = _forces(x, k, y) + noise
        stuck = direction == 0
        direction[stuck & (g > mu_plus)] = 1.0
        direction[stuck & (g < -mu_minus)] = -1.0
        while t < end:
            d = direction.copy()
            friction = np.where(d > 0, mu_plus, -mu_minus)

            def rhs(_, s, d=d, friction=friction, noise=noise):
                xs, vs = s[:L], s[L:]
                acc = _forces(xs, k, y) + noise - friction - gamma * vs
                return np.concatenate([vs, np.where(d != 0, acc, 0.0)])

            events = _watchers(L, k, y, d, noise, mu_plus, mu_minus)
            sol = solve_ivp(rhs, (t, end), np.concatenate([x, v]), method="DOP853",
                            events=events, rtol=rtol, atol=atol, first_step=1e-9 * dt,
                            max_step=max_step * dt)  # fmt: skip
            x, v = sol.y[:L, -1].copy(), sol.y[L:, -1].copy()
            t = sol.t[-1]
            if sol.status != 1:
                break
            hit = next(j for j, te in enumerate(sol.t_events) if te.size)
            _apply(hit, direction, x, v, k, y, noise, mu_plus, mu_minus)
        out.append(x.copy())
    return np.array(out)


def _terminal(fn):
    fn.terminal = True
    fn.direction = -1
    return fn


def _watchers(L, k, y, direction, noise, mu_plus, mu_minus):
    """Terminal event functions: ``d v_i`` per sliding block; ``mu_plus - G_i`` and
    ``G_i + mu_minus`` per stuck block (the order :func:`_apply` expects)."""

    def velocity(i):
        return _terminal(lambda _, s: direction[i] * s[L + i])

    def upper(i):
        return _terminal(lambda _, s: mu_plus - (_forces(s[:L], k, y)[i] + noise[i]))

    def lower(i):
        return _terminal(lambda _, s: _forces(s[:L], k, y)[i] + noise[i] + mu_minus)

    events = []
    for i in range(L):
        events += [velocity(i)] if direction[i] != 0 else [upper(i), lower(i)]
    return events


def _apply(hit, direction, x, v, k, y, noise, mu_plus, mu_minus):
    """The friction law at the event with index ``hit`` in the order built above."""
    j = 0
    for i in range(direction.size):
        span = 1 if direction[i] != 0 else 2
        if hit < j + span:
            if direction[i] != 0:
                v[i] = 0.0
                g = _forces(x, k, y)[i] + noise[i]
                d = direction[i]
                reverse = (d > 0 and g < -mu_minus) or (d < 0 and g > mu_plus)
                direction[i] = -d if reverse else 0.0
            else:
                direction[i] = 1.0 if hit == j else -1.0
            return
        j += span
