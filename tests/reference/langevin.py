"""The Langevin variant (model C) written the plain way, and the paper's sdeint setup."""

import math

import numpy as np


def drift(x, v, k, y, gamma, mu_plus, mu_minus):
    """Velocity drift of the Langevin model (docs/theory.md, "The three models"):
    sliding friction by the sign of v, the static rule (three-case dead zone) on the
    spring force where v == 0."""
    full = np.concatenate([np.zeros(x.shape[:-1] + (1,)), x, np.full(x.shape[:-1] + (1,), y)], -1)
    f = k * (full[..., 2:] - full[..., 1:-1]) - k * (full[..., 1:-1] - full[..., :-2])
    static = np.where(f > mu_plus, f - mu_plus, np.where(f < -mu_minus, f + mu_minus, 0.0))
    return np.where(
        v > 0, f - gamma * v - mu_plus, np.where(v < 0, f - gamma * v + mu_minus, static)
    )


def heun_em(chain, gamma, dt, increments):
    """Heun drift + Euler--Maruyama noise with given velocity increments.

    ``increments`` has shape ``(steps, chains, L)``: the noise added to each
    block's velocity at each step.  Returns positions and velocities, each of
    shape ``(steps + 1, chains, L)``.
    """
    steps, chains, L = increments.shape
    x = np.zeros((chains, L))
    v = np.zeros((chains, L))
    xs, vs = [x], [v]
    args = (chain.k, chain.y, gamma, chain.mu_plus, chain.mu_minus)
    for n in range(steps):
        a = drift(x, v, *args)
        x_pred, v_pred = x + dt * v, v + dt * a
        a_pred = drift(x_pred, v_pred, *args)
        x, v = x + dt * (v + v_pred) / 2, v + dt * (a + a_pred) / 2 + increments[n]
        xs.append(x)
        vs.append(v)
    return np.array(xs), np.array(vs)


def sdeint_system(chain, gamma, sigma, decay):
    """The paper's sdeint problem: state ``(x, v)``, diffusion ``sigma e^{-decay t}``
    in every entry of the velocity block of a ``2L x 2L`` matrix."""
    L = chain.L
    args = (chain.k, chain.y, gamma, chain.mu_plus, chain.mu_minus)

    def f(state, t):
        x, v = state[:L], state[L:]
        return np.concatenate([v, drift(x, v, *args)])

    def G(state, t):
        g = np.zeros((2 * L, 2 * L))
        g[L:, L:] = sigma * math.exp(-decay * t)
        return g

    return f, G
