"""CPU drivers: allocate the outputs, call the Numba kernels, wrap the result."""

from __future__ import annotations

import numpy as np

from .._jit import parallel_chunksize
from ..models import inertial as _inertial
from ..models import langevin as _langevin
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
    # tiles cost different amounts (noiseless cells draw nothing, stopped chains
    # idle): the threads take them one at a time, not in equal contiguous shares
    with parallel_chunksize(1):
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


def _extra_modes_cell(chain, noise, dt, params):
    """The overdamped table row with ``gamma`` appended (the inertial and Langevin layout)."""
    rows, flags = overdamped_cell(chain, noise, dt)
    return np.append(rows, params["gamma"]), flags


def inertial_cell(chain, noise, dt, params):
    """One cell's rows of the tables of :data:`fastspring.models.inertial.PARAMS` and ``FLAGS``."""
    return _extra_modes_cell(chain, noise, dt, params)


def run_inertial_cells(params, flags, L, settings, given=None, chain0=0):
    """Run the exact stick--slip kernel (model B) on a table of cells with the same ``L``.

    Returns a dict of arrays with leading dim ``cells``: ``x``, ``x_mean``,
    ``trajectory``, ``v`` (velocities at the recording times), ``energy``
    (cells, n_rec, chains, 5) with the columns of
    :data:`fastspring.models.inertial.ENERGY_TERMS`, ``counts`` (cells,
    chains, 3, L: sticks, break-aways, reversals), ``last_stick``,
    ``capped`` and ``unresolved`` (per chain), ``steps_taken``, ``converged``.
    """
    cells, n, n_rec = params.shape[0], settings.chains, settings.n_records
    sines, unit_eig = _inertial.mode_tables(L)
    out = {
        "trajectory": np.empty((cells, n_rec, n, L)),
        "v": np.empty((cells, n_rec, n, L)),
        "energy": np.empty((cells, n_rec, n, len(_inertial.ENERGY_TERMS))),
        "x_mean": np.empty((cells, n, L)),
        "counts": np.empty((cells, n, 3, L), dtype=np.int64),
        "last_stick": np.empty((cells, n, L)),
    }
    diag = np.empty((cells, n, 4), dtype=np.int64)
    _inertial.run_inertial(
        out["trajectory"], out["v"], out["energy"], out["x_mean"], out["counts"],
        out["last_stick"], diag, np.ascontiguousarray(params, dtype=np.float64),
        np.ascontiguousarray(flags, dtype=np.int64), sines, unit_eig,
        np.uint64(settings.seed), np.uint64(chain0), settings.steps, settings.record_every,
        settings.rtol, settings.average_from, _NO_VALUES if given is None else given,
        given is not None,
    )  # fmt: skip
    out["x"] = out["trajectory"][:, -1].copy()
    out["capped"] = diag[..., _inertial.CAPPED]
    out["unresolved"] = diag[..., _inertial.UNRESOLVED]
    out["steps_taken"] = diag[..., 2].copy()
    out["converged"] = diag[..., 3] != 0
    return out


def inertial(chain, noise, settings, params, given) -> SimulationResult:
    """Run the exact stick--slip model (B) for ``settings.chains`` chains."""
    table, flags = inertial_cell(chain, noise, settings.dt, params)
    out = run_inertial_cells(table[None], flags[None], chain.L, settings, given)
    cb, tc = ("chain", "block"), ("time", "chain")
    extras = {"v": (("time", "chain", "block"), out["v"][0], {"long_name": "block velocity"})}
    for col, name in enumerate(_inertial.ENERGY_TERMS):
        extras[name] = (tc, out["energy"][0, ..., col])
    for row, name in enumerate(("sticks", "breakaways", "reversals")):
        extras[name] = (cb, out["counts"][0, :, row])
    extras["last_stick_time"] = (cb, out["last_stick"][0])
    extras["capped_intervals"] = (("chain",), out["capped"][0])
    extras["unresolved_events"] = (("chain",), out["unresolved"][0])
    return SimulationResult(
        "inertial", chain, noise, settings.dt, settings.seed, out["x"][0],
        settings.record_times, out["trajectory"][0], out["steps_taken"][0], out["converged"][0],
        x_mean=out["x_mean"][0] if settings.average_from < settings.steps else None,
        extras=extras, model_params=params,
    )  # fmt: skip


def langevin_cell(chain, noise, dt, params):
    """One cell's rows of the Langevin kernel's tables (:data:`fastspring.models.langevin.FLAGS`).

    Raises ``ValueError`` for ``sync_convention="sum"`` without synchronous noise.
    """
    rows, flags = _extra_modes_cell(chain, noise, dt, params)
    summed = _langevin.SYNC_CONVENTIONS.index(params["sync_convention"])
    if summed and not noise.synchronous:
        raise ValueError(
            "sync_convention='sum' (every block receives the sum of L increments) needs "
            "synchronous noise: use Noise(..., synchronous=True)"
        )
    return rows, np.append(flags, summed)


def run_langevin_cells(params, flags, L, settings, given=None, chain0=0):
    """Run the Langevin kernel (model C) on a table of cells with the same ``L``.

    Returns a dict of arrays with leading dim ``cells``: ``x``, ``x_mean``,
    ``trajectory``, ``v``, ``steps_taken``, ``converged``.
    """
    cells, n, n_rec = params.shape[0], settings.chains, settings.n_records
    out = {
        "trajectory": np.empty((cells, n_rec, n, L)),
        "v": np.empty((cells, n_rec, n, L)),
        "x_mean": np.empty((cells, n, L)),
    }
    diag = np.empty((cells, n, 2), dtype=np.int64)
    _langevin.run_langevin(
        out["trajectory"], out["v"], out["x_mean"], diag,
        np.ascontiguousarray(params, dtype=np.float64),
        np.ascontiguousarray(flags, dtype=np.int64), np.uint64(settings.seed),
        np.uint64(chain0), settings.steps, settings.record_every, settings.rtol,
        settings.average_from, _NO_VALUES if given is None else given, given is not None,
    )  # fmt: skip
    out["x"] = out["trajectory"][:, -1].copy()
    out["steps_taken"] = diag[..., 0].copy()
    out["converged"] = diag[..., 1] != 0
    return out


def langevin(chain, noise, settings, params, given) -> SimulationResult:
    """Run the Langevin variant (model C) for ``settings.chains`` chains."""
    table, flags = langevin_cell(chain, noise, settings.dt, params)
    out = run_langevin_cells(table[None], flags[None], chain.L, settings, given)
    return SimulationResult(
        "langevin", chain, noise, settings.dt, settings.seed, out["x"][0],
        settings.record_times, out["trajectory"][0], out["steps_taken"][0], out["converged"][0],
        x_mean=out["x_mean"][0] if settings.average_from < settings.steps else None,
        extras={"v": (("time", "chain", "block"), out["v"][0], {"long_name": "block velocity"})},
        model_params=params,
    )  # fmt: skip
