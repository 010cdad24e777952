r"""Model (C): the Langevin variant (paper SM Eqs. 12--13).

Noise enters the velocity independently of friction::

    (C1)  dx_i = v_i dt,
          dv_i = a_i(x, v) dt + sigma e^{-lambda t} dW_i,
    (C2)  a_i = F_i - gamma v_i - mu_plus     (v_i > 0)
              = F_i - gamma v_i + mu_minus    (v_i < 0)
              = phi(F_i)                      (v_i = 0: the static rule of model (B)
                                               applied to the spring force alone),

``F_i = k (x_{i+1} - x_i) - k (x_i - x_{i-1})`` with ``x_0 = 0``, ``x_{L+1} = y``.

**Scheme.**  One step of length ``h = dt`` from ``t_n = n h``::

    (C3)  predictor   x~ = x + h v,        v~ = v + h a(x, v)
          corrector   x' = x + (h v + h v~)/2,
                      v' = v + (h a(x, v) + h a(x~, v~))/2 + sqrt(h) s eps_n,

a Heun (trapezoidal) step of the drift plus an Euler--Maruyama increment
``sqrt(h) s eps_n`` with ``eps_n = clip(sigma e^{-lambda t_n} xi_n, a)`` (the
noise of every model: :func:`fastspring.models.noise.chain_noise`).  This is
exactly what Roessler's SRI2 (``sdeint.itoint``, used by the paper's code)
computes when the diffusion does not depend on the state: its stage
corrections ``G(H2) - G(H3)`` vanish and the diffusion is evaluated at
``t_n``.  The drift part is of order 2 away from the switches of (C2); the
strong order for the noise is 1/2 in general (1 for additive noise).

The static rule applies only where ``v_i == 0`` exactly, which an explicit step
hardly ever hits: without noise and with little damping the velocities flip sign
each step and friction averages out, so the run can end near the friction-free
state instead of Eq. 7 (docs/theory.md, model (C)), as the paper's SDE code does.

**Synchronous noise, two conventions** (``Noise(synchronous=True)``):

* ``"shared"`` (``s = 1``): one increment of variance ``sigma^2 h`` shared by all
  blocks, the meaning of synchronous noise in every fastspring model;
* ``"sum"`` (``s = sqrt(L)``): the paper's sdeint reference, whose diffusion
  matrix has ``sigma e^{-lambda t}`` in every entry of the velocity block, so
  every block receives the sum of ``L`` independent increments, one
  ``N(0, L sigma^2 h)`` increment shared by all blocks.

For independent noise ``s = 1``.

**Step bound.**  Heun is an explicit scheme: the step must keep the
amplification factor ``|1 + z + z^2/2|``, ``z = h r``, at most 1 for every
root ``r`` of ``r^2 + gamma r + omega^2 = 0`` over the normal modes
``omega^2 = 4 k sin^2(j pi/(2(m+1)))`` of every run of ``m`` sliding blocks
(:func:`heun_step_bound`).  Without damping no step is stable.  The stable
step of one mode, as a function of ``omega^2``, rises on the overdamped
branch and falls on the underdamped one (it has no interior minimum:
checked numerically for ``omega^2 / gamma^2`` from 1e-8 to 1e4, and it
scales as ``1/gamma``), so the bound over all modes is set by the slowest and
the fastest, ``j = 1`` and ``j = m = L``: O(1) work for any ``L``.
"""

import functools
import math

import numpy as np

from .._jit import device, jit, pjit, prange
from .chain import after_step, cell_params, finish_mean, force, keep_positions
from .friction import phi
from .noise import step_noise

# rows of the float scratch ``work`` (column i: block i; 0 and L + 1 the fixed ends)
X, V, A, XP, VP, AP, EPS, XOLD = range(8)
ROWS = 8

#: columns of the per-cell parameter table
PARAMS = ("k", "y", "mu_plus", "mu_minus", "dt", "sigma", "bound", "decay", "gamma")
#: columns of the per-cell integer table: noise kind, synchronous flag, sum convention
FLAGS = ("kind", "synchronous", "summed")
#: names of the synchronous-noise conventions, in the order of the ``summed`` flag
SYNC_CONVENTIONS = ("shared", "sum")


@functools.lru_cache(maxsize=1024)
def heun_step_bound(L, k, gamma):
    """The largest stable step of (C3): ``max |1 + z + z^2/2| <= 1`` over all modes.

    ``z = h r`` for both roots ``r`` of ``r^2 + gamma r + omega^2`` and every
    mode ``omega^2 = 4 k sin^2(j pi/(2(m+1)))``, ``1 <= j <= m <= L`` (the
    sliding runs a chain can have), of which the extreme two set the bound
    (module docstring).  ``|R(h r)|^2 - 1`` is ``h`` times a cubic in ``h``
    whose smallest positive root bounds the step for that ``r``; the bound is
    0 when ``gamma = 0`` (undamped modes grow under Heun).
    """
    omega2 = 4.0 * k * np.sin(np.array([1.0, L]) * np.pi / (2 * (L + 1))) ** 2
    if gamma == 0.0:
        return 0.0
    disc = np.sqrt((0.25 * gamma * gamma - omega2).astype(complex))
    r = np.concatenate([-0.5 * gamma + disc, -0.5 * gamma - disc])
    re, mod2 = r.real, np.abs(r) ** 2
    # |1 + h r + h^2 r^2/2|^2 - 1 = h (2 Re r + 2 (Re r)^2 h + Re(r) |r|^2 h^2 + |r|^4 h^3/4):
    # the roots of the monic cubic, as eigenvalues of its companion matrices
    c2, c1, c0 = 4 * re / mod2, 8 * re**2 / mod2**2, 8 * re / mod2**2
    companion = np.zeros((r.size, 3, 3))
    companion[:, 0, :] = -np.stack([c2, c1, c0], axis=1)
    companion[:, 1, 0] = companion[:, 2, 1] = 1.0
    h = np.linalg.eigvals(companion)
    real = (np.abs(h.imag) <= 1e-12 * np.abs(h)) & (h.real > 0)
    return float(np.min(np.where(real, h.real, np.inf)))


@device
def drift(f, v, gamma, mu_plus, mu_minus):
    """Velocity drift (C2), the static rule at ``v = 0`` applied to ``F`` alone."""
    if v > 0.0:
        return f - gamma * v - mu_plus
    if v < 0.0:
        return f - gamma * v + mu_minus
    return phi(f, mu_plus, mu_minus)


@device
def heun_step(work, L, k, gamma, mu_plus, mu_minus, h, kick):
    """One step (C3) of one chain; ``kick * work[EPS, i]`` is block ``i``'s noise increment."""
    for i in range(1, L + 1):
        a = drift(force(work, X, i, k), work[V, i], gamma, mu_plus, mu_minus)
        work[A, i] = a
        work[XP, i] = work[X, i] + h * work[V, i]
        work[VP, i] = work[V, i] + h * a
    for i in range(1, L + 1):
        work[AP, i] = drift(force(work, XP, i, k), work[VP, i], gamma, mu_plus, mu_minus)
    for i in range(1, L + 1):
        work[X, i] = work[X, i] + 0.5 * (h * work[V, i] + h * work[VP, i])
        work[V, i] = work[V, i] + 0.5 * (h * work[A, i] + h * work[AP, i]) + kick * work[EPS, i]


@jit
def langevin_chain(work, params, flags, seed, chain, steps, record_every, rtol, average_from,
                   given, use_given, x_rec, v_rec, mean_out, diag):  # fmt: skip
    """Integrate one chain of model (C) from rest for ``steps`` steps.

    Arrays and scalars only, nothing allocated (callable from a CUDA thread).
    ``work`` float64 ``(ROWS, L + 2)`` scratch; ``params``/``flags`` this
    cell's rows of :data:`PARAMS`/:data:`FLAGS`; ``given (steps, rows)``
    standard-normal draws used if ``use_given``; outputs ``x_rec, v_rec
    (n_rec, L)`` (row 0 the initial state, the last the final state),
    ``mean_out (L,)`` positions averaged over the steps after
    ``average_from``, ``diag (2,)`` steps taken and converged (stop when
    ``max_i |x_i(n+1) - x_i(n)| <= rtol max_i |x_i(n+1)|``, ``rtol < 0``: never).
    """
    k, y, mu_p, mu_m, dt, sigma, bound, decay, gamma = cell_params(params)
    kind = flags[0]
    sync = flags[1] != 0
    L = work.shape[1] - 2
    kick = math.sqrt(dt) * (math.sqrt(L) if flags[2] != 0 else 1.0)
    for r in range(ROWS):
        for i in range(L + 2):
            work[r, i] = 0.0
    work[X, L + 1] = y
    work[XP, L + 1] = y
    for i in range(L):
        mean_out[i] = 0.0
        x_rec[0, i] = 0.0
        v_rec[0, i] = 0.0
    diag[0] = steps
    diag[1] = 0
    n_rec = x_rec.shape[0]
    next_rec = 1
    for n in range(steps):
        step_noise(work[EPS, 1:], L, sync, sigma, decay, n * dt, bound, kind, seed, chain,
                   np.uint64(n), given[n] if use_given else given[0], use_given)  # fmt: skip
        keep_positions(work, X, XOLD, L, rtol)
        heun_step(work, L, k, gamma, mu_p, mu_m, dt, kick)
        stop = after_step(work, X, XOLD, L, mean_out, n, average_from, rtol)
        if stop:
            diag[0] = n + 1
            diag[1] = 1
        done = stop or n + 1 == steps
        if n + 1 == next_rec * record_every or done:
            last = n_rec if done else next_rec + 1
            for j in range(next_rec, last):
                for i in range(L):
                    x_rec[j, i] = work[X, i + 1]
                    v_rec[j, i] = work[V, i + 1]
            next_rec = last
        if stop:
            break
    finish_mean(mean_out, diag[0], average_from)


@pjit
def run_langevin(x_rec, v_rec, mean_out, diag, params, flags, seed, chain0, steps, record_every,
                 rtol, average_from, given, use_given):  # fmt: skip
    """Integrate model (C) for ``cells x chains`` chains, one chain per parallel task.

    Outputs with leading dims ``(cells, ...)``: ``x_rec, v_rec (cells, n_rec,
    chains, L)``, ``mean_out (cells, chains, L)``, ``diag (cells, chains, 2)``
    (see :func:`langevin_chain`).  Chain ``c`` draws from the stream ``(seed,
    chain0 + c)``; ``given (steps, chains, rows)`` replaces the generator when
    ``use_given``.
    """
    cells, chains, L = mean_out.shape
    for job in prange(cells * chains):
        j = job // chains
        c = job % chains
        work = np.empty((ROWS, L + 2))
        g = given[:, c, :] if use_given else given[:, 0, :]
        langevin_chain(
            work, params[j], flags[j], seed, chain0 + np.uint64(c), steps, record_every, rtol,
            average_from, g, use_given, x_rec[j, :, c, :], v_rec[j, :, c, :], mean_out[j, c],
            diag[j, c],
        )  # fmt: skip
