"""Closed forms and metrics of the spring-block theory (NumPy/SciPy functions).

Reference: Shi, Pan & Dokmanic, "A spring-block theory of feature learning in deep
neural networks", arXiv:2407.19353 (Phys. Rev. Lett. 2025).

* :func:`equilibrium` -- Eq. 7 (noiseless equilibrium, partial mobilisation);
* :func:`friction_activation`, :func:`mean_drift` -- Eqs. 5-6 and their mean under noise;
* :func:`effective_friction`, :func:`effective_equilibrium`, :func:`predicted_phase`,
  :func:`critical_bound`, :func:`critical_sigma` -- Eq. 8 and the noise-driven phase
  transition concave -> linear -> convex;
* :func:`mean_field_positions`, :func:`critical_sigma_mean_field`,
  :func:`langevin_drift`, :func:`inertial_drift` -- the noise-averaged dynamics
  (overdamped map, Langevin variant, inertial model) and the finite-time transition
  they predict;
* :func:`load_curve`, :func:`load_curve_metrics` -- load curves and their shape;
* :func:`elastic_energy`, :func:`equiseparated`, :func:`minimum_elastic_energy`.
"""

from . import _jit  # noqa: F401, I001  (first: Numba's vector width is set before Numba loads)
from .equilibria import Equilibrium, equilibrium, mobilised_count
from .friction import (
    critical_bound,
    critical_sigma,
    effective_bound,
    effective_equilibrium,
    effective_friction,
    expected_max,
    friction_activation,
    mean_drift,
    predicted_phase,
)
from .inertial_drift import inertial_drift
from .loads import (
    DEFAULT_DROP_TOL,
    DEFAULT_PHASE_TOL,
    PHASES,
    elastic_energy,
    equiseparated,
    load_curve,
    load_curve_metrics,
    minimum_elastic_energy,
)
from .mean_field import critical_sigma_mean_field, langevin_drift, mean_field_positions

__all__ = [
    "DEFAULT_DROP_TOL",
    "DEFAULT_PHASE_TOL",
    "PHASES",
    "Equilibrium",
    "critical_bound",
    "critical_sigma",
    "critical_sigma_mean_field",
    "effective_bound",
    "effective_equilibrium",
    "effective_friction",
    "elastic_energy",
    "equilibrium",
    "equiseparated",
    "expected_max",
    "friction_activation",
    "inertial_drift",
    "langevin_drift",
    "load_curve",
    "load_curve_metrics",
    "mean_drift",
    "mean_field_positions",
    "minimum_elastic_energy",
    "mobilised_count",
    "predicted_phase",
]
