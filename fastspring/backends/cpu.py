"""CPU drivers: allocate the outputs, call the Numba kernels, wrap the result."""

from __future__ import annotations

import numpy as np

from ..models.overdamped import run_overdamped
from ..result import SimulationResult

_NO_VALUES = np.zeros((1, 1, 1))


def kernel_noise_args(noise, settings):
    """The scalars every kernel takes for its noise and random stream."""
    return (
        noise.sigma,
        noise.kind_code,
        noise.bound_value,
        noise.decay,
        noise.synchronous,
        np.uint64(settings.seed),
    )


def overdamped(chain, noise, settings, params, given) -> SimulationResult:
    """Run the overdamped map (Eq. 6) for ``settings.chains`` chains."""
    n, L = settings.chains, chain.L
    x = np.empty((n, L))
    rec = np.empty((settings.n_records, n, L))
    steps_taken = np.zeros(n, dtype=np.int64)
    converged = np.zeros(n, dtype=np.bool_)
    sigma, kind, bound, decay, sync, seed = kernel_noise_args(noise, settings)
    run_overdamped(
        x, rec, steps_taken, converged, chain.k, chain.y, chain.mu_plus, chain.mu_minus,
        settings.dt, sigma, kind, bound, decay, sync, seed, np.uint64(0), settings.steps,
        settings.record_every, settings.rtol, _NO_VALUES if given is None else given,
        given is not None,
    )  # fmt: skip
    return SimulationResult(
        "overdamped", chain, noise, settings.dt, settings.seed, x, settings.record_times, rec,
        steps_taken, converged, model_params=params,
    )  # fmt: skip
