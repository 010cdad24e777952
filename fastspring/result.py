"""The result of :func:`fastspring.simulate` and its labelled (xarray) form."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from analysis.loads import load_curve

from .params import Chain, Noise


@dataclass(frozen=True)
class SimulationResult:
    """Final state, recorded trajectory and bookkeeping of a run.

    Attributes
    ----------
    model : str
        ``"overdamped"``, ``"inertial"`` or ``"langevin"``.
    chain : Chain
    noise : Noise
    dt : float
    seed : int
        The run's arguments.
    x : ndarray, shape (chains, L)
        Final block positions.
    times : ndarray, shape (n_rec,)
        Recording times (step index times ``dt``); ``times[0] = 0``.
    trajectory : ndarray, shape (n_rec, chains, L)
        Positions at ``times``.  A chain that stopped early (``rtol``) keeps
        its final positions in later records.
    steps_taken : ndarray of int, shape (chains,)
    converged : ndarray of bool, shape (chains,)
        True where the relative-change threshold stopped the chain.
    x_mean : ndarray, shape (chains, L), or None
        Positions averaged over the steps after ``average_from`` (if asked).
    extras : dict
        Model-specific series, ``name -> (dims, array)`` with dims among
        ``time``, ``chain``, ``block``, e.g. velocities or energies.
    model_params : dict
        The model's own parameters (e.g. ``gamma``); empty for the overdamped map.
    """

    model: str
    chain: Chain
    noise: Noise
    dt: float
    seed: int
    x: np.ndarray
    times: np.ndarray
    trajectory: np.ndarray
    steps_taken: np.ndarray
    converged: np.ndarray
    x_mean: np.ndarray | None = None
    extras: dict = field(default_factory=dict)
    model_params: dict = field(default_factory=dict)

    @property
    def load(self) -> np.ndarray:
        """Final load curve ``d_0..d_L`` per chain, shape (chains, L + 1)."""
        return load_curve(self.x, self.chain.y)

    @property
    def load_trajectory(self) -> np.ndarray:
        """Load curves at the recording times, shape (n_rec, chains, L + 1)."""
        return load_curve(self.trajectory, self.chain.y)

    @property
    def stop_reason(self) -> np.ndarray:
        """Per chain: ``"converged"`` (relative-change threshold) or ``"max_steps"``."""
        return np.where(self.converged, "converged", "max_steps")

    def to_xarray(self):
        """An ``xarray.Dataset`` with ``x (time, chain, block)``, ``load (time, chain, layer)``.

        Also ``x_final``, ``steps_taken`` and ``stop_reason`` per chain, the
        model's extras, and every parameter as an attribute.
        """
        import xarray as xr

        n_chains, L = self.x.shape
        coords = {
            "time": ("time", self.times, {"units": "model time (step * dt)"}),
            "chain": np.arange(n_chains),
            "block": np.arange(1, L + 1),
            "layer": np.arange(L + 1),
        }
        data = {
            "x": (("time", "chain", "block"), self.trajectory, {"long_name": "block position"}),
            "load": (
                ("time", "chain", "layer"),
                self.load_trajectory,
                {"long_name": "load d_l = y - x_l"},
            ),
            "x_final": (("chain", "block"), self.x),
            "steps_taken": (("chain",), self.steps_taken),
            "stop_reason": (("chain",), self.stop_reason.astype(str)),
        }
        if self.x_mean is not None:
            data["x_mean"] = (
                ("chain", "block"),
                self.x_mean,
                {"long_name": "time-averaged position"},
            )
        data.update(self.extras)
        attrs = {"model": self.model, "dt": self.dt, "seed": self.seed}
        attrs.update({f"chain_{k}": v for k, v in asdict(self.chain).items()})
        attrs.update({f"noise_{k}": to_attr(v) for k, v in asdict(self.noise).items()})
        attrs.update(self.model_params)
        return xr.Dataset(data, coords=coords, attrs=attrs)


def to_attr(value):
    """An attribute value storable in Zarr/NetCDF: None as "none", bool as int."""
    if value is None:
        return "none"
    return int(value) if isinstance(value, bool) else value


def from_attr(value):
    """The value :func:`to_attr` stored ("none" back to None)."""
    return None if isinstance(value, str) and value == "none" else value
