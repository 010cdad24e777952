"""Closed forms and metrics of the spring-block theory (pure NumPy functions)."""

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

__all__ = [
    "DEFAULT_DROP_TOL",
    "DEFAULT_PHASE_TOL",
    "PHASES",
    "elastic_energy",
    "equiseparated",
    "load_curve",
    "load_curve_metrics",
    "minimum_elastic_energy",
]
