"""The models fastspring ships, registered with their checks and CPU drivers."""

from .backends import cpu
from .models import ModelSpec, register


def check_overdamped(chain, dt):
    """The map (Eq. 6) is stable for ``dt * k < 1/2``."""
    if not dt * chain.k < 0.5:
        raise ValueError(
            f"dt must satisfy dt * k < 1/2 for the overdamped map to be stable; "
            f"got dt={dt:g} with k={chain.k:g}, so choose dt < {0.5 / chain.k:g}"
        )
    return {}


register(ModelSpec("overdamped", check_overdamped, cpu.overdamped))
