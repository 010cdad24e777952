"""The public entry point :func:`simulate`: validation, then a backend driver."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .errors import NonFiniteResultError
from .models import get_model
from .params import Chain, Noise, check_int, check_real
from .result import SimulationResult

#: refuse recorded trajectories larger than this (bytes); ask for record_every
MAX_RECORD_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class Settings:
    """Validated integration settings shared by every model."""

    dt: float
    steps: int
    chains: int
    seed: int
    record_every: int
    rtol: float  # < 0: no relative-change stop
    average_from: int  # average positions over steps > average_from (== steps: none)

    @property
    def n_records(self) -> int:
        """Number of recorded frames: step 0, every ``record_every`` steps, the last step."""
        return self.steps // self.record_every + 1 + (self.steps % self.record_every != 0)

    @property
    def record_times(self) -> np.ndarray:
        """Times of the recorded frames: their step numbers times ``dt``."""
        steps = np.arange(self.n_records) * self.record_every
        steps[-1] = self.steps
        return steps * self.dt


def warn_if_rtol_meets_noise(rtol, noises):
    """Warn if the ``rtol`` stop rule is on and some ``noise`` never decays.

    The rule stops a chain at its first step that moves no block by more than ``rtol``
    times the largest position. Without noise (or once it has decayed) such a step
    marks the steady state; under lasting noise it is only a quiet step (on the
    overdamped map, often a step in which no block moves at all), and the chain is
    marked ``converged`` although it would move again.
    """
    if rtol is not None and any(n.sigma > 0 and n.decay == 0 for n in noises):
        warnings.warn(
            "rtol with noise that does not decay: a chain stops at its first quiet step, "
            "which is no steady state, so 'converged' chains may not have settled; "
            "prefer a step budget (and average_from), or noise with a decay",
            RuntimeWarning,
            stacklevel=3,
        )


def make_settings(
    chain, *, dt, steps, chains, seed, record_every, rtol, average_from=None
) -> Settings:
    """Check the integration settings; every error names the parameter and its range."""
    dt = check_real("dt", dt, low=0.0, low_open=True)
    steps = check_int("steps", steps, low=1)
    chains = check_int("chains", chains, low=1, high=2**32 - 1)
    seed = check_int("seed", seed, low=0, high=2**32 - 1)
    if record_every is None:
        record_every = max(1, steps // 100)
    record_every = check_int("record_every", record_every, low=1)
    rtol = -1.0 if rtol is None else check_real("rtol", rtol, low=0.0)
    average_from = (
        steps
        if average_from is None
        else check_int("average_from", average_from, low=0, high=steps - 1)
    )
    settings = Settings(dt, steps, chains, seed, record_every, rtol, average_from)
    size = settings.n_records * chains * chain.L * 8
    if size > MAX_RECORD_BYTES:
        raise ValueError(
            f"record_every={record_every} would record {size / 1024**3:.1f} GiB of trajectory; "
            f"choose record_every >= {math.ceil(steps * chains * chain.L * 8 / MAX_RECORD_BYTES)}"
        )
    return settings


def check_noise_values(values, noise: Noise, settings: Settings, L: int) -> np.ndarray:
    """Validate explicit standard-normal draws: shape, finiteness, bound.

    The shape must be ``(steps, chains, L)``, or ``(steps, chains)`` for synchronous
    noise; the draws must be finite, and inside the bound for truncated noise.
    """
    if np.ma.isMaskedArray(values):
        raise TypeError(
            "noise_values must be a plain array: a masked array's masked draws have no value"
        )
    values = np.asarray(values)
    if values.dtype.kind not in "iuf":
        raise TypeError(f"noise_values must hold real numbers, got dtype {values.dtype}")
    values = values.astype(np.float64, copy=False)
    shape = (settings.steps, settings.chains) + (() if noise.synchronous else (L,))
    if values.shape != shape:
        raise ValueError(
            f"noise_values must have shape {shape} (steps, chains[, L]), got {values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError("noise_values must be finite (no NaN or inf)")
    if noise.kind == "truncated" and np.any(noise.sigma * np.abs(values) > noise.bound):
        raise ValueError("noise_values for truncated noise must satisfy |sigma * value| <= bound")
    return np.ascontiguousarray(values.reshape(settings.steps, settings.chains, -1))


def check_model_inputs(chain, noise, model, model_params):
    """Check the chain, the noise (``None``: no noise) and the model's parameter names.

    Returns the model's :class:`~fastspring.models.ModelSpec` and the noise.
    """
    spec = get_model(model)
    if not isinstance(chain, Chain):
        raise TypeError(f"chain must be a fastspring.Chain, got {type(chain).__name__}")
    noise = Noise() if noise is None else noise
    if not isinstance(noise, Noise):
        raise TypeError(f"noise must be a fastspring.Noise or None, got {type(noise).__name__}")
    unknown = set(model_params) - set(spec.defaults)
    if unknown:
        raise TypeError(
            f"model {model!r} takes parameters {sorted(spec.defaults)}, got {sorted(unknown)}"
        )
    return spec, noise


def simulate(
    chain: Chain,
    noise: Noise | None = None,
    model: str = "overdamped",
    *,
    dt: float = 0.01,
    steps: int = 10_000,
    chains: int = 1,
    seed: int = 0,
    record_every: int | None = None,
    rtol: float | None = None,
    average_from: int | None = None,
    noise_values=None,
    **model_params,
) -> SimulationResult:
    """Simulate ``chains`` independent copies of a spring--block chain.

    Parameters
    ----------
    chain : Chain
        The chain (L, k, y, mu_plus, mu_minus).
    noise : Noise, optional
        The force noise; ``None`` means no noise.
    model : {"overdamped", "inertial", "langevin"}
        The dynamics (docs/theory.md, "The three models"): (A) the paper's map,
        (B) exact stick--slip with inertia, (C) the Langevin variant.
    dt : float
        Step (the map's eta for the overdamped model), ``dt > 0`` and below
        the model's stability bound (``dt * k < 1/2`` for the overdamped map).
    steps : int
        Step budget, ``>= 1``.
    chains : int
        Number of independent chains; chain ``c`` draws from the stream
        ``(seed, c)``, so a chain's result does not depend on ``chains``.
    seed : int
        In ``[0, 2**32)``.
    record_every : int, optional
        Record positions every so many steps (default: about 100 frames).
    rtol : float, optional
        Stop a chain once ``max_i |x_i(n+1) - x_i(n)| <= rtol * max_i |x_i(n+1)|``.
        One step decides, so the threshold scales with ``dt``, and under noise that does
        not decay a quiet step is no steady state: a warning says so
        (:func:`warn_if_rtol_meets_noise`).
    average_from : int, optional
        Also return ``x_mean``, the positions averaged over the steps after
        step ``average_from`` (``0 <= average_from < steps``).
    noise_values : array_like, optional
        Standard-normal draws to use instead of the generator, shape
        ``(steps, chains, L)`` or ``(steps, chains)`` for synchronous noise.
    **model_params
        The model's own parameters (e.g. ``gamma`` for the inertial model).

    Returns
    -------
    SimulationResult

    Raises
    ------
    NonFiniteResultError
        If the final positions are not finite (arguments like ``sigma = 1e308`` are
        finite but overflow the arithmetic).
    """
    spec, noise = check_model_inputs(chain, noise, model, model_params)
    settings = make_settings(
        chain, dt=dt, steps=steps, chains=chains, seed=seed, record_every=record_every,
        rtol=rtol, average_from=average_from,
    )  # fmt: skip
    warn_if_rtol_meets_noise(rtol, [noise])
    params = spec.check(chain, settings.dt, **{**spec.defaults, **model_params})
    given = (
        None
        if noise_values is None
        else check_noise_values(noise_values, noise, settings, chain.L)
    )
    result = spec.run(chain, noise, settings, params, given)
    if not np.all(np.isfinite(result.x)):
        raise overflow_error(model, f"chain {chain}, noise {noise}")
    return result


def overflow_error(model, where):
    """The :class:`NonFiniteResultError` for a ``model`` run (at ``where``) that overflowed."""
    return NonFiniteResultError(
        f"the {model} run overflowed (positions are not finite): its arguments are "
        f"finite but too large for float64 ({where})"
    )
