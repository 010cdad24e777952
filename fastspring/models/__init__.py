"""The models, one module each, and the registry that names them.

A model module holds its equations as device functions and its CPU kernel;
this registry tells :func:`fastspring.simulate` which extra parameters a model
takes, how to check them (with the step-size bound), and which backend driver
runs it.  Adding a model means adding a module and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from analysis._checks import check_choice


@dataclass(frozen=True)
class ModelSpec:
    """How the API layer validates and runs one model.

    ``check(chain, dt, **params)`` validates the model's own parameters and
    the step size and returns them as a dict of floats; ``run`` is the backend
    driver ``run(chain, noise, settings, params, noise_values) -> SimulationResult``.
    """

    name: str
    check: Callable
    run: Callable
    defaults: dict = field(default_factory=dict)


MODELS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> None:
    """Add a model to the registry."""
    MODELS[spec.name] = spec


def get_model(name: str) -> ModelSpec:
    """The registered model called ``name``; a clear error for unknown names."""
    return MODELS[check_choice("model", name, sorted(MODELS))]
