"""The overdamped map written the plain way: one NumPy statement per equation."""

import math

import numpy as np


def phi(f, mu_plus, mu_minus):
    """The three-case friction activation (docs/theory.md, "Friction activation")."""
    return np.where(f > mu_plus, f - mu_plus, np.where(f < -mu_minus, f + mu_minus, 0.0))


def overdamped(chain, noise, dt, xi):
    """Iterate x <- x + dt * phi(F(x) + eps) with the given standard-normal draws.

    ``xi`` has shape (steps, chains, L), or (steps, chains) for synchronous
    noise; returns the trajectory, shape (steps + 1, chains, L).
    """
    steps, chains = xi.shape[:2]
    x = np.zeros((chains, chain.L))
    out = [x]
    for n in range(steps):
        sigma = noise.sigma * math.exp(-noise.decay * (n * dt)) if noise.decay > 0 else noise.sigma
        eps = sigma * (xi[n][:, None] if noise.synchronous else xi[n]) * np.ones_like(x)
        if noise.kind == "clipped":
            eps = np.clip(eps, -noise.bound, noise.bound)
        full = np.concatenate([np.zeros((chains, 1)), x, np.full((chains, 1), chain.y)], axis=1)
        force = chain.k * (full[:, 2:] - full[:, 1:-1]) - chain.k * (full[:, 1:-1] - full[:, :-2])
        x = x + dt * phi(force + eps, chain.mu_plus, chain.mu_minus)
        out.append(x)
    return np.array(out)
