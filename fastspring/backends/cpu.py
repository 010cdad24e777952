"""CPU drivers: allocate the outputs, call the Numba kernels, wrap the result."""

from __future__ import annotations

import numpy as np

from ..models.overdamped import run_overdamped
from ..result import SimulationResult

_NO_VALUES = np.zeros((1, 1, 1))


def overdamped_cell(chain, noise, dt):
    """One cell's rows of the overdamped kernel's parameter and flag tables."""
    params = np.array(
        [
            chain.k, chain.y, chain.mu_plus, chain.mu_minus, dt,
            noise.sigma, noise.bound_value, noise.decay,
        ]
    )  # fmt: skip
    flags = np.array([noise.kind_code, int(noise.synchronous)], dtype=np.int64)
    return params, flags


def run_overdamped_cells(params, flags, L, settings, given=None, chain0=0):
    """Run the overdamped kernel on a table of cells with the same ``L``.

    Returns a dict of arrays with leading dim ``cells``: ``x``, ``x_mean``,
    ``trajectory``, ``steps_taken``, ``converged``.
    """
    cells, n = params.shape[0], settings.chains
    out = {
        "x": np.empty((cells, n, L)),
        "x_mean": np.empty((cells, n, L)),
        "trajectory": np.empty((cells, settings.n_records, n, L)),
        "steps_taken": np.zeros((cells, n), dtype=np.int64),
        "converged": np.zeros((cells, n), dtype=np.bool_),
    }
    run_overdamped(
        out["x"], out["x_mean"], out["trajectory"], out["steps_taken"], out["converged"],
        np.ascontiguousarray(params, dtype=np.float64),
        np.ascontiguousarray(flags, dtype=np.int64),
        np.uint64(settings.seed), np.uint64(chain0), settings.steps, settings.record_every,
        settings.rtol, settings.average_from,
        _NO_VALUES if given is None else given, given is not None,
    )  # fmt: skip
    return out


def overdamped(chain, noise, settings, params, given) -> SimulationResult:
    """Run the overdamped map (Eq. 6) for ``settings.chains`` chains."""
    table, flags = overdamped_cell(chain, noise, settings.dt)
    out = run_overdamped_cells(table[None], flags[None], chain.L, settings, given)
    return SimulationResult(
        "overdamped", chain, noise, settings.dt, settings.seed, out["x"][0],
        settings.record_times, out["trajectory"][0], out["steps_taken"][0], out["converged"][0],
        x_mean=out["x_mean"][0] if settings.average_from < settings.steps else None,
        model_params=params,
    )  # fmt: skip
