"""fastspring: fast, exact simulators of the spring--block theory of feature learning.

Public API::

    from fastspring import Chain, Noise, simulate
    res = simulate(Chain(L=7, k=1, y=1, mu_plus=0.1, mu_minus=0.1), Noise(sigma=0.1))
    res.to_xarray()
"""

from . import _jit  # noqa: F401, I001  (first: Numba's vector width is set before Numba loads)
from . import catalog as _catalog  # noqa: F401  (registers the models)
from .models import MODELS
from .params import Chain, Noise
from .result import SimulationResult
from .simulation import simulate
from .sweep import sweep

__version__ = "0.1.0"

__all__ = ["MODELS", "Chain", "Noise", "SimulationResult", "simulate", "sweep"]
