"""Closed forms and metrics of the spring-block theory (pure NumPy functions)."""

from .loads import load_curve

__all__ = ["load_curve"]
